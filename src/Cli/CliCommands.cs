using System.CommandLine;
using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Configuration;
using OrleansSecureCache.Grains;

namespace OrleansSecureCache.Cli;

/// <summary>The process exit codes of <c>osc</c>.</summary>
internal static class ExitCodes
{
    public const int Success = 0;

    /// <summary>Anything else: invalid configuration, a value that was not stored, an unexpected failure.</summary>
    public const int Failure = 1;

    public const int Usage = 2;
    public const int NotFound = 3;
    public const int Unreachable = 4;

    /// <summary><c>memoize</c>: the command could not be started (as a shell says).</summary>
    public const int CommandNotStarted = 127;

    public const int Cancelled = 130;
}

/// <summary>A command line that parses but makes no sense (exit code 2).</summary>
internal sealed class UsageException(string message) : Exception(message);

/// <summary>The verbs. Each one turns its arguments into calls on <see cref="ISecureCache"/>; nothing more.</summary>
internal sealed class CliCommands(Stream stdin, Stream stdout, TextWriter stderr, CliEnvironment environment)
{
    /// <summary>Blocks read from standard input by <c>set</c>.</summary>
    internal const int SetBlockBytes = 1024 * 1024;

    /// <summary>Largest block read from a memoized command's output.</summary>
    internal const int CommandBlockBytes = 64 * 1024;

    public RootCommand Build()
    {
        var root = new RootCommand(
            "osc: the OrleansSecureCache command line. Standard output carries data only; messages go to standard error.\n"
            + "Exit codes: 0 success, 1 failure, 2 usage error, 3 'get' found nothing, 4 the cluster could not be reached; "
            + "'memoize' returns its command's exit code (127 when it cannot be started).");
        root.Subcommands.Add(KeyCommand());
        root.Subcommands.Add(MemoizeCommand());
        root.Subcommands.Add(GetCommand());
        root.Subcommands.Add(SetCommand());
        root.Subcommands.Add(InvalidateCommand());
        root.Subcommands.Add(InfoCommand());
        root.Subcommands.Add(StatsCommand());
        return root;
    }

    private Command KeyCommand()
    {
        var command = new Command("key", "Print the full cache key (the grain id) and nothing else. Needs no cluster.");
        var common = CommonOptions.AddTo(command, withCluster: false);
        var parts = new Argument<string[]>("parts")
        {
            Description = "The key's parts (one: a plain key; several: a multi-part key), instead of --key or --json.",
            Arity = ArgumentArity.ZeroOrMore,
        };
        command.Arguments.Add(parts);
        command.SetAction((result, _) => Guard(command, () =>
        {
            var key = common.ReadKey(result, result.GetValue(parts));
            var args = common.Read(result);
            var configuration = CliHost.BuildConfiguration(environment);
            var options = CliHost.ResolveOptions(configuration, args, environment);
            var encrypt = args.Encrypt || args.EncryptionKey is not null || options.ForceEncryption;
            byte[]? material = args.EncryptionKey;
            if (encrypt && material is null)
            {
                try
                {
                    material = SecureCacheOptionsValidator.ResolveDefaultKeyMaterial(options);
                }
                catch (ArgumentException ex)
                {
                    throw new CliConfigurationException(ex.Message, ex);
                }
            }

            if (encrypt && material is null)
            {
                throw new CliConfigurationException("Encryption was asked for but no key material is configured.");
            }

            var fullKey = CacheKeys.MakeCacheKey(key, options.KeyPrefix, encrypt, material);
            return WriteTextAsync(fullKey + "\n");
        }));
        return command;
    }

    private Command MemoizeCommand()
    {
        var command = new Command("memoize",
            "Write COMMAND's standard output from the cache, or run COMMAND (once across all concurrent invocations "
            + "for this key, on any machine of the cluster) and cache its output while streaming it. A command that "
            + "exits non-zero is not cached; its exit code is returned. Put '--' before the command.");
        var common = CommonOptions.AddTo(command, withCluster: true);
        var ttl = TtlOption();
        var large = new Option<bool>("--large") { Description = "The output is expected to be large (never sent inline with the first reply)." };
        var noCompress = NoCompressOption();
        var force = new Option<bool>("--force") { Description = "Run the command and replace the cached output even when there is one." };
        var commandLine = new Argument<string[]>("command")
        {
            Description = "The command and its arguments, after '--'.",
            Arity = ArgumentArity.OneOrMore,
        };
        command.Options.Add(ttl);
        command.Options.Add(large);
        command.Options.Add(noCompress);
        command.Options.Add(force);
        command.Arguments.Add(commandLine);
        command.SetAction((result, ct) => Guard(command, async () =>
        {
            var key = common.ReadKey(result);
            var args = common.Read(result);
            var argv = result.GetValue(commandLine) ?? [];
            if (argv.Length == 0 || argv[0].Length == 0)
            {
                throw new UsageException("No command was given; put it after '--'.");
            }

            var options = CallOptions(args, result.GetValue(ttl), result.GetValue(noCompress)) with
            {
                LargeData = result.GetValue(large),
                ForceOverwrite = result.GetValue(force),
            };
            var configuration = CliHost.BuildConfiguration(environment);
            var resolved = CliHost.ResolveOptions(configuration, args, environment);
            var progress = new TransferProgress(stderr, "memoize: output");

            CliHost? host = null;
            try
            {
                try
                {
                    host = await CliHost.ConnectAsync(configuration, resolved, args, environment, ct).ConfigureAwait(false);
                }
                catch (ClusterUnreachableException ex)
                {
                    await stderr.WriteLineAsync($"osc: {ex.Message} Running the command without the cache.").ConfigureAwait(false);
                }

                var blocks = host is null
                    ? RunCommandAsync(argv, ct)
                    : host.Cache.MemoizeIterAsync<byte[]>(key, token => RunCommandAsync(argv, token), options, ct);
                await foreach (var block in blocks.ConfigureAwait(false))
                {
                    await stdout.WriteAsync(block, ct).ConfigureAwait(false);
                    await stdout.FlushAsync(ct).ConfigureAwait(false);
                    progress.Add(block.Length);
                }

                progress.Done();
                return ExitCodes.Success;
            }
            catch (CommandFailedException ex)
            {
                progress.Done();
                return ex.ExitCode;
            }
            catch (CommandNotStartedException ex)
            {
                await stderr.WriteLineAsync($"osc: {ex.Message}").ConfigureAwait(false);
                return ExitCodes.CommandNotStarted;
            }
            finally
            {
                if (host is not null)
                {
                    await host.DisposeAsync().ConfigureAwait(false);
                }
            }
        }));
        return command;
    }

    private Command GetCommand()
    {
        var command = new Command("get", "Write the cached value to standard output, byte for byte. Exit code 3 when there is none.");
        var common = CommonOptions.AddTo(command, withCluster: true);
        command.SetAction((result, ct) => Guard(command, async () =>
        {
            var key = common.ReadKey(result);
            var args = common.Read(result);
            await using var host = await ConnectAsync(args, ct).ConfigureAwait(false);
            var lookup = await host.Cache.TryGetItemsAsync<byte[]>(key, CallOptions(args, null, false), ct).ConfigureAwait(false);
            if (!lookup.Found || lookup.Value is null)
            {
                await stderr.WriteLineAsync("osc: no value is cached for this key.").ConfigureAwait(false);
                return ExitCodes.NotFound;
            }

            var progress = new TransferProgress(stderr, "get: written");
            foreach (var block in lookup.Value)
            {
                await stdout.WriteAsync(block, ct).ConfigureAwait(false);
                progress.Add(block.Length);
            }

            await stdout.FlushAsync(ct).ConfigureAwait(false);
            progress.Done();
            return ExitCodes.Success;
        }));
        return command;
    }

    private Command SetCommand()
    {
        var command = new Command("set", "Store standard input (any size, empty allowed) as the value, replacing any entry.");
        var common = CommonOptions.AddTo(command, withCluster: true);
        var ttl = TtlOption();
        var noCompress = NoCompressOption();
        command.Options.Add(ttl);
        command.Options.Add(noCompress);
        command.SetAction((result, ct) => Guard(command, async () =>
        {
            var key = common.ReadKey(result);
            var args = common.Read(result);
            var options = CallOptions(args, result.GetValue(ttl), result.GetValue(noCompress)) with { LargeData = true };
            await using var host = await ConnectAsync(args, ct).ConfigureAwait(false);
            var progress = new TransferProgress(stderr, "set: read");
            var stored = await host.Cache.SetItemsAsync(key, ReadBlocksAsync(stdin, progress, ct), options, ct).ConfigureAwait(false);
            progress.Done();
            if (!stored)
            {
                await stderr.WriteLineAsync(
                    "osc: the value was not stored (larger than SecureCache:MaxEntryBytes, or replaced by a newer write meanwhile).").ConfigureAwait(false);
                return ExitCodes.Failure;
            }

            return ExitCodes.Success;
        }));
        return command;
    }

    private Command InvalidateCommand()
    {
        var command = new Command("invalidate", "Drop the entry; builds already under way can no longer store their value.");
        var common = CommonOptions.AddTo(command, withCluster: true);
        command.SetAction((result, ct) => Guard(command, async () =>
        {
            var key = common.ReadKey(result);
            var args = common.Read(result);
            await using var host = await ConnectAsync(args, ct).ConfigureAwait(false);
            await host.Cache.InvalidateAsync(key, CallOptions(args, null, false), ct).ConfigureAwait(false);
            return ExitCodes.Success;
        }));
        return command;
    }

    private Command InfoCommand()
    {
        var command = new Command("info",
            "Describe the stored entry without decrypting it: 'name: value' lines (or JSON with --format json).");
        var common = CommonOptions.AddTo(command, withCluster: true);
        var format = AddFormatOption(command);
        command.SetAction((result, ct) => Guard(command, async () =>
        {
            var key = common.ReadKey(result);
            var args = common.Read(result);
            var options = CallOptions(args, null, false);
            await using var host = await ConnectAsync(args, ct).ConfigureAwait(false);
            var info = await host.Cache.GetInfoAsync(key, options, ct).ConfigureAwait(false);
            var text = result.GetValue(format) == "json"
                ? InfoJson(info, host.Cache.MakeCacheKey(key, options))
                : InfoText(info, host.Cache.MakeCacheKey(key, options));
            await WriteTextAsync(text).ConfigureAwait(false);
            return ExitCodes.Success;
        }));
        return command;
    }

    /// <summary>`--format text|json`, shared by the verbs that describe rather than move data.</summary>
    private static Option<string> AddFormatOption(Command command)
    {
        var format = new Option<string>("--format")
        {
            Description = "Output format: text (default) or json.",
            DefaultValueFactory = _ => "text",
        };
        format.AcceptOnlyFromAmong("text", "json");
        command.Options.Add(format);
        return format;
    }

    private Command StatsCommand()
    {
        var command = new Command("stats",
            "The cluster's cache counters, per silo and in total: 'name: value' lines (or JSON with --format json). "
            + "Bytes are entries' header and chunk bytes counted against each silo's budget (SecureCache:Grain:MemoryBudgetBytes).");
        var common = CommonOptions.AddClusterOnlyTo(command);
        var format = AddFormatOption(command);
        command.SetAction((result, ct) => Guard(command, async () =>
        {
            var args = common.Read(result);
            await using var host = await ConnectAsync(args, ct).ConfigureAwait(false);
            var silos = await host.Grains.GetGrain<ICacheStatsGrain>(0).GetClusterStats().WaitAsync(ct).ConfigureAwait(false);
            var text = result.GetValue(format) == "json" ? StatsOutput.Json(silos) : StatsOutput.Text(silos);
            await WriteTextAsync(text).ConfigureAwait(false);
            return ExitCodes.Success;
        }));
        return command;
    }

    private static string InfoText(CacheEntryInfo? info, string fullKey)
    {
        var sb = new StringBuilder();
        void Line(string name, string value) => sb.Append(name).Append(": ").Append(value).Append('\n');
        static string YesNo(bool value) => value ? "yes" : "no";

        Line("key", info?.FullKey ?? fullKey);
        Line("entry", YesNo(info is { HasEntry: true }));
        if (info is not null)
        {
            if (info.HasEntry)
            {
                Line("size", info.StoredBytes.ToString(CultureInfo.InvariantCulture) + " bytes stored");
                Line("chunks", info.ChunkCount.ToString(CultureInfo.InvariantCulture));
                Line("expires", info.ExpiresAt?.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture) ?? "never");
                Line("encrypted", YesNo(info.Encrypted));
                Line("compressed", YesNo(info.Compressed));
            }

            Line("generation", info.Generation.ToString(CultureInfo.InvariantCulture));
            Line("build in progress", YesNo(info.BuildInProgress));
        }

        return sb.ToString();
    }

    private static string InfoJson(CacheEntryInfo? info, string fullKey)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            json.WriteStartObject();
            json.WriteString("key", info?.FullKey ?? fullKey);
            json.WriteBoolean("entry", info is { HasEntry: true });
            if (info is not null)
            {
                if (info.HasEntry)
                {
                    json.WriteNumber("storedBytes", info.StoredBytes);
                    json.WriteNumber("chunks", info.ChunkCount);
                    if (info.ExpiresAt is { } expires)
                    {
                        json.WriteString("expiresAt", expires.ToUniversalTime());
                    }

                    json.WriteBoolean("encrypted", info.Encrypted);
                    json.WriteBoolean("compressed", info.Compressed);
                }

                json.WriteNumber("generation", info.Generation);
                json.WriteBoolean("buildInProgress", info.BuildInProgress);
            }

            json.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.ToArray()) + "\n";
    }

    private async Task<CliHost> ConnectAsync(CommonArgs args, CancellationToken cancellationToken)
    {
        var configuration = CliHost.BuildConfiguration(environment);
        var resolved = CliHost.ResolveOptions(configuration, args, environment);
        return await CliHost.ConnectAsync(configuration, resolved, args, environment, cancellationToken).ConfigureAwait(false);
    }

    private static MemoizeOptions CallOptions(CommonArgs args, long? ttlSeconds, bool noCompress) => new()
    {
        UseEncryption = args.Encrypt || args.EncryptionKey is not null ? true : null,
        // Not "= args.EncryptionKey" nor "? ... : null": both turn null into an empty, non-null ReadOnlyMemory
        // (through the byte[] conversion), which the cache rightly refuses as a 0-byte key.
        EncryptionKey = args.EncryptionKey is { } key ? new ReadOnlyMemory<byte>(key) : (ReadOnlyMemory<byte>?)null,
        Expiration = ttlSeconds is { } seconds ? TimeSpan.FromSeconds(seconds) : null,
        Compress = noCompress ? false : null,
    };

    private static Option<long?> TtlOption() => new("--ttl")
    {
        Description = "Seconds the value stays cached (default: SecureCache:DefaultExpiration, 30 days).",
        HelpName = "SECONDS",
        CustomParser = result =>
        {
            var text = result.Tokens.Count == 1 ? result.Tokens[0].Value : "";
            if (long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds) && seconds > 0
                && seconds <= (long)TimeSpan.MaxValue.TotalSeconds)
            {
                return seconds;
            }

            result.AddError($"--ttl must be a positive whole number of seconds (got '{text}').");
            return null;
        },
    };

    private static Option<bool> NoCompressOption() =>
        new("--no-compress") { Description = "Do not compress before encrypting (for secrets mixed with attacker-chosen data)." };

    /// <summary>Runs a verb's body and turns the expected failures into exit codes and one clear line on standard error.</summary>
    private async Task<int> Guard(Command command, Func<Task<int>> body)
    {
        try
        {
            return await body().ConfigureAwait(false);
        }
        catch (UsageException ex)
        {
            await stderr.WriteLineAsync($"osc {command.Name}: {ex.Message}").ConfigureAwait(false);
            await stderr.WriteLineAsync($"Run 'osc {command.Name} --help' for usage.").ConfigureAwait(false);
            return ExitCodes.Usage;
        }
        catch (ClusterUnreachableException ex)
        {
            await stderr.WriteLineAsync($"osc: {ex.Message}").ConfigureAwait(false);
            return ExitCodes.Unreachable;
        }
        catch (SecureCacheUnavailableException ex)
        {
            await stderr.WriteLineAsync($"osc: {ex.Message}").ConfigureAwait(false);
            return ExitCodes.Unreachable;
        }
        catch (CliConfigurationException ex)
        {
            await stderr.WriteLineAsync($"osc: {ex.Message}").ConfigureAwait(false);
            return ExitCodes.Failure;
        }
        catch (ArgumentException ex)
        {
            // The library refuses a call's input (an empty full key, an expiration past SecureCache:MaxExpiration).
            await stderr.WriteLineAsync($"osc {command.Name}: {ex.Message}").ConfigureAwait(false);
            return ExitCodes.Usage;
        }
        catch (OperationCanceledException)
        {
            await stderr.WriteLineAsync("osc: cancelled.").ConfigureAwait(false);
            return ExitCodes.Cancelled;
        }
        catch (Exception ex)
        {
            await stderr.WriteLineAsync($"osc: {ex.GetType().Name}: {ex.Message}").ConfigureAwait(false);
            return ExitCodes.Failure;
        }
    }

    private Task<int> Guard(Command command, Func<Task> body) => Guard(command, async () =>
    {
        await body().ConfigureAwait(false);
        return ExitCodes.Success;
    });

    private async Task WriteTextAsync(string text)
    {
        await stdout.WriteAsync(Encoding.UTF8.GetBytes(text)).ConfigureAwait(false);
        await stdout.FlushAsync().ConfigureAwait(false);
    }

    /// <summary>Standard input in blocks of <see cref="SetBlockBytes"/>, never all of it in memory at once.</summary>
    private static async IAsyncEnumerable<byte[]> ReadBlocksAsync(Stream input, TransferProgress progress, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        while (true)
        {
            var buffer = new byte[SetBlockBytes];
            var read = await input.ReadAtLeastAsync(buffer, buffer.Length, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                yield break;
            }

            progress.Add(read);
            yield return read == buffer.Length ? buffer : buffer.AsSpan(0, read).ToArray();
            if (read < buffer.Length)
            {
                yield break; // ReadAtLeastAsync returns short only at the end of the stream
            }
        }
    }

    /// <summary>
    /// Starts the command (no shell; standard input and error inherited) and yields its standard output as it
    /// comes. A non-zero exit throws <see cref="CommandFailedException"/> after the output, so nothing is cached.
    /// </summary>
    internal static async IAsyncEnumerable<byte[]> RunCommandAsync(string[] argv, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo(argv[0])
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardInput = false,
            RedirectStandardError = false,
        };
        foreach (var arg in argv.AsSpan(1))
        {
            start.ArgumentList.Add(arg);
        }

        Process process;
        try
        {
            process = Process.Start(start) ?? throw new CommandNotStartedException(argv[0], "no process was started");
        }
        catch (Win32Exception ex)
        {
            throw new CommandNotStartedException(argv[0], ex.Message);
        }

        using (process)
        {
            var finished = false;
            try
            {
                var output = process.StandardOutput.BaseStream;
                while (true)
                {
                    var buffer = new byte[CommandBlockBytes];
                    var read = await output.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
                    if (read == 0)
                    {
                        break;
                    }

                    yield return read == buffer.Length ? buffer : buffer.AsSpan(0, read).ToArray();
                }

                await process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
                finished = true;
            }
            finally
            {
                if (!finished)
                {
                    // Cancelled, or our consumer stopped: do not leave the command running.
                    try
                    {
                        process.Kill(entireProcessTree: true);
                    }
                    catch (Exception ex) when (ex is InvalidOperationException or Win32Exception or NotSupportedException)
                    {
                        // It has already exited.
                    }
                }
            }

            if (process.ExitCode != 0)
            {
                throw new CommandFailedException(process.ExitCode);
            }
        }
    }
}

/// <summary>The memoized command exited non-zero; its output was written but not cached.</summary>
internal sealed class CommandFailedException(int exitCode)
    : Exception($"The command exited with code {exitCode}; its output was not cached.")
{
    public int ExitCode { get; } = exitCode;
}

internal sealed class CommandNotStartedException(string program, string reason)
    : Exception($"cannot run '{program}': {reason}");

/// <summary>The options shared by every verb, and the key they name.</summary>
internal sealed class CommonOptions
{
    private readonly Option<string[]> _key = new("--key")
    {
        Description = "A key part; repeat for a multi-part key (one --key is a plain key).",
        AllowMultipleArgumentsPerToken = false,
    };

    private readonly Option<string> _json = new("--json")
    {
        Description = "The key as JSON: a string (a plain key) or an array of strings (a multi-part key); any character can be given.",
    };

    private readonly Option<bool> _encrypt = new("--encrypt") { Description = "Encrypt (with the configured or per-user secret). Off unless SecureCache:ForceEncryption." };

    private readonly Option<string> _keyHex = new("--encryption-key-hex")
    {
        Description = "A key of its own for this entry: 16, 24 or 32 bytes in hex. Implies --encrypt.",
        HelpName = "HEX",
    };

    private readonly Option<string[]> _prefix = new("--prefix")
    {
        Description = "A key prefix part; repeat for several. Replaces SecureCache:KeyPrefix.",
        AllowMultipleArgumentsPerToken = false,
    };

    private readonly Option<string[]> _gateway = new("--gateway")
    {
        Description = $"A gateway host:port; repeat for several (default: Osc:Gateway, comma-separated, else the list Osc:Gateways, else {CliHost.DefaultGateway}).",
        AllowMultipleArgumentsPerToken = false,
    };

    private readonly Option<string> _redis = new("--redis")
    {
        Description = "Find the gateways through the silos' Redis membership at this connection string (e.g. 127.0.0.1:6379) instead of static gateways (default: Osc:Redis).",
        HelpName = "CONNECTION",
    };

    private readonly Option<double?> _connectTimeout = new("--connect-timeout")
    {
        Description = "Seconds to wait for the cluster (default: Osc:ConnectTimeout, else 5). With several gateways, a dead one can cost the Orleans client about 5 s more at start.",
        HelpName = "SECONDS",
        CustomParser = result =>
        {
            var text = result.Tokens.Count == 1 ? result.Tokens[0].Value : "";
            if (double.TryParse(text, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var seconds) && seconds is > 0 and <= 3600)
            {
                return seconds;
            }

            result.AddError($"--connect-timeout must be a number of seconds between 0 and 3600 (got '{text}').");
            return null;
        },
    };

    private readonly Option<bool> _verbose = new("--verbose", "-v") { Description = "Log at Information level (to standard error)." };

    private bool _withCluster;

    /// <summary>Only what reaching the cluster needs (no key, no encryption): for verbs about the cluster itself.</summary>
    public static CommonOptions AddClusterOnlyTo(Command command)
    {
        var common = new CommonOptions { _withCluster = true };
        command.Options.Add(common._verbose);
        command.Options.Add(common._gateway);
        command.Options.Add(common._connectTimeout);
        return common;
    }

    public static CommonOptions AddTo(Command command, bool withCluster)
    {
        var common = new CommonOptions { _withCluster = withCluster };
        command.Options.Add(common._key);
        command.Options.Add(common._json);
        command.Options.Add(common._encrypt);
        command.Options.Add(common._keyHex);
        command.Options.Add(common._prefix);
        command.Options.Add(common._verbose);
        if (withCluster)
        {
            command.Options.Add(common._gateway);
            command.Options.Add(common._redis);
            command.Options.Add(common._connectTimeout);
        }

        return common;
    }

    /// <summary>The key from exactly one of --key, --json or (for <c>key</c>) positional parts.</summary>
    public CacheKey ReadKey(ParseResult result, string[]? positional = null)
    {
        var keyParts = result.GetValue(_key) ?? [];
        var json = result.GetValue(_json);
        positional ??= [];
        var ways = (keyParts.Length > 0 ? 1 : 0) + (json is not null ? 1 : 0) + (positional.Length > 0 ? 1 : 0);
        if (ways == 0)
        {
            throw new UsageException(positional.Length == 0 && result.CommandResult.Command.Name == "key"
                ? "Name the key with --key PART (repeatable), --json JSON, or as arguments."
                : "Name the key with --key PART (repeatable) or --json JSON.");
        }

        if (ways > 1)
        {
            throw new UsageException("Name the key one way only: --key, --json or arguments, not several.");
        }

        if (json is not null)
        {
            return ParseJsonKey(json);
        }

        var parts = keyParts.Length > 0 ? keyParts : positional;
        return parts.Length == 1 ? CacheKey.Of(parts[0]) : CacheKey.FromParts(parts);
    }

    public CommonArgs Read(ParseResult result)
    {
        var hex = result.GetValue(_keyHex);
        byte[]? encryptionKey = null;
        if (hex is not null)
        {
            try
            {
                encryptionKey = Convert.FromHexString(hex.Trim());
            }
            catch (FormatException)
            {
                // Never echo the text: it is a key.
                throw new UsageException($"--encryption-key-hex is not valid hexadecimal ({hex.Trim().Length} characters; it needs an even number of 0-9, a-f).");
            }

            if (encryptionKey.Length is not (16 or 24 or 32))
            {
                var length = encryptionKey.Length;
                CryptographicOperations.ZeroMemory(encryptionKey);
                throw new UsageException($"--encryption-key-hex must decode to 16, 24 or 32 bytes (got {length}).");
            }
        }

        var prefix = result.GetValue(_prefix);
        string[]? gateways = null;
        double? connectSeconds = null;
        string? redis = null;
        if (_withCluster)
        {
            redis = result.GetValue(_redis);
            if (redis is not null && string.IsNullOrWhiteSpace(redis))
            {
                throw new UsageException("--redis needs a Redis connection string such as 127.0.0.1:6379.");
            }

            gateways = result.GetValue(_gateway);
            foreach (var gateway in gateways ?? [])
            {
                if (!CliHost.TryParseGateway(gateway, out _, out _))
                {
                    throw new UsageException($"--gateway must be host:port (got '{gateway}').");
                }
            }

            connectSeconds = result.GetValue(_connectTimeout);
        }

        return new CommonArgs(
            result.GetValue(_encrypt),
            encryptionKey,
            prefix is { Length: > 0 } ? prefix : null,
            gateways is { Length: > 0 } ? gateways : null,
            connectSeconds is { } s ? TimeSpan.FromSeconds(s) : null,
            result.GetValue(_verbose),
            redis);
    }

    private static CacheKey ParseJsonKey(string json)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json);
        }
        catch (JsonException ex)
        {
            throw new UsageException($"--json is not valid JSON: {ex.Message}");
        }

        using (document)
        {
            var root = document.RootElement;
            switch (root.ValueKind)
            {
                case JsonValueKind.String:
                    return CacheKey.Of(root.GetString()!);
                case JsonValueKind.Array:
                    var parts = new List<string>();
                    foreach (var item in root.EnumerateArray())
                    {
                        if (item.ValueKind != JsonValueKind.String)
                        {
                            throw new UsageException("--json must be a string or an array of strings.");
                        }

                        parts.Add(item.GetString()!);
                    }

                    return CacheKey.FromParts([.. parts]);
                default:
                    throw new UsageException("--json must be a string or an array of strings.");
            }
        }
    }
}

/// <summary>Progress of large transfers on standard error: nothing up to 8 MiB, then at most two lines a second.</summary>
internal sealed class TransferProgress(TextWriter stderr, string label)
{
    public const long Threshold = 8L * 1024 * 1024;
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(500);

    private long _bytes;
    private long _lastReport;
    private bool _reported;

    public long Bytes => _bytes;

    public void Add(int count)
    {
        _bytes += count;
        if (_bytes <= Threshold)
        {
            return;
        }

        var now = Stopwatch.GetTimestamp();
        if (_reported && Stopwatch.GetElapsedTime(_lastReport, now) < Interval)
        {
            return;
        }

        _lastReport = now;
        _reported = true;
        stderr.WriteLine($"osc {label} {Format(_bytes)}");
    }

    public void Done()
    {
        if (_reported)
        {
            stderr.WriteLine($"osc {label} {Format(_bytes)}, done");
        }
    }

    private static string Format(long bytes) =>
        string.Create(CultureInfo.InvariantCulture, $"{bytes / (1024.0 * 1024.0):0.0} MiB ({bytes} bytes)");
}
