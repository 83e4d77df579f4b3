using System.Diagnostics;
using System.Security.Cryptography;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.TestingHost;
using OrleansSecureCache.Grains;
using OrleansSecureCache.Serialization;
using OrleansSecureCache.Silo;
using Xunit;

namespace OrleansSecureCache.Tests.Cluster;

/// <summary>
/// A cluster of its own for tests that kill silos or need tight grain limits, so the shared cluster
/// stays whole: MaxLeaseLife 2 s, MaxWaiters 5.
/// </summary>
public sealed class FailureClusterFixture : TestClusterFixture<FailureClusterFixture.Configurator>
{
    protected override SecureCacheOptions BaseOptions() => new()
    {
        SecretKey = TestSecrets.SecretKey,
        LeaseDuration = TimeSpan.FromSeconds(1),
        WaitTimeout = TimeSpan.FromSeconds(20),
        OperationTimeout = TimeSpan.FromSeconds(3),
    };

    public sealed class Configurator : ISiloConfigurator
    {
        public void Configure(ISiloBuilder siloBuilder)
        {
            siloBuilder.AddSecureCacheGrains(o =>
            {
                o.MinLeaseDuration = TimeSpan.FromMilliseconds(100);
                o.MaxLeaseDuration = TimeSpan.FromSeconds(1);
                o.DefaultLeaseDuration = TimeSpan.FromSeconds(1);
                o.MaxLeaseLife = TimeSpan.FromSeconds(2);
                o.MaxWaiters = 5;
            });
            siloBuilder.AddGrainExtension<IEntryTamperExtension, EntryTamperExtension>();
        }
    }
}

[CollectionDefinition(Name)]
public sealed class FailureClusterCollection : ICollectionFixture<FailureClusterFixture>
{
    public const string Name = "failure-cluster";
}

[Collection(FailureClusterCollection.Name)]
public sealed class SiloFailureTests(FailureClusterFixture fixture)
{
    private static readonly LookupRequest Lease = new(false, TimeSpan.Zero, TimeSpan.FromSeconds(1), 0);

    [Fact]
    public async Task LeaseRenewedPastMaxLife_WaiterTakesOver_BuilderCommitRefused()
    {
        var grain = fixture.Cluster.Client.GetGrain<ISecureCacheGrain>(Guid.NewGuid().ToString("N"));
        var builder = (await grain.GetOrLease(Lease)).Lease!;
        var clock = Stopwatch.StartNew();

        // The builder heartbeats without progress; its lease still ends at MaxLeaseLife (2 s).
        var heartbeats = Task.Run(async () =>
        {
            var last = WriteStatus.Accepted;
            var giveUp = Stopwatch.StartNew();
            while (last == WriteStatus.Accepted && giveUp.Elapsed < TimeSpan.FromSeconds(15))
            {
                last = (await grain.Heartbeat(builder.AsToken())).Status;
                await Task.Delay(200);
            }

            return last;
        });
        var waiter = await grain.GetOrLease(Lease with { MaxWait = TimeSpan.FromSeconds(10) });
        var took = clock.Elapsed;

        Assert.Equal(LookupOutcome.Lease, waiter.Outcome);
        Assert.InRange(took, TimeSpan.FromSeconds(1.5), TimeSpan.FromSeconds(2) + TimeSpan.FromSeconds(5));
        Assert.Equal(WriteStatus.LeaseLost, await heartbeats);
        Assert.Equal(WriteStatus.LeaseLost, (await grain.Commit(builder.AsToken(), new CommitRequest([1], 1, DateTimeOffset.UtcNow.AddHours(1), [[1]]))).Status);
    }

    [Fact]
    public async Task FloodOfWaiters_AtMostMaxWaitersParked_OthersToldToWaitAtOnce()
    {
        var grain = fixture.Cluster.Client.GetGrain<ISecureCacheGrain>(Guid.NewGuid().ToString("N"));
        var tamper = grain.AsReference<IEntryTamperExtension>();
        await grain.GetOrLease(Lease with { LeaseDuration = TimeSpan.FromSeconds(1) });

        // 20 callers ask to be parked for up to 1 s while the lease is held; the grain parks at most 5.
        var flood = Task.WhenAll(Enumerable.Range(0, 20).Select(_ => grain.GetOrLease(Lease with { MaxWait = TimeSpan.FromSeconds(1) })));
        var mostParked = 0;
        while (!flood.IsCompleted)
        {
            mostParked = Math.Max(mostParked, await tamper.Waiters());
        }

        var replies = await flood;
        Assert.InRange(mostParked, 1, 5);
        Assert.Equal(0, await tamper.Waiters());

        // Whatever the timing, every caller got an answer (a lease only once the held one expired).
        Assert.All(replies, r => Assert.Contains(r.Outcome, new[] { LookupOutcome.Wait, LookupOutcome.Lease }));
    }

    [Theory]
    [InlineData("read")]
    [InlineData("write")]
    public async Task SiloKilled_MidReadOrWrite_CallerGetsTheRightValue_NoException(string phase)
    {
        var cache = fixture.CreateCache();
        var (key, silo) = await KeyOnSecondarySilo(cache);
        var value = RandomNumberGenerator.GetBytes(40 * 1024 * 1024);
        var options = new MemoizeOptions { UseEncryption = true, Compress = false };
        var clock = Stopwatch.StartNew();
        byte[] result;
        if (phase == "read")
        {
            await cache.MemoizeAsync(key, () => value, options);
            var read = fixture.CreateCache().MemoizeAsync(key, () => value, options).AsTask();
            await fixture.Cluster.KillSiloAsync(silo);
            result = await read;
        }
        else
        {
            result = await cache.MemoizeAsync(key, async ct =>
            {
                await fixture.Cluster.KillSiloAsync(silo); // the grain dies while this build holds its lease
                return value;
            }, options);
        }

        Assert.Equal(SHA256.HashData(value), SHA256.HashData(result));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20) + TimeSpan.FromSeconds(10), $"took {clock.Elapsed}");

        // The key's grain re-activates on a surviving silo and serves (or rebuilds) the right value.
        var again = await fixture.CreateCache().MemoizeAsync(key, () => value, options);
        Assert.Equal(SHA256.HashData(value), SHA256.HashData(again));
        await fixture.Cluster.StartAdditionalSiloAsync();
    }

    private async Task<(string Key, SiloHandle Silo)> KeyOnSecondarySilo(SecureCache cache)
    {
        // After a kill in an earlier case, placement only sees every silo again once membership settled.
        await fixture.Cluster.WaitForLivenessToStabilizeAsync(didKill: false);
        for (var attempt = 0; attempt < 200; attempt++)
        {
            var key = $"kill-{Guid.NewGuid():N}";
            var grain = fixture.Cluster.Client.GetGrain<ISecureCacheGrain>(cache.MakeCacheKey(key, new MemoizeOptions { UseEncryption = true }));
            var address = await grain.AsReference<IEntryTamperExtension>().HostingSilo();
            var silo = fixture.Cluster.SecondarySilos.FirstOrDefault(s => s.SiloAddress.Equals(address));
            if (silo is not null)
            {
                return (key, silo);
            }
        }

        throw new InvalidOperationException("No key landed on a secondary silo in 200 tries.");
    }
}
