using System.Diagnostics.Metrics;

namespace OrleansSecureCache;

/// <summary>The client's counters, on the meter named <see cref="MeterName"/>.</summary>
public sealed class SecureCacheMetrics : IDisposable
{
    public const string MeterName = "OrleansSecureCache.Client";

    private readonly Meter _meter;

    public SecureCacheMetrics(IMeterFactory? meterFactory = null)
    {
        _meter = meterFactory?.Create(MeterName) ?? new Meter(MeterName);
        Hits = _meter.CreateCounter<long>("osc.client.hits", description: "Values served from the cache");
        Misses = _meter.CreateCounter<long>("osc.client.misses", description: "Lookups that took the lease");
        Builds = _meter.CreateCounter<long>("osc.client.builds", description: "Factory runs under a lease");
        Stored = _meter.CreateCounter<long>("osc.client.stored", description: "Entries committed");
        Waits = _meter.CreateCounter<long>("osc.client.waits", description: "Calls that waited for another builder");
        WaitedHits = _meter.CreateCounter<long>("osc.client.waited_hits", description: "Calls served by another caller's build");
        WaitTimeouts = _meter.CreateCounter<long>("osc.client.wait_timeouts", description: "Calls that gave up waiting and computed themselves");
        Fallbacks = _meter.CreateCounter<long>("osc.client.fallbacks", description: "Calls that computed without the cache because of a fault");
        Faults = _meter.CreateCounter<long>("osc.client.faults", description: "Failed writes");
        Unreadable = _meter.CreateCounter<long>("osc.client.unreadable", description: "Entries that failed verification, by reason");
        TooLarge = _meter.CreateCounter<long>("osc.client.too_large", description: "Values over MaxEntryBytes, not stored");
        CircuitOpened = _meter.CreateCounter<long>("osc.client.circuit_opened", description: "Times the circuit opened");
    }

    public Counter<long> Hits { get; }
    public Counter<long> Misses { get; }
    public Counter<long> Builds { get; }
    public Counter<long> Stored { get; }
    public Counter<long> Waits { get; }
    public Counter<long> WaitedHits { get; }
    public Counter<long> WaitTimeouts { get; }
    public Counter<long> Fallbacks { get; }
    public Counter<long> Faults { get; }
    public Counter<long> Unreadable { get; }
    public Counter<long> TooLarge { get; }
    public Counter<long> CircuitOpened { get; }

    public void Dispose() => _meter.Dispose();
}
