using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using StackExchange.Redis;

namespace OrleansSecureCache.Bench;

/// <summary>A free loopback TCP port (the OS picks it; a small race with other processes remains).</summary>
internal static class FreePorts
{
    public static int Next()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

/// <summary>Debian's <c>redis-server</c>, started on a free loopback port without persistence, stopped on dispose.</summary>
internal sealed class RedisServer : IAsyncDisposable
{
    private readonly Process _process;

    private RedisServer(Process process, int port)
    {
        _process = process;
        Port = port;
        AppDomain.CurrentDomain.ProcessExit += OnProcessExit;
    }

    public int Port { get; }

    public string Endpoint => $"127.0.0.1:{Port}";

    /// <summary>Options every Redis client of the harness uses: loopback, long timeouts for 100 MiB values.</summary>
    public ConfigurationOptions ClientOptions()
    {
        var options = new ConfigurationOptions { AbortOnConnectFail = true, SyncTimeout = 120_000, AsyncTimeout = 120_000, ConnectTimeout = 10_000 };
        options.EndPoints.Add(IPAddress.Loopback, Port);
        return options;
    }

    public static async Task<RedisServer> StartAsync(CancellationToken cancellationToken)
    {
        var port = FreePorts.Next();
        var start = new ProcessStartInfo("redis-server")
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var arg in new[] { "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--protected-mode", "yes" })
        {
            start.ArgumentList.Add(arg);
        }

        Process process;
        try
        {
            process = Process.Start(start) ?? throw new BenchException("redis-server could not be started.");
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new BenchException($"redis-server could not be started ({ex.Message}); install it (Debian: apt-get install redis-server) or leave the Redis systems out with --system.");
        }

        var output = new System.Text.StringBuilder();
        process.OutputDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };
        process.ErrorDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var server = new RedisServer(process, port);
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromSeconds(15))
        {
            if (process.HasExited)
            {
                await server.DisposeAsync().ConfigureAwait(false);
                string text;
                lock (output)
                {
                    text = output.ToString().Trim();
                }

                throw new BenchException($"redis-server exited with code {process.ExitCode} at start-up: {text}");
            }

            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync(IPAddress.Loopback, port, cancellationToken).ConfigureAwait(false);
                var stream = client.GetStream();
                await stream.WriteAsync("PING\r\n"u8.ToArray(), cancellationToken).ConfigureAwait(false);
                var buffer = new byte[16];
                var read = await stream.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
                if (read >= 5 && buffer[0] == (byte)'+')
                {
                    return server;
                }
            }
            catch (SocketException)
            {
                // not listening yet
            }
            catch (OperationCanceledException)
            {
                await server.DisposeAsync().ConfigureAwait(false);
                throw;
            }

            await Task.Delay(50, CancellationToken.None).ConfigureAwait(false);
        }

        await server.DisposeAsync().ConfigureAwait(false);
        throw new BenchException($"redis-server did not answer PING on {server.Endpoint} within 15 s.");
    }

    public async ValueTask DisposeAsync()
    {
        AppDomain.CurrentDomain.ProcessExit -= OnProcessExit;
        Stop();
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await _process.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // gave up waiting; it was killed
        }

        _process.Dispose();
    }

    private void OnProcessExit(object? sender, EventArgs e) => Stop();

    private void Stop()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill();
            }
        }
        catch (InvalidOperationException)
        {
            // already gone
        }
    }
}

/// <summary>A failure the harness explains to its user; it ends the run with exit code 2.</summary>
internal sealed class BenchException(string message) : Exception(message);
