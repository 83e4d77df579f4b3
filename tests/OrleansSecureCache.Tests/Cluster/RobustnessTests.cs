using System.Security.Cryptography;
using Xunit;

namespace OrleansSecureCache.Tests.Cluster;

/// <summary>Cases found in review: each once let a cache problem reach the application or lose an entry.</summary>
[Collection(ClusterCollection.Name)]
public sealed class RobustnessTests(ClusterFixture fixture)
{
    private static string NewKey(string name) => $"{name}-{Guid.NewGuid():N}";

    [Fact]
    public async Task CachedTypeChangedShape_IsAMissAndRebuilt_NoException()
    {
        var key = NewKey("shape");
        await fixture.CreateCache().MemoizeAsync(key, () => "just a string, not JSON");
        var runs = 0;
        var result = await fixture.CreateCache().MemoizeAsync(key, () => { runs++; return new Shape(3, "x"); });
        var again = await fixture.CreateCache().MemoizeAsync(key, ClusterHelpers.MustHit<Shape>());

        Assert.Equal(1, runs);
        Assert.Equal(new Shape(3, "x"), result);
        Assert.Equal(new Shape(3, "x"), again);
    }

    [Fact]
    public async Task TryGet_OfAnEntryThatCannotBeDeserialized_IsAMiss_AndTheEntryIsDropped()
    {
        var key = NewKey("tryget-shape");
        var cache = fixture.CreateCache();
        await cache.SetAsync(key, "not JSON at all");

        Assert.False((await cache.TryGetAsync<Shape>(key)).Found);
        Assert.False((await cache.TryGetAsync<string>(key)).Found); // reported unreadable, so the grain dropped it
    }

    [Fact]
    public async Task EntryWrittenWithSmallerChunks_IsReadByAClientConfiguredOtherwise()
    {
        var key = NewKey("chunks");
        var value = RandomNumberGenerator.GetBytes(10_000);
        var options = new MemoizeOptions { UseEncryption = true, Compress = false };
        await fixture.CreateCache(o => o.ChunkSize = 64).MemoizeAsync(key, () => value, options);

        // 10,000 bytes in 48-byte segments is 209 chunks; the reader's own ChunkSize must not decide the bound.
        var reader = fixture.CreateCache(o => o.MaxEntryBytes = 20_000);
        Assert.Equal(value, await reader.MemoizeAsync(key, ClusterHelpers.MustHit<byte[]>(), options));
    }

    [Fact]
    public async Task TransferBatchLargerThanTheGrainAccepts_StillStores()
    {
        var key = NewKey("batch");
        var value = RandomNumberGenerator.GetBytes(20 * 1024 * 1024);
        var options = new MemoizeOptions { Compress = false };
        await fixture.CreateCache(o => o.TransferBatchBytes = 32 * 1024 * 1024).MemoizeAsync(key, () => value, options);

        Assert.Equal(value, await fixture.CreateCache().MemoizeAsync(key, ClusterHelpers.MustHit<byte[]>(), options));
    }

    [Fact]
    public async Task NullBytesOrString_ReturnedButNotCached()
    {
        var key = NewKey("null");
        Assert.Null(await fixture.CreateCache().MemoizeAsync(key, () => (byte[]?)null));
        Assert.Equal([1, 2], await fixture.CreateCache().MemoizeAsync(key, () => new byte[] { 1, 2 }));

        var text = NewKey("null-text");
        Assert.Null(await fixture.CreateCache().MemoizeAsync(text, () => (string?)null));
        Assert.Equal("null", await fixture.CreateCache().MemoizeAsync(text, () => "null"));
        Assert.Equal("null", await fixture.CreateCache().MemoizeAsync(text, ClusterHelpers.MustHit<string>()));
    }

    public sealed record Shape(int Sides, string Name);
}
