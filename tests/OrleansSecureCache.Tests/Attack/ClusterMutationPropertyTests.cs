using System.Diagnostics;
using OrleansSecureCache.Format;
using OrleansSecureCache.Tests.Cluster;
using Xunit;
using Xunit.Abstractions;
using static OrleansSecureCache.Tests.Attack.AttackKit;

namespace OrleansSecureCache.Tests.Attack;

/// <summary>
/// B8 and friends as a property on the cluster: 2,000 seeded random mutations of a small stored entry
/// (flip, insert, delete, truncate, permute, splice from another entry, header edits, version swaps). Each
/// read returns exactly the original value or the factory's fresh value, never anything else. The format
/// level runs 10,000 (Format/MutationPropertyTests).
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class ClusterMutationPropertyTests(ClusterFixture fixture, ITestOutputHelper output)
{
    private const int Mutations = 2000;

    [Theory]
    [InlineData(true, 20260101)]
    [InlineData(false, 20260102)]
    public async Task B8_RandomMutationsOfAStoredEntry_ReadIsOriginalOrRebuilt_NeverAnythingElse(bool encrypt, int seed)
    {
        var random = new Random(seed);
        var cache = SmallChunkCache(fixture);
        var options = new MemoizeOptions { UseEncryption = encrypt, Compress = random.Next(2) == 0 };
        var key = NewKey($"mutate-{encrypt}", out var part);
        // Random letters, so the entry spans several chunks even when compressed.
        var original = "<ORIGINAL>" + new string(Enumerable.Range(0, 300).Select(_ => (char)('a' + random.Next(26))).ToArray());
        var entry = await StoreAsync(fixture, cache, key, original, options);
        var donor = await StoreAsync(fixture, cache, $"donor-{NewId()}", "<DONOR>" + original[10..], options);
        Assert.True(entry.Chunks.Length >= 4, $"only {entry.Chunks.Length} chunks");
        var tamper = fixture.Tamper(cache.MakeCacheKey(key, options));
        var headerSize = entry.Header.Length;

        var clock = Stopwatch.StartNew();
        var originals = 0;
        var kinds = new Dictionary<string, int>();
        var unchanged = new Dictionary<string, int>();
        for (var i = 0; i < Mutations; i++)
        {
            var (mutated, kind) = Mutate(entry, donor, random, headerSize);
            kinds[kind] = kinds.GetValueOrDefault(kind) + 1;
            await tamper.Write(mutated);

            var fresh = $"fresh-{i}";
            var runs = 0;
            var got = await cache.MemoizeAsync(key, () => { runs++; return fresh; }, options);
            if (got == original)
            {
                Assert.Equal(0, runs);
                originals++;
                unchanged[kind] = unchanged.GetValueOrDefault(kind) + 1;
            }
            else
            {
                Assert.True(got == fresh, $"mutation {i} ({kind}) returned something else: {got[..Math.Min(40, got.Length)]}");
                Assert.Equal(1, runs);
            }
        }

        output.WriteLine($"{Mutations} mutations in {clock.Elapsed}: {originals} read as the original, {Mutations - originals} rebuilt; {string.Join(", ", kinds.Select(k => $"{k.Key}={k.Value}"))}; read as the original: {string.Join(", ", unchanged.Select(k => $"{k.Key}={k.Value}"))}");
        Assert.True(originals < Mutations / 10, $"{originals} mutations were no change at all");
        // Unencrypted keys are logged as they are (the design logs the full cache key), so only values are checked there.
        AssertNoLeaks(fixture, encrypt ? [part, "<ORIGINAL>", "<DONOR>"] : ["<ORIGINAL>", "<DONOR>"], []);
    }

    private static (Cluster.StoredEntry Entry, string Kind) Mutate(Cluster.StoredEntry source, Cluster.StoredEntry donor, Random random, int headerSize)
    {
        var e = source.Copy();
        var chunks = e.Chunks.ToList();
        var c = random.Next(chunks.Count);
        switch (random.Next(10))
        {
            case 0:
                chunks[c][random.Next(chunks[c].Length)] ^= (byte)(1 << random.Next(8));
                return (e.WithChunks(chunks), "flip");
            case 1:
                chunks[c] = Insert(chunks[c], random);
                return (e.WithChunks(chunks), "insert");
            case 2:
                var at = random.Next(chunks[c].Length);
                chunks[c] = chunks[c].Take(at).Concat(chunks[c].Skip(at + 1)).ToArray();
                return (e.WithChunks(chunks), "delete");
            case 3:
                if (random.Next(2) == 0 && chunks.Count > 1)
                {
                    chunks.RemoveRange(random.Next(1, chunks.Count), 1);
                }
                else
                {
                    chunks[c] = chunks[c][..random.Next(chunks[c].Length)];
                }

                return (e.WithChunks(chunks), "truncate");
            case 4:
                var shuffled = chunks.OrderBy(_ => random.Next()).ToList();
                if (shuffled.SequenceEqual(chunks))
                {
                    (shuffled[0], shuffled[^1]) = (shuffled[^1], shuffled[0]);
                }

                return (e.WithChunks(shuffled), "permute");
            case 5:
                chunks[c] = donor.Chunks[random.Next(donor.Chunks.Length)];
                return (e.WithChunks(chunks), "splice");
            case 6:
                var header = e.Header.ToArray();
                header[random.Next(headerSize)] ^= (byte)(1 << random.Next(8));
                return (new Cluster.StoredEntry(e.VersionId, header, e.Chunks, e.ExpiresAt), "header-flip");
            case 7:
                var spliceHeader = e.Header.ToArray();
                var offset = random.Next(headerSize);
                var length = random.Next(1, headerSize - offset + 1);
                Array.Copy(donor.Header, offset, spliceHeader, offset, Math.Min(length, donor.Header.Length - offset));
                return (new Cluster.StoredEntry(e.VersionId, spliceHeader, e.Chunks, e.ExpiresAt), "header-splice");
            case 8:
                return (random.Next(2) == 0 ? e with { VersionId = donor.VersionId } : new Cluster.StoredEntry(donor.VersionId, donor.Header, e.Chunks, e.ExpiresAt), "version");
            default:
                // Several edits at once.
                var (first, _) = Mutate(source, donor, random, headerSize);
                var (second, _) = Mutate(first, donor, random, headerSize);
                return (second, "multi");
        }
    }

    private static byte[] Insert(byte[] chunk, Random random)
    {
        var at = random.Next(chunk.Length + 1);
        var extra = new byte[random.Next(1, 20)];
        random.NextBytes(extra);
        return chunk.Take(at).Concat(extra).Concat(chunk.Skip(at)).ToArray();
    }
}
