using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using OrleansSecureCache.Tests.Cluster;
using Xunit;
using Xunit.Abstractions;

namespace OrleansSecureCache.Tests.Attack;

/// <summary>
/// A 300 MiB value through MemoizeIterAsync, byte-identical on the hit path (DESIGN.md invariant 8: entries
/// larger than any message move a few chunks at a time; Djblets L1/L2 at scale).
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class LargeValueTests(ClusterFixture fixture, ITestOutputHelper output)
{
    private const int BlockBytes = 1024 * 1024;
    private const int Blocks = 300;

    [Fact]
    [Trait("Category", "Large")]
    public async Task Large_L1_300MiBThroughMemoizeIter_HitIsByteIdentical()
    {
        var cache = fixture.CreateCache();
        var options = new MemoizeOptions { UseEncryption = true, Compress = false };
        CacheKey key = new[] { "large", Guid.NewGuid().ToString("N") };
        const int seed = 300;

        var clock = Stopwatch.StartNew();
        using var expected = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        long missBytes = 0;
        await foreach (var block in cache.MemoizeIterAsync(key, ct => Produce(seed, ct), options))
        {
            expected.AppendData(block);
            missBytes += block.Length;
        }

        var missTime = clock.Elapsed;
        var info = await cache.GetInfoAsync(key, options);
        Assert.NotNull(info);
        Assert.True(info!.HasEntry);
        Assert.True(info.ChunkCount > Blocks);

        clock.Restart();
        using var actual = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        long hitBytes = 0;
        var hitBlocks = 0;
        await foreach (var block in fixture.CreateCache().MemoizeIterAsync<byte[]>(key, _ => throw new InvalidOperationException("must be a hit"), options))
        {
            actual.AppendData(block);
            hitBytes += block.Length;
            hitBlocks++;
        }

        var hitTime = clock.Elapsed;
        output.WriteLine($"miss {missTime}, hit {hitTime}, {info.StoredBytes} stored bytes in {info.ChunkCount} chunks");
        Assert.Equal((long)Blocks * BlockBytes, missBytes);
        Assert.Equal(missBytes, hitBytes);
        Assert.Equal(Blocks, hitBlocks);
        Assert.Equal(expected.GetHashAndReset(), actual.GetHashAndReset());

        // Give the memory back: the shared cluster should not keep 300 MiB for the rest of the run.
        await cache.InvalidateAsync(key, options);
    }

    private static async IAsyncEnumerable<byte[]> Produce(int seed, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        for (var i = 0; i < Blocks; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var block = new byte[BlockBytes];
            new Random(seed * 100_003 + i).NextBytes(block);
            yield return block;
            await Task.Yield();
        }
    }
}
