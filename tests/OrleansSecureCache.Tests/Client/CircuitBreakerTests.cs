using Xunit;

namespace OrleansSecureCache.Tests.Client;

public sealed class CircuitBreakerTests
{
    private sealed class ManualClock : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = new(2026, 12, 3, 0, 0, 0, TimeSpan.Zero);

        public override DateTimeOffset GetUtcNow() => Now;
    }

    [Fact]
    public void OpensAfterThreshold_ProbesOnceAfterTheBreak_ClosesOnSuccess()
    {
        var clock = new ManualClock();
        var circuit = new CircuitBreaker(2, TimeSpan.FromSeconds(5), clock);

        Assert.True(circuit.TryEnter());
        Assert.False(circuit.RecordFailure());
        Assert.True(circuit.RecordFailure());
        Assert.False(circuit.TryEnter());

        clock.Now += TimeSpan.FromSeconds(6);
        Assert.True(circuit.TryEnter());   // the probe
        Assert.False(circuit.TryEnter());  // only one at a time
        Assert.True(circuit.RecordSuccess());
        Assert.False(circuit.IsOpen);
        Assert.True(circuit.TryEnter());
    }

    [Fact]
    public void AProbeThatNeverReports_DoesNotKeepTheCircuitShutForGood()
    {
        var clock = new ManualClock();
        var circuit = new CircuitBreaker(1, TimeSpan.FromSeconds(5), clock);
        circuit.RecordFailure();
        clock.Now += TimeSpan.FromSeconds(6);
        Assert.True(circuit.TryEnter()); // this probe's caller cancels: neither success nor failure is recorded

        Assert.False(circuit.TryEnter());
        clock.Now += TimeSpan.FromSeconds(6);
        Assert.True(circuit.TryEnter());
    }
}
