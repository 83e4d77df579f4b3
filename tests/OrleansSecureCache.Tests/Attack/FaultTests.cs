using System.Diagnostics;
using OrleansSecureCache.Tests.Cluster;
using Xunit;
using static OrleansSecureCache.Tests.Attack.AttackKit;

namespace OrleansSecureCache.Tests.Attack;

/// <summary>
/// Cluster faults (DESIGN.md "Failure policy", Djblets M2): the application never sees a cache fault, an
/// unreachable cluster opens a circuit that closes again, and a hung cluster costs each call at most its bound.
/// Killing a silo mid-read or mid-write is not done here: it would need a separate TestCluster (see the report).
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class FaultTests(ClusterFixture fixture)
{
    [Fact]
    public async Task Fault_ClusterUnreachable_FactoryValueReturned_CircuitOpensAndCloses()
    {
        var (grains, control) = FaultInjectingGrainFactory.Wrap(fixture.Cluster.Client);
        var breakDuration = TimeSpan.FromMilliseconds(300);
        var cache = fixture.CreateCache(o =>
        {
            o.CircuitBreakerFailures = 3;
            o.CircuitBreakDuration = breakDuration;
        }, grains);
        var key = NewKey("circuit", out var part);
        control.Mode = FaultMode.Throw;

        for (var i = 0; i < 3; i++)
        {
            Assert.False(cache.CircuitOpen);
            Assert.Equal($"f{i}", await cache.MemoizeAsync(key, () => $"f{i}", Encrypted));
        }

        Assert.True(cache.CircuitOpen);
        var callsWhenOpened = control.Calls;
        Assert.Equal(3, callsWhenOpened);
        var clock = Stopwatch.StartNew();
        for (var i = 0; i < 20; i++)
        {
            Assert.Equal($"open{i}", await cache.MemoizeAsync(key, () => $"open{i}", Encrypted));
        }

        if (clock.Elapsed < breakDuration)
        {
            Assert.Equal(callsWhenOpened, control.Calls); // the open circuit keeps calls off the cluster
        }

        control.Mode = FaultMode.Healthy;
        // Time-based: once the break has passed, the next call probes the healthy cluster and closes the circuit.
        await PollUntilAsync(async () =>
        {
            await cache.MemoizeAsync(key, () => "probe", Encrypted);
            return !cache.CircuitOpen;
        }, TimeSpan.FromSeconds(10), "the circuit closing");

        Assert.True(control.Calls > callsWhenOpened);
        Assert.Equal("probe", await cache.MemoizeAsync(key, ClusterHelpers.MustHit<string>(), Encrypted));
        Assert.Contains(fixture.Logs.Lines, l => l.Contains("Cache circuit opened"));
        Assert.Contains(fixture.Logs.Lines, l => l.Contains("Cache circuit closed"));
        AssertNoLeaks(fixture, [part], []);
    }

    [Fact]
    public async Task Fault_HungCluster_EveryCallWithinItsBoundPlusSlack()
    {
        var (grains, control) = FaultInjectingGrainFactory.Wrap(fixture.Cluster.Client);
        var operationTimeout = TimeSpan.FromMilliseconds(500);
        var cache = fixture.CreateCache(o =>
        {
            o.OperationTimeout = operationTimeout;
            o.CircuitBreakDuration = TimeSpan.FromMilliseconds(200);
        }, grains);
        control.Mode = FaultMode.Hang;

        for (var i = 0; i < 8; i++)
        {
            var clock = Stopwatch.StartNew();
            var key = NewKey($"hang-{i}", out _);
            Assert.Equal($"v{i}", await cache.MemoizeAsync(key, () => $"v{i}", Encrypted));
            Assert.True(clock.Elapsed < operationTimeout + TimeSpan.FromSeconds(5), $"call {i} took {clock.Elapsed}");
        }

        // Hung calls also end for the iterator and for a write that hangs after the lease was granted.
        control.Mode = FaultMode.Healthy;
        var iterClock = Stopwatch.StartNew();
        var items = await ClusterHelpers.Collect(cache.MemoizeIterAsync(NewKey("hang-iter", out _), () =>
        {
            control.Mode = FaultMode.Hang;
            return new[] { 1, 2, 3 };
        }, Encrypted));
        Assert.Equal([1, 2, 3], items);
        Assert.True(iterClock.Elapsed < 2 * operationTimeout + TimeSpan.FromSeconds(5), $"iterator took {iterClock.Elapsed}");
        control.Mode = FaultMode.Healthy;
    }
}
