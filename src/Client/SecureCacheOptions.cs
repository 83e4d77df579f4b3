using System.ComponentModel.DataAnnotations;

namespace OrleansSecureCache;

/// <summary>
/// Global settings of the cache, bound from the <c>SecureCache</c> configuration section
/// (environment variables: <c>SecureCache__SecretKey</c> and so on) and validated at start-up.
/// </summary>
public sealed class SecureCacheOptions
{
    public const string SectionName = "SecureCache";

    /// <summary>Djblets' CACHE_CHUNK_SIZE (2^20 − 1024): the default and largest stored chunk.</summary>
    public const int MaxChunkSize = 1_047_552;

    /// <summary>
    /// The secret the default encryption key is derived from (at least 32 bytes as UTF-8). Every client
    /// of one cluster must use the same one. Never commit it.
    /// </summary>
    public string? SecretKey { get; set; }

    /// <summary>A file holding <see cref="SecretKey"/> (trailing newlines ignored); used when SecretKey is not set.</summary>
    public string? SecretKeyFile { get; set; }

    /// <summary>Encrypt every call unless it opts out explicitly (Djblets' DJBLETS_CACHE_FORCE_ENCRYPTION).</summary>
    public bool ForceEncryption { get; set; }

    /// <summary>With <see cref="ForceEncryption"/>, an explicit opt-out throws instead of writing plaintext.</summary>
    public bool ForbidEncryptionOptOut { get; set; }

    /// <summary>Base64 of 16, 24 or 32 random bytes; replaces the key derived from <see cref="SecretKey"/>.</summary>
    public string? DefaultEncryptionKey { get; set; }

    /// <summary>Parts placed before every key, never escaped (Djblets: the site's domain, then SITE_ROOT).</summary>
    public List<string> KeyPrefix { get; set; } = [];

    public TimeSpan DefaultExpiration { get; set; } = TimeSpan.FromDays(30);

    /// <summary>The longest expiration a call may ask for; readers refuse headers expiring later than this plus <see cref="ClockSkew"/>.</summary>
    public TimeSpan MaxExpiration { get; set; } = TimeSpan.FromDays(365);

    /// <summary>Stored bytes per chunk (an encrypted segment carries 16 bytes less plaintext).</summary>
    public int ChunkSize { get; set; } = MaxChunkSize;

    /// <summary>How long a builder's lease lasts without an append or heartbeat.</summary>
    public TimeSpan LeaseDuration { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long a caller waits for another builder before computing the value itself.</summary>
    public TimeSpan WaitTimeout { get; set; } = TimeSpan.FromSeconds(45);

    /// <summary>The largest serialized (uncompressed) value stored; larger values are returned but not cached.</summary>
    [Range(1, long.MaxValue)]
    public long MaxEntryBytes { get; set; } = 512L * 1024 * 1024;

    /// <summary>Tolerated clock difference between clients when checking expiry.</summary>
    public TimeSpan ClockSkew { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>The bound on one grain call that does not wait for a builder.</summary>
    public TimeSpan OperationTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How many consecutive cluster faults open the circuit.</summary>
    [Range(1, 1000)]
    public int CircuitBreakerFailures { get; set; } = 3;

    /// <summary>How long an open circuit sends calls straight to the factory before one call probes the cluster.</summary>
    public TimeSpan CircuitBreakDuration { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Entries up to this many stored bytes come back in the first reply of a hit.</summary>
    [Range(0, 1024 * 1024)]
    public int InlineBytes { get; set; } = 256 * 1024;

    /// <summary>Chunks per message when moving large entries: a few MiB per message, far under Orleans' 100 MiB cap.</summary>
    [Range(1024 * 1024, 32 * 1024 * 1024)]
    public int TransferBatchBytes { get; set; } = 4 * 1024 * 1024;

    /// <summary>Compress values with zlib before encryption unless a call says otherwise.</summary>
    public bool CompressByDefault { get; set; } = true;
}
