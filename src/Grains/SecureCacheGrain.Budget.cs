namespace OrleansSecureCache.Grains;

/// <summary>
/// The grain's side of the silo's memory budget (<see cref="CacheMemoryTracker"/>): it reports what it holds,
/// marks reads in progress, and drops its entry when the tracker asks and nobody is using it. Everything here
/// runs on the grain's own scheduler (the tracker reaches it through <see cref="ICacheEntryControl"/>).
/// </summary>
public sealed partial class SecureCacheGrain
{
    private readonly CacheMemoryTracker _budget;
    private readonly ICacheSiloServiceClient _siloServices;
    private readonly SiloAddress _localSilo;

    /// <summary>A reader is fetching this entry's chunks until then: not dropped for the budget.</summary>
    private DateTimeOffset _readingUntil;

    /// <summary>The entry was dropped for the budget: nothing to park at deactivation.</summary>
    private bool _evicted;

    private void NoteRead(DateTimeOffset now, bool readerFollows)
    {
        _budget.Touch(this.GetGrainId());
        if (readerFollows)
        {
            var until = now + _options.ReadWindow;
            if (until > _readingUntil)
            {
                _readingUntil = until;
            }
        }
    }

    internal async Task<EvictOutcome> EvictForBudgetAsync(Guid versionId)
    {
        if (_entry is not { } entry || entry.VersionId != versionId)
        {
            return EvictOutcome.NotHeld;
        }

        if (_lease is not null || _readingUntil > Now)
        {
            return EvictOutcome.Refused; // an entry being built or streamed is never dropped mid-way
        }

        _entry = null;
        _evicted = true;
        _expiryTimer?.Dispose();
        _expiryTimer = null;
        _budget.Dropped(this.GetGrainId(), DropReason.Evicted);
        Signal();
        Log.Evicted(_logger, LogKey);
        await PersistDropAsync(entry);
        if (_lease is null && _waiters == 0)
        {
            this.DeactivateOnIdle();
        }

        return EvictOutcome.Dropped;
    }

    internal async Task SweepAsync()
    {
        await ExpireStaleAsync(Now);
        if (_entry is null && _lease is null && _waiters == 0)
        {
            this.DeactivateOnIdle();
        }
    }

    /// <summary>An entry was loaded from storage on activation: count it here, and tell the silo that parked it.</summary>
    private async Task<bool> AdmitLoadedAsync(EntryManifest manifest, CommittedEntry? entry)
    {
        if (manifest.ParkedBy is { } parkedBy && manifest.VersionId != Guid.Empty)
        {
            var expired = entry is null && manifest.ExpiresAt <= Now;
            if (parkedBy.Equals(_localSilo))
            {
                _budget.Forget(this.GetGrainId(), manifest.VersionId, expired ? DropReason.Expired : DropReason.Removed);
            }
            else
            {
                try
                {
                    await _siloServices.On(parkedBy).Forget(this.GetGrainId(), manifest.VersionId, expired);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    // That silo may be gone, and its count with it.
                    Log.StorageFailed(_logger, ex, LogKey, "forget");
                }
            }
        }

        if (entry is null)
        {
            return false;
        }

        if (!await _budget.ReserveAsync(this.GetGrainId(), entry.MemoryBytes))
        {
            Log.OverBudget(_logger, LogKey, entry.MemoryBytes, _budget.Budget);
            return false;
        }

        _budget.Holding(this.GetGrainId(), entry.VersionId, entry.MemoryBytes, entry.ExpiresAt, entry.MemoryBytes);
        return true;
    }
}
