using System.CommandLine;
using System.Text;

namespace OrleansSecureCache.Cli;

/// <summary>The whole tool as a function of its arguments and standard streams, so tests can run it in-process.</summary>
internal static class CliApp
{
    public static async Task<int> RunAsync(
        string[] args,
        Stream stdin,
        Stream stdout,
        TextWriter stderr,
        CliEnvironment? environment = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(args);
        environment ??= new CliEnvironment();
        var root = new CliCommands(stdin, stdout, stderr, environment).Build();

        // Key parts may start with '@': no response files.
        var parse = root.Parse(args, new ParserConfiguration { ResponseFileTokenReplacer = null });
        if (parse.Errors.Count > 0 && parse.Action is not { ClearsParseErrors: true })
        {
            foreach (var error in parse.Errors)
            {
                await stderr.WriteLineAsync($"osc: {error.Message}").ConfigureAwait(false);
            }

            var verb = parse.CommandResult.Command == root ? "" : parse.CommandResult.Command.Name + " ";
            await stderr.WriteLineAsync($"Run 'osc {verb}--help' for usage.").ConfigureAwait(false);
            return ExitCodes.Usage;
        }

        // Help text is the only text System.CommandLine writes to standard output.
        await using var output = new StreamWriter(stdout, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false), bufferSize: 4096, leaveOpen: true);
        var invocation = new InvocationConfiguration
        {
            Output = output,
            Error = stderr,
            EnableDefaultExceptionHandler = true,
            ProcessTerminationTimeout = environment.HandleTermination ? TimeSpan.FromSeconds(2) : null,
        };
        var code = await parse.InvokeAsync(invocation, cancellationToken).ConfigureAwait(false);
        await output.FlushAsync(cancellationToken).ConfigureAwait(false);
        return code;
    }
}
