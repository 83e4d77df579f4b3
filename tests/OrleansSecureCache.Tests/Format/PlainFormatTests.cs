using System.Buffers.Binary;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using OrleansSecureCache.Format;
using Xunit;
using static OrleansSecureCache.Tests.Format.FormatTestKit;

namespace OrleansSecureCache.Tests.Format;

/// <summary>The plain format detects lost, extra, moved and altered chunks and foreign entries (not forgery).</summary>
public class PlainFormatTests
{
    // S = 64: 200 bytes give chunks of 64, 64, 64 and 8 bytes.
    private static readonly byte[] Value = Data(200);

    private static Sealed SealPlain(byte[]? value = null, string id = IdA, bool compress = false)
        => Seal(Params(false, compress, id: id), value ?? Value);

    private static MissReason OpenMiss(Sealed entry, string id = IdA, Guid? version = null, DecodeLimits? limits = null, DateTimeOffset? now = null)
    {
        var result = Open(entry, false, id, version, limits: limits, now: now);
        if (!result.Ok)
        {
            Assert.Null(result.Plaintext);
        }
        return result.Miss;
    }

    [Fact]
    public void Plain_HeaderLayout_IsAsDocumented()
    {
        var entry = SealPlain();
        var h = entry.Header;

        Assert.Equal(77, h.Length);
        Assert.Equal("50435601", Convert.ToHexString(h, 0, 4));
        Assert.Equal(0, h[PlainFormat.OffFlags]);
        Assert.Equal(64u, BinaryPrimitives.ReadUInt32BigEndian(h.AsSpan(PlainFormat.OffSegmentSize)));
        Assert.Equal(4u, BinaryPrimitives.ReadUInt32BigEndian(h.AsSpan(PlainFormat.OffChunkCount)));
        Assert.Equal(200ul, BinaryPrimitives.ReadUInt64BigEndian(h.AsSpan(PlainFormat.OffPayloadLength)));
        Assert.Equal((ulong)ExpiresAt, BinaryPrimitives.ReadUInt64BigEndian(h.AsSpan(PlainFormat.OffExpiresAt)));
        Assert.Equal(EntryVersion, new Guid(h.AsSpan(PlainFormat.OffVersionId, 16), bigEndian: true));

        // checksum = SHA-256(header[0..45) || u16(len(id)) || id || SHA-256(u32(len) || chunk ...)), recomputed independently
        var chunkDigest = SHA256.HashData(entry.Chunks.SelectMany(c => BitConverterBigEndian(c.Length).Concat(c)).ToArray());
        var id = Encoding.ASCII.GetBytes(IdA);
        byte[] outer = [.. h[..45], (byte)(id.Length >> 8), (byte)id.Length, .. id, .. chunkDigest];
        Assert.Equal(SHA256.HashData(outer), h[45..]);
    }

    private static byte[] BitConverterBigEndian(int value)
    {
        var bytes = new byte[4];
        BinaryPrimitives.WriteInt32BigEndian(bytes, value);
        return bytes;
    }

    [Fact]
    public void Plain_UntouchedEntry_IsAHit() => Assert.Equal(Value, Open(SealPlain(), false).Plaintext);

    [Fact]
    public void Plain_EntryCopiedToAnotherId_MissesOnChecksum()
        => Assert.Equal(MissReason.Checksum, OpenMiss(SealPlain(id: IdB), id: IdA));

    [Fact]
    public void Plain_ChunkFromAnotherEntry_MissesOnChecksum()
    {
        var entry = SealPlain().Copy();
        entry.Chunks[1] = SealPlain(Data(200, seed: 2)).Chunks[1];

        Assert.Equal(MissReason.Checksum, OpenMiss(entry));
    }

    [Fact]
    public void Plain_ReorderedChunks_MissOnChecksum()
    {
        var entry = SealPlain().Copy();
        (entry.Chunks[0], entry.Chunks[2]) = (entry.Chunks[2], entry.Chunks[0]);

        Assert.Equal(MissReason.Checksum, OpenMiss(entry));
    }

    [Fact]
    public void Plain_DroppedMiddleChunk_MissesOnLimits()
    {
        var entry = SealPlain().Copy();
        entry.Chunks.RemoveAt(1);

        Assert.Equal(MissReason.Limits, OpenMiss(entry));
    }

    [Fact]
    public void Plain_DroppedLastChunk_MissesOnLimits()
    {
        var entry = SealPlain().Copy();
        entry.Chunks.RemoveAt(entry.Chunks.Count - 1);

        Assert.Equal(MissReason.Limits, OpenMiss(entry));
    }

    [Fact]
    public void Plain_DroppedLastChunkWithCountAndLengthEdited_MissesOnChecksum()
    {
        var entry = SealPlain().Copy();
        entry.Chunks.RemoveAt(entry.Chunks.Count - 1);
        BinaryPrimitives.WriteUInt32BigEndian(entry.Header.AsSpan(PlainFormat.OffChunkCount), 3);
        BinaryPrimitives.WriteUInt64BigEndian(entry.Header.AsSpan(PlainFormat.OffPayloadLength), 192);

        Assert.Equal(MissReason.Checksum, OpenMiss(entry));
    }

    [Fact]
    public void Plain_LastChunkCutByOneByte_MissesOnLimits()
    {
        var entry = SealPlain().Copy();
        entry.Chunks[^1] = entry.Chunks[^1][..^1];

        Assert.Equal(MissReason.Limits, OpenMiss(entry));
    }

    [Fact]
    public void Plain_AppendedChunk_MissesOnLimits()
    {
        var entry = SealPlain().Copy();
        entry.Chunks.Add(Data(30));

        Assert.Equal(MissReason.Limits, OpenMiss(entry));
    }

    [Fact]
    public void Plain_OneBitFlippedInAChunk_MissesOnChecksum()
    {
        var entry = SealPlain().Copy();
        entry.Chunks[2][17] ^= 0x04;

        Assert.Equal(MissReason.Checksum, OpenMiss(entry));
    }

    [Theory]
    [InlineData(PlainFormat.OffFlags, 0x01, nameof(MissReason.Checksum))]
    [InlineData(PlainFormat.OffFlags, 0x02, nameof(MissReason.Flags))]
    [InlineData(PlainFormat.OffSegmentSize + 3, 0x01, nameof(MissReason.Limits))]
    [InlineData(PlainFormat.OffSegmentSize, 0x80, nameof(MissReason.SegmentSize))]
    [InlineData(PlainFormat.OffChunkCount + 3, 0x01, nameof(MissReason.Limits))]
    [InlineData(PlainFormat.OffPayloadLength + 7, 0x01, nameof(MissReason.Limits))]
    [InlineData(PlainFormat.OffExpiresAt + 7, 0x01, nameof(MissReason.Checksum))]
    [InlineData(PlainFormat.OffVersionId + 5, 0x01, nameof(MissReason.Version))]
    [InlineData(PlainFormat.OffChecksum + 31, 0x01, nameof(MissReason.Checksum))]
    [InlineData(0, 0x01, nameof(MissReason.Format))]
    public void Plain_HeaderEdit_Misses(int offset, int xor, string expected)
    {
        var entry = SealPlain().Copy();
        entry.Header[offset] ^= (byte)xor;

        Assert.Equal(Enum.Parse<MissReason>(expected), OpenMiss(entry));
    }

    [Fact]
    public void Plain_VersionEditedInHeaderAndReported_MissesOnChecksum()
    {
        var entry = SealPlain().Copy();
        entry.Header[PlainFormat.OffVersionId] ^= 0x01;
        var reported = new Guid(entry.Header.AsSpan(PlainFormat.OffVersionId, 16), bigEndian: true);

        Assert.Equal(MissReason.Checksum, OpenMiss(entry, version: reported));
    }

    [Fact]
    public void Plain_AnotherVersionReported_MissesOnVersion()
        => Assert.Equal(MissReason.Version, OpenMiss(SealPlain(), version: Guid.NewGuid()));

    [Fact]
    public void Plain_Expired_MissesAsExpired()
        => Assert.Equal(MissReason.Expired, OpenMiss(SealPlain(), now: DateTimeOffset.FromUnixTimeSeconds(ExpiresAt)));

    [Fact]
    public void Plain_TooManyChunks_MissesOnLimits()
        => Assert.Equal(MissReason.Limits, OpenMiss(SealPlain(), limits: Limits with { MaxEntryBytes = 64 }));

    [Fact]
    public void Plain_ZlibBomb_MissesOnDecompress()
    {
        var entry = Seal(Params(false, compress: true, chunkSize: 4096), new byte[1 << 20]);

        Assert.Equal(MissReason.Decompress, OpenMiss(entry, limits: Limits with { MaxEntryBytes = 1 << 18 }));
    }

    [Theory]
    [InlineData("truncated")]
    [InlineData("trailing")]
    [InlineData("garbage")]
    public void Plain_ZlibStreamTruncatedOrWithTrailingBytesOrGarbage_MissesOnDecompress(string damage)
    {
        using var ms = new MemoryStream();
        using (var z = new ZLibStream(ms, CompressionLevel.Optimal, leaveOpen: true))
        {
            z.Write(Data(3000));
        }
        byte[] zlib = ms.ToArray();
        byte[] stored = damage switch
        {
            "truncated" => zlib[..^9],
            "trailing" => [.. zlib, 0x00, 0x01],
            _ => Data(300),
        };

        var entry = SealStoredPlain(stored, compressed: true);

        Assert.Equal(MissReason.Decompress, OpenMiss(entry));
    }

    [Fact]
    public void Plain_HandMadeStoredPayload_Helper_RoundTrips()
    {
        var entry = SealStoredPlain(Value, compressed: false);
        Assert.Equal(Value, Open(entry, false).Plaintext);
    }

    [Fact]
    public void Plain_SealingTheSameInputTwice_GivesTheSameEntry()
    {
        // No secrets and no salt: the plain format is deterministic, by design.
        var first = SealPlain();
        var second = SealPlain();
        Assert.Equal(first.Header, second.Header);
        Assert.Equal(first.Chunks, second.Chunks);
    }

    [Fact]
    public void Adler32_MatchesTheRfc1950Reference()
    {
        Assert.Equal(0x11E60398u, EntryDecoder.Adler32("Wikipedia"u8));
        Assert.Equal(1u, EntryDecoder.Adler32([]));
        // Long run of 0xFF exercises the modulo deferral.
        var ones = Enumerable.Repeat((byte)0xFF, 100_000).ToArray();
        uint a = 1, b = 0;
        foreach (var x in ones)
        {
            a = (a + x) % 65521;
            b = (b + a) % 65521;
        }
        Assert.Equal((b << 16) | a, EntryDecoder.Adler32(ones));
    }

    /// <summary>A plain entry whose stored payload is exactly <paramref name="stored"/>, with a valid checksum.</summary>
    private static Sealed SealStoredPlain(byte[] stored, bool compressed)
    {
        const int s = 64;
        var chunks = stored.Length == 0 ? [Array.Empty<byte>()] : stored.Chunk(s).ToList();
        var header = new byte[PlainFormat.HeaderSize];
        PlainFormat.WriteHeaderFields(header, compressed, s, chunks.Count, stored.Length, ExpiresAt, EntryVersion);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var c in chunks)
        {
            PlainFormat.AppendChunk(hash, c);
        }
        PlainFormat.ComputeChecksum(header, Encoding.ASCII.GetBytes(IdA), hash, header.AsSpan(PlainFormat.OffChecksum));
        return new Sealed(header, chunks);
    }
}
