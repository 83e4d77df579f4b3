namespace OrleansSecureCache;

/// <summary>Per-call settings; anything left null takes the global <see cref="SecureCacheOptions"/> value.</summary>
public sealed record MemoizeOptions
{
    /// <summary>How long the value stays cached (Djblets' <c>expiration</c>, default 30 days).</summary>
    public TimeSpan? Expiration { get; init; }

    /// <summary>Compute and store even when a value is cached.</summary>
    public bool ForceOverwrite { get; init; }

    /// <summary>Compress before encrypting (zlib). Off for secrets mixed with attacker-chosen data (compression length side channel).</summary>
    public bool? Compress { get; init; }

    /// <summary>True to encrypt, false to opt out (refused when the cache forbids opt-outs), null for the configured default.</summary>
    public bool? UseEncryption { get; init; }

    /// <summary>A per-call key: 16, 24 or 32 random bytes. It implies encryption and gives the entry its own key space.</summary>
    public ReadOnlyMemory<byte>? EncryptionKey { get; init; }

    /// <summary>How long to wait for another caller's build before computing the value here.</summary>
    public TimeSpan? WaitTimeout { get; init; }

    /// <summary>Djblets' <c>large_data</c>: the value is expected to be large. Values are always chunked, so this only skips inline replies.</summary>
    public bool LargeData { get; init; }
}
