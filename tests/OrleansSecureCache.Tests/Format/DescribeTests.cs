using System.Text;
using OrleansSecureCache.Format;
using Xunit;
using static OrleansSecureCache.Tests.Format.FormatTestKit;

namespace OrleansSecureCache.Tests.Format;

public class DescribeTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Describe_Ecv1Header_ReportsItsFields(bool compress)
    {
        var entry = Seal(Params(true, compress, chunkSize: 1024), Data(5000));

        var d = EntryDecoder.Describe(entry.Header);

        Assert.NotNull(d);
        Assert.True(d.Encrypted);
        Assert.Equal(compress, d.Compressed);
        Assert.Equal(1008, d.SegmentSize);
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(ExpiresAt), d.ExpiresAt);
        Assert.Equal(EntryVersion, d.VersionId);
        Assert.Null(d.PayloadBytes);
        Assert.Null(d.ChunkCount);
    }

    [Fact]
    public void Describe_PlainHeader_ReportsPayloadLengthAndChunkCount()
    {
        var entry = Seal(Params(false, chunkSize: 1024), Data(5000));

        var d = EntryDecoder.Describe(entry.Header);

        Assert.NotNull(d);
        Assert.False(d.Encrypted);
        Assert.False(d.Compressed);
        Assert.Equal(1024, d.SegmentSize);
        Assert.Equal(5000, d.PayloadBytes);
        Assert.Equal(5, d.ChunkCount);
        Assert.Equal(EntryVersion, d.VersionId);
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(ExpiresAt), d.ExpiresAt);
    }

    [Fact]
    public void Describe_DoesNotCheckExpiryOrVersion()
    {
        var entry = Seal(Params(true, expiresAt: 1), Data(10));

        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(1), EntryDecoder.Describe(entry.Header)!.ExpiresAt);
    }

    [Fact]
    public void Describe_Garbage_ReturnsNull()
    {
        Assert.Null(EntryDecoder.Describe([]));
        Assert.Null(EntryDecoder.Describe(Encoding.UTF8.GetBytes(new string('x', 102))));
        Assert.Null(EntryDecoder.Describe(Encoding.UTF8.GetBytes(new string('x', 77))));
        for (int seed = 0; seed < 500; seed++)
        {
            Assert.Null(EntryDecoder.Describe(RandomBytes(seed % 150, seed)));
        }
    }

    [Fact]
    public void Describe_StructurallyInvalidHeaders_ReturnNull()
    {
        var ecv = Seal(Params(true), Data(10)).Header;
        var plain = Seal(Params(false), Data(10)).Header;

        Assert.Null(EntryDecoder.Describe(ecv[..^1]));
        Assert.Null(EntryDecoder.Describe(plain[..^1]));
        Assert.Null(EntryDecoder.Describe(Edit(ecv, Ecv1.OffSuite, 0x07)));
        Assert.Null(EntryDecoder.Describe(Edit(ecv, Ecv1.OffFlags, 0x04)));
        Assert.Null(EntryDecoder.Describe(Edit(ecv, Ecv1.OffSegmentSize, 0xFF)));
        Assert.Null(EntryDecoder.Describe(Edit(ecv, Ecv1.OffExpiresAt, 0xFF))); // beyond year 9999
        Assert.Null(EntryDecoder.Describe(Edit(plain, PlainFormat.OffChunkCount, 0x01))); // count inconsistent with length
        Assert.Null(EntryDecoder.Describe(Edit(plain, PlainFormat.OffFlags, 0x80)));
    }

    private static byte[] Edit(byte[] header, int offset, byte value)
    {
        var copy = (byte[])header.Clone();
        copy[offset] = value;
        return copy;
    }
}
