using Xunit;

namespace OrleansSecureCache.Tests.Keys;

public class KeyMaterialTests
{
    private const string Secret32 = "0123456789abcdef0123456789abcdef";

    [Fact]
    public void Keys_DefaultKey_KnownAnswer()
    {
        // Computed independently with Python's hmac module (RFC 5869 by hand), so a swapped
        // salt/ikm in HKDF.Extract would fail here.
        Assert.Equal(
            "9c8b1122fed1f40325604e4d057bb2b9c0782fa6bf37bf30211c3ecc82e04001",
            Convert.ToHexStringLower(KeyMaterial.DeriveDefaultEncryptionKey(Secret32)));
        Assert.Equal(
            "1d7848d2c2a0f63e3ffaa28ab604e628dc675986084c04201ea8b277d7132d55",
            Convert.ToHexStringLower(KeyMaterial.DeriveDefaultEncryptionKey("django-insecure-éü-secret-key-for-tests-0123456789")));
    }

    [Fact]
    public void Keys_DefaultKey_DeterministicThirtyTwoBytesAndPerSecret()
    {
        byte[] a1 = KeyMaterial.DeriveDefaultEncryptionKey(Secret32);
        byte[] a2 = KeyMaterial.DeriveDefaultEncryptionKey(Secret32);
        byte[] b = KeyMaterial.DeriveDefaultEncryptionKey(Secret32 + "!");
        Assert.Equal(32, a1.Length);
        Assert.Equal(a1, a2);
        Assert.NotSame(a1, a2);
        Assert.NotEqual(a1, b);
    }

    [Fact]
    public void Keys_DefaultKey_ShortSecretMessageHasLengthNotSecret()
    {
        const string shortSecret = "hunter2-hunter2";
        var ex = Assert.Throws<ArgumentException>(() => KeyMaterial.DeriveDefaultEncryptionKey(shortSecret));
        Assert.StartsWith(
            "SecureCache:SecretKey must be at least 32 bytes as UTF-8 (got 15); it is used to derive the cache encryption keys.",
            ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(shortSecret, ex.Message, StringComparison.Ordinal);
        Assert.Equal("secretKey", ex.ParamName);
    }

    [Fact]
    public void Keys_DefaultKey_LengthIsUtf8Bytes()
    {
        // 16 chars of "é" = 32 UTF-8 bytes: accepted. 31 ASCII chars: refused with "got 31".
        Assert.Equal(32, KeyMaterial.DeriveDefaultEncryptionKey(new string('é', 16)).Length);
        var ex = Assert.Throws<ArgumentException>(() => KeyMaterial.DeriveDefaultEncryptionKey(new string('x', 31)));
        Assert.Contains("(got 31)", ex.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentNullException>(() => KeyMaterial.DeriveDefaultEncryptionKey(null!));
        Assert.Equal(32, KeyMaterial.MinSecretKeyBytes);
    }

    [Theory]
    [InlineData(16)]
    [InlineData(24)]
    [InlineData(32)]
    public void Keys_ValueKey_ValidLengthsAccepted(int length) =>
        KeyMaterial.ValidateValueKey(new byte[length], "encryptionKey");

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(15)]
    [InlineData(20)]
    [InlineData(33)]
    [InlineData(64)]
    public void Keys_ValueKey_BadLengthMessageHasLength(int length)
    {
        var ex = Assert.Throws<ArgumentException>(() => KeyMaterial.ValidateValueKey(new byte[length], "encryptionKey"));
        Assert.Equal("encryptionKey", ex.ParamName);
        Assert.StartsWith(
            $"Encryption key must be 16, 24 or 32 bytes; got {length}. Generate one with RandomNumberGenerator.GetBytes(32).",
            ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(16)]
    [InlineData(24)]
    [InlineData(32)]
    public void Keys_DefaultEncryptionKey_DecodesValidLengths(int length)
    {
        byte[] raw = Enumerable.Range(1, length).Select(i => (byte)i).ToArray();
        Assert.Equal(raw, KeyMaterial.DecodeDefaultEncryptionKey(Convert.ToBase64String(raw)));
    }

    [Fact]
    public void Keys_DefaultEncryptionKey_BadLengthMessageHasLength()
    {
        var ex = Assert.Throws<ArgumentException>(() => KeyMaterial.DecodeDefaultEncryptionKey(Convert.ToBase64String(new byte[20])));
        Assert.StartsWith("SecureCache:DefaultEncryptionKey must decode to 16, 24 or 32 bytes (got 20).", ex.Message, StringComparison.Ordinal);
        var empty = Assert.Throws<ArgumentException>(() => KeyMaterial.DecodeDefaultEncryptionKey(""));
        Assert.Contains("(got 0)", empty.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Keys_DefaultEncryptionKey_NotBase64IsClearAndDoesNotEchoInput()
    {
        const string bad = "not*base64*secret!";
        var ex = Assert.Throws<ArgumentException>(() => KeyMaterial.DecodeDefaultEncryptionKey(bad));
        Assert.Contains("SecureCache:DefaultEncryptionKey is not valid base64", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(bad, ex.Message, StringComparison.Ordinal);
        Assert.Null(ex.InnerException);
        Assert.Throws<ArgumentNullException>(() => KeyMaterial.DecodeDefaultEncryptionKey(null!));
    }
}
