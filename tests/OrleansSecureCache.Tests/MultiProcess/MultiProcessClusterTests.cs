using System.Diagnostics;
using System.Text.Json;
using Xunit;
using Xunit.Abstractions;
using static OrleansSecureCache.Tests.MultiProcess.ProcessCluster;

namespace OrleansSecureCache.Tests.MultiProcess;

/// <summary>
/// Three real silo processes on Redis membership and two client processes (the built executables), killed
/// with SIGKILL, with Redis paused under them. Skipped where redis-server is not installed.
/// </summary>
[Collection(MultiProcessCollection.Name)]
public sealed class MultiProcessClusterTests(ITestOutputHelper output)
{
    /// <summary>No call may take longer: WaitTimeout (6 s) plus two bounded grain calls (2 s each) plus slack.</summary>
    private static readonly TimeSpan CallBound = TimeSpan.FromSeconds(12);

    [SkippableFact]
    public async Task Stampede_500MissesOverTwoClientProcesses_FactoryRunsOnceInTheCluster()
    {
        await using var cluster = await StartAsync(output, "stampede", "Memory");
        await cluster.RunAsync(async () =>
        {
            await cluster.StartSilosAsync(3);
            var clients = await Task.WhenAll(cluster.StartClientAsync("client1"), cluster.StartClientAsync("client2"));
            var startAt = DateTimeOffset.UtcNow.AddMilliseconds(1500).ToUnixTimeMilliseconds();
            var replies = await Task.WhenAll(clients.Select(c => c.SendAsync($"stampede one-key 250 500 {startAt}")));

            var runs = replies.Sum(r => r.GetProperty("runs").GetInt32());
            var values = replies.SelectMany(r => r.GetProperty("values").EnumerateArray().Select(v => v.GetString())).Distinct().ToList();
            cluster.Report($"500 concurrent misses over 2 processes: factory runs {runs}, distinct values {values.Count}, ms {string.Join("/", replies.Select(r => r.GetProperty("ms").GetInt64()))}");
            Assert.Equal(0, replies.Sum(r => r.GetProperty("exceptions").GetInt32()));
            Assert.Equal(1, runs);
            Assert.Single(values);
        });
    }

    [SkippableFact]
    public async Task KillDashNine_BusySilo_UnderLoad_NoWrongValueNoExceptionBoundedCalls_RedisEntriesSurvive_RestartedSiloTakesLoad()
    {
        await using var cluster = await StartAsync(output, "kill-redis", "Redis");
        await cluster.RunAsync(async () =>
        {
            await cluster.StartSilosAsync(3);
            var clients = await Task.WhenAll(cluster.StartClientAsync("client1"), cluster.StartClientAsync("client2"));
            var before = await clients[0].SendAsync("fill before 300");
            Assert.Equal(0, before.GetProperty("wrong").GetInt32());

            foreach (var client in clients)
            {
                await client.SendAsync("load-start mixed 400 16");
            }

            await Task.Delay(3000);
            var (victim, killedAt) = await KillBusiestSiloAsync(cluster, clients[0]);
            var left = await PollUntilAsync(async () => await ActiveSilosAsync(clients[0]) is { } active && !active.Contains(victim.SiloPort), TimeSpan.FromSeconds(60), "the killed silo to leave membership");
            cluster.Report($"Redis storage: kill -9 to leaving membership: {left.TotalSeconds:0.0} s (tuned membership)");

            await Task.Delay(3000);
            var restarted = (await cluster.StartSilosAsync(1))[0];
            var joined = await PollUntilAsync(async () => (await ActiveSilosAsync(clients[0]))?.Contains(restarted.SiloPort) == true, TimeSpan.FromSeconds(30), "the restarted silo to join");
            cluster.Report($"restarted silo active {joined.TotalSeconds:0.0} s after it logged 'listening'");
            // New keys: some of their grains are placed on the restarted silo once the others see its load figures.
            var round = 0;
            var placement = new Dictionary<int, int>();
            var tookLoad = await PollUntilAsync(async () =>
            {
                await clients[1].SendAsync($"fill after-restart-{round++} 100");
                placement = await PlacementAsync(clients[0]);
                return placement.GetValueOrDefault(restarted.SiloPort) > 0;
            }, TimeSpan.FromSeconds(40), "the restarted silo to host cache grains");
            cluster.Report($"the restarted silo hosted cache grains {tookLoad.TotalSeconds:0.0} s after joining; activations per silo port: {string.Join(", ", placement.Select(p => $"{p.Key}: {p.Value}"))}");

            var loads = await Task.WhenAll(clients.Select(c => c.SendAsync("load-stop")));
            ReportLoads(cluster, "Redis storage, kill -9 under load", loads, killedAt);
            AssertLoadHealthy(loads);

            // Written before the kill, read after it (the killed silo's grains re-activate elsewhere, from Redis).
            var check = await clients[1].SendAsync("check before 300");
            cluster.Report($"Redis storage: entries written before the kill still hits after it: {check.GetProperty("hits").GetInt32()}/300, misses {check.GetProperty("misses").GetInt32()}");
            Assert.Equal(0, check.GetProperty("wrong").GetInt32());
            Assert.Equal(300, check.GetProperty("hits").GetInt32());
        });
    }

    [SkippableFact]
    public async Task KillDashNine_MemoryStorage_LossIsMeasured_NoWrongValue()
    {
        await using var cluster = await StartAsync(output, "kill-memory", "Memory");
        await cluster.RunAsync(async () =>
        {
            await cluster.StartSilosAsync(3);
            var client = await cluster.StartClientAsync("client1");
            Assert.Equal(0, (await client.SendAsync("fill before 300")).GetProperty("wrong").GetInt32());
            var placement = await PlacementAsync(client);
            var (victim, _) = await KillBusiestSiloAsync(cluster, client);
            var left = await PollUntilAsync(async () => await ActiveSilosAsync(client) is { } active && !active.Contains(victim.SiloPort), TimeSpan.FromSeconds(60), "the killed silo to leave membership");
            var check = await client.SendAsync("check before 300");
            var lost = check.GetProperty("misses").GetInt32();
            cluster.Report($"Memory storage: kill -9 to leaving membership {left.TotalSeconds:0.0} s; the killed silo held {placement.GetValueOrDefault(victim.SiloPort)} of 300 activations; "
                + $"after the kill {check.GetProperty("hits").GetInt32()} hits, {lost} lost ({100.0 * lost / 300:0}%)");
            Assert.Equal(0, check.GetProperty("wrong").GetInt32());
            Assert.Equal(0, check.GetProperty("errors").GetInt32());
            Assert.Equal(300, check.GetProperty("hits").GetInt32() + lost);
        });
    }

    [SkippableFact]
    public async Task RedisPaused_ClientsKeepAnswering_ClusterRecoversWhenItIsBack()
    {
        await using var cluster = await StartAsync(output, "redis-pause", "Redis");
        await cluster.RunAsync(async () =>
        {
            await cluster.StartSilosAsync(3);
            var clients = await Task.WhenAll(cluster.StartClientAsync("client1"), cluster.StartClientAsync("client2"));
            await clients[0].SendAsync("fill warm 100");
            foreach (var client in clients)
            {
                await client.SendAsync("load-start paused 300 8");
            }

            await Task.Delay(1000);
            cluster.Redis.Signal("STOP");
            var paused = Stopwatch.StartNew();
            try
            {
                await Task.Delay(8000);
                // Clients answer while Redis is gone: from the cache, or from the factory.
                var during = await Task.WhenAll(clients.Select(c => c.SendAsync("load-peek")));
                var warm = await clients[0].SendAsync("fill warm 100", TimeSpan.FromSeconds(60));
                cluster.Report($"Redis paused {paused.Elapsed.TotalSeconds:0.0} s: calls so far {string.Join("/", during.Select(d => d.GetProperty("calls").GetInt64()))}, memoize of 100 warm keys wrong {warm.GetProperty("wrong").GetInt32()}");
                Assert.Equal(0, warm.GetProperty("wrong").GetInt32());
            }
            finally
            {
                cluster.Redis.Signal("CONT");
            }

            var recovered = await PollUntilAsync(async () =>
            {
                var fill = await clients[1].SendAsync("fill recovered 50");
                var check = await clients[0].SendAsync("check recovered 50");
                return check.GetProperty("hits").GetInt32() == 50;
            }, TimeSpan.FromSeconds(45), "entries to be stored again after Redis came back");
            cluster.Report($"after Redis came back, new entries were stored and read back within {recovered.TotalSeconds:0.0} s");
            Assert.Equal(3, (await ActiveSilosAsync(clients[0]))?.Length);

            var loads = await Task.WhenAll(clients.Select(c => c.SendAsync("load-stop")));
            ReportLoads(cluster, "Redis paused 8 s under load", loads, TimeSpan.Zero);
            AssertLoadHealthy(loads);
        });
    }

    private static async Task<(SiloProcess Victim, TimeSpan KilledAt)> KillBusiestSiloAsync(ProcessCluster cluster, ClientProcess client)
    {
        var placement = await PlacementAsync(client);
        var busiest = placement.OrderByDescending(p => p.Value).First();
        var victim = cluster.Silos.Single(s => s.SiloPort == busiest.Key && !s.HasExited);
        cluster.Report($"killing {victim.Name} (silo port {victim.SiloPort}) hosting {busiest.Value} of {placement.Values.Sum()} cache grains");
        victim.Kill();
        return (victim, TimeSpan.Zero);
    }

    private static void ReportLoads(ProcessCluster cluster, string what, JsonElement[] loads, TimeSpan _)
    {
        foreach (var load in loads)
        {
            cluster.Report($"{what}: {load.GetProperty("calls").GetInt64()} calls in {load.GetProperty("seconds").GetDouble():0.0} s, wrong {load.GetProperty("wrong").GetInt64()}, "
                + $"exceptions {load.GetProperty("exceptions").GetInt64()}, invalidate unavailable {load.GetProperty("unavailable").GetInt64()}, max {load.GetProperty("maxMs").GetDouble():0} ms, "
                + $"fallbacks {Counter(load, "osc.client.fallbacks")}, faults {Counter(load, "osc.client.faults")}, wait timeouts {Counter(load, "osc.client.wait_timeouts")}, "
                + $"circuit opened {Counter(load, "osc.client.circuit_opened")}, hits {Counter(load, "osc.client.hits")}, builds {Counter(load, "osc.client.builds")}");
        }
    }

    private static void AssertLoadHealthy(JsonElement[] loads)
    {
        foreach (var load in loads)
        {
            Assert.True(load.GetProperty("calls").GetInt64() > 100, $"too few calls: {load}");
            Assert.Equal(0, load.GetProperty("wrong").GetInt64());
            Assert.True(load.GetProperty("exceptions").GetInt64() == 0, $"the application saw exceptions: {load.GetProperty("firstException")}");
            Assert.True(load.GetProperty("maxMs").GetDouble() < CallBound.TotalMilliseconds, $"a call took {load.GetProperty("maxMs").GetDouble():0} ms (bound {CallBound.TotalMilliseconds} ms)");
        }
    }
}
