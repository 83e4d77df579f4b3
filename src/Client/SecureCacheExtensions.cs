namespace OrleansSecureCache;

/// <summary>Convenience overloads of <see cref="ISecureCache"/>.</summary>
public static class SecureCacheExtensions
{
    public static ValueTask<T> MemoizeAsync<T>(this ISecureCache cache, CacheKey key, Func<Task<T>> factory, MemoizeOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(factory);
        return cache.MemoizeAsync(key, async _ => await factory().ConfigureAwait(false), options, cancellationToken);
    }

    public static ValueTask<T> MemoizeAsync<T>(this ISecureCache cache, CacheKey key, Func<T> factory, MemoizeOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(factory);
        return cache.MemoizeAsync(key, _ => ValueTask.FromResult(factory()), options, cancellationToken);
    }

    public static IAsyncEnumerable<T> MemoizeIterAsync<T>(this ISecureCache cache, CacheKey key, Func<IEnumerable<T>> producer, MemoizeOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(producer);
        return cache.MemoizeIterAsync(key, _ => ToAsync(producer()), options, cancellationToken);
    }

    private static async IAsyncEnumerable<T> ToAsync<T>(IEnumerable<T> items)
    {
        foreach (var item in items)
        {
            yield return item;
        }

        await Task.CompletedTask.ConfigureAwait(false);
    }
}
