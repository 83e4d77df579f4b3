using System.Diagnostics;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Orleans.Storage;
using Orleans.TestingHost;
using OrleansSecureCache.Grains;
using OrleansSecureCache.Silo;
using Xunit;
using Xunit.Abstractions;

namespace OrleansSecureCache.Tests.Cluster;

/// <summary>A cluster of its own with a tiny per-silo budget (256 KiB), a fast expiry sweep and a short read window.</summary>
public sealed class BudgetClusterFixture : TestClusterFixture<BudgetClusterFixture.Configurator>
{
    public const long Budget = 256 * 1024;

    protected override SecureCacheOptions BaseOptions() => new()
    {
        SecretKey = TestSecrets.SecretKey,
        LeaseDuration = TimeSpan.FromSeconds(5),
        WaitTimeout = TimeSpan.FromSeconds(20),
        OperationTimeout = TimeSpan.FromSeconds(10),
    };

    public IReadOnlyList<IServiceProvider> SiloServices =>
        Cluster.Silos.Select(s => ((InProcessSiloHandle)s).SiloHost.Services).ToList();

    public IReadOnlyList<CacheMemoryTracker> Trackers =>
        SiloServices.Select(s => s.GetRequiredService<CacheMemoryTracker>()).ToList();

    public sealed class Configurator : ISiloConfigurator
    {
        public void Configure(ISiloBuilder siloBuilder)
        {
            siloBuilder.AddSecureCacheGrains(o =>
            {
                o.MinLeaseDuration = TimeSpan.FromMilliseconds(100);
                o.MemoryBudgetBytes = Budget;
                o.ExpirySweepInterval = TimeSpan.FromMilliseconds(500);
                o.ReadWindow = TimeSpan.FromSeconds(2);
            });
            siloBuilder.AddGrainExtension<IEntryTamperExtension, EntryTamperExtension>();
        }
    }
}

[CollectionDefinition(Name)]
public sealed class BudgetClusterCollection : ICollectionFixture<BudgetClusterFixture>
{
    public const string Name = "budget-cluster";
}

[Collection(BudgetClusterCollection.Name)]
public sealed class MemoryBudgetTests(BudgetClusterFixture fixture, ITestOutputHelper output)
{
    private static readonly MemoizeOptions Plain = new() { UseEncryption = false, Compress = false };

    [Fact]
    public async Task Budget_TenTimesTheBudgetWritten_EverySampleUnderBudget_RecentEntriesHit()
    {
        var cache = fixture.CreateCache();
        var value = new byte[4000];
        Random.Shared.NextBytes(value);
        var written = 0L;
        var keys = new List<string>();
        var peak = 0L;
        var clock = Stopwatch.StartNew();
        var evictionsBefore = fixture.Trackers.Sum(t => t.Snapshot().Evictions);

        // Ten times the cluster's budget (3 silos × 256 KiB), sampled after every write.
        while (written < 10 * 3 * BudgetClusterFixture.Budget)
        {
            var key = $"budget-{Guid.NewGuid():N}";
            await cache.SetAsync(key, value, Plain);
            keys.Add(key);
            written += value.Length;
            foreach (var tracker in fixture.Trackers)
            {
                var bytes = tracker.Bytes;
                peak = Math.Max(peak, bytes);
                Assert.True(bytes <= BudgetClusterFixture.Budget, $"a silo holds {bytes} bytes, over its budget of {BudgetClusterFixture.Budget}, after {keys.Count} writes");
            }
        }

        output.WriteLine($"{keys.Count} writes of {value.Length} bytes in {clock.Elapsed.TotalSeconds:0.0} s; peak per silo {peak} of {BudgetClusterFixture.Budget}");
        foreach (var key in keys.TakeLast(30))
        {
            var hit = await cache.TryGetAsync<byte[]>(key, Plain);
            Assert.True(hit.Found, $"recent entry {key} was evicted");
            Assert.Equal(value, hit.Value);
        }

        Assert.True(fixture.Trackers.Sum(t => t.Snapshot().Evictions) - evictionsBefore > keys.Count / 2);
        Assert.False((await cache.TryGetAsync<byte[]>(keys[0], Plain)).Found); // the oldest went first
    }

    [Fact]
    public async Task Budget_EntryUnderALiveLease_SurvivesPressure_AndItsBuilderCommits()
    {
        var key = $"leased-{Guid.NewGuid():N}";
        var grain = fixture.Cluster.Client.GetGrain<ISecureCacheGrain>(key);
        var lease = new LookupRequest(false, TimeSpan.Zero, TimeSpan.FromSeconds(30), 0);
        var first = (await grain.GetOrLease(lease)).Lease!;
        Assert.True((await grain.Commit(first.AsToken(), new CommitRequest([1], 1, DateTimeOffset.UtcNow.AddHours(1), [new byte[2000]]))).Accepted);

        // A rebuild is under way: the old entry stays readable, and neither may be dropped mid-way.
        var rebuild = (await grain.GetOrLease(lease with { ForceOverwrite = true })).Lease!;
        var staged = await grain.AppendChunks(rebuild.AsToken(), 0, [new byte[1000]]);
        Assert.True(staged.Accepted);

        var cache = fixture.CreateCache();
        var value = new byte[4000];
        for (var written = 0L; written < 10 * 3 * BudgetClusterFixture.Budget; written += value.Length)
        {
            await cache.SetAsync($"pressure-{Guid.NewGuid():N}", value, Plain);
        }

        var read = await grain.GetOrLease(lease with { AcquireLease = false });
        Assert.Equal(LookupOutcome.Hit, read.Outcome);
        Assert.Equal(first.VersionId, read.Entry!.VersionId);
        var ack = await grain.Commit(rebuild.AsToken(), new CommitRequest([2], 2, DateTimeOffset.UtcNow.AddHours(1), [new byte[1000]]));
        Assert.True(ack.Accepted, ack.Error);
        Assert.Equal(rebuild.VersionId, (await grain.GetOrLease(lease with { AcquireLease = false })).Entry!.VersionId);
    }

    [Fact]
    public async Task Budget_EntryBeingRead_SurvivesPressure_UntilItsReadWindowEnds()
    {
        var key = $"reading-{Guid.NewGuid():N}";
        var grain = fixture.Cluster.Client.GetGrain<ISecureCacheGrain>(key);
        var lease = new LookupRequest(false, TimeSpan.Zero, TimeSpan.FromSeconds(30), 0);
        var grant = (await grain.GetOrLease(lease)).Lease!;
        Assert.True((await grain.Commit(grant.AsToken(), new CommitRequest([1], 2, DateTimeOffset.UtcNow.AddHours(1), [new byte[1000], new byte[1000]]))).Accepted);

        // A reader that fetched the first batch and will come back for the rest.
        var batch = await grain.ReadChunks(grant.VersionId, 0, 1);
        Assert.Equal(ReadStatus.Ok, batch.Status);
        var cache = fixture.CreateCache();
        var value = new byte[4000];
        for (var written = 0L; written < 3 * 3 * BudgetClusterFixture.Budget; written += value.Length)
        {
            await cache.SetAsync($"pressure-{Guid.NewGuid():N}", value, Plain);
        }

        Assert.Equal(ReadStatus.Ok, (await grain.ReadChunks(grant.VersionId, 1, 1)).Status);
    }

    [Fact]
    public async Task Expiry_ParkedAndActiveEntries_LeaveStorageAndMemoryWithinTheSweepBound()
    {
        var cache = fixture.CreateCache();
        var ttl = TimeSpan.FromSeconds(2);
        var options = new MemoizeOptions { UseEncryption = false, Compress = false, Expiration = ttl };
        var keys = Enumerable.Range(0, 20).Select(i => $"expiring-{i}-{Guid.NewGuid():N}").ToList();
        var written = DateTimeOffset.UtcNow;
        foreach (var key in keys)
        {
            await cache.SetAsync(key, new byte[3000], options);
        }

        // Half of them go idle and are collected: their bytes move to grain storage (parked).
        var management = fixture.Cluster.Client.GetGrain<IManagementGrain>(0);
        foreach (var key in keys.Take(10))
        {
            await fixture.Cluster.Client.GetGrain<ISecureCacheGrain>(key).Cast<Orleans.Core.Internal.IGrainManagementExtension>().DeactivateOnIdle();
        }

        await WaitUntilAsync(async () => (await ManifestsAsync(keys.Take(10))).Count == 10, TimeSpan.FromSeconds(5));
        Assert.True(fixture.Trackers.Sum(t => t.Snapshot().ParkedEntries) >= 10);
        var expirationsBefore = fixture.Trackers.Sum(t => t.Snapshot().Expirations);

        // Nobody reads them again. Bound: expiry + sweep interval (0.5 s) + slack for the calls.
        var bound = written + ttl + TimeSpan.FromSeconds(0.5) + TimeSpan.FromSeconds(2);
        await WaitUntilAsync(async () => (await ManifestsAsync(keys)).Count == 0 && fixture.Trackers.All(t => t.Snapshot().ParkedEntries == 0),
            bound - DateTimeOffset.UtcNow + TimeSpan.FromSeconds(1));
        Assert.True(DateTimeOffset.UtcNow <= bound + TimeSpan.FromSeconds(1), "expired entries outlived the sweep bound");
        foreach (var key in keys)
        {
            Assert.False((await cache.TryGetAsync<byte[]>(key, options)).Found);
        }

        Assert.True(fixture.Trackers.Sum(t => t.Snapshot().Expirations) - expirationsBefore >= 10);
        output.WriteLine($"management grain: {management.GetPrimaryKeyLong()}; all gone {(DateTimeOffset.UtcNow - written).TotalSeconds:0.0} s after the writes");
    }

    [Fact]
    public async Task Stats_ClusterCountersPerSilo_MatchTheTrackers()
    {
        var cache = fixture.CreateCache();
        await cache.SetAsync($"stats-{Guid.NewGuid():N}", new byte[100], Plain);
        var stats = await fixture.Cluster.Client.GetGrain<ICacheStatsGrain>(0).GetClusterStats();

        Assert.Equal(3, stats.Length);
        Assert.All(stats, s => Assert.Equal(BudgetClusterFixture.Budget, s.BudgetBytes));
        Assert.True(stats.Sum(s => s.Entries) >= 1);
        Assert.Contains(stats, s => s.Bytes > 0);
    }

    /// <summary>The manifest records grain storage holds for these keys (read straight from storage: no activation).</summary>
    private async Task<List<string>> ManifestsAsync(IEnumerable<string> keys)
    {
        var storage = fixture.SiloServices[0].GetRequiredKeyedService<IGrainStorage>(SecureCacheGrainOptions.StorageName);
        var found = new List<string>();
        foreach (var key in keys)
        {
            var state = new GrainState<EntryManifest>();
            await storage.ReadStateAsync("osc-manifest", fixture.Cluster.Client.GetGrain<ISecureCacheGrain>(key).GetGrainId(), state);
            if (state.RecordExists && state.State is { VersionId: var version } && version != Guid.Empty)
            {
                var chunk = new GrainState<ChunkRecord>();
                await storage.ReadStateAsync("osc-chunk", GrainId.Create("osc-chunk", $"{key}/{version:N}/0"), chunk);
                found.Add(key + (chunk.RecordExists ? "+chunk" : ""));
            }
        }

        return found;
    }

    private static async Task WaitUntilAsync(Func<Task<bool>> condition, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (!await condition())
        {
            Assert.True(clock.Elapsed < timeout, $"condition not met within {timeout}");
            await Task.Delay(100);
        }
    }
}

/// <summary>The budget setting is checked when the silo starts.</summary>
public sealed class MemoryBudgetValidationTests
{
    [Theory]
    [InlineData("0")]
    [InlineData("-1")]
    [InlineData("machine+1")]
    public async Task SiloStart_BudgetOutOfRange_FailsNamingTheSettingAndRange(string value)
    {
        var memory = SecureCacheGrainOptions.MachineMemoryBytes;
        var text = value == "machine+1" ? (memory + 1).ToString(System.Globalization.CultureInfo.InvariantCulture) : value;
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["SecureCache:Grain:MemoryBudgetBytes"] = text,
            ["Silo:SiloPort"] = "21911",
            ["Silo:GatewayPort"] = "31911",
        });
        var settings = SiloHosting.ReadSettings(builder.Configuration);
        builder.UseOrleans(silo => silo.ConfigureSecureCacheSilo(builder.Configuration, settings));
        using var host = builder.Build();

        var ex = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());
        Assert.Contains(ex.Failures, f => f.Contains($"SecureCache:Grain:MemoryBudgetBytes must be between 1 and {memory} bytes", StringComparison.Ordinal)
            && f.Contains($"got {text}", StringComparison.Ordinal));
    }
}
