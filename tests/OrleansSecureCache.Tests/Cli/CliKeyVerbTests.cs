using System.Security.Cryptography;
using System.Text;
using Xunit;

namespace OrleansSecureCache.Tests.Cli;

/// <summary>The <c>key</c> verb needs no cluster: its output must equal <see cref="CacheKeys.MakeCacheKey"/>.</summary>
public sealed class CliKeyVerbTests : IDisposable
{
    private const string Hex32 = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
    private readonly CliRunner _cli = new();

    public void Dispose() => _cli.Dispose();

    private async Task<string> KeyAsync(params string[] args)
    {
        var result = await _cli.RunAsync(["key", .. args]);
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.EndsWith("\n", result.StdoutText);
        Assert.Equal(1, result.StdoutText.Count(c => c == '\n'));
        return result.StdoutText[..^1];
    }

    [Fact]
    public async Task PlainKey()
    {
        Assert.Equal(CacheKeys.MakeCacheKey(CacheKey.Of("a:b")), await KeyAsync("--key", "a:b"));
        Assert.Equal("a:b", await KeyAsync("--key", "a:b"));
        Assert.Equal("a:b", await KeyAsync("a:b"));
    }

    [Fact]
    public async Task MultiPartKey()
    {
        var expected = CacheKeys.MakeCacheKey(CacheKey.FromParts("a:b", "50%", "c"));
        Assert.Equal("a%3Ab:50%25:c", expected);
        Assert.Equal(expected, await KeyAsync("--key", "a:b", "--key", "50%", "--key", "c"));
        Assert.Equal(expected, await KeyAsync("a:b", "50%", "c"));
    }

    [Fact]
    public async Task JsonKey()
    {
        Assert.Equal(CacheKeys.MakeCacheKey(CacheKey.Of("tab\there")), await KeyAsync("--json", "\"tab\\there\""));
        Assert.Equal(
            CacheKeys.MakeCacheKey(CacheKey.FromParts("x", "--key", "\u00e9:\n")),
            await KeyAsync("--json", "[\"x\", \"--key\", \"\\u00e9:\\n\"]"));
        Assert.Equal(CacheKeys.MakeCacheKey(CacheKey.FromParts(), ["p"]), await KeyAsync("--prefix", "p", "--json", "[]"));
    }

    [Fact]
    public async Task Prefix()
    {
        Assert.Equal(
            CacheKeys.MakeCacheKey(CacheKey.FromParts("a", "b"), ["example.com", "/root/"]),
            await KeyAsync("--prefix", "example.com", "--prefix", "/root/", "--key", "a", "--key", "b"));
    }

    [Fact]
    public async Task PrefixOnTheCommandLineReplacesTheConfiguredOne()
    {
        _cli.Variables["SecureCache__KeyPrefix__0"] = "configured";
        Assert.Equal("configured:k", await KeyAsync("--key", "k"));
        Assert.Equal("given:k", await KeyAsync("--key", "k", "--prefix", "given"));
    }

    [Fact]
    public async Task EncryptionKeyHex()
    {
        var material = Convert.FromHexString(Hex32);
        var expected = CacheKeys.MakeCacheKey(CacheKey.FromParts("a", "b"), ["p"], true, material);
        Assert.Equal(expected, await KeyAsync("--encrypt", "--encryption-key-hex", Hex32, "--prefix", "p", "--key", "a", "--key", "b"));

        // The hex key alone implies encryption, and needs no secret: no per-user file appears.
        Assert.Equal(expected, await KeyAsync("--encryption-key-hex", Hex32.ToUpperInvariant(), "--prefix", "p", "a", "b"));
        Assert.False(File.Exists(_cli.SecretPath));
    }

    [Theory]
    [InlineData(16)]
    [InlineData(24)]
    public async Task ShorterValueKeys(int bytes)
    {
        var material = RandomNumberGenerator.GetBytes(bytes);
        Assert.Equal(
            CacheKeys.MakeCacheKey(CacheKey.Of("k"), null, true, material),
            await KeyAsync("--encryption-key-hex", Convert.ToHexString(material), "--key", "k"));
    }

    [Fact]
    public async Task EncryptWithConfiguredSecret()
    {
        const string secret = "a configured secret of at least thirty-two bytes";
        _cli.Variables["SecureCache__SecretKey"] = secret;
        var expected = CacheKeys.MakeCacheKey(CacheKey.Of("k"), null, true, KeyMaterial.DeriveDefaultEncryptionKey(secret));
        Assert.Equal(expected, await KeyAsync("--encrypt", "--key", "k"));
        Assert.False(File.Exists(_cli.SecretPath));
    }

    [Fact]
    public async Task EncryptWithoutSecretCreatesThePerUserFileAndReusesIt()
    {
        Assert.Equal("k", await KeyAsync("--key", "k"));
        Assert.False(File.Exists(_cli.SecretPath)); // not created when encryption is not needed

        var first = await KeyAsync("--encrypt", "--key", "k");
        Assert.True(File.Exists(_cli.SecretPath));
        var secret = File.ReadAllText(_cli.SecretPath).TrimEnd('\n');
        Assert.Equal(CacheKeys.MakeCacheKey(CacheKey.Of("k"), null, true, KeyMaterial.DeriveDefaultEncryptionKey(secret)), first);
        Assert.Equal(first, await KeyAsync("--encrypt", "--key", "k"));
    }

    [Fact]
    public async Task ForcedEncryptionFromConfiguration()
    {
        _cli.Variables["SecureCache__ForceEncryption"] = "true";
        var key = await KeyAsync("--key", "k");
        Assert.Matches("^[0-9a-f]{64}$", key);
        Assert.True(File.Exists(_cli.SecretPath));
    }

    [Fact]
    public async Task DefaultEncryptionKeyFromConfiguration()
    {
        var material = RandomNumberGenerator.GetBytes(32);
        _cli.Variables["SecureCache__DefaultEncryptionKey"] = Convert.ToBase64String(material);
        Assert.Equal(CacheKeys.MakeCacheKey(CacheKey.Of("k"), null, true, material), await KeyAsync("--encrypt", "--key", "k"));
    }

    [Fact]
    public async Task SecretTooShortIsAConfigurationErrorThatDoesNotPrintIt()
    {
        _cli.Variables["SecureCache__SecretKey"] = "short-secret-value";
        var result = await _cli.RunAsync("key", "--encrypt", "--key", "k");
        Assert.Equal(1, result.ExitCode);
        Assert.Empty(result.Stdout);
        Assert.Contains("at least 32 bytes", result.Stderr);
        Assert.DoesNotContain("short-secret-value", result.Stderr);
    }

    [Fact]
    public async Task OutputIsUtf8()
    {
        var result = await _cli.RunAsync("key", "--key", "clé");
        Assert.Equal(Encoding.UTF8.GetBytes("clé\n"), result.Stdout);
    }
}
