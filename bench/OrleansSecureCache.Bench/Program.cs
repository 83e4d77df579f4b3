using System.Diagnostics;
using System.Globalization;

namespace OrleansSecureCache.Bench;

/// <summary>
/// The benchmark harness: every selected scenario against every selected system in one invocation.
/// <c>--quick</c> runs everything tiny; <c>--scenario NAME</c> and <c>--system NAME</c> (repeatable, or comma
/// separated; a system family such as <c>osc</c> or <c>osc-tcp</c> selects all of it) filter; <c>--out DIR</c>
/// changes where the tables are written (default <c>bench/results</c>; with --quick a temporary folder).
/// </summary>
public static class BenchProgram
{
    public static async Task<int> Main(string[] args)
    {
        using var interrupt = new CancellationTokenSource();
        ConsoleCancelEventHandler onCancel = (_, e) =>
        {
            // Let the finally blocks stop Redis and the silos.
            e.Cancel = true;
            Console.Error.WriteLine("interrupted: stopping what was started ...");
            interrupt.Cancel();
        };
        Console.CancelKeyPress += onCancel;
        try
        {
            return await RunAsync(args, Console.Out, Console.Error, interrupt.Token).ConfigureAwait(false);
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
        }
    }

    /// <summary>The whole harness; returns the exit code (0 done, 2 usage or set-up error, 1 a system failed, 130 interrupted).</summary>
    public static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter log, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(log);
        Arguments parsed;
        try
        {
            parsed = Arguments.Parse(args);
        }
        catch (BenchException ex)
        {
            log.WriteLine(ex.Message);
            log.WriteLine(Arguments.Usage);
            return 2;
        }

        if (parsed.Help)
        {
            output.WriteLine(Arguments.Usage);
            return 0;
        }

        var root = RepositoryRoot();
        var info = new RunInfo(GitCommit(root), Environment.ProcessorCount, DateTimeOffset.UtcNow, parsed.Quick, new Plan(parsed.Quick).Rounds);
        var outDir = parsed.OutDir ?? (parsed.Quick ? Path.Combine(Path.GetTempPath(), "osc-bench-quick") : Path.Combine(root ?? Directory.GetCurrentDirectory(), "bench", "results"));
        Directory.CreateDirectory(outDir);
        log.WriteLine($"scenarios: {string.Join(", ", parsed.Scenarios)}; systems: {string.Join(", ", parsed.Systems)}; tables to {outDir}");

        var tables = new List<Table>();
        var catalog = new SystemCatalog(log);
        var results = new Results();
        try
        {
            if (parsed.Scenarios.Contains("cpu"))
            {
                // First, before any cluster or Redis competes for the cores.
                Emit(CpuScenario.Run(parsed.Quick, log));
            }

            var remote = parsed.Scenarios.Where(s => s != "cpu").ToList();
            if (remote.Count > 0)
            {
                await catalog.StartAsync(parsed.Systems, cancellationToken).ConfigureAwait(false);
                var scenarios = new Scenarios(new Plan(parsed.Quick), catalog.Systems, results, log, cancellationToken);
                foreach (var name in remote)
                {
                    var watch = Stopwatch.StartNew();
                    Emit(name switch
                    {
                        "hit" => await scenarios.HitAsync().ConfigureAwait(false),
                        "miss" => await scenarios.MissAsync().ConfigureAwait(false),
                        "large" => await scenarios.LargeAsync().ConfigureAwait(false),
                        "stampede" => await scenarios.StampedeAsync().ConfigureAwait(false),
                        "encryption-cost" => await scenarios.EncryptionCostAsync().ConfigureAwait(false),
                        _ => throw new BenchException($"unknown scenario {name}"),
                    });
                    log.WriteLine($"{name}: {watch.Elapsed.TotalSeconds:0.0} s");
                }

                var goals = scenarios.Goals();
                if (goals.RowCount > 0)
                {
                    Emit(goals);
                }
            }

            output.WriteLine($"systems run: {string.Join(", ", results.SystemsRun.OrderBy(n => n, StringComparer.Ordinal))}");
            return 0;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            log.WriteLine("interrupted");
            return 130;
        }
        catch (BenchException ex)
        {
            log.WriteLine(ex.Message);
            return ex.Message.Contains("failed", StringComparison.Ordinal) ? 1 : 2;
        }
        finally
        {
            await catalog.DisposeAsync().ConfigureAwait(false);
        }

        void Emit(Table table)
        {
            var markdown = table.ToMarkdown(info);
            output.WriteLine(markdown);
            output.Flush();
            var file = Path.Combine(outDir, $"{info.Started:yyyy-MM-dd}-{table.Scenario}.md");
            File.WriteAllText(file, markdown);
            tables.Add(table);
        }
    }

    private static string? RepositoryRoot()
    {
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "OrleansSecureCache.sln")))
                {
                    return dir.FullName;
                }
            }
        }

        return null;
    }

    private static string GitCommit(string? root)
    {
        if (root is null)
        {
            return "unknown";
        }

        try
        {
            var start = new ProcessStartInfo("git") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = root };
            foreach (var arg in new[] { "describe", "--always", "--dirty", "--abbrev=10" })
            {
                start.ArgumentList.Add(arg);
            }

            using var git = Process.Start(start);
            if (git is null)
            {
                return "unknown";
            }

            var text = git.StandardOutput.ReadToEnd().Trim();
            git.WaitForExit(5000);
            return git.ExitCode == 0 && text.Length > 0 ? text : "unknown";
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return "unknown";
        }
    }
}

internal sealed record Arguments(bool Quick, bool Help, IReadOnlyList<string> Scenarios, IReadOnlyList<string> Systems, string? OutDir)
{
    public static string Usage =>
        "usage: OrleansSecureCache.Bench [--quick] [--scenario NAME]... [--system NAME]... [--out DIR]\n" +
        "  scenarios: " + string.Join(", ", OrleansSecureCache.Bench.Scenarios.All.Select(s => s.Name)) + "\n" +
        "  systems:   " + string.Join(", ", SystemCatalog.All.Select(s => s.Name)) + " (or a family: osc, osc-tcp, hybrid, ...)";

    public static Arguments Parse(string[] args)
    {
        bool quick = false, help = false;
        string? outDir = null;
        var scenarios = new List<string>();
        var systems = new List<string>();
        for (var i = 0; i < args.Length; i++)
        {
            string Value() => i + 1 < args.Length ? args[++i] : throw new BenchException($"{args[i]} needs a value");
            switch (args[i])
            {
                case "--quick":
                    quick = true;
                    break;
                case "-h" or "--help":
                    help = true;
                    break;
                case "--scenario":
                    scenarios.AddRange(Split(Value()));
                    break;
                case "--system":
                    systems.AddRange(Split(Value()));
                    break;
                case "--out":
                    outDir = Value();
                    break;
                default:
                    throw new BenchException($"unknown argument {args[i]}");
            }
        }

        var known = OrleansSecureCache.Bench.Scenarios.All.Select(s => s.Name).ToList();
        foreach (var s in scenarios.Where(s => !known.Contains(s)))
        {
            throw new BenchException($"unknown scenario '{s}'; known: {string.Join(", ", known)}");
        }

        var selected = new List<string>();
        foreach (var filter in systems)
        {
            var matched = SystemCatalog.Match(filter).ToList();
            if (matched.Count == 0)
            {
                throw new BenchException($"unknown system '{filter}'; known: {string.Join(", ", SystemCatalog.All.Select(s => s.Name))}");
            }

            selected.AddRange(matched);
        }

        return new Arguments(quick, help,
            scenarios.Count == 0 ? known : known.Where(scenarios.Contains).ToList(),
            systems.Count == 0 ? SystemCatalog.All.Select(s => s.Name).ToList() : SystemCatalog.All.Select(s => s.Name).Where(selected.Contains).ToList(),
            outDir);
    }

    private static IEnumerable<string> Split(string value) =>
        value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(v => v.ToLower(CultureInfo.InvariantCulture));
}
