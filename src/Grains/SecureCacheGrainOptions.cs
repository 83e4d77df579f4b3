using System.ComponentModel.DataAnnotations;

namespace OrleansSecureCache.Grains;

/// <summary>
/// Limits and timings the grain enforces whatever clients send (DESIGN.md, invariant 7).
/// Bound from the silo's <c>SecureCache:Grain</c> configuration section.
/// </summary>
public sealed class SecureCacheGrainOptions
{
    public const string SectionName = "SecureCache:Grain";

    /// <summary>Djblets' CACHE_CHUNK_SIZE, 2^20 − 1024: the largest stored chunk.</summary>
    public const int DefaultMaxChunkBytes = 1_047_552;

    /// <summary>Name of the grain storage provider entries persist to.</summary>
    public const string StorageName = "SecureCacheStore";

    [Range(64, DefaultMaxChunkBytes)]
    public int MaxChunkBytes { get; set; } = DefaultMaxChunkBytes;

    /// <summary>The largest entry, in stored bytes (headers excluded).</summary>
    [Range(1024, long.MaxValue)]
    public long MaxEntryBytes { get; set; } = 2L * 1024 * 1024 * 1024;

    [Range(1, int.MaxValue)]
    public int MaxChunks { get; set; } = 4096;

    [Range(16, 64 * 1024)]
    public int MaxHeaderBytes { get; set; } = 1024;

    /// <summary>How many stored bytes one append or read message may carry (Orleans misbehaves near its 100 MiB cap).</summary>
    [Range(DefaultMaxChunkBytes, 64 * 1024 * 1024)]
    public int MaxBatchBytes { get; set; } = 8 * 1024 * 1024;

    /// <summary>Entries up to this size may come back inline with a hit.</summary>
    [Range(0, 4 * 1024 * 1024)]
    public int MaxInlineBytes { get; set; } = 1024 * 1024;

    /// <summary>Lease time when the client asks for none.</summary>
    public TimeSpan DefaultLeaseDuration { get; set; } = TimeSpan.FromSeconds(30);

    public TimeSpan MinLeaseDuration { get; set; } = TimeSpan.FromMilliseconds(200);

    public TimeSpan MaxLeaseDuration { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>A lease is never extended past this age, heartbeats or not.</summary>
    public TimeSpan MaxLeaseLife { get; set; } = TimeSpan.FromMinutes(30);

    /// <summary>The longest a waiter is parked in one call; kept well under Orleans' 30 s response timeout.</summary>
    public TimeSpan LongPoll { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Expiry later than this from now is clamped.</summary>
    public TimeSpan MaxExpiration { get; set; } = TimeSpan.FromDays(366);

    /// <summary>At most this many callers parked at once; more get <see cref="LookupOutcome.Wait"/> at once.</summary>
    [Range(1, 1_000_000)]
    public int MaxWaiters { get; set; } = 10_000;

    /// <summary>
    /// When the entry reaches grain storage. <see cref="EntryPersistence.OnDeactivate"/> keeps an entry's
    /// bytes once per silo with memory storage (in the activation while active, in storage while not);
    /// <see cref="EntryPersistence.WriteThrough"/> writes at commit, for durable storage such as Redis.
    /// </summary>
    public EntryPersistence Persistence { get; set; } = EntryPersistence.OnDeactivate;

    /// <summary>Cross-field rules the range attributes cannot express; each line names its setting.</summary>
    public IEnumerable<string> Validate()
    {
        if (MinLeaseDuration <= TimeSpan.Zero || MinLeaseDuration > MaxLeaseDuration)
            yield return $"{SectionName}:MinLeaseDuration must be positive and at most MaxLeaseDuration.";
        if (DefaultLeaseDuration < MinLeaseDuration || DefaultLeaseDuration > MaxLeaseDuration)
            yield return $"{SectionName}:DefaultLeaseDuration must lie between MinLeaseDuration and MaxLeaseDuration.";
        if (MaxLeaseLife < MaxLeaseDuration)
            yield return $"{SectionName}:MaxLeaseLife must be at least MaxLeaseDuration.";
        if (LongPoll <= TimeSpan.Zero || LongPoll > TimeSpan.FromSeconds(20))
            yield return $"{SectionName}:LongPoll must be between 0 and 20 seconds (Orleans' response timeout is 30 s).";
        if (MaxExpiration <= TimeSpan.Zero)
            yield return $"{SectionName}:MaxExpiration must be positive.";
        if (MaxBatchBytes < MaxChunkBytes)
            yield return $"{SectionName}:MaxBatchBytes must be at least MaxChunkBytes.";
    }
}

public enum EntryPersistence
{
    OnDeactivate,
    WriteThrough,
}
