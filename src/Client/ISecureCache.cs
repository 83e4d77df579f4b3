namespace OrleansSecureCache;

/// <summary>
/// A distributed memoization cache whose values are serialized, compressed and encrypted in this process;
/// the silos only hold opaque bytes. One caller in the whole cluster builds a missing value while the
/// others wait for its result.
/// </summary>
public interface ISecureCache
{
    /// <summary>
    /// Returns the cached value for <paramref name="key"/>, or runs <paramref name="factory"/> (once across the
    /// cluster), stores and returns its value. Cache faults never reach the caller: the factory's value is
    /// returned and a warning logged. The factory's own exception does reach the caller, and nothing is stored.
    /// </summary>
    ValueTask<T> MemoizeAsync<T>(CacheKey key, Func<CancellationToken, ValueTask<T>> factory, MemoizeOptions? options = null, CancellationToken cancellationToken = default);

    /// <summary>
    /// Memoizes a sequence. On a miss, items reach the caller as the producer yields them while they are being
    /// stored; a caller that stops early commits nothing. On a hit, the whole entry is verified before the
    /// first item is yielded.
    /// </summary>
    IAsyncEnumerable<T> MemoizeIterAsync<T>(CacheKey key, Func<CancellationToken, IAsyncEnumerable<T>> producer, MemoizeOptions? options = null, CancellationToken cancellationToken = default);

    /// <summary>Reads a value without computing anything. Throws <see cref="SecureCacheUnavailableException"/> when the cluster cannot be reached.</summary>
    ValueTask<CacheLookup<T>> TryGetAsync<T>(CacheKey key, MemoizeOptions? options = null, CancellationToken cancellationToken = default);

    /// <summary>Reads a sequence stored by <see cref="MemoizeIterAsync{T}"/> or <see cref="SetItemsAsync{T}"/>, all verified first.</summary>
    ValueTask<CacheLookup<IReadOnlyList<T>>> TryGetItemsAsync<T>(CacheKey key, MemoizeOptions? options = null, CancellationToken cancellationToken = default);

    /// <summary>Stores a value, replacing any entry. Returns false when it was not stored (too large, or superseded by a newer write).</summary>
    ValueTask<bool> SetAsync<T>(CacheKey key, T value, MemoizeOptions? options = null, CancellationToken cancellationToken = default);

    /// <summary>Stores a sequence as it is read, replacing any entry; for values of any size.</summary>
    ValueTask<bool> SetItemsAsync<T>(CacheKey key, IAsyncEnumerable<T> items, MemoizeOptions? options = null, CancellationToken cancellationToken = default);

    /// <summary>Drops the entry; builds that started before this call can no longer store their value.</summary>
    ValueTask InvalidateAsync(CacheKey key, MemoizeOptions? options = null, CancellationToken cancellationToken = default);

    /// <summary>Describes the stored entry without decrypting it, or returns null when there is none.</summary>
    ValueTask<CacheEntryInfo?> GetInfoAsync(CacheKey key, MemoizeOptions? options = null, CancellationToken cancellationToken = default);

    /// <summary>The full cache key (the grain id) for <paramref name="key"/> under the configured prefix and these options.</summary>
    string MakeCacheKey(CacheKey key, MemoizeOptions? options = null);
}

/// <summary>The result of a read.</summary>
public readonly record struct CacheLookup<T>(bool Found, T? Value)
{
    public static CacheLookup<T> Miss => default;
}

/// <summary>What <see cref="ISecureCache.GetInfoAsync"/> can tell without the key material.</summary>
public sealed record CacheEntryInfo(
    string FullKey,
    bool HasEntry,
    bool Encrypted,
    bool Compressed,
    long StoredBytes,
    int ChunkCount,
    DateTimeOffset? ExpiresAt,
    long Generation,
    bool BuildInProgress);

/// <summary>Thrown by the direct operations (get, set, invalidate, info) when the cluster cannot be reached.</summary>
public sealed class SecureCacheUnavailableException(string message, Exception? inner) : Exception(message, inner);
