using OrleansSecureCache.Format;
using Xunit;
using static OrleansSecureCache.Tests.Format.FormatTestKit;

namespace OrleansSecureCache.Tests.Format;

public class EntryEncoderTests
{
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Encoder_HoldsOneFullSegmentBack_UntilMoreDataOrComplete(bool encrypted)
    {
        var p = Params(encrypted, chunkSize: 64);
        int s = encrypted ? 48 : 64;
        using var encoder = EntryEncoder.Create(p);

        encoder.Write(Data(s));
        Assert.False(encoder.TryTakeChunk(out _)); // might be the last segment

        encoder.Write(Data(1));
        Assert.True(encoder.TryTakeChunk(out var first));
        Assert.Equal(64, first.Length);
        Assert.False(encoder.TryTakeChunk(out _));

        encoder.Write(Data(3 * s)); // big write: sealed straight from the span, one segment held back
        Assert.True(encoder.TryTakeChunk(out _));
        Assert.True(encoder.TryTakeChunk(out _));
        Assert.True(encoder.TryTakeChunk(out _));
        Assert.False(encoder.TryTakeChunk(out _));

        encoder.Complete();
        Assert.True(encoder.TryTakeChunk(out var last));
        Assert.Equal(1 + (encrypted ? 16 : 0), last.Length);
        Assert.False(encoder.TryTakeChunk(out _));
    }

    [Theory]
    [InlineData(true, false)]
    [InlineData(true, true)]
    [InlineData(false, false)]
    [InlineData(false, true)]
    public void Encoder_PlaintextBytes_CountsUncompressedInput(bool encrypted, bool compress)
    {
        using var encoder = EntryEncoder.Create(Params(encrypted, compress));
        encoder.Write(new byte[1000]);
        encoder.Write(new byte[234]);

        Assert.Equal(1234, encoder.PlaintextBytes);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Encoder_EmptyPayload_GivesOneChunk(bool encrypted)
    {
        var entry = Seal(Params(encrypted), ReadOnlySpan<byte>.Empty);

        Assert.Single(entry.Chunks);
        Assert.Equal(encrypted ? 16 : 0, entry.Chunks[0].Length);
        Assert.Equal(encrypted ? Ecv1.HeaderSize : PlainFormat.HeaderSize, entry.Header.Length);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Encoder_WriteOrCompleteAfterComplete_Throws(bool encrypted)
    {
        using var encoder = EntryEncoder.Create(Params(encrypted));
        encoder.Write(Data(10));
        encoder.Complete();

        Assert.Throws<InvalidOperationException>(() => encoder.Write(Data(1)));
        Assert.Throws<InvalidOperationException>(() => encoder.Complete());
    }

    [Fact]
    public void Encoder_AfterDispose_Throws_AndDisposeTwiceIsFine()
    {
        var encoder = EntryEncoder.Create(Params(true, compress: true));
        encoder.Write(Data(500));
        encoder.Dispose();
        encoder.Dispose();

        Assert.Throws<ObjectDisposedException>(() => encoder.Write(Data(1)));
        Assert.Throws<ObjectDisposedException>(() => encoder.Complete());
    }

    private static EntryParams BadParams(string why) => why switch
    {
        "empty id" => Params(true, id: ""),
        "lone surrogate id" => Params(true, id: "a\ud800b"),
        "key of 20 bytes" => Params(true, key: new byte[20]),
        "encrypted chunk too small" => Params(true, chunkSize: 31),
        "encrypted chunk too big" => Params(true, chunkSize: Ecv1.DefaultChunkSize + 1),
        "plain chunk too small" => Params(false, chunkSize: 15),
        "plain chunk too big" => Params(false, chunkSize: Ecv1.DefaultChunkSize + 1),
        "negative expiry" => Params(true, expiresAt: -1),
        "expiry past year 9999" => Params(true, expiresAt: 253_402_300_800),
        _ => throw new ArgumentOutOfRangeException(nameof(why)),
    };

    [Theory]
    [InlineData("empty id")]
    [InlineData("lone surrogate id")]
    [InlineData("key of 20 bytes")]
    [InlineData("encrypted chunk too small")]
    [InlineData("encrypted chunk too big")]
    [InlineData("plain chunk too small")]
    [InlineData("plain chunk too big")]
    [InlineData("negative expiry")]
    [InlineData("expiry past year 9999")]
    public void Encoder_InvalidParameters_ThrowArgumentExceptions(string why)
    {
        var p = BadParams(why);
        Assert.ThrowsAny<ArgumentException>(() => EntryEncoder.Create(p));
    }

    [Fact]
    public void Encoder_TestSaltOfWrongLength_Throws()
        => Assert.Throws<ArgumentException>(() => EntryEncoder.CreateForTest(Params(true), new byte[16]));

    [Fact]
    public void Encoder_ExtremeChunkSizes_RoundTrip()
    {
        var data = Data(100);
        foreach (var (encrypted, chunkSize) in new[] { (true, 32), (false, 16) })
        {
            var entry = Seal(Params(encrypted, chunkSize: chunkSize), data);
            Assert.Equal(7, entry.Chunks.Count);
            Assert.Equal(data, Open(entry, encrypted).Plaintext);
        }
    }
}

public class ValueKeyCacheTests
{
    [Fact]
    public void ValueKeyCache_ReturnsTheDerivedKey_AcrossMoreKeysThanItHolds()
    {
        for (int i = 0; i < 200; i++)
        {
            var key = RandomBytes(32, seed: 1000 + i);
            Assert.Equal(Ecv1.DeriveValueKey(key, 0), Ecv1.GetValueKey(key).ToArray());
            Assert.Equal(Ecv1.DeriveValueKey(key, 0), Ecv1.GetValueKey(key).ToArray());
        }
    }

    [Fact]
    public void ValueKey_DependsOnKeyIdAndEveryKeyLength()
    {
        var key = RandomBytes(32, seed: 1);
        Assert.NotEqual(Ecv1.DeriveValueKey(key, 0), Ecv1.DeriveValueKey(key, 1));
        Assert.NotEqual(Ecv1.GetValueKey(key[..16]).ToArray(), Ecv1.GetValueKey(key[..24]).ToArray());
    }
}
