using OrleansSecureCache.Format;
using Xunit;
using static OrleansSecureCache.Tests.Format.FormatTestKit;

namespace OrleansSecureCache.Tests.Format;

public class RoundTripTests
{
    // ChunkSize 64: ECV1 segments are 48 bytes, plain segments 64.
    private const int ChunkSize = 64;

    public static TheoryData<bool, bool, int> Cases()
    {
        var data = new TheoryData<bool, bool, int>();
        foreach (bool encrypted in new[] { true, false })
        {
            int s = encrypted ? ChunkSize - 16 : ChunkSize;
            foreach (bool compress in new[] { false, true })
            {
                foreach (int length in new[] { 0, 1, s - 1, s, s + 1, 2 * s, 5 * s + 7, 4096 })
                {
                    data.Add(encrypted, compress, length);
                }
            }
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void RoundTrip_OneWriteAndManySmallWrites_ReturnTheOriginal(bool encrypted, bool compress, int length)
    {
        var data = Data(length, seed: length);
        var p = Params(encrypted, compress, ChunkSize);

        foreach (int writeSize in new[] { int.MaxValue, 1, 7, 48 })
        {
            var entry = Seal(p, data, writeSize);
            var result = Open(entry, encrypted);

            Assert.Equal(MissReason.None, result.Miss);
            Assert.True(result.Ok);
            Assert.Equal(data, result.Plaintext);
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void RoundTrip_ChunkingIsCanonical_AndIndependentOfWriteSizes(bool encrypted, bool compress, int length)
    {
        var data = Data(length, seed: length);
        var p = Params(encrypted, compress, ChunkSize);
        var salt = RandomBytes(32, seed: 99);

        var whole = Seal(p, data, salt: salt);
        var pieces = Seal(p, data, writeSize: 5, salt: salt);

        // Same salt, same input: the same entry however it was written. zlib's output depends on
        // how its input was split, so with compression only the decoded value is the same.
        if (!compress)
        {
            Assert.Equal(whole.Header, pieces.Header);
            Assert.Equal(whole.Chunks, pieces.Chunks);
        }
        Assert.Equal(data, Open(pieces, encrypted).Plaintext);

        int s = encrypted ? ChunkSize - 16 : ChunkSize;
        int overhead = encrypted ? 16 : 0;
        long stored = whole.Chunks.Sum(c => (long)c.Length - overhead);
        long expectedCount = Math.Max(1, (stored + s - 1) / s);
        Assert.Equal(expectedCount, whole.Chunks.Count);
        Assert.All(whole.Chunks.SkipLast(1), c => Assert.Equal(s + overhead, c.Length));
        // The final segment is empty only when the whole payload is.
        Assert.True(whole.Chunks[^1].Length > overhead || stored == 0);
        if (!compress)
        {
            Assert.Equal(length, stored);
        }
    }

    [Theory]
    [InlineData(true, false)]
    [InlineData(true, true)]
    [InlineData(false, false)]
    [InlineData(false, true)]
    public void RoundTrip_DefaultChunkSize_ThreeMebibytes(bool encrypted, bool compress)
    {
        int chunkSize = Ecv1.DefaultChunkSize; // 1 047 552 stored bytes
        var data = RandomBytes(3 * 1024 * 1024 + 12_345, seed: 7);
        if (compress)
        {
            Array.Fill(data, (byte)'x', 0, data.Length / 2); // half compressible
        }
        var p = Params(encrypted, compress, chunkSize);
        var limits = Limits with { MaxEntryBytes = 8L << 20 };

        var entry = Seal(p, data, writeSize: 256 * 1024);
        var result = Open(entry, encrypted, limits: limits);

        Assert.Equal(MissReason.None, result.Miss);
        Assert.Equal(data, result.Plaintext);
        Assert.All(entry.Chunks.SkipLast(1), c => Assert.Equal(chunkSize, c.Length));
        if (!compress)
        {
            Assert.Equal(4, entry.Chunks.Count);
        }
    }

    [Theory]
    [InlineData(16)]
    [InlineData(24)]
    [InlineData(32)]
    public void RoundTrip_AllKeyMaterialLengths(int keyLength)
    {
        var key = RandomBytes(keyLength, seed: keyLength);
        var data = Data(200);
        var entry = Seal(Params(true, key: key), data);

        var result = Open(entry, true, key: key);

        Assert.Equal(data, result.Plaintext);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void RoundTrip_NonAsciiPlainKeyAsGrainId(bool encrypted)
    {
        const string id = "example.com:Grüße:日本";
        var data = Data(100);
        var entry = Seal(Params(encrypted, id: id), data);

        Assert.Equal(data, Open(entry, encrypted, id: id).Plaintext);
        Assert.False(Open(entry, encrypted, id: "example.com:Grusse:日本").Ok);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void RoundTrip_CompressedEntryExactlyAtTheSizeLimit_IsAHit(bool encrypted)
    {
        var limits = Limits with { MaxEntryBytes = 10_000 };
        var data = Data(10_000);
        var entry = Seal(Params(encrypted, compress: true), data);

        var result = Open(entry, encrypted, limits: limits);

        Assert.Equal(MissReason.None, result.Miss);
        Assert.Equal(data, result.Plaintext);
    }
}
