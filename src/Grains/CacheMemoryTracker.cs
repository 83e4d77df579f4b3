using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace OrleansSecureCache.Grains;

/// <summary>
/// One per silo: the bytes of the cache entries this silo holds, in least-recently-used order, and the
/// budget they must stay under (issue 6, DESIGN.md invariants 7 and 9).
/// <para>
/// What it counts: the header and chunk bytes of every committed entry an activation on this silo holds
/// ("active"), and — with <see cref="EntryPersistence.OnDeactivate"/> — of every entry an activation of this
/// silo parked in grain storage when it deactivated ("parked"; memory storage may keep them in a storage grain
/// on another silo; they are counted here, where they were parked, so the cluster's total is exact). A parked
/// entry that reactivates anywhere is forgotten here (<see cref="ICacheSiloService.Forget"/>) and counted where
/// it is active.
/// </para>
/// <para>
/// Entries grow the total only through <see cref="ReserveAsync"/>, which first drops least recently used
/// entries (through the grain, on its own scheduler: <see cref="ICacheEntryControl"/>) until the new bytes fit
/// and the total is at most the low-water mark. So the total never exceeds the budget. An entry under a live
/// lease or being read is never dropped: its grain refuses and the next entry is tried.
/// </para>
/// </summary>
public sealed partial class CacheMemoryTracker : IDisposable
{
    public const string MeterName = "OrleansSecureCache.Silo";

    private readonly object _lock = new();
    private readonly Dictionary<GrainId, Tracked> _entries = [];
    private readonly LinkedList<Tracked> _lru = new();
    private readonly IServiceProvider _services;
    private readonly TimeProvider _time;
    private readonly ILogger<CacheMemoryTracker> _logger;
    private readonly Meter _meter;
    private readonly bool _countParked;

    private long _activeBytes;
    private long _parkedBytes;
    private long _reservedBytes;
    private long _activeEntries;
    private long _parkedEntries;
    private long _evictions;
    private long _expirations;
    private long _refusedReservations;
    private int _evictionsInFlight;

    public CacheMemoryTracker(IOptions<SecureCacheGrainOptions> options, IServiceProvider services, ILogger<CacheMemoryTracker> logger)
    {
        var value = options.Value;
        Budget = value.EffectiveMemoryBudgetBytes;
        LowWater = Math.Max(0, (long)(Budget * value.LowWaterFraction));
        SweepInterval = value.ExpirySweepInterval;
        _countParked = value.Persistence == EntryPersistence.OnDeactivate;
        _services = services;
        _time = services.GetService<TimeProvider>() ?? TimeProvider.System;
        _logger = logger;

        var silo = services.GetService<ILocalSiloDetails>()?.SiloAddress.ToParsableString() ?? "local";
        var tags = new KeyValuePair<string, object?>[] { new("silo", silo) };
        _meter = new Meter(MeterName);
        _meter.CreateObservableGauge("osc.silo.entries", () => new Measurement<long>(Snapshot().Entries, tags), "{entry}", "Cache entries this silo holds (active and parked).");
        _meter.CreateObservableGauge("osc.silo.bytes", () => new Measurement<long>(Snapshot().Bytes, tags), "By", "Bytes of cache entries this silo holds, counted against its budget.");
        _meter.CreateObservableGauge("osc.silo.budget", () => new Measurement<long>(Budget, tags), "By", "This silo's byte budget for cache entries.");
        _meter.CreateObservableCounter("osc.silo.evictions", () => new Measurement<long>(Interlocked.Read(ref _evictions), tags), "{entry}", "Entries dropped to stay under the budget.");
        _meter.CreateObservableCounter("osc.silo.expirations", () => new Measurement<long>(Interlocked.Read(ref _expirations), tags), "{entry}", "Entries dropped because they expired.");
    }

    /// <summary>The most bytes this silo's entries may hold.</summary>
    public long Budget { get; }

    /// <summary>Eviction stops once the bytes are at most this.</summary>
    public long LowWater { get; }

    public TimeSpan SweepInterval { get; }

    /// <summary>The bytes counted against the budget now (reservations for commits in flight included).</summary>
    public long Bytes
    {
        get
        {
            lock (_lock)
            {
                return CountedBytes;
            }
        }
    }

    private long CountedBytes => _activeBytes + (_countParked ? _parkedBytes : 0) + _reservedBytes;

    public SiloCacheStats Snapshot()
    {
        lock (_lock)
        {
            return new SiloCacheStats(
                "",
                _activeEntries + _parkedEntries,
                CountedBytes,
                _activeEntries,
                _activeBytes,
                _parkedEntries,
                _parkedBytes,
                Budget,
                _evictions,
                _expirations,
                _refusedReservations);
        }
    }

    /// <summary>
    /// Makes room for <paramref name="bytes"/> more bytes held by <paramref name="id"/>'s activation, dropping
    /// least recently used entries of other grains if needed. False when the bytes cannot fit (larger than the
    /// budget, or everything else is in use): the caller must not hold them.
    /// </summary>
    public async ValueTask<bool> ReserveAsync(GrainId id, long bytes, CancellationToken cancellationToken = default)
    {
        for (var attempt = 0; attempt < 200; attempt++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            List<Tracked> victims;
            bool waitForOthers;
            lock (_lock)
            {
                if (bytes > Budget)
                {
                    _refusedReservations++;
                    return false;
                }

                if (CountedBytes + bytes <= Budget)
                {
                    _reservedBytes += bytes;
                    return true;
                }

                victims = PickVictims(CountedBytes + bytes - LowWater, id);
                waitForOthers = victims.Count == 0 && _evictionsInFlight > 0;
                if (victims.Count == 0 && !waitForOthers)
                {
                    _refusedReservations++;
                    return false;
                }
            }

            if (waitForOthers)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(2), _time, cancellationToken).ConfigureAwait(false);
                continue;
            }

            await EvictAsync(victims).ConfigureAwait(false);
        }

        lock (_lock)
        {
            _refusedReservations++;
        }

        return false;
    }

    /// <summary>Gives back a reservation that will not be used.</summary>
    public void CancelReservation(long bytes)
    {
        lock (_lock)
        {
            _reservedBytes -= bytes;
        }
    }

    /// <summary>The activation of <paramref name="id"/> now holds this entry (a commit, or a load on activation), using <paramref name="reserved"/> bytes reserved for it.</summary>
    public void Holding(GrainId id, Guid versionId, long bytes, DateTimeOffset expiresAt, long reserved)
    {
        lock (_lock)
        {
            _reservedBytes -= reserved;
            RemoveLocked(id);
            var tracked = new Tracked(id, versionId, bytes, expiresAt, parked: false);
            tracked.Node = _lru.AddLast(tracked);
            _entries[id] = tracked;
            _activeBytes += bytes;
            _activeEntries++;
        }
    }

    /// <summary>The entry was read: it becomes the most recently used.</summary>
    public void Touch(GrainId id)
    {
        lock (_lock)
        {
            if (_entries.TryGetValue(id, out var tracked) && tracked.Node is { } node && node.Next is not null)
            {
                _lru.Remove(node);
                _lru.AddLast(node);
            }
        }
    }

    /// <summary>The activation dropped its entry (invalidated, unreadable, replaced by nothing, expired, evicted).</summary>
    public void Dropped(GrainId id, DropReason reason)
    {
        lock (_lock)
        {
            if (RemoveLocked(id) is not null)
            {
                CountLocked(reason);
            }
        }
    }

    /// <summary>The activation deactivated and wrote its entry to grain storage: the bytes now live there.</summary>
    public void Parked(GrainId id)
    {
        lock (_lock)
        {
            if (_entries.TryGetValue(id, out var tracked) && !tracked.Parked)
            {
                tracked.Parked = true;
                _activeBytes -= tracked.Bytes;
                _activeEntries--;
                _parkedBytes += tracked.Bytes;
                _parkedEntries++;
            }
        }
    }

    /// <summary>A parked entry left storage (its grain reactivated somewhere, or was swept): no longer counted here.</summary>
    public void Forget(GrainId id, Guid versionId, DropReason reason)
    {
        lock (_lock)
        {
            if (_entries.TryGetValue(id, out var tracked) && tracked.Parked && tracked.VersionId == versionId)
            {
                RemoveLocked(id);
                CountLocked(reason);
            }
        }
    }

    /// <summary>Parked entries whose expiry has passed: their grains are activated so they clear their storage.</summary>
    public async Task SweepExpiredAsync(CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow();
        List<(GrainId Id, Guid Version)> due = [];
        lock (_lock)
        {
            foreach (var tracked in _entries.Values)
            {
                if (tracked.Parked && tracked.ExpiresAt <= now && !tracked.Evicting)
                {
                    due.Add((tracked.Id, tracked.VersionId));
                }
            }
        }

        foreach (var (id, version) in due)
        {
            cancellationToken.ThrowIfCancellationRequested();
            try
            {
                await Control(id).Sweep().ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                Log.SweepFailed(_logger, ex.Message);
            }

            // Whatever happened (the grain cleared its storage and told us, or storage was gone), stop counting it.
            Forget(id, version, DropReason.Expired);
        }
    }

    public void Dispose() => _meter.Dispose();

    private List<Tracked> PickVictims(long needed, GrainId requester)
    {
        var victims = new List<Tracked>();
        long freed = 0;
        var nowTicks = _time.GetTimestamp();
        foreach (var tracked in _entries.Values.Where(t => t.Evicting))
        {
            freed += tracked.Bytes; // already on their way out
        }

        for (var node = _lru.First; node is not null && freed < needed; node = node.Next)
        {
            var tracked = node.Value;
            if (tracked.Evicting || tracked.Id == requester || tracked.SkipUntil > nowTicks)
            {
                continue;
            }

            tracked.Evicting = true;
            victims.Add(tracked);
            freed += tracked.Bytes;
        }

        _evictionsInFlight += victims.Count;
        return victims;
    }

    private async Task EvictAsync(List<Tracked> victims)
    {
        var results = await Task.WhenAll(victims.Select(async v =>
        {
            try
            {
                return await Control(v.Id).Evict(v.VersionId).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                Log.EvictFailed(_logger, ex.Message);
                return EvictOutcome.Refused;
            }
        })).ConfigureAwait(false);

        lock (_lock)
        {
            _evictionsInFlight -= victims.Count;
            for (var i = 0; i < victims.Count; i++)
            {
                var victim = victims[i];
                victim.Evicting = false;
                if (!_entries.TryGetValue(victim.Id, out var current) || !ReferenceEquals(current, victim))
                {
                    continue; // the grain already reported the drop (or holds something newer)
                }

                if (results[i] == EvictOutcome.Refused)
                {
                    // In use (a lease or a reader): leave it alone for a moment and move it out of the way.
                    victim.SkipUntil = _time.GetTimestamp() + _time.TimestampFrequency / 10;
                    _lru.Remove(victim.Node!);
                    _lru.AddLast(victim.Node!);
                }
                else
                {
                    // Dropped, or the grain no longer holds that version (it moved or was swept): not here any more.
                    RemoveLocked(victim.Id);
                    if (results[i] == EvictOutcome.Dropped)
                    {
                        _evictions++;
                    }
                }
            }
        }
    }

    private ICacheEntryControl Control(GrainId id) =>
        _services.GetRequiredService<IGrainFactory>().GetGrain(id).AsReference<ICacheEntryControl>();

    private Tracked? RemoveLocked(GrainId id)
    {
        if (!_entries.Remove(id, out var tracked))
        {
            return null;
        }

        _lru.Remove(tracked.Node!);
        if (tracked.Parked)
        {
            _parkedBytes -= tracked.Bytes;
            _parkedEntries--;
        }
        else
        {
            _activeBytes -= tracked.Bytes;
            _activeEntries--;
        }

        return tracked;
    }

    private void CountLocked(DropReason reason)
    {
        if (reason == DropReason.Expired)
        {
            _expirations++;
        }
        else if (reason == DropReason.Evicted)
        {
            _evictions++;
        }
    }

    private sealed class Tracked(GrainId id, Guid versionId, long bytes, DateTimeOffset expiresAt, bool parked)
    {
        public GrainId Id { get; } = id;
        public Guid VersionId { get; } = versionId;
        public long Bytes { get; } = bytes;
        public DateTimeOffset ExpiresAt { get; } = expiresAt;
        public bool Parked { get; set; } = parked;
        public bool Evicting { get; set; }
        public long SkipUntil { get; set; }
        public LinkedListNode<Tracked>? Node { get; set; }
    }

    private static partial class Log
    {
        [LoggerMessage(20, LogLevel.Warning, "A cache entry could not be dropped for the memory budget: {Error}")]
        public static partial void EvictFailed(ILogger logger, string error);

        [LoggerMessage(21, LogLevel.Warning, "An expired cache entry parked in storage could not be swept: {Error}")]
        public static partial void SweepFailed(ILogger logger, string error);
    }
}

public enum DropReason
{
    /// <summary>Invalidated, reported unreadable, or given up otherwise.</summary>
    Removed,
    Expired,
    Evicted,
}
