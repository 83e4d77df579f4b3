using Xunit;
using System.Security.Cryptography;
using System.Text;
using OrleansSecureCache.Format;
using static OrleansSecureCache.Tests.Format.FormatTestKit;

namespace OrleansSecureCache.Tests.Format;

/// <summary>crypto-format.md §a.9, byte for byte.</summary>
public class Ecv1KnownAnswerTests
{
    private static readonly byte[] M = Enumerable.Range(0x00, 32).Select(i => (byte)i).ToArray();
    private static readonly byte[] Salt = Enumerable.Range(0x20, 32).Select(i => (byte)i).ToArray();
    private static readonly Guid KatVersion = new(Enumerable.Range(0x40, 16).Select(i => (byte)i).ToArray(), bigEndian: true);
    private const long KatExpiresAt = 1735689600;
    private static readonly byte[] KatPlaintext = "hello, encrypted cache!"u8.ToArray();

    private const string ExpectedId = "fb861f3b0f92717bbdd1aed6b0f1bfbd318a48c8789f2c7ecb143f790f0f0406";
    private const string ExpectedValueKey = "132444929a3e3818f8e3f79256fef87146470029f86777286a19686aed0d3de1";
    private const string ExpectedHeader =
        "4543560101000000001000000000202122232425262728292a2b2c2d2e2f3031" +
        "32333435363738393a3b3c3d3e3f0000000067748580404142434445464748494a" +
        "4b4c4d4e4f4ab011291eec19fcd837dc1437636d7a67669a0dc169436c51bd7ea5" +
        "1fb7e2e2";
    private const string ExpectedChunk0 = "01fe99566be52646ed2e1fe6c02a621efceec543d11d785c3dfb459503eb97cf";
    private const string ExpectedChunk1 = "738ea5fe9903095de615c71edc8fa424ee957747253237";

    private static string KatId()
        => Convert.ToHexStringLower(HMACSHA256.HashData(M, Encoding.UTF8.GetBytes("example.com:report:42")));

    private static EntryParams KatParams() => new(KatId(), KatVersion, KatExpiresAt, ChunkSize: 32, Compress: false, M);

    [Fact]
    public void Ecv1_KnownAnswer_GrainIdIsHmacOfNormalizedKey() => Assert.Equal(ExpectedId, KatId());

    [Fact]
    public void Ecv1_KnownAnswer_ValueKeyMatchesSpec_A9()
        => Assert.Equal(ExpectedValueKey, Convert.ToHexStringLower(Ecv1.DeriveValueKey(M, keyId: 0)));

    [Fact]
    public void Ecv1_KnownAnswer_MatchesSpec_A9()
    {
        var sealedEntry = Seal(KatParams(), KatPlaintext, salt: Salt);

        Assert.Equal(ExpectedHeader, Convert.ToHexStringLower(sealedEntry.Header));
        Assert.Equal(2, sealedEntry.Chunks.Count);
        Assert.Equal(ExpectedChunk0, Convert.ToHexStringLower(sealedEntry.Chunks[0]));
        Assert.Equal(ExpectedChunk1, Convert.ToHexStringLower(sealedEntry.Chunks[1]));
    }

    [Fact]
    public void Ecv1_KnownAnswer_OpensToThePlaintext()
    {
        var limits = new DecodeLimits(1 << 20, TimeSpan.FromDays(30), TimeSpan.FromMinutes(5));
        var result = EntryDecoder.Open(FromHex(ExpectedHeader), [FromHex(ExpectedChunk0), FromHex(ExpectedChunk1)],
            ExpectedId, KatVersion, M, limits, DateTimeOffset.FromUnixTimeSeconds(KatExpiresAt - 86_400));

        Assert.Equal(MissReason.None, result.Miss);
        Assert.Equal(KatPlaintext, result.Plaintext);
    }

    [Fact]
    public void Ecv1_KnownAnswer_ByteWiseWritesGiveTheSameEntry()
    {
        var sealedEntry = Seal(KatParams(), KatPlaintext, writeSize: 1, salt: Salt);

        Assert.Equal(ExpectedHeader, Convert.ToHexStringLower(sealedEntry.Header));
        Assert.Equal([ExpectedChunk0, ExpectedChunk1], sealedEntry.Chunks.Select(Convert.ToHexStringLower));
    }
}
