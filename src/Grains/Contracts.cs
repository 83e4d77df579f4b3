namespace OrleansSecureCache.Grains;

// The wire contracts of ISecureCacheGrain. Records with [GenerateSerializer] need no [Id]:
// Orleans numbers primary-constructor parameters in order, so only ever append parameters.

public enum LookupOutcome
{
    Hit,
    Lease,
    Wait,
    /// <summary>No entry, and the request did not ask for a lease.</summary>
    Miss,
}

/// <param name="ForceOverwrite">Build even when an entry exists (it stays readable until the new one commits).</param>
/// <param name="MaxWait">How long the grain may park this call when another builder holds the lease (capped by the grain's long poll).</param>
/// <param name="LeaseDuration">The lease time the caller wants; clamped by the grain's options.</param>
/// <param name="InlineBytes">Entries up to this many stored bytes come back with their chunks in the reply.</param>
/// <param name="AcquireLease">False for a plain read: a missing entry answers <see cref="LookupOutcome.Miss"/> at once.</param>
[GenerateSerializer, Immutable]
public sealed record LookupRequest(bool ForceOverwrite, TimeSpan MaxWait, TimeSpan LeaseDuration, int InlineBytes, bool AcquireLease = true);

[GenerateSerializer, Immutable]
public sealed record LookupReply(LookupOutcome Outcome, EntryView? Entry, LeaseGrant? Lease);

/// <summary>A committed entry. <see cref="InlineChunks"/> is set when the whole entry fits the request's inline budget.</summary>
[GenerateSerializer, Immutable]
public sealed record EntryView(
    Guid VersionId,
    long Generation,
    byte[] Header,
    int ChunkCount,
    long StoredBytes,
    DateTimeOffset ExpiresAt,
    byte[][]? InlineChunks);

/// <summary>What a builder needs to write: the token proves the lease, the version id goes into the value format.</summary>
/// <param name="MaxChunkBytes">The largest chunk this grain accepts.</param>
/// <param name="MaxBatchBytes">The most chunk bytes one append or commit message may carry.</param>
[GenerateSerializer, Immutable]
public sealed record LeaseGrant(Guid Token, long Generation, Guid VersionId, DateTimeOffset Deadline, TimeSpan Duration, int MaxChunkBytes, int MaxBatchBytes)
{
    public LeaseToken AsToken() => new(Token, Generation);
}

[GenerateSerializer, Immutable]
public readonly record struct LeaseToken(Guid Token, long Generation);

/// <param name="Header">The opaque header the client built (at most the grain's MaxHeaderBytes).</param>
/// <param name="ChunkCount">The total number of chunks, staged plus <paramref name="FinalChunks"/>.</param>
/// <param name="ExpiresAt">When the grain stops serving the entry (the client checks its authenticated copy too).</param>
/// <param name="FinalChunks">Chunks appended by the commit itself, so a small entry takes one call.</param>
[GenerateSerializer, Immutable]
public sealed record CommitRequest(byte[] Header, int ChunkCount, DateTimeOffset ExpiresAt, byte[][]? FinalChunks);

public enum WriteStatus
{
    Accepted,
    /// <summary>The token is not the live lease of the current generation (expired, released, invalidated or taken over).</summary>
    LeaseLost,
    /// <summary>The request breaks a limit or the protocol (sizes, counts, order); nothing changed.</summary>
    Rejected,
}

[GenerateSerializer, Immutable]
public sealed record WriteAck(WriteStatus Status, string? Error, DateTimeOffset Deadline)
{
    public bool Accepted => Status == WriteStatus.Accepted;
}

public enum ReadStatus
{
    Ok,
    /// <summary>The version is no longer the current entry (replaced, invalidated, expired or evicted).</summary>
    Gone,
    Rejected,
}

[GenerateSerializer, Immutable]
public sealed record ChunkBatch(ReadStatus Status, int StartIndex, byte[][] Chunks, string? Error);

[GenerateSerializer, Immutable]
public sealed record EntryInfo(
    long Generation,
    bool HasEntry,
    Guid VersionId,
    byte[]? Header,
    int ChunkCount,
    long StoredBytes,
    DateTimeOffset? ExpiresAt,
    bool LeaseHeld,
    DateTimeOffset? LeaseDeadline);
