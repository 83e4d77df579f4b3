using OrleansSecureCache.Bench;
using Xunit;

namespace OrleansSecureCache.Tests.Bench;

/// <summary>
/// The benchmark harness runs end to end (--quick): every system, every scenario, a table each. The figures
/// themselves are never checked: on a shared 2-core machine they only mean something from a full run.
/// </summary>
public sealed class BenchHarnessTests
{
    private static readonly string[] Systems =
    [
        "osc-1silo-enc", "osc-1silo-plain", "osc-3silo-enc", "osc-3silo-plain", "osc-tcp-enc", "osc-tcp-plain",
        "hybrid-remote", "hybrid-local", "fusion-redis", "redis-raw",
    ];

    private static readonly string[] ScenarioNames = ["cpu", "hit", "miss", "large", "stampede", "encryption-cost"];

    [SkippableFact]
    public async Task Quick_RunsEveryScenarioAgainstEverySystem_AndWritesATableEach()
    {
        Skip.If(!OnPath("redis-server"), "redis-server is not installed (Debian: apt-get install redis-server): the harness compares this cache with Redis-backed caches.");
        var dir = Directory.CreateTempSubdirectory("osc-bench-test-").FullName;
        try
        {
            var output = new StringWriter();
            var log = new StringWriter();
            using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2.5));
            var code = await BenchProgram.RunAsync(["--quick", "--out", dir], output, log, timeout.Token);

            Assert.True(code == 0, $"exit code {code}; log:\n{log}");
            var text = output.ToString();
            var ran = text.Split('\n').Single(l => l.StartsWith("systems run: ", StringComparison.Ordinal));
            Assert.Equal(Systems.Order(StringComparer.Ordinal), ran["systems run: ".Length..].Trim().Split(", "));
            foreach (var scenario in ScenarioNames)
            {
                var file = Assert.Single(Directory.GetFiles(dir, $"*-{scenario}.md"));
                var table = File.ReadAllText(file);
                Assert.Contains($"### {scenario}:", table);
                Assert.Contains("| --- |", table);
                Assert.Contains("commit `", table);
            }

            // Each scenario that runs against systems has a row for every one of them.
            var hit = File.ReadAllText(Assert.Single(Directory.GetFiles(dir, "*-hit.md")));
            var stampede = File.ReadAllText(Assert.Single(Directory.GetFiles(dir, "*-stampede.md")));
            Assert.All(Systems, s =>
            {
                Assert.Contains($"| 64 | {s} |", hit);
                Assert.Contains($"| {s} |", stampede);
            });
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task UnknownNames_EndWithAClearMessage_AndExitCode2()
    {
        var log = new StringWriter();
        Assert.Equal(2, await BenchProgram.RunAsync(["--quick", "--system", "memcached"], TextWriter.Null, log));
        Assert.Contains("unknown system 'memcached'", log.ToString());

        log = new StringWriter();
        Assert.Equal(2, await BenchProgram.RunAsync(["--scenario", "nope"], TextWriter.Null, log));
        Assert.Contains("unknown scenario 'nope'", log.ToString());
    }

    private static bool OnPath(string program) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Any(dir => File.Exists(Path.Combine(dir, program)));
}
