using OrleansSecureCache.Format;
using Xunit;
using static OrleansSecureCache.Tests.Format.FormatTestKit;

namespace OrleansSecureCache.Tests.Format;

/// <summary>
/// B8 property: random mutations of small entries never throw, and every result is either exactly the
/// original plaintext or a miss. Both formats cover every header and chunk byte, so a hit also implies
/// the entry was left unchanged.
/// </summary>
public class MutationPropertyTests
{
    private const int Iterations = 10_000;

    private enum Mutation { FlipBit, InsertByte, DeleteByte, TruncateChunk, DropChunk, DuplicateChunk, PermuteChunks, SpliceFromOther, InsertFromOther, HeaderByte, HeaderLength }

    [Theory]
    [InlineData(true, 20240601)]
    [InlineData(false, 20240602)]
    public void RandomMutations_NeverThrow_AndYieldTheOriginalOrAMiss(bool encrypted, int seed)
    {
        var random = new Random(seed);
        var originals = new List<(byte[] Value, Sealed Entry, bool Compressed)>();
        foreach (bool compress in new[] { false, true })
        {
            foreach (int length in new[] { 0, 1, 47, 48, 64, 100, 200, 300 })
            {
                var value = Data(length, seed: length + 17);
                originals.Add((value, Seal(Params(encrypted, compress), value), compress));
            }
        }
        // Donors for splicing: same id and version (other salt or content), and another id.
        var donors = originals.Select(o => Seal(Params(encrypted, o.Compressed), Data(200, seed: 3))).ToList();
        donors.Add(Seal(Params(encrypted, id: IdB), Data(200, seed: 4)));
        var mutations = Enum.GetValues<Mutation>();

        int hits = 0, misses = 0;
        var reasons = new Dictionary<MissReason, int>();
        for (int iteration = 0; iteration < Iterations; iteration++)
        {
            var (value, original, _) = originals[random.Next(originals.Count)];
            var entry = original.Copy();
            int count = 1 + random.Next(3);
            var applied = new List<Mutation>();
            for (int m = 0; m < count; m++)
            {
                var mutation = mutations[random.Next(mutations.Length)];
                applied.Add(mutation);
                entry = Apply(entry, mutation, random, donors);
            }

            DecodeResult result;
            try
            {
                result = Open(entry, encrypted);
            }
            catch (Exception e)
            {
                Assert.Fail($"iteration {iteration} ({string.Join(", ", applied)}) threw {e}");
                return;
            }

            bool unchanged = entry.Header.AsSpan().SequenceEqual(original.Header)
                && entry.Chunks.Count == original.Chunks.Count
                && entry.Chunks.Zip(original.Chunks).All(p => p.First.AsSpan().SequenceEqual(p.Second));
            if (result.Ok)
            {
                hits++;
                Assert.True(unchanged, $"iteration {iteration} ({string.Join(", ", applied)}) accepted a changed entry");
                Assert.Equal(value, result.Plaintext);
            }
            else
            {
                misses++;
                Assert.Null(result.Plaintext);
                Assert.False(unchanged, $"iteration {iteration}: an unchanged entry missed with {result.Miss}");
                reasons[result.Miss] = reasons.GetValueOrDefault(result.Miss) + 1;
            }
        }

        Assert.Equal(Iterations, hits + misses);
        Assert.True(misses > Iterations * 9 / 10, $"only {misses} misses");
        // The mix reaches the deep checks, not just the header parser.
        Assert.True(reasons.GetValueOrDefault(encrypted ? MissReason.Tag : MissReason.Checksum) > 500);
        Assert.True(reasons.GetValueOrDefault(MissReason.Limits) > 500);
    }

    private static Sealed Apply(Sealed entry, Mutation mutation, Random random, List<Sealed> donors)
    {
        var chunks = entry.Chunks;
        var header = entry.Header;
        int c = random.Next(chunks.Count == 0 ? 1 : chunks.Count);
        switch (mutation)
        {
            case Mutation.FlipBit when chunks.Count > 0 && chunks[c].Length > 0:
                chunks[c][random.Next(chunks[c].Length)] ^= (byte)(1 << random.Next(8));
                break;
            case Mutation.InsertByte when chunks.Count > 0:
                {
                    int at = random.Next(chunks[c].Length + 1);
                    chunks[c] = [.. chunks[c][..at], (byte)random.Next(256), .. chunks[c][at..]];
                    break;
                }
            case Mutation.DeleteByte when chunks.Count > 0 && chunks[c].Length > 0:
                {
                    int at = random.Next(chunks[c].Length);
                    chunks[c] = [.. chunks[c][..at], .. chunks[c][(at + 1)..]];
                    break;
                }
            case Mutation.TruncateChunk when chunks.Count > 0:
                chunks[c] = chunks[c][..random.Next(chunks[c].Length + 1)];
                break;
            case Mutation.DropChunk when chunks.Count > 0:
                chunks.RemoveAt(c);
                break;
            case Mutation.DuplicateChunk when chunks.Count > 0:
                chunks.Insert(random.Next(chunks.Count + 1), (byte[])chunks[c].Clone());
                break;
            case Mutation.PermuteChunks when chunks.Count > 1:
                {
                    int other = random.Next(chunks.Count);
                    (chunks[c], chunks[other]) = (chunks[other], chunks[c]);
                    break;
                }
            case Mutation.SpliceFromOther:
                {
                    var donor = donors[random.Next(donors.Count)];
                    var piece = (byte[])donor.Chunks[random.Next(donor.Chunks.Count)].Clone();
                    if (chunks.Count > 0)
                    {
                        chunks[c] = piece;
                    }
                    else
                    {
                        chunks.Add(piece);
                    }
                    break;
                }
            case Mutation.InsertFromOther:
                {
                    var donor = donors[random.Next(donors.Count)];
                    chunks.Insert(random.Next(chunks.Count + 1), (byte[])donor.Chunks[random.Next(donor.Chunks.Count)].Clone());
                    break;
                }
            case Mutation.HeaderByte when header.Length > 0:
                header[random.Next(header.Length)] = (byte)random.Next(256);
                break;
            case Mutation.HeaderLength:
                return entry with { Header = random.Next(2) == 0 ? header[..random.Next(header.Length + 1)] : [.. header, (byte)random.Next(256)] };
        }
        return entry;
    }
}
