using System.Security.Cryptography;
using System.Text;
using Xunit;

namespace OrleansSecureCache.Tests.Keys;

/// <summary>Djblets behaviours K1–K7 (djblets-behaviours.md) and the key-shape pins.</summary>
public class CacheKeyBehaviourTests
{
    private static readonly string[] Site = ["example.com"];
    private static readonly byte[] Key16 = Convert.FromHexString("000102030405060708090a0b0c0d0e0f");
    private static readonly byte[] Key32 = Convert.FromHexString("603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4");

    private static string Hmac(byte[] key, string text) =>
        Convert.ToHexStringLower(HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(text)));

    private static string Sha256Hex(string text) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));

    [Fact]
    public void Keys_K1_PlainKeyUsedAsIs_AfterPrefix()
    {
        Assert.Equal("user%42:profile?x", CacheKeys.MakeCacheKey("user%42:profile?x"));
        Assert.Equal("example.com:user%42:profile?x", CacheKeys.MakeCacheKey("user%42:profile?x", Site));
        Assert.Equal("example.com:/rb/:foo", CacheKeys.MakeCacheKey("foo", ["example.com", "/rb/"]));
        Assert.Equal("foo", CacheKeys.MakeCacheKey("foo", []));
        // Prefix parts are never escaped, even with a multi-part key.
        Assert.Equal("a:b%c:x:y", CacheKeys.MakeCacheKey(new[] { "x", "y" }, ["a:b%c"]));
    }

    [Fact]
    public void Keys_K2_MultiPartEscapesPercentThenColon()
    {
        Assert.Equal("a%3Ab:c%25d", CacheKeys.MakeCacheKey(CacheKey.FromParts("a:b", "c%d")));
        // "%3A" in input is escaped to "%253A", so it cannot pose as an escaped colon.
        Assert.Equal("%253A:%3A", CacheKeys.MakeCacheKey(CacheKey.FromParts("%3A", ":")));
        Assert.NotEqual(
            CacheKeys.MakeCacheKey(CacheKey.FromParts("a:b", "c")),
            CacheKeys.MakeCacheKey(CacheKey.FromParts("a", "b:c")));
        Assert.Equal(":", CacheKeys.MakeCacheKey(CacheKey.FromParts("", "")));
    }

    [Fact]
    public void Keys_K2_SinglePartNotEscaped()
    {
        Assert.Equal("only:one%", CacheKeys.MakeCacheKey(CacheKey.FromParts("only:one%")));
        Assert.Equal("example.com:only:one%", CacheKeys.MakeCacheKey(CacheKey.FromParts("only:one%"), Site));
    }

    [Fact]
    public void Keys_K2_EmptyPartsListGivesPrefixAlone()
    {
        Assert.Equal("example.com", CacheKeys.Normalize(CacheKey.FromParts(), Site));
        Assert.Equal("example.com:", CacheKeys.Normalize(CacheKey.Of(""), Site));
        Assert.Equal("", CacheKeys.Normalize(CacheKey.FromParts(), null));
    }

    [Fact]
    public void Keys_K3_ControlCharsEscaped()
    {
        Assert.Equal(@"a\x00b\x09c\x0ad\x20e\x7ff\x1f", CacheKeys.MakeCacheKey("a\0b\tc\nd e\u007ff\u001f"));
        // U+0080 and above are left alone; so is a literal backslash (which can collide: B-note in vectors).
        Assert.Equal("a\u0080b\\x20", CacheKeys.MakeCacheKey("a\u0080b\\x20"));
        Assert.Equal(CacheKeys.MakeCacheKey("a b"), CacheKeys.MakeCacheKey(@"a\x20b"));
        // Escaping applies to the prefix too, after joining.
        Assert.Equal(@"my\x20site:k", CacheKeys.MakeCacheKey("k", ["my site"]));
    }

    [Fact]
    public void Keys_K4_LongKeysTruncatedWithSha256()
    {
        string k240 = new('a', 240);
        Assert.Equal(k240, CacheKeys.MakeCacheKey(k240));

        string k241 = new('a', 241);
        string expected = new string('a', 176) + Sha256Hex(k241);
        Assert.Equal(expected, CacheKeys.MakeCacheKey(k241));
        Assert.Equal(240, CacheKeys.MakeCacheKey(k241).Length);

        // The digest is over the escaped key, and escaping counts toward the limit.
        string spaces = new string('a', 60) + new string(' ', 60);
        string escaped = new string('a', 60) + string.Concat(Enumerable.Repeat(@"\x20", 60));
        Assert.Equal(escaped[..176] + Sha256Hex(escaped), CacheKeys.MakeCacheKey(spaces));
    }

    [Fact]
    public void Keys_K4_CountsScalarValuesNotUtf16Units()
    {
        // 240 emoji = 480 UTF-16 units, still 240 scalars: kept as is (vector emoji-240).
        string e240 = string.Concat(Enumerable.Repeat("😀", 240));
        Assert.Equal(e240, CacheKeys.MakeCacheKey(e240));

        // 241 emoji: 176 whole emoji (352 units) then the digest; no surrogate pair is split.
        // Expected digests computed with Python's hashlib over the same text.
        string e241 = string.Concat(Enumerable.Repeat("😀", 241));
        string r = CacheKeys.MakeCacheKey(e241);
        Assert.Equal(
            string.Concat(Enumerable.Repeat("😀", 176)) + "dcdcc54b7aacda5ca481cad7d0649f0300b0b1655355103c959e4a1093a6628f",
            r);
        Assert.Equal(240, r.EnumerateRunes().Count());

        string mixed = "é" + string.Concat(Enumerable.Repeat("😀", 240));
        Assert.Equal(
            "é" + string.Concat(Enumerable.Repeat("😀", 175)) + "8d85ca0066e5603b6707f17dbba1761db2ebcd8f75a1bee6083bf8c1d8ff75a2",
            CacheKeys.MakeCacheKey(mixed));
    }

    [Fact]
    public void Keys_LoneSurrogates_DoNotCrash_AndHashAsReplacementChar()
    {
        // Encoding.UTF8 turns each lone surrogate into U+FFFD; each counts as one scalar value.
        Assert.Equal("a\uD800b", CacheKeys.MakeCacheKey("a\uD800b"));
        Assert.Equal(Hmac(Key16, "a\uFFFDb"), CacheKeys.MakeCacheKey("a\uD800b", null, true, Key16));
        Assert.Equal(Hmac(Key16, "x\uFFFD"), CacheKeys.MakeCacheKey("x\uDC00", null, true, Key16));

        string lone = new('\uD800', 300);
        string r = CacheKeys.MakeCacheKey(lone);
        Assert.Equal(new string('\uD800', 176) + Sha256Hex(new string('\uFFFD', 300)), r);

        // A high surrogate at the cut, followed by a non-surrogate: still one scalar.
        string edge = new string('a', 175) + "\uD83D" + new string('b', 100);
        Assert.Equal(edge[..176] + Sha256Hex(edge), CacheKeys.MakeCacheKey(edge));
    }

    [Fact]
    public void Keys_K5_EncryptedIsHmacHex()
    {
        string r = CacheKeys.MakeCacheKey("abc123", Site, useEncryption: true, encryptionKey: Key16);
        Assert.Equal(Hmac(Key16, "example.com:abc123"), r);
        Assert.Matches("^[0-9a-f]{64}$", r);

        // No escaping or truncation first: the HMAC is over the raw joined text.
        string longWithSpaces = new string(' ', 500);
        Assert.Equal(Hmac(Key16, longWithSpaces), CacheKeys.MakeCacheKey(longWithSpaces, null, true, Key16));
        Assert.Equal(Hmac(Key16, "a%3Ab:c"), CacheKeys.MakeCacheKey(CacheKey.FromParts("a:b", "c"), null, true, Key16));
    }

    [Fact]
    public void Keys_K5_DjbletsVector()
    {
        // Djblets' own test: HMAC(b"0123456789abcdef", "example.com:abc123") = 10c4714f…52f9.
        string r = CacheKeys.MakeCacheKey("abc123", Site, true, "0123456789abcdef"u8);
        Assert.StartsWith("10c4714f", r, StringComparison.Ordinal);
        Assert.EndsWith("52f9", r, StringComparison.Ordinal);
        Assert.Equal(64, r.Length);
    }

    [Fact]
    public void Keys_K6_OtherEncryptionKeyOtherDigest()
    {
        string a = CacheKeys.MakeCacheKey("user:42", Site, true, Key16);
        string b = CacheKeys.MakeCacheKey("user:42", Site, true, Key32);
        Assert.NotEqual(a, b);
        Assert.Equal(a, CacheKeys.MakeCacheKey("user:42", Site, true, Key16));
        // Key material is ignored when encryption is off.
        Assert.Equal("example.com:user:42", CacheKeys.MakeCacheKey("user:42", Site, false, Key16));
    }

    [Fact]
    public void Keys_K7_UnicodeInBothModes()
    {
        const string key = "café 🎉 中";
        Assert.Equal(@"example.com:café\x20🎉\x20中", CacheKeys.MakeCacheKey(key, Site));
        Assert.Equal(Hmac(Key32, "example.com:café 🎉 中"), CacheKeys.MakeCacheKey(key, Site, true, Key32));
        Assert.Equal("café:🎉%3A中", CacheKeys.MakeCacheKey(CacheKey.FromParts("café", "🎉:中")));
    }

    [Fact]
    public void Keys_B21_NormalizationAmbiguityIsKeptForDjbletsParity()
    {
        // Known and documented (crypto-format §a.2): user input belongs in separate parts.
        Assert.Equal("example.com:a:b", CacheKeys.MakeCacheKey("a:b", Site));
        Assert.Equal("example.com:a:b", CacheKeys.MakeCacheKey(CacheKey.FromParts("a", "b"), Site));
        Assert.Equal("example.com:a:b", CacheKeys.MakeCacheKey(CacheKey.FromParts("a:b"), Site));
        Assert.Equal(
            CacheKeys.MakeCacheKey("a:b", Site, true, Key16),
            CacheKeys.MakeCacheKey(CacheKey.FromParts("a", "b"), Site, true, Key16));
    }

    [Fact]
    public void Keys_EncryptedDigestNeverContainsPlaintextKey()
    {
        string[] secrets = ["user:42:profile", "alice@example.com", "café 🎉 中", "ssn-123-45-6789", new string('z', 1000)];
        foreach (string s in secrets)
        {
            string r = CacheKeys.MakeCacheKey(s, Site, true, Key32);
            Assert.Matches("^[0-9a-f]{64}$", r);
            Assert.DoesNotContain(s, r, StringComparison.OrdinalIgnoreCase);
            Assert.DoesNotContain("example.com", r, StringComparison.OrdinalIgnoreCase);
            string rp = CacheKeys.MakeCacheKey(CacheKey.FromParts("user", s), Site, true, Key32);
            Assert.DoesNotContain(s, rp, StringComparison.OrdinalIgnoreCase);
        }
    }

    [Fact]
    public void Keys_EncryptionWithoutKeyMaterial_Throws()
    {
        var ex = Assert.Throws<ArgumentException>(() => CacheKeys.MakeCacheKey("foo", Site, useEncryption: true));
        Assert.Equal("encryptionKey", ex.ParamName);
        Assert.Contains("key material is required", ex.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => CacheKeys.MakeCacheKey("foo", null, true, Array.Empty<byte>()));
    }

    [Fact]
    public void Keys_AnyNonEmptyHmacKeyLengthAccepted()
    {
        Assert.Equal(Hmac([7], "foo"), CacheKeys.MakeCacheKey("foo", null, true, new byte[] { 7 }));
        byte[] big = new byte[200];
        Assert.Equal(Hmac(big, "foo"), CacheKeys.MakeCacheKey("foo", null, true, big));
    }

    [Fact]
    public void Keys_DefaultCacheKey_IsRejected()
    {
        var ex = Assert.Throws<ArgumentException>(() => CacheKeys.MakeCacheKey(default));
        Assert.Equal("key", ex.ParamName);
        Assert.Contains("CacheKey is default/uninitialized", ex.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => CacheKeys.Normalize(default, Site));
        Assert.Throws<ArgumentException>(() => CacheKeys.MakeCacheKey(default, null, true, Key16));
    }

    [Fact]
    public void Keys_NullPrefixPart_Throws()
    {
        var ex = Assert.Throws<ArgumentNullException>(() => CacheKeys.Normalize("k", ["a", null!]));
        Assert.Equal("prefix", ex.ParamName);
        Assert.Contains("index 1", ex.Message, StringComparison.Ordinal);
    }
}
