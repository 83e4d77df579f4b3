using System.Diagnostics;
using Microsoft.Extensions.Options;
using Xunit;

namespace OrleansSecureCache.Tests.Cluster;

/// <summary>
/// Every way a builder can end releases its lease and lets exactly one waiter go on (issue 3, item 3;
/// Djblets C1–C5). "Immediately" is asserted as well under the 5 s lease the fixture's clients use.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class BuilderEndsTests(ClusterFixture fixture)
{
    private static readonly TimeSpan WellUnderLease = TimeSpan.FromSeconds(3);

    private static string NewKey(string name) => $"{name}-{Guid.NewGuid():N}";

    [Fact]
    public async Task FactoryThrows_CallerAndJoinedCallersGetIt_OtherProcessTakesOver_C2()
    {
        var key = NewKey("throws");
        var a = fixture.CreateCache();
        var b = fixture.CreateCache();
        var aRuns = 0;
        var bRuns = 0;
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        async ValueTask<string> Failing(CancellationToken ct)
        {
            Interlocked.Increment(ref aRuns);
            started.TrySetResult();
            await release.Task;
            throw new InvalidOperationException("factory failed");
        }

        var inA = Enumerable.Range(0, 5).Select(_ => a.MemoizeAsync(NewKeyOf(key), Failing).AsTask()).ToArray();
        await started.Task;
        var inB = b.MemoizeAsync(key, () => { Interlocked.Increment(ref bRuns); return "from b"; }).AsTask();
        await WaitForWaiter(a, key);
        var clock = Stopwatch.StartNew();
        release.SetResult();

        foreach (var call in inA)
        {
            var ex = await Assert.ThrowsAsync<InvalidOperationException>(() => call);
            Assert.Equal("factory failed", ex.Message);
        }

        Assert.Equal("from b", await inB);
        Assert.True(clock.Elapsed < WellUnderLease, $"took over after {clock.Elapsed}");
        Assert.Equal(1, aRuns);
        Assert.Equal(1, bRuns);
        Assert.Equal("from b", await fixture.CreateCache().MemoizeAsync(key, ClusterHelpers.MustHit<string>()));
    }

    [Fact]
    public async Task ValueAppearsWhileWaiting_WaiterReturnsItWithoutComputing_C3()
    {
        var key = NewKey("appears");
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var builder = fixture.CreateCache().MemoizeAsync(key, async ct => { await release.Task; return 41; }).AsTask();
        await WaitForLease(key);
        var waiterRuns = 0;
        var waiter = fixture.CreateCache().MemoizeAsync(key, () => { waiterRuns++; return 0; }).AsTask();
        await WaitForWaiter(fixture.CreateCache(), key);
        release.SetResult();

        Assert.Equal(41, await builder);
        Assert.Equal(41, await waiter);
        Assert.Equal(0, waiterRuns);
    }

    [Fact]
    public async Task WaitTimesOut_WaiterComputesItself_AndDoesNotOverwrite_C4()
    {
        var key = NewKey("wait-timeout");
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var builder = fixture.CreateCache().MemoizeAsync(key, async ct => { await release.Task; return "builder"; }).AsTask();
        await WaitForLease(key);
        var waiter = fixture.CreateCache(o => o.WaitTimeout = TimeSpan.FromMilliseconds(500));

        var clock = Stopwatch.StartNew();
        var own = await waiter.MemoizeAsync(key, () => "waiter");
        Assert.Equal("waiter", own);
        Assert.InRange(clock.Elapsed, TimeSpan.FromMilliseconds(400), TimeSpan.FromMilliseconds(500) + TimeSpan.FromSeconds(5));

        release.SetResult();
        Assert.Equal("builder", await builder);
        Assert.Equal("builder", await fixture.CreateCache().MemoizeAsync(key, ClusterHelpers.MustHit<string>()));
    }

    [Fact]
    public async Task CallerCancels_LeaseReleased_WaiterTakesOverAtOnce()
    {
        var key = NewKey("cancel");
        using var cts = new CancellationTokenSource();
        var builder = fixture.CreateCache().MemoizeAsync(key, async ct => { await Task.Delay(Timeout.Infinite, ct); return "never"; }, cancellationToken: cts.Token).AsTask();
        await WaitForLease(key);
        var waiter = fixture.CreateCache().MemoizeAsync(key, () => "waiter").AsTask();
        await WaitForWaiter(fixture.CreateCache(), key);
        var clock = Stopwatch.StartNew();
        cts.Cancel();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => builder);
        Assert.Equal("waiter", await waiter);
        Assert.True(clock.Elapsed < WellUnderLease, $"took over after {clock.Elapsed}");
    }

    [Fact]
    public async Task ValueOverMaxEntryBytes_ReturnedNotStored_WaiterTakesOverAtOnce()
    {
        var key = NewKey("too-large");
        var small = fixture.CreateCache(o => o.MaxEntryBytes = 1000);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var builder = small.MemoizeAsync(key, async ct => { await release.Task; return new byte[5000]; }).AsTask();
        await WaitForLease(key);
        var waiter = fixture.CreateCache().MemoizeAsync(key, () => new byte[10]).AsTask();
        await WaitForWaiter(fixture.CreateCache(), key);
        var clock = Stopwatch.StartNew();
        release.SetResult();

        Assert.Equal(5000, (await builder).Length);
        Assert.Equal(10, (await waiter).Length);
        Assert.True(clock.Elapsed < WellUnderLease, $"took over after {clock.Elapsed}");
        Assert.Contains(fixture.Logs.Lines, l => l.Contains("larger than MaxEntryBytes"));
    }

    [Fact]
    public async Task SerializationFails_ValueReturned_LeaseReleased()
    {
        var key = NewKey("unserializable");
        var value = new Unserializable();
        var result = await fixture.CreateCache().MemoizeAsync(key, () => value);
        var clock = Stopwatch.StartNew();
        var next = await fixture.CreateCache().MemoizeAsync(key, () => new Unserializable());

        Assert.Same(value, result);
        Assert.NotSame(value, next);
        Assert.True(clock.Elapsed < WellUnderLease, $"took over after {clock.Elapsed}");
    }

    [Fact]
    public async Task IterConsumerStopsEarly_NothingCommitted_LeaseReleased_L4()
    {
        var key = NewKey("stop-early");
        var cache = fixture.CreateCache();
        var seen = 0;
        await foreach (var item in cache.MemoizeIterAsync(key, () => Enumerable.Range(0, 1000)))
        {
            if (++seen == 3)
            {
                break;
            }
        }

        Assert.False((await cache.TryGetItemsAsync<int>(key)).Found);
        var clock = Stopwatch.StartNew();
        var all = await ClusterHelpers.Collect(fixture.CreateCache().MemoizeIterAsync(key, () => Enumerable.Range(0, 10)));
        Assert.Equal(10, all.Count);
        Assert.True(clock.Elapsed < WellUnderLease, $"took over after {clock.Elapsed}");
    }

    [Fact]
    public async Task IterYieldsItemsAsProduced_BeforeTheProducerFinishes_L4()
    {
        var key = NewKey("streams");
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        async IAsyncEnumerable<string> Producer([System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken ct)
        {
            yield return "first";
            await gate.Task;
            yield return "second";
        }

        await using var items = fixture.CreateCache().MemoizeIterAsync(key, Producer).GetAsyncEnumerator();
        Assert.True(await items.MoveNextAsync());
        Assert.Equal("first", items.Current); // delivered while the producer is still blocked
        gate.SetResult();
        Assert.True(await items.MoveNextAsync());
        Assert.False(await items.MoveNextAsync());
        var cached = await fixture.CreateCache().TryGetItemsAsync<string>(key);
        Assert.Equal(["first", "second"], cached.Value!);
    }

    [Fact]
    public async Task InvalidateDuringBuild_OlderBuildNeverServed()
    {
        var key = NewKey("invalidate-race");
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var builder = fixture.CreateCache().MemoizeAsync(key, async ct => { await release.Task; return "stale"; }).AsTask();
        await WaitForLease(key);
        await fixture.CreateCache().InvalidateAsync(key);
        release.SetResult();

        Assert.Equal("stale", await builder); // its own caller still gets its value
        Assert.Equal("fresh", await fixture.CreateCache().MemoizeAsync(key, () => "fresh"));
    }

    [Fact]
    public async Task ForceOverwriteDuringBuild_OlderBuildRefused_M3()
    {
        var key = NewKey("force-race");
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var builder = fixture.CreateCache().MemoizeAsync(key, async ct => { await release.Task; return "older"; }).AsTask();
        await WaitForLease(key);
        Assert.Equal("forced", await fixture.CreateCache().MemoizeAsync(key, () => "forced", new MemoizeOptions { ForceOverwrite = true }));
        release.SetResult();

        Assert.Equal("older", await builder);
        Assert.Equal("forced", await fixture.CreateCache().MemoizeAsync(key, ClusterHelpers.MustHit<string>()));
        Assert.Equal("again", await fixture.CreateCache().MemoizeAsync(key, () => "again", new MemoizeOptions { ForceOverwrite = true }));
        Assert.Equal("again", await fixture.CreateCache().MemoizeAsync(key, ClusterHelpers.MustHit<string>()));
    }

    private static CacheKey NewKeyOf(string key) => key;

    private async Task WaitForLease(string key)
    {
        var info = fixture.CreateCache();
        await ClusterHelpers.WaitUntil(async () => (await info.GetInfoAsync(key))?.BuildInProgress == true);
    }

    private async Task WaitForWaiter(SecureCache cache, string key)
    {
        var tamper = fixture.Tamper(cache.MakeCacheKey(key));
        await ClusterHelpers.WaitUntil(async () => await tamper.Waiters() >= 1);
    }

    public sealed class Unserializable
    {
        public int Boom => throw new NotSupportedException("cannot serialize");
    }
}

internal static class ClusterHelpers
{
    internal static Func<T> MustHit<T>() => MemoizeClusterTests.MustHit<T>();

    internal static Task<List<T>> Collect<T>(IAsyncEnumerable<T> items) => MemoizeClusterTests.Collect(items);

    internal static async Task WaitUntil(Func<Task<bool>> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException("The condition was not reached within 15 s.");
            }

            await Task.Yield();
        }
    }
}
