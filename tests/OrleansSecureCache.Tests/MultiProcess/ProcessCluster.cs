using System.Globalization;
using System.Text.Json;
using Xunit;
using Xunit.Abstractions;

namespace OrleansSecureCache.Tests.MultiProcess;

[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class MultiProcessCollection
{
    public const string Name = "Multi-process cluster";
}

/// <summary>
/// Redis, silo processes and client processes for one test; everything is killed on dispose. Each process
/// logs to its own file under <see cref="LogDirectory"/>, printed by <see cref="RunAsync"/> when the test fails.
/// </summary>
internal sealed class ProcessCluster : IAsyncDisposable
{
    public const string Secret = "multi-process-test-secret-0123456789abcdef";

    private readonly List<ChildProcess> _processes = [];
    private readonly ITestOutputHelper _output;
    private int _siloCount;

    private ProcessCluster(ITestOutputHelper output, string clusterId)
    {
        _output = output;
        ClusterId = clusterId;
        LogDirectory = Path.Combine(Path.GetTempPath(), "osc-multiprocess", $"{clusterId}-{Guid.NewGuid():N}"[..24]);
        Directory.CreateDirectory(LogDirectory);
    }

    public string ClusterId { get; }

    public string LogDirectory { get; }

    public RedisProcess Redis { get; private set; } = null!;

    public List<SiloProcess> Silos { get; } = [];

    /// <summary>Extra silo settings (environment variables) for every silo started from now on.</summary>
    public Dictionary<string, string> SiloEnvironment { get; } = [];

    /// <summary>Extra client settings for every client started from now on.</summary>
    public Dictionary<string, string> ClientEnvironment { get; } = [];

    /// <summary>Skips the test (with the reason) where redis-server is not installed.</summary>
    public static async Task<ProcessCluster> StartAsync(ITestOutputHelper output, string clusterId, string storage)
    {
        Skip.If(BuiltPaths.RedisServer is null, "redis-server is not installed (apt-get install redis-server; .ci/run does it)");
        var cluster = new ProcessCluster(output, clusterId);
        cluster.Redis = await RedisProcess.StartAsync(cluster.LogDirectory);
        cluster._processes.Add(cluster.Redis);
        cluster.SiloEnvironment["Silo__Storage"] = storage;
        return cluster;
    }

    public Dictionary<string, string> BaseSiloEnvironment(int siloPort, int gatewayPort)
    {
        var env = new Dictionary<string, string>
        {
            ["Silo__Clustering"] = "Redis",
            ["Silo__Redis"] = Redis.ConnectionString,
            ["Silo__ClusterId"] = ClusterId,
            ["Silo__SiloPort"] = siloPort.ToString(CultureInfo.InvariantCulture),
            ["Silo__GatewayPort"] = gatewayPort.ToString(CultureInfo.InvariantCulture),
            ["Silo__AdvertisedAddress"] = "127.0.0.1",
            // Tuned so a dead silo is noticed in about a second (orleans-notes.md).
            ["Silo__Membership__ProbeTimeout"] = "00:00:01",
            ["Silo__Membership__NumMissedProbesLimit"] = "2",
            ["Silo__Membership__TableRefreshTimeout"] = "00:00:05",
            ["Silo__Membership__IAmAliveTablePublishTimeout"] = "00:00:05",
            ["Logging__LogLevel__Orleans"] = "Warning",
        };
        foreach (var (key, value) in SiloEnvironment)
        {
            env[key] = value;
        }

        return env;
    }

    public async Task<List<SiloProcess>> StartSilosAsync(int count)
    {
        var started = new List<SiloProcess>();
        for (var i = 0; i < count; i++)
        {
            var siloPort = BuiltPaths.FreePort();
            var gatewayPort = BuiltPaths.FreePort();
            var silo = new SiloProcess($"silo{++_siloCount}", siloPort, gatewayPort, BaseSiloEnvironment(siloPort, gatewayPort), LogDirectory);
            _processes.Add(silo);
            Silos.Add(silo);
            started.Add(silo);
        }

        await Task.WhenAll(started.Select(s => s.WaitUntilListeningAsync(TimeSpan.FromSeconds(60))));
        return started;
    }

    public Dictionary<string, string> BaseClientEnvironment() => new(ClientEnvironment)
    {
        ["SecureCache__Cluster__Clustering"] = "Redis",
        ["SecureCache__Cluster__Redis"] = Redis.ConnectionString,
        ["SecureCache__Cluster__ClusterId"] = ClusterId,
        ["SecureCache__Cluster__GatewayListRefreshPeriod"] = "00:00:02",
        ["SecureCache__SecretKey"] = Secret,
        // Bounded calls: a call to a dead or hung silo gives up after 2 s and falls back to the factory.
        ["SecureCache__OperationTimeout"] = "00:00:02",
        ["SecureCache__LeaseDuration"] = "00:00:05",
        ["SecureCache__WaitTimeout"] = "00:00:06",
        ["SecureCache__CircuitBreakDuration"] = "00:00:01",
        ["Logging__LogLevel__Default"] = "Warning",
        ["Logging__LogLevel__OrleansSecureCache"] = "Warning",
    };

    public async Task<ClientProcess> StartClientAsync(string name, Dictionary<string, string>? environment = null)
    {
        var client = new ClientProcess(name, environment ?? BaseClientEnvironment(), LogDirectory);
        _processes.Add(client);
        var first = await client.ReadFirstLineAsync(TimeSpan.FromSeconds(60));
        if (!first.TryGetProperty("event", out var e) || e.GetString() != "ready")
        {
            throw new InvalidOperationException($"{name} did not connect: {first}");
        }

        return client;
    }

    /// <summary>Runs the test body; on failure prints every process's log, then fails as it did.</summary>
    public async Task RunAsync(Func<Task> body)
    {
        try
        {
            await body();
        }
        catch
        {
            await DisposeProcessesAsync();
            foreach (var file in Directory.EnumerateFiles(LogDirectory, "*.log").Order())
            {
                var lines = File.ReadAllLines(file);
                _output.WriteLine($"===== {Path.GetFileName(file)} ({lines.Length} lines, last 150) =====");
                foreach (var line in lines.TakeLast(150))
                {
                    _output.WriteLine(line);
                }
            }

            throw;
        }
    }

    public void Report(string line) => _output.WriteLine(line);

    /// <summary>The silo ports membership lists as active; null when the question timed out (ask again).</summary>
    public static async Task<int[]?> ActiveSilosAsync(ClientProcess client)
    {
        try
        {
            return (await client.SendAsync("hosts")).GetProperty("active").EnumerateArray().Select(p => p.GetInt32()).ToArray();
        }
        catch (InvalidOperationException ex) when (ex.Message.Contains("TimeoutException", StringComparison.Ordinal))
        {
            return null;
        }
    }

    public static async Task<Dictionary<int, int>> PlacementAsync(ClientProcess client) =>
        (await client.SendAsync("placement")).GetProperty("perSilo").EnumerateObject()
            .ToDictionary(p => int.Parse(p.Name, CultureInfo.InvariantCulture), p => p.Value.GetInt32());

    public static async Task<TimeSpan> PollUntilAsync(Func<Task<bool>> condition, TimeSpan timeout, string what)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (!await condition())
        {
            if (clock.Elapsed > timeout)
            {
                throw new TimeoutException($"Gave up after {timeout.TotalSeconds} s waiting for {what}.");
            }

            await Task.Delay(100);
        }

        return clock.Elapsed;
    }

    public static long Counter(JsonElement load, string name) =>
        load.GetProperty("counters").TryGetProperty(name, out var value) ? value.GetInt64() : 0;

    private async Task DisposeProcessesAsync()
    {
        foreach (var process in Enumerable.Reverse(_processes))
        {
            await process.DisposeAsync();
        }

        _processes.Clear();
    }

    public async ValueTask DisposeAsync() => await DisposeProcessesAsync();
}
