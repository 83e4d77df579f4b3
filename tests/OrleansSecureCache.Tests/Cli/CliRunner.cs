using System.Text;
using OrleansSecureCache.Cli;

namespace OrleansSecureCache.Tests.Cli;

/// <summary>Runs the CLI in-process with its own streams and a hermetic environment (no process variables, no appsettings.json).</summary>
internal sealed class CliRunner : IDisposable
{
    public CliRunner()
    {
        Directory = Path.Combine(Path.GetTempPath(), "osc-cli-tests", Guid.NewGuid().ToString("N"));
        System.IO.Directory.CreateDirectory(Directory);
        Variables[SecretKeyFile.ConfigDirVariable] = ConfigDirectory;
    }

    /// <summary>A fresh folder: the base directory (holds no appsettings.json) and the parent of the config folder.</summary>
    public string Directory { get; }

    public string ConfigDirectory => Path.Combine(Directory, "config");

    public string SecretPath => Path.Combine(ConfigDirectory, SecretKeyFile.FileName);

    public Dictionary<string, string> Variables { get; } = [];

    public async Task<CliResult> RunAsync(params string[] args) => await RunWithInputAsync([], args);

    public async Task<CliResult> RunWithInputAsync(byte[] stdin, params string[] args)
    {
        using var input = new MemoryStream(stdin, writable: false);
        using var output = new MemoryStream();
        using var error = new StringWriter();
        var environment = new CliEnvironment { Variables = new Dictionary<string, string>(Variables), BaseDirectory = Directory };
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var code = await CliApp.RunAsync(args, input, output, error, environment, timeout.Token);
        return new CliResult(code, output.ToArray(), error.ToString());
    }

    public void Dispose()
    {
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

internal sealed record CliResult(int ExitCode, byte[] Stdout, string Stderr)
{
    public string StdoutText => Encoding.UTF8.GetString(Stdout);

    public override string ToString() => $"exit {ExitCode}; stdout: {StdoutText}; stderr: {Stderr}";
}
