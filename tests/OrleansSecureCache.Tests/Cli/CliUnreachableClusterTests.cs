using System.Diagnostics;
using Xunit;

namespace OrleansSecureCache.Tests.Cli;

/// <summary>Nothing listens on 127.0.0.1:1: direct verbs exit 4 quickly; memoize runs its command without the cache.</summary>
public sealed class CliUnreachableClusterTests : IDisposable
{
    private static readonly string[] Unreachable = ["--gateway", "127.0.0.1:1", "--connect-timeout", "2"];
    private readonly CliRunner _cli = new();

    public void Dispose() => _cli.Dispose();

    [Theory]
    [InlineData("get")]
    [InlineData("set")]
    [InlineData("invalidate")]
    [InlineData("info")]
    public async Task DirectVerbsExitWith4(string verb)
    {
        var watch = Stopwatch.StartNew();
        var result = await _cli.RunWithInputAsync("value"u8.ToArray(), [verb, "--key", "k", .. Unreachable]);
        watch.Stop();

        Assert.True(result.ExitCode == 4, result.ToString());
        Assert.Empty(result.Stdout);
        Assert.Contains("could not be reached", result.Stderr);
        Assert.Contains("127.0.0.1:1", result.Stderr);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(15), $"took {watch.Elapsed}");
    }

    [Fact]
    public async Task ConnectTimeoutFromConfiguration()
    {
        _cli.Variables["Osc__Gateways__0"] = "127.0.0.1:1";
        _cli.Variables["Osc__ConnectTimeout"] = "00:00:01";
        var result = await _cli.RunAsync("get", "--key", "k");
        Assert.Equal(4, result.ExitCode);
        Assert.Contains("127.0.0.1:1 within 1 s", result.Stderr);
    }

    [Fact]
    public async Task OscGatewayReplacesTheConfiguredList()
    {
        _cli.Variables["Osc__Gateways__0"] = "127.0.0.1:2";
        _cli.Variables["Osc__Gateway"] = "127.0.0.1:1, 127.0.0.1:3";
        var result = await _cli.RunAsync("info", "--key", "k", "--connect-timeout", "1");
        Assert.Equal(4, result.ExitCode);
        Assert.Contains("at 127.0.0.1:1, 127.0.0.1:3 within", result.Stderr);
        Assert.DoesNotContain("127.0.0.1:2", result.Stderr);
    }

    [Fact]
    public async Task MemoizeRunsTheCommand()
    {
        var result = await _cli.RunAsync(["memoize", "--key", "k", .. Unreachable, "--", "/bin/sh", "-c", "echo hi"]);
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal("hi\n"u8.ToArray(), result.Stdout);
        Assert.Contains("without the cache", result.Stderr);
    }

    [Fact]
    public async Task MemoizeReturnsTheCommandsExitCodeAndItsOutput()
    {
        var result = await _cli.RunAsync(["memoize", "--key", "k", .. Unreachable, "--", "/bin/sh", "-c", "printf partial; exit 7"]);
        Assert.Equal(7, result.ExitCode);
        Assert.Equal("partial"u8.ToArray(), result.Stdout);
    }

    [Fact]
    public async Task MemoizeOfAMissingProgramExitsWith127()
    {
        var result = await _cli.RunAsync(["memoize", "--key", "k", .. Unreachable, "--", "/no/such/program"]);
        Assert.Equal(127, result.ExitCode);
        Assert.Contains("/no/such/program", result.Stderr);
    }

    [Fact]
    public async Task MemoizeOutputIsByteForByte()
    {
        // Binary output larger than one block, with every byte value.
        var result = await _cli.RunAsync(["memoize", "--key", "k", .. Unreachable, "--", "/bin/sh", "-c",
            "i=0; while [ $i -lt 700 ]; do printf '\\000\\001\\377\\n\\r'; i=$((i+1)); done; head -c 200000 /dev/zero"]);
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal(700 * 5 + 200000, result.Stdout.Length);
        Assert.Equal(new byte[] { 0, 1, 255, (byte)'\n', (byte)'\r' }, result.Stdout[..5]);
    }
}
