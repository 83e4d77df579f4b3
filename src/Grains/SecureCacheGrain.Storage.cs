using Orleans.Storage;

namespace OrleansSecureCache.Grains;

/// <summary>
/// How an entry reaches grain storage. An entry is never one storage object (it may be far larger than
/// a message): a manifest record under the grain's own id, and one record per chunk keyed by key,
/// version and index (DESIGN.md, invariant 8).
/// </summary>
public sealed partial class SecureCacheGrain
{
    private const string ManifestStateName = "osc-manifest";
    private const string ChunkGrainType = "osc-chunk";

    private readonly IGrainStorage _storage;
    private readonly SemaphoreSlim _storageLock = new(1, 1);
    private string? _manifestETag;

    private async Task LoadAsync(CancellationToken cancellationToken)
    {
        await _storageLock.WaitAsync(cancellationToken);
        try
        {
            var state = new GrainState<EntryManifest>();
            await _storage.ReadStateAsync(ManifestStateName, this.GetGrainId(), state);
            if (!state.RecordExists || state.State is not { } manifest)
            {
                return;
            }

            _manifestETag = state.ETag;
            _generation = manifest.Generation;
            CommittedEntry? entry = null;
            if (manifest.VersionId != Guid.Empty && manifest.Header is not null && manifest.ExpiresAt > Now)
            {
                entry = await ReadChunksAsync(manifest);
            }

            if (!await AdmitLoadedAsync(manifest, entry))
            {
                entry = null; // no room in this silo's budget: a miss
            }

            var keep = _options.Persistence == EntryPersistence.WriteThrough;
            if (entry is not null)
            {
                _entry = entry;
            }
            else if (manifest.VersionId != Guid.Empty)
            {
                keep = false; // expired or incomplete: nothing worth keeping
            }

            if (!keep)
            {
                // With OnDeactivate the activation now holds the bytes; storage gets them back at deactivation.
                await ClearManifestAsync();
                if (manifest.VersionId != Guid.Empty && manifest.InlineChunk is null)
                {
                    await DeleteChunksAsync(manifest.VersionId, manifest.ChunkCount);
                }
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            Log.StorageFailed(_logger, ex, LogKey, "load");
        }
        finally
        {
            _storageLock.Release();
        }
    }

    private async Task<CommittedEntry?> ReadChunksAsync(EntryManifest manifest)
    {
        if (manifest.InlineChunk is { } inline)
        {
            return manifest.ChunkCount == 1
                ? new CommittedEntry(manifest.VersionId, manifest.Generation, manifest.Header!, [inline], inline.Length, manifest.ExpiresAt)
                : null;
        }

        var chunks = new byte[manifest.ChunkCount][];
        long bytes = 0;
        for (var i = 0; i < chunks.Length; i++)
        {
            var record = new GrainState<ChunkRecord>();
            await _storage.ReadStateAsync(ChunkGrainType, ChunkId(manifest.VersionId, i), record);
            if (!record.RecordExists || record.State?.Data is not { } data)
            {
                return null; // a chunk is gone (e.g. its storage silo died): the entry is a miss
            }

            chunks[i] = data;
            bytes += data.Length;
        }

        return new CommittedEntry(manifest.VersionId, manifest.Generation, manifest.Header!, chunks, bytes, manifest.ExpiresAt);
    }

    private async Task SaveOnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        var entry = _entry is { } e && e.ExpiresAt > Now ? e : null;
        if (_options.Persistence != EntryPersistence.OnDeactivate)
        {
            // Durable storage holds it already; the budget counts only what this silo's memory holds.
            _budget.Dropped(this.GetGrainId(), DropReason.Removed);
            return;
        }

        if (entry is null)
        {
            _budget.Dropped(this.GetGrainId(), _entry is null ? DropReason.Removed : DropReason.Expired);
            if (_generation == 0 || _evicted)
            {
                return; // nothing worth a record (storage was cleared when this activation loaded)
            }
        }

        await _storageLock.WaitAsync(cancellationToken);
        var parked = false;
        try
        {
            if (entry is not null)
            {
                await WriteChunksAsync(entry);
            }

            await WriteManifestAsync(entry, parkedBy: entry is null ? null : _localSilo);
            parked = entry is not null;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // A silo that shuts down alone takes its memory storage with it; that is expected, not a fault.
            if (reason.ReasonCode == DeactivationReasonCode.ShuttingDown)
            {
                Log.NotSavedAtShutdown(_logger, LogKey, ex.Message);
            }
            else
            {
                Log.StorageFailed(_logger, ex, LogKey, "deactivate");
            }
        }
        finally
        {
            _storageLock.Release();
            if (parked)
            {
                _budget.Parked(this.GetGrainId());
            }
            else if (entry is not null)
            {
                _budget.Dropped(this.GetGrainId(), DropReason.Removed);
            }
        }
    }

    private async Task PersistCommitAsync(CommittedEntry entry)
    {
        if (_options.Persistence != EntryPersistence.WriteThrough)
        {
            return;
        }

        await _storageLock.WaitAsync();
        try
        {
            var previous = _entry;
            await WriteChunksAsync(entry);
            await WriteManifestAsync(entry);
            if (previous is not null)
            {
                await DeleteStoredChunksAsync(previous);
            }
        }
        catch (Exception ex)
        {
            // The entry is still served from memory; it just will not survive this activation. Chunk records
            // already written would be orphans: nothing names them any more.
            Log.StorageFailed(_logger, ex, LogKey, "commit");
            try
            {
                await DeleteStoredChunksAsync(entry);
            }
            catch (Exception cleanup)
            {
                Log.StorageFailed(_logger, cleanup, LogKey, "commit clean-up");
            }
        }
        finally
        {
            _storageLock.Release();
        }
    }

    private async Task PersistDropAsync(CommittedEntry? entry)
    {
        if (_options.Persistence != EntryPersistence.WriteThrough)
        {
            return;
        }

        await _storageLock.WaitAsync();
        try
        {
            await WriteManifestAsync(_entry);
            if (entry is not null && !ReferenceEquals(entry, _entry))
            {
                await DeleteStoredChunksAsync(entry);
            }
        }
        catch (Exception ex)
        {
            Log.StorageFailed(_logger, ex, LogKey, "drop");
        }
        finally
        {
            _storageLock.Release();
        }
    }

    /// <summary>
    /// A one-chunk entry of at most this many bytes is stored inside its manifest: one storage record instead of
    /// two, which is most of an idle small entry's cost in memory storage. Larger entries keep a record per chunk.
    /// </summary>
    internal const int InlineStorageBytes = 4096;

    private static bool StoredInline(CommittedEntry entry) => entry.Chunks.Length == 1 && entry.StoredBytes <= InlineStorageBytes;

    private Task DeleteStoredChunksAsync(CommittedEntry entry) =>
        StoredInline(entry) ? Task.CompletedTask : DeleteChunksAsync(entry.VersionId, entry.Chunks.Length);

    private async Task WriteChunksAsync(CommittedEntry entry)
    {
        if (StoredInline(entry))
        {
            return;
        }

        for (var i = 0; i < entry.Chunks.Length; i++)
        {
            var record = new GrainState<ChunkRecord>(new ChunkRecord { Data = entry.Chunks[i] });
            await _storage.WriteStateAsync(ChunkGrainType, ChunkId(entry.VersionId, i), record);
        }
    }

    private async Task DeleteChunksAsync(Guid versionId, int count)
    {
        for (var i = 0; i < count; i++)
        {
            var record = new GrainState<ChunkRecord>();
            var id = ChunkId(versionId, i);
            await _storage.ReadStateAsync(ChunkGrainType, id, record);
            if (record.RecordExists)
            {
                await _storage.ClearStateAsync(ChunkGrainType, id, record);
            }
        }
    }

    private async Task WriteManifestAsync(CommittedEntry? entry, SiloAddress? parkedBy = null)
    {
        var manifest = new EntryManifest
        {
            Generation = _generation,
            VersionId = entry?.VersionId ?? Guid.Empty,
            Header = entry?.Header,
            ChunkCount = entry?.Chunks.Length ?? 0,
            ExpiresAt = entry?.ExpiresAt ?? default,
            ParkedBy = parkedBy,
            InlineChunk = entry is not null && StoredInline(entry) ? entry.Chunks[0] : null,
        };
        var state = new GrainState<EntryManifest>(manifest, _manifestETag);
        state.RecordExists = _manifestETag is not null;
        await _storage.WriteStateAsync(ManifestStateName, this.GetGrainId(), state);
        _manifestETag = state.ETag;
    }

    private async Task ClearManifestAsync()
    {
        var state = new GrainState<EntryManifest>(new EntryManifest(), _manifestETag) { RecordExists = _manifestETag is not null };
        await _storage.ClearStateAsync(ManifestStateName, this.GetGrainId(), state);
        _manifestETag = null;
    }

    private GrainId ChunkId(Guid versionId, int index) => GrainId.Create(ChunkGrainType, $"{Key}/{versionId:N}/{index}");
}

/// <summary>What grain storage keeps of an entry besides its chunks.</summary>
[GenerateSerializer]
public sealed class EntryManifest
{
    [Id(0)] public long Generation { get; set; }
    [Id(1)] public Guid VersionId { get; set; }
    [Id(2)] public byte[]? Header { get; set; }
    [Id(3)] public int ChunkCount { get; set; }
    [Id(4)] public DateTimeOffset ExpiresAt { get; set; }

    /// <summary>The silo whose activation wrote this entry at deactivation; its budget counts the bytes until the entry is loaded again.</summary>
    [Id(5)] public SiloAddress? ParkedBy { get; set; }

    /// <summary>The only chunk of a small entry (up to 4 KiB), kept here rather than in a record of its own.</summary>
    [Id(6)] public byte[]? InlineChunk { get; set; }
}

/// <summary>One stored chunk, in a record of its own.</summary>
[GenerateSerializer]
public sealed class ChunkRecord
{
    [Id(0)] public byte[]? Data { get; set; }
}
