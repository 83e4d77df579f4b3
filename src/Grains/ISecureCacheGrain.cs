namespace OrleansSecureCache.Grains;

/// <summary>
/// The coordinator of one cache entry. Its key is the full cache key (with encryption, the
/// 64-hex HMAC digest), so the silo never learns what the entry is about. It stores opaque
/// bytes only: the header and chunks the client produced. The lease protocol lives in
/// <see cref="SecureCacheGrain"/>.
/// </summary>
public interface ISecureCacheGrain : IGrainWithStringKey
{
    /// <summary>
    /// Returns the entry (<see cref="LookupOutcome.Hit"/>), a lease to build it
    /// (<see cref="LookupOutcome.Lease"/>), or <see cref="LookupOutcome.Wait"/> when another
    /// builder holds the lease and the long poll ran out: the caller asks again while its own
    /// bound allows.
    /// </summary>
    Task<LookupReply> GetOrLease(LookupRequest request, CancellationToken cancellationToken = default);

    /// <summary>Reads up to <paramref name="maxChunks"/> chunks of one committed version.</summary>
    Task<ChunkBatch> ReadChunks(Guid versionId, int startIndex, int maxChunks, CancellationToken cancellationToken = default);

    /// <summary>Stages chunks of the write the lease covers; extends the lease.</summary>
    Task<WriteAck> AppendChunks(LeaseToken lease, int startIndex, [Immutable] byte[][] chunks);

    /// <summary>Extends the lease while the factory runs.</summary>
    Task<WriteAck> Heartbeat(LeaseToken lease);

    /// <summary>Makes the staged chunks (plus any in the request) visible at once, and releases the lease.</summary>
    Task<WriteAck> Commit(LeaseToken lease, CommitRequest commit);

    /// <summary>Gives the lease up without writing; the next waiter is granted one at once.</summary>
    Task Release(LeaseToken lease);

    /// <summary>A reader could not verify this version: drop it if it is still the current one.</summary>
    Task<bool> ReportUnreadable(Guid versionId);

    /// <summary>Drops the entry and starts a new generation: builds leased before now can no longer commit.</summary>
    Task Invalidate();

    /// <summary>Describes the entry without its chunks, or returns null when there is none.</summary>
    Task<EntryInfo?> GetInfo();
}
