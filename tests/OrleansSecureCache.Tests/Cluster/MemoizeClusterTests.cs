using System.Security.Cryptography;
using Xunit;

namespace OrleansSecureCache.Tests.Cluster;

/// <summary>The end-to-end behaviours of issue 2 on a 3-silo TestCluster.</summary>
[Collection(ClusterCollection.Name)]
public sealed class MemoizeClusterTests(ClusterFixture fixture)
{
    private static string NewKey(string name) => $"{name}-{Guid.NewGuid():N}";

    [Fact]
    public async Task Memoize_200ConcurrentMisses_AcrossProcesses_RunFactoryOnce()
    {
        // Four cache clients stand in for four application processes; 50 calls each, all at once.
        var caches = Enumerable.Range(0, 4).Select(_ => fixture.CreateCache()).ToArray();
        var key = NewKey("stampede");
        var runs = 0;
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        async ValueTask<string> Factory(CancellationToken ct)
        {
            Interlocked.Increment(ref runs);
            await Task.Delay(200, ct); // a slow build, so every caller arrives while it runs
            return $"value-{Guid.NewGuid()}";
        }

        var calls = Enumerable.Range(0, 200).Select(async i =>
        {
            await gate.Task;
            return await caches[i % caches.Length].MemoizeAsync(key, Factory, new MemoizeOptions { UseEncryption = true });
        }).ToArray();
        gate.SetResult();
        var results = await Task.WhenAll(calls);

        Assert.Equal(1, runs);
        Assert.Single(results.Distinct());
    }

    [Fact]
    public async Task Memoize_M1_HitReturnsStoredValueWithoutFactory()
    {
        var key = NewKey("hit");
        var runs = 0;
        var record = new Sample("café 🎉", 42, [1.5, 2.5], new Dictionary<string, int> { ["a"] = 1 });
        var first = await fixture.CreateCache().MemoizeAsync(key, () => { runs++; return record; });
        var second = await fixture.CreateCache().MemoizeAsync(key, () => { runs++; return record with { Number = 7 }; });

        Assert.Equal(1, runs);
        Assert.Equal(record.Number, second.Number);
        Assert.Equal(record.Text, second.Text);
        Assert.Equal(record.Values, second.Values);
        Assert.Equal(record.Map, second.Map);
        Assert.Same(record, first);
    }

    public static TheoryData<int, bool, bool> Sizes()
    {
        var data = new TheoryData<int, bool, bool>();
        const int chunk = SecureCacheOptions.MaxChunkSize;
        foreach (var encrypt in new[] { true, false })
        {
            var segment = encrypt ? chunk - 16 : chunk;
            foreach (var size in new[] { 0, 1, segment - 1, segment, segment + 1, 3 * segment + 12345 })
            {
                foreach (var compress in new[] { true, false })
                {
                    data.Add(size, encrypt, compress);
                }
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Sizes))]
    public async Task Memoize_L2_RoundTripsSizesAroundChunkBoundaries(int size, bool encrypt, bool compress)
    {
        var key = NewKey($"size-{size}");
        var value = RandomNumberGenerator.GetBytes(size);
        var options = new MemoizeOptions { UseEncryption = encrypt, Compress = compress };
        var built = await fixture.CreateCache().MemoizeAsync(key, () => value, options);
        var read = await fixture.CreateCache().MemoizeAsync(key, MustHit<byte[]>(), options);

        Assert.Equal(value, built);
        Assert.Equal(SHA256.HashData(value), SHA256.HashData(read));
        var info = await fixture.CreateCache().GetInfoAsync(key, options);
        Assert.NotNull(info);
        Assert.Equal(encrypt, info!.Encrypted);
        Assert.Equal(compress, info.Compressed);
    }

    [Theory]
    [MemberData(nameof(Sizes))]
    public async Task MemoizeIter_L1_RoundTripsSizesAroundChunkBoundaries(int size, bool encrypt, bool compress)
    {
        var key = NewKey($"iter-{size}");
        var value = RandomNumberGenerator.GetBytes(size);
        var blocks = value.Chunk(64 * 1024).ToList();
        var options = new MemoizeOptions { UseEncryption = encrypt, Compress = compress };

        var produced = await Collect(fixture.CreateCache().MemoizeIterAsync(key, () => blocks, options));
        var cached = await Collect(fixture.CreateCache().MemoizeIterAsync<byte[]>(key, () => throw new InvalidOperationException("must be a hit"), options));

        Assert.Equal(value, produced.SelectMany(b => b).ToArray());
        Assert.Equal(blocks.Count, cached.Count);
        Assert.Equal(value, cached.SelectMany(b => b).ToArray());
    }

    [Fact]
    public async Task Memoize_WrittenThroughOneSilo_ReadThroughAnother()
    {
        var key = NewKey("cross-silo");
        var writer = fixture.CreateCache(grains: fixture.SiloGrainFactory(1));
        var reader = fixture.CreateCache(grains: fixture.SiloGrainFactory(2));
        var value = RandomNumberGenerator.GetBytes(3 * 1024 * 1024);

        await writer.MemoizeAsync(key, () => value, new MemoizeOptions { UseEncryption = true });
        var read = await reader.MemoizeAsync(key, MustHit<byte[]>(), new MemoizeOptions { UseEncryption = true });

        Assert.Equal(value, read);
    }

    [Fact]
    public async Task Memoize_FlippedBitInStoredChunk_OneRebuild_BadValueNeverReturned()
    {
        var cache = fixture.CreateCache();
        var options = new MemoizeOptions { UseEncryption = true };
        var key = NewKey("flip");
        var original = RandomNumberGenerator.GetBytes(2 * 1024 * 1024);
        await cache.MemoizeAsync(key, () => original, options);

        var tamper = fixture.Tamper(cache.MakeCacheKey(key, options));
        var stored = await tamper.Read();
        Assert.NotNull(stored);
        stored!.Chunks[1][12345] ^= 0x04;
        await tamper.Write(stored);

        var rebuilt = RandomNumberGenerator.GetBytes(1000);
        var runs = 0;
        var result = await fixture.CreateCache().MemoizeAsync(key, () => { runs++; return rebuilt; }, options);
        var again = await fixture.CreateCache().MemoizeAsync<byte[]>(key, () => { runs++; return []; }, options);

        Assert.Equal(1, runs);
        Assert.Equal(rebuilt, result);
        Assert.Equal(rebuilt, again);
    }

    internal static Func<T> MustHit<T>() => () => throw new InvalidOperationException("The factory ran, but the value should have come from the cache.");

    internal static async Task<List<T>> Collect<T>(IAsyncEnumerable<T> items)
    {
        var list = new List<T>();
        await foreach (var item in items)
        {
            list.Add(item);
        }

        return list;
    }

    public sealed record Sample(string Text, int Number, double[] Values, Dictionary<string, int> Map);
}
