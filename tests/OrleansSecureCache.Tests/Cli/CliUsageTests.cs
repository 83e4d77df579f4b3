using Xunit;

namespace OrleansSecureCache.Tests.Cli;

/// <summary>Command lines that make no sense exit with 2, print nothing on standard output, and never touch a cluster.</summary>
public sealed class CliUsageTests : IDisposable
{
    private readonly CliRunner _cli = new();

    public void Dispose() => _cli.Dispose();

    [Theory]
    [InlineData("key")]
    [InlineData("get")]
    [InlineData("set")]
    [InlineData("info")]
    [InlineData("invalidate")]
    [InlineData("memoize", "--", "true")]
    [InlineData("key", "--key", "a", "--json", "\"a\"")]
    [InlineData("key", "--key", "a", "b")]
    [InlineData("key", "--json", "\"a\"", "b")]
    [InlineData("get", "--key", "a", "--json", "\"a\"")]
    [InlineData("key", "--json", "{\"a\": 1}")]
    [InlineData("key", "--json", "[\"a\", 1]")]
    [InlineData("key", "--json", "not json")]
    [InlineData("key", "--encryption-key-hex", "xyz", "--key", "a")]
    [InlineData("key", "--encryption-key-hex", "0011", "--key", "a")]
    [InlineData("get", "--encryption-key-hex", "00112233445566778899aabbccddeeff00", "--key", "a")]
    [InlineData("memoize", "--key", "a", "--ttl", "0", "--", "true")]
    [InlineData("memoize", "--key", "a", "--ttl", "-5", "--", "true")]
    [InlineData("memoize", "--key", "a", "--ttl", "abc", "--", "true")]
    [InlineData("memoize", "--key", "a", "--ttl", "1.5", "--", "true")]
    [InlineData("set", "--key", "a", "--ttl", "soon")]
    [InlineData("memoize", "--key", "a")]
    [InlineData("get", "--key", "a", "--gateway", "no-port")]
    [InlineData("get", "--key", "a", "--gateway", "host:99999")]
    [InlineData("get", "--key", "a", "--connect-timeout", "0")]
    [InlineData("get", "--key", "a", "--no-such-option")]
    [InlineData("frobnicate")]
    [InlineData]
    public async Task UsageErrorsExitWith2(params string[] args)
    {
        var result = await _cli.RunAsync(args);
        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Empty(result.Stdout);
        Assert.NotEmpty(result.Stderr);
        Assert.False(File.Exists(_cli.SecretPath));
    }

    [Theory]
    [InlineData("0011", "got 2")]
    [InlineData("00112233445566778899aabbccddeeff00", "got 17")]
    public async Task BadKeyLengthIsReported(string hex, string expected)
    {
        var result = await _cli.RunAsync("key", "--encryption-key-hex", hex, "--key", "a");
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("16, 24 or 32 bytes", result.Stderr);
        Assert.Contains(expected, result.Stderr);
        Assert.DoesNotContain(hex, result.Stderr);
    }

    [Fact]
    public async Task NoKeySaysHowToGiveOne()
    {
        var result = await _cli.RunAsync("get");
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("--key", result.Stderr);
        Assert.Contains("--json", result.Stderr);
    }

    [Theory]
    [InlineData("key")]
    [InlineData("memoize")]
    [InlineData("get")]
    [InlineData("set")]
    [InlineData("invalidate")]
    [InlineData("info")]
    public async Task EveryVerbHasHelp(string verb)
    {
        var result = await _cli.RunAsync(verb, "--help");
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("Usage:", result.StdoutText);
        Assert.Contains("--key", result.StdoutText);
    }
}
