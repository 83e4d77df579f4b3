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

    /// <summary>
    /// The bytes (headers plus chunks) of committed entries one silo may hold: its activations' entries plus,
    /// with <see cref="EntryPersistence.OnDeactivate"/>, the entries its activations parked in grain storage when
    /// they deactivated. Null (the default): <see cref="DefaultBudgetFraction"/> of the memory available to the
    /// process (<see cref="GCMemoryInfo.TotalAvailableMemoryBytes"/>). Allowed: 1 byte up to that memory.
    /// </summary>
    public long? MemoryBudgetBytes { get; set; }

    /// <summary>Over the budget, least recently used entries are dropped until the bytes are at most this fraction of it.</summary>
    [Range(0.05, 1.0)]
    public double LowWaterFraction { get; set; } = 0.8;

    /// <summary>How often the silo looks for expired entries parked in grain storage (active entries expire on their own timer).</summary>
    public TimeSpan ExpirySweepInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// An entry whose chunks a reader is fetching (a hit too large to come inline, or a <c>ReadChunks</c> batch)
    /// is not dropped for the budget for this long after the last such call.
    /// </summary>
    public TimeSpan ReadWindow { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>The default budget as a share of the memory available to the process.</summary>
    public const double DefaultBudgetFraction = 0.25;

    /// <summary>The memory the budget may not exceed: what the GC reports as available to this process.</summary>
    public static long MachineMemoryBytes => GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;

    /// <summary>The configured budget, or the default derived from the machine's memory.</summary>
    public long EffectiveMemoryBudgetBytes => MemoryBudgetBytes ?? (long)(MachineMemoryBytes * DefaultBudgetFraction);

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
        var memory = MachineMemoryBytes;
        if (MemoryBudgetBytes is { } budget && (budget < 1 || budget > memory))
            yield return $"{SectionName}:MemoryBudgetBytes must be between 1 and {memory} bytes (the memory available to this process); got {budget}.";
        if (ExpirySweepInterval < TimeSpan.FromMilliseconds(100) || ExpirySweepInterval > TimeSpan.FromDays(1))
            yield return $"{SectionName}:ExpirySweepInterval must be between 00:00:00.1 and 1.00:00:00.";
        if (ReadWindow <= TimeSpan.Zero || ReadWindow > TimeSpan.FromMinutes(10))
            yield return $"{SectionName}:ReadWindow must be between 0 (exclusive) and 00:10:00.";
    }
}

public enum EntryPersistence
{
    OnDeactivate,
    WriteThrough,
}
