using Xunit;

namespace OrleansSecureCache.Tests.Client;

public sealed class SingleFlightTests
{
    [Fact]
    public async Task ConcurrentCallers_ShareOneRun()
    {
        var flights = new SingleFlight();
        var gate = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        var runs = 0;
        var calls = Enumerable.Range(0, 10).Select(_ => flights.RunAsync("k", false, async ct => { Interlocked.Increment(ref runs); return await gate.Task; }, CancellationToken.None)).ToArray();
        gate.SetResult(5);

        Assert.All(await Task.WhenAll(calls), r => Assert.Equal(5, r));
        Assert.Equal(1, runs);
        Assert.Equal(0, flights.InFlight);
    }

    [Fact]
    public async Task OneCallerCancels_TheOthersStillGetTheResult()
    {
        var flights = new SingleFlight();
        var gate = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        CancellationToken workToken = default;
        using var leaving = new CancellationTokenSource();
        var first = flights.RunAsync("k", false, async ct => { workToken = ct; return await gate.Task; }, leaving.Token);
        var second = flights.RunAsync("k", false, _ => Task.FromResult(-1), CancellationToken.None);
        leaving.Cancel();
        gate.SetResult(7);

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => first);
        Assert.Equal(7, await second);
        Assert.False(workToken.IsCancellationRequested);
    }

    [Fact]
    public async Task EveryCallerCancels_TheWorkIsCancelled_AndANewCallStartsAfresh()
    {
        var flights = new SingleFlight();
        var workCancelled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var a = new CancellationTokenSource();
        using var b = new CancellationTokenSource();
        Func<CancellationToken, Task<int>> hang = async ct =>
        {
            using var _ = ct.Register(() => workCancelled.TrySetResult());
            await Task.Delay(Timeout.Infinite, ct);
            return 0;
        };
        var first = flights.RunAsync("k", false, hang, a.Token);
        var second = flights.RunAsync("k", false, hang, b.Token);
        a.Cancel();
        b.Cancel();

        await workCancelled.Task.WaitAsync(TimeSpan.FromSeconds(10));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => first);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => second);
        Assert.Equal(3, await flights.RunAsync("k", false, _ => Task.FromResult(3), CancellationToken.None));
    }

    [Fact]
    public async Task FinishedCallers_LeaveNothingOnALongLivedToken()
    {
        var flights = new SingleFlight();
        using var appLifetime = new CancellationTokenSource();
        for (var i = 0; i < 1000; i++)
        {
            await flights.RunAsync($"k{i}", false, _ => Task.FromResult(i), appLifetime.Token);
        }

        // Were registrations left behind, cancelling would run 1000 stale callbacks against disposed flights.
        appLifetime.Cancel();
        Assert.Equal(0, flights.InFlight);
    }
}
