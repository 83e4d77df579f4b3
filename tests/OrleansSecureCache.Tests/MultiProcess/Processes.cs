using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;

namespace OrleansSecureCache.Tests.MultiProcess;

/// <summary>Where the built executables are, relative to this test assembly (same configuration).</summary>
internal static class BuiltPaths
{
    public static string RepositoryRoot { get; } = FindRoot();

    /// <summary>Debug or Release: the folder above this assembly's target framework folder.</summary>
    public static string Configuration { get; } = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar)).Parent!.Name;

    public static string SiloDll => Output("src/Silo", "OrleansSecureCache.Silo.dll");

    public static string ClientDll => Output("tests/OrleansSecureCache.ClusterClient", "OrleansSecureCache.ClusterClient.dll");

    public static string? RedisServer { get; } = FindOnPath("redis-server");

    private static string Output(string project, string dll)
    {
        var path = Path.Combine(RepositoryRoot, project, "bin", Configuration, "net10.0", dll);
        return File.Exists(path) ? path : throw new FileNotFoundException($"Build {project} ({Configuration}) first: {path} is missing.", path);
    }

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "OrleansSecureCache.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("OrleansSecureCache.sln not found above the test assembly.");
    }

    private static string? FindOnPath(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Concat(["/usr/bin", "/usr/local/bin", "/usr/sbin"])
            .Select(dir => Path.Combine(dir, name))
            .FirstOrDefault(File.Exists);

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

/// <summary>A child process whose output goes to a log file; killed (with its tree) on dispose.</summary>
internal class ChildProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StreamWriter _log;
    private readonly Channel<string> _stdout = Channel.CreateUnbounded<string>();
    private readonly object _gate = new();

    public ChildProcess(string name, string fileName, IEnumerable<string> arguments, IReadOnlyDictionary<string, string> environment, string logDirectory, bool captureStdout = false)
    {
        Name = name;
        LogPath = Path.Combine(logDirectory, $"{name}.log");
        _log = new StreamWriter(new FileStream(LogPath, FileMode.Append, FileAccess.Write, FileShare.ReadWrite)) { AutoFlush = true };
        var start = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var (key, value) in environment)
        {
            start.Environment[key] = value;
        }

        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        _process = new Process { StartInfo = start, EnableRaisingEvents = true };
        _process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                _stdout.Writer.TryComplete();
                return;
            }

            Write("out", e.Data);
            if (captureStdout)
            {
                _stdout.Writer.TryWrite(e.Data);
            }
        };
        _process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                Write("err", e.Data);
                OnErrorLine(e.Data);
            }
        };
        Write("harness", $"starting {fileName} {string.Join(' ', arguments)}");
        _process.Start();
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        Processes.Track(this);
    }

    public string Name { get; }

    public string LogPath { get; }

    public int Id => _process.Id;

    public bool HasExited => _process.HasExited;

    protected ChannelReader<string> Stdout => _stdout.Reader;

    protected StreamWriter Stdin => _process.StandardInput;

    protected virtual void OnErrorLine(string line)
    {
    }

    protected void Write(string stream, string line)
    {
        lock (_gate)
        {
            try
            {
                _log.WriteLine($"{DateTime.UtcNow:HH:mm:ss.fff} [{stream}] {line}");
            }
            catch (ObjectDisposedException)
            {
            }
        }
    }

    /// <summary>kill -9 of the process (and anything it started).</summary>
    public void Kill()
    {
        try
        {
            if (!_process.HasExited)
            {
                Write("harness", "kill -9");
                _process.Kill(entireProcessTree: true);
            }
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
    }

    public void Signal(string signal)
    {
        using var kill = Process.Start(new ProcessStartInfo("kill", [$"-{signal}", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]) { UseShellExecute = false });
        kill?.WaitForExit();
        Write("harness", $"kill -{signal}");
    }

    public async Task<bool> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cts.Token);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    public int ExitCode => _process.ExitCode;

    public virtual async ValueTask DisposeAsync()
    {
        Kill();
        await WaitForExitAsync(TimeSpan.FromSeconds(5));
        lock (_gate)
        {
            _log.Dispose();
        }

        _process.Dispose();
        Processes.Untrack(this);
    }
}

/// <summary>Every child still running; killed when the test host exits, whatever happened.</summary>
internal static class Processes
{
    private static readonly HashSet<ChildProcess> Running = [];

    static Processes()
    {
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            lock (Running)
            {
                foreach (var process in Running)
                {
                    process.Kill();
                }
            }
        };
    }

    public static void Track(ChildProcess process)
    {
        lock (Running)
        {
            Running.Add(process);
        }
    }

    public static void Untrack(ChildProcess process)
    {
        lock (Running)
        {
            Running.Remove(process);
        }
    }
}

internal sealed class RedisProcess : ChildProcess
{
    private RedisProcess(int port, string logDirectory)
        : base("redis", BuiltPaths.RedisServer!, ["--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--protected-mode", "yes"],
            new Dictionary<string, string>(), logDirectory)
    {
        Port = port;
    }

    public int Port { get; }

    public string ConnectionString => $"127.0.0.1:{Port}";

    public static async Task<RedisProcess> StartAsync(string logDirectory)
    {
        var redis = new RedisProcess(BuiltPaths.FreePort(), logDirectory);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!await redis.PingAsync())
        {
            if (DateTime.UtcNow > deadline || redis.HasExited)
            {
                throw new InvalidOperationException($"redis-server did not answer on port {redis.Port}; see {redis.LogPath}.");
            }

            await Task.Delay(50);
        }

        return redis;
    }

    public async Task<bool> PingAsync()
    {
        try
        {
            using var client = new TcpClient();
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(1));
            await client.ConnectAsync(IPAddress.Loopback, Port, cts.Token);
            var stream = client.GetStream();
            await stream.WriteAsync("PING\r\n"u8.ToArray(), cts.Token);
            var buffer = new byte[16];
            var read = await stream.ReadAsync(buffer, cts.Token);
            return Encoding.ASCII.GetString(buffer, 0, read).StartsWith("+PONG", StringComparison.Ordinal);
        }
        catch (Exception ex) when (ex is SocketException or IOException or OperationCanceledException)
        {
            return false;
        }
    }
}

/// <summary>One real silo process (the built executable), configured through environment variables.</summary>
internal sealed class SiloProcess : ChildProcess
{
    private readonly TaskCompletionSource _listening = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public SiloProcess(string name, int siloPort, int gatewayPort, IReadOnlyDictionary<string, string> environment, string logDirectory)
        : base(name, "dotnet", [BuiltPaths.SiloDll], environment, logDirectory)
    {
        SiloPort = siloPort;
        GatewayPort = gatewayPort;
    }

    public int SiloPort { get; }

    public int GatewayPort { get; }

    protected override void OnErrorLine(string line)
    {
        if (line.Contains("listening: silo port", StringComparison.Ordinal))
        {
            _listening.TrySetResult();
        }
    }

    public async Task WaitUntilListeningAsync(TimeSpan timeout)
    {
        var exited = Task.Run(async () =>
        {
            while (!HasExited)
            {
                await Task.Delay(100);
            }
        });
        var done = await Task.WhenAny(_listening.Task, exited, Task.Delay(timeout));
        if (done != _listening.Task)
        {
            throw new InvalidOperationException($"{Name} did not start within {timeout.TotalSeconds} s{(HasExited ? $" (exited with {ExitCode})" : "")}; see {LogPath}.");
        }
    }
}

/// <summary>The workload client (tests/OrleansSecureCache.ClusterClient): one command in, one JSON line out.</summary>
internal sealed class ClientProcess : ChildProcess
{
    private readonly SemaphoreSlim _lock = new(1, 1);

    public ClientProcess(string name, IReadOnlyDictionary<string, string> environment, string logDirectory)
        : base(name, "dotnet", [BuiltPaths.ClientDll], environment, logDirectory, captureStdout: true)
    {
    }

    /// <summary>The first line: ready, or why the connection failed.</summary>
    public async Task<JsonElement> ReadFirstLineAsync(TimeSpan timeout) => await ReadLineAsync(timeout);

    public async Task<JsonElement> SendAsync(string command, TimeSpan? timeout = null)
    {
        await _lock.WaitAsync();
        try
        {
            Write("harness", $"> {command}");
            await Stdin.WriteLineAsync(command);
            await Stdin.FlushAsync();
            var reply = await ReadLineAsync(timeout ?? TimeSpan.FromSeconds(60));
            if (reply.TryGetProperty("error", out var error))
            {
                throw new InvalidOperationException($"{Name}: '{command}' failed: {error}");
            }

            return reply;
        }
        finally
        {
            _lock.Release();
        }
    }

    private async Task<JsonElement> ReadLineAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        while (true)
        {
            string line;
            try
            {
                line = await Stdout.ReadAsync(cts.Token);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"{Name} gave no answer within {timeout.TotalSeconds} s; see {LogPath}.");
            }
            catch (ChannelClosedException)
            {
                throw new InvalidOperationException($"{Name} exited; see {LogPath}.");
            }

            if (line.StartsWith('{'))
            {
                return JsonDocument.Parse(line).RootElement.Clone();
            }
        }
    }

    public override async ValueTask DisposeAsync()
    {
        try
        {
            if (!HasExited)
            {
                await Stdin.WriteLineAsync("quit");
                await Stdin.FlushAsync();
                await WaitForExitAsync(TimeSpan.FromSeconds(3));
            }
        }
        catch (IOException)
        {
        }

        await base.DisposeAsync();
    }
}
