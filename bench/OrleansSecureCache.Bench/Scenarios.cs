using System.Text;

namespace OrleansSecureCache.Bench;

/// <summary>Sizes and durations: the full run, or a tiny one (--quick) that only proves everything runs.</summary>
internal sealed record Plan(bool Quick)
{
    public const int KiB = 1024;
    public const int MiB = 1024 * 1024;

    public int Rounds => Quick ? 1 : 3;

    public TimeSpan LoadDuration => Quick ? TimeSpan.FromMilliseconds(150) : TimeSpan.FromSeconds(1.5);

    public int[] HitCallers => [1, 16, 64];

    public int[] MissCallers => [1, 16];

    public int[] LargeSizes => Quick ? [MiB, 4 * MiB] : [MiB, 100 * MiB];

    public int BigSize => LargeSizes[^1];

    public int LargeIterations(int size) => size <= MiB ? (Quick ? 2 : 8) : 1;

    public int LargeRounds(int size) => Quick ? 1 : size <= MiB ? 3 : 2;

    public int StampedeCallers => Quick ? 100 : 1000;

    public TimeSpan FactoryDelay => TimeSpan.FromMilliseconds(200);
}

/// <summary>Everything measured, by scenario, case and system, for the tables and the goals.</summary>
internal sealed class Results
{
    private readonly Dictionary<string, Sample> _samples = [];

    public Sample Get(string scenario, string @case, string system)
    {
        var key = $"{scenario}|{@case}|{system}";
        if (!_samples.TryGetValue(key, out var sample))
        {
            sample = new Sample();
            _samples[key] = sample;
        }

        return sample;
    }

    public Sample? Find(string scenario, string @case, string system) =>
        _samples.TryGetValue($"{scenario}|{@case}|{system}", out var s) && s.Ops > 0 ? s : null;

    public HashSet<string> SystemsRun { get; } = [];
}

internal sealed class Scenarios(Plan plan, IReadOnlyList<BenchSystem> systems, Results results, TextWriter log, CancellationToken cancellationToken)
{
    public static readonly IReadOnlyList<(string Name, string Description)> All =
    [
        ("cpu", "CPU-only parts with BenchmarkDotNet: key hashing, sealing and opening entries, compression"),
        ("hit", "1 KiB hits at 1, 16 and 64 concurrent callers"),
        ("miss", "miss-then-store of 1 KiB values under unique keys"),
        ("large", "1 MiB and 100 MiB values stored and fetched, random and JSON-like, compression off and on"),
        ("stampede", "concurrent callers on one missing key, factory takes 200 ms"),
        ("encryption-cost", "encrypted over unencrypted: 1 KiB hits at 64 callers and 100 MiB fetches"),
    ];

    private readonly string _run = Guid.NewGuid().ToString("N")[..8];
    private readonly byte[] _small = RandomBytes(Plan.KiB, 1);

    private string BaselineName => systems.Any(s => s.Name == SystemCatalog.Baseline) ? SystemCatalog.Baseline : systems.FirstOrDefault(s => s.IsThisCache)?.Name ?? "";

    private string BaselineColumn(string what) => BaselineName.Length > 0 ? $"{what} ÷ {BaselineName}" : "ratio";

    public static byte[] RandomBytes(int size, int seed)
    {
        var bytes = new byte[size];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    /// <summary>JSON-like text: an array of records with repeated field names, small numbers and words.</summary>
    public static byte[] JsonLike(int size, int seed)
    {
        var random = new Random(seed);
        string[] words = ["alpha", "beta", "gamma", "delta", "review", "request", "diff", "comment", "approved", "pending", "user", "file"];
        var sb = new StringBuilder(size + 256);
        sb.Append('[');
        var id = 0;
        while (sb.Length < size)
        {
            sb.Append("{\"id\":").Append(id++)
              .Append(",\"name\":\"").Append(words[random.Next(words.Length)]).Append('-').Append(random.Next(1000))
              .Append("\",\"status\":\"").Append(words[random.Next(words.Length)])
              .Append("\",\"score\":").Append(random.NextDouble().ToString("0.####", System.Globalization.CultureInfo.InvariantCulture))
              .Append(",\"tags\":[\"").Append(words[random.Next(words.Length)]).Append("\",\"").Append(words[random.Next(words.Length)])
              .Append("\"],\"created\":\"2026-0").Append(1 + random.Next(9)).Append("-1").Append(random.Next(10)).Append("T12:00:00Z\"},");
        }

        var bytes = Encoding.UTF8.GetBytes(sb.ToString());
        Array.Resize(ref bytes, size);
        return bytes;
    }

    /// <summary>Runs <paramref name="body"/> for every system, rounds times, each round starting one system later.</summary>
    private async Task AlternateAsync(IReadOnlyList<BenchSystem> these, int rounds, Func<BenchSystem, int, Task> body)
    {
        for (var round = 0; round < rounds; round++)
        {
            for (var i = 0; i < these.Count; i++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var system = these[(i + round) % these.Count];
                try
                {
                    await body(system, round).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
                {
                    log.WriteLine($"  {system.Name}: {ex.GetType().Name}: {ex.Message}");
                    throw new BenchException($"{system.Name} failed: {ex.GetType().Name}: {ex.Message}");
                }

                results.SystemsRun.Add(system.Name);
            }
        }
    }

    public async Task<Table> HitAsync()
    {
        var table = new Table("hit", "1 KiB hits",
            "Each caller reads its own key (64 keys, stored beforehand) in a loop for the round's duration, through node 0. " +
            "This cache: default options (compression on). alloc/op is the whole process's, so it includes in-process silos.",
            "callers", "system", "ops/s", "p50 µs", "p99 µs", "alloc/op", "factory runs", BaselineColumn("ops/s"));
        long factoryRuns = 0;
        foreach (var system in systems)
        {
            for (var k = 0; k < 64; k++)
            {
                await system.Primary.GetOrCreateAsync($"hit:{_run}:{system.Name}:{k}", _ => ValueTask.FromResult(_small), true, cancellationToken).ConfigureAwait(false);
            }
        }

        foreach (var callers in plan.HitCallers)
        {
            log.WriteLine($"hit: {callers} callers");
            await AlternateAsync(systems, plan.Rounds, async (system, round) =>
            {
                var sample = results.Get("hit", callers.ToString(System.Globalization.CultureInfo.InvariantCulture), system.Name);
                var before = Interlocked.Read(ref factoryRuns);
                var node = system.Primary;
                var run = await Load.RunAsync(callers, plan.LoadDuration, int.MaxValue, Plan.KiB, async (caller, _, ct) =>
                    await node.GetOrCreateAsync($"hit:{_run}:{system.Name}:{caller % 64}", _ =>
                    {
                        Interlocked.Increment(ref factoryRuns);
                        return ValueTask.FromResult(_small);
                    }, true, ct).ConfigureAwait(false), cancellationToken).ConfigureAwait(false);
                sample.Add(run);
                sample.FactoryRuns += Interlocked.Read(ref factoryRuns) - before;
            }).ConfigureAwait(false);

            var baseline = results.Find("hit", callers.ToString(System.Globalization.CultureInfo.InvariantCulture), BaselineName);
            foreach (var system in systems)
            {
                var s = results.Get("hit", callers.ToString(System.Globalization.CultureInfo.InvariantCulture), system.Name);
                table.Row(callers.ToString(System.Globalization.CultureInfo.InvariantCulture), system.Name, Fmt.Num(s.OpsPerSecond), Fmt.Micros(s.Percentile(0.5)), Fmt.Micros(s.Percentile(0.99)),
                    Fmt.Bytes(s.AllocatedPerOp), s.FactoryRuns.ToString(System.Globalization.CultureInfo.InvariantCulture), Fmt.Ratio(s.OpsPerSecond, baseline?.OpsPerSecond ?? 0));
            }
        }

        return table;
    }

    public async Task<Table> MissAsync()
    {
        var table = new Table("miss", "miss-then-store, 1 KiB values, unique keys",
            "Every call is for a key never seen: the lookup misses, the factory runs (it returns a ready 1 KiB array) and the value is stored. " +
            "This cache: compression on (default); each key is a new grain activation.",
            "callers", "system", "ops/s", "p50 µs", "p99 µs", "alloc/op", "factory runs", BaselineColumn("ops/s"));
        foreach (var callers in plan.MissCallers)
        {
            var c = callers.ToString(System.Globalization.CultureInfo.InvariantCulture);
            log.WriteLine($"miss: {callers} callers");
            await AlternateAsync(systems, plan.Rounds, async (system, round) =>
            {
                var sample = results.Get("miss", c, system.Name);
                long runs = 0;
                var node = system.Primary;
                var run = await Load.RunAsync(callers, plan.LoadDuration, int.MaxValue, Plan.KiB, async (caller, n, ct) =>
                    await node.GetOrCreateAsync($"miss:{_run}:{system.Name}:{round}:{caller}:{n}", _ =>
                    {
                        Interlocked.Increment(ref runs);
                        return ValueTask.FromResult(_small);
                    }, true, ct).ConfigureAwait(false), cancellationToken).ConfigureAwait(false);
                sample.Add(run);
                sample.FactoryRuns += runs;
            }).ConfigureAwait(false);

            var baseline = results.Find("miss", c, BaselineName);
            foreach (var system in systems)
            {
                var s = results.Get("miss", c, system.Name);
                table.Row(c, system.Name, Fmt.Num(s.OpsPerSecond), Fmt.Micros(s.Percentile(0.5)), Fmt.Micros(s.Percentile(0.99)),
                    Fmt.Bytes(s.AllocatedPerOp), s.FactoryRuns.ToString(System.Globalization.CultureInfo.InvariantCulture), Fmt.Ratio(s.OpsPerSecond, baseline?.OpsPerSecond ?? 0));
            }
        }

        return table;
    }

    public static string LargeCase(int size, string data, bool compress, string op) => $"{size}|{data}|{(compress ? "on" : "off")}|{op}";

    public async Task<Table> LargeAsync()
    {
        var table = new Table("large", "large values, one caller, store (set) and fetch (get)",
            "MB/s is value bytes (10^6) per second of wall time. Compression applies to this cache only (zlib level 2 before encryption); " +
            "the other systems store the bytes as given (FusionCache's JSON serializer writes byte[] as base64). alloc/op includes in-process silos.",
            "size", "data", "compress", "op", "system", "MB/s", "p50 ms", "p99 ms", "alloc/op", BaselineColumn("MB/s"));
        foreach (var size in plan.LargeSizes)
        {
            foreach (var data in new[] { "random", "json" })
            {
                var value = data == "random" ? RandomBytes(size, size) : JsonLike(size, size);
                foreach (var compress in new[] { false, true })
                {
                    var these = systems.Where(s => !compress || s.SupportsCompression).ToList();
                    if (these.Count == 0)
                    {
                        continue;
                    }

                    log.WriteLine($"large: {Fmt.Size(size)} {data} compress {(compress ? "on" : "off")}");
                    var iterations = plan.LargeIterations(size);
                    await AlternateAsync(these, plan.LargeRounds(size), async (system, round) =>
                    {
                        var key = $"large:{_run}:{system.Name}:{size}:{data}:{compress}";
                        var node = system.Primary;
                        var store = await Load.RunAsync(1, null, iterations, size, (_, _, ct) => node.SetAsync(key, value, compress, ct), cancellationToken).ConfigureAwait(false);
                        results.Get("large", LargeCase(size, data, compress, "store"), system.Name).Add(store);
                        var fetch = await Load.RunAsync(1, null, iterations, size, async (_, _, ct) =>
                        {
                            var got = await node.GetAsync(key, compress, ct).ConfigureAwait(false);
                            if (got is null || got.Length != value.Length)
                            {
                                throw new InvalidOperationException($"fetched {got?.Length.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "nothing"} instead of {value.Length} bytes");
                            }
                        }, cancellationToken).ConfigureAwait(false);
                        results.Get("large", LargeCase(size, data, compress, "fetch"), system.Name).Add(fetch);
                        await node.RemoveAsync(key, cancellationToken).ConfigureAwait(false);
                    }).ConfigureAwait(false);

                    foreach (var op in new[] { "store", "fetch" })
                    {
                        var baseline = results.Find("large", LargeCase(size, data, compress, op), BaselineName);
                        foreach (var system in these)
                        {
                            var s = results.Get("large", LargeCase(size, data, compress, op), system.Name);
                            table.Row(Fmt.Size(size), data, compress ? "on" : "off", op, system.Name, Fmt.Num(s.MegabytesPerSecond),
                                Fmt.Millis(s.Percentile(0.5)), Fmt.Millis(s.Percentile(0.99)), Fmt.Bytes(s.AllocatedPerOp), Fmt.Ratio(s.MegabytesPerSecond, baseline?.MegabytesPerSecond ?? 0));
                        }
                    }
                }
            }
        }

        return table;
    }

    public async Task<Table> StampedeAsync()
    {
        var callers = plan.StampedeCallers;
        var table = new Table("stampede", $"{callers} concurrent callers on one missing key, factory takes {plan.FactoryDelay.TotalMilliseconds:0} ms",
            "Callers are released together and spread over the system's two nodes (two application processes' clients: for this cache the cluster " +
            "client and a silo-hosted client, or two TCP clients; for the Redis systems two independent cache instances). Per round a fresh key. " +
            "\"last served\" is the time from release until the last caller had its value; the goal is at most factory time + 100 ms.",
            "system", "factory runs per round", "last served ms (worst)", "p50 ms", "p99 ms", "alloc/caller", "goal: 1 run, ≤ factory+100 ms", BaselineColumn("last served"));
        var runsPerRound = systems.ToDictionary(s => s.Name, _ => new List<long>());
        log.WriteLine($"stampede: {callers} callers");
        await AlternateAsync(systems, plan.Rounds, async (system, round) =>
        {
            var key = $"stampede:{_run}:{system.Name}:{round}";
            long runs = 0;
            var delay = plan.FactoryDelay;
            var run = await Load.RunAsync(callers, null, 1, Plan.KiB, async (caller, _, ct) =>
                await system.Nodes[caller % system.Nodes.Count].GetOrCreateAsync(key, async token =>
                {
                    Interlocked.Increment(ref runs);
                    await Task.Delay(delay, token).ConfigureAwait(false);
                    return _small;
                }, true, ct).ConfigureAwait(false), cancellationToken).ConfigureAwait(false);
            var sample = results.Get("stampede", "", system.Name);
            sample.Add(run);
            sample.FactoryRuns += runs;
            runsPerRound[system.Name].Add(runs);
        }).ConfigureAwait(false);

        var baseline = results.Find("stampede", "", BaselineName);
        foreach (var system in systems)
        {
            var s = results.Get("stampede", "", system.Name);
            var ok = runsPerRound[system.Name].All(r => r == 1) && s.Longest <= plan.FactoryDelay + TimeSpan.FromMilliseconds(100);
            table.Row(system.Name, string.Join(", ", runsPerRound[system.Name]), Fmt.Millis(s.Longest), Fmt.Millis(s.Percentile(0.5)), Fmt.Millis(s.Percentile(0.99)),
                Fmt.Bytes(s.AllocatedPerOp), ok ? "met" : "not met", Fmt.Ratio(s.Longest.TotalMilliseconds, baseline?.Longest.TotalMilliseconds ?? 0));
        }

        return table;
    }

    public async Task<Table> EncryptionCostAsync()
    {
        var big = plan.BigSize;
        var table = new Table("encryption-cost", $"encrypted over unencrypted, per topology of this cache",
            $"Measured in its own alternating rounds (encrypted, unencrypted, ...): 1 KiB hits at 64 callers as in 'hit', and {Fmt.Size(big)} fetches " +
            "(random data, compression off) as in 'large'. Goal for hits: encrypted/plain ≥ 0.9.",
            "topology", "hit enc ops/s", "hit plain ops/s", "hit enc/plain", $"{Fmt.Size(big)} fetch enc MB/s", "plain MB/s", "fetch enc/plain", "hit goal ≥ 0.9");
        var value = RandomBytes(big, 7);
        foreach (var topology in new[] { "1silo", "3silo", "tcp" })
        {
            var pair = systems.Where(s => s.Topology == topology && s.IsThisCache).OrderBy(s => s.Encrypted == true ? 0 : 1).ToList();
            if (pair.Count != 2)
            {
                continue;
            }

            log.WriteLine($"encryption-cost: {topology}");
            foreach (var system in pair)
            {
                for (var k = 0; k < 64; k++)
                {
                    await system.Primary.GetOrCreateAsync($"enc:{_run}:{system.Name}:{k}", _ => ValueTask.FromResult(_small), true, cancellationToken).ConfigureAwait(false);
                }
            }

            await AlternateAsync(pair, plan.Rounds * 2, async (system, round) =>
            {
                var node = system.Primary;
                var hit = await Load.RunAsync(64, plan.LoadDuration, int.MaxValue, Plan.KiB,
                    async (caller, _, ct) => await node.GetOrCreateAsync($"enc:{_run}:{system.Name}:{caller}", _ => ValueTask.FromResult(_small), true, ct).ConfigureAwait(false),
                    cancellationToken).ConfigureAwait(false);
                results.Get("encryption-cost", "hit", system.Name).Add(hit);
                if (round < plan.LargeRounds(big) * 2)
                {
                    var key = $"enc-big:{_run}:{system.Name}";
                    await node.SetAsync(key, value, false, cancellationToken).ConfigureAwait(false);
                    var fetch = await Load.RunAsync(1, null, 1, big, async (_, _, ct) => _ = await node.GetAsync(key, false, ct).ConfigureAwait(false) ?? throw new InvalidOperationException("not found"), cancellationToken).ConfigureAwait(false);
                    results.Get("encryption-cost", "fetch", system.Name).Add(fetch);
                    await node.RemoveAsync(key, cancellationToken).ConfigureAwait(false);
                }
            }).ConfigureAwait(false);

            var he = results.Get("encryption-cost", "hit", pair[0].Name).OpsPerSecond;
            var hp = results.Get("encryption-cost", "hit", pair[1].Name).OpsPerSecond;
            var fe = results.Get("encryption-cost", "fetch", pair[0].Name).MegabytesPerSecond;
            var fp = results.Get("encryption-cost", "fetch", pair[1].Name).MegabytesPerSecond;
            table.Row(topology, Fmt.Num(he), Fmt.Num(hp), Fmt.Ratio(he, hp), Fmt.Num(fe), Fmt.Num(fp), Fmt.Ratio(fe, fp), hp > 0 && he / hp >= 0.9 ? "met" : "not met");
        }

        return table;
    }

    /// <summary>Where the issue's goals stand, from whatever this run measured.</summary>
    public Table Goals()
    {
        var table = new Table("goals", "the issue's goals against this run", "", "goal", "this cache", "measured", "against", "status");
        const string remote = "hybrid-remote";
        foreach (var osc in systems.Where(s => s.IsThisCache && s.Encrypted == true))
        {
            if (results.Find("hit", "64", osc.Name) is { } mine && results.Find("hit", "64", remote) is { } theirs)
            {
                table.Row("encrypted hits at 64 callers vs HybridCache over Redis, local off", osc.Name, $"{Fmt.Num(mine.OpsPerSecond)} ops/s",
                    $"{Fmt.Num(theirs.OpsPerSecond)} ops/s ({Fmt.Ratio(mine.OpsPerSecond, theirs.OpsPerSecond)})", mine.OpsPerSecond >= theirs.OpsPerSecond ? "ahead" : "behind");
            }

            foreach (var op in new[] { "store", "fetch" })
            {
                var @case = LargeCase(plan.BigSize, "random", false, op);
                if (results.Find("large", @case, osc.Name) is { } m && results.Find("large", @case, remote) is { } t)
                {
                    table.Row($"{Fmt.Size(plan.BigSize)} encrypted {op} vs HybridCache (unencrypted)", osc.Name, $"{Fmt.Num(m.MegabytesPerSecond)} MB/s",
                        $"{Fmt.Num(t.MegabytesPerSecond)} MB/s ({Fmt.Ratio(m.MegabytesPerSecond, t.MegabytesPerSecond)})", m.MegabytesPerSecond >= t.MegabytesPerSecond ? "ahead" : "behind");
                }
            }

            var plain = systems.FirstOrDefault(s => s.Topology == osc.Topology && s.Encrypted == false);
            if (plain is not null && results.Find("encryption-cost", "hit", osc.Name) is { } e && results.Find("encryption-cost", "hit", plain.Name) is { } p)
            {
                var ratio = e.OpsPerSecond / p.OpsPerSecond;
                table.Row("encrypted/plain hit throughput ≥ 0.9", osc.Name, ratio.ToString("0.00", System.Globalization.CultureInfo.InvariantCulture), plain.Name, ratio >= 0.9 ? "met" : "not met");
            }

            if (results.Find("stampede", "", osc.Name) is { } st)
            {
                var ok = st.FactoryRuns == plan.Rounds && st.Longest <= plan.FactoryDelay + TimeSpan.FromMilliseconds(100);
                table.Row("stampede: 1 factory run, every caller within factory + 100 ms", osc.Name,
                    $"{st.FactoryRuns} runs in {plan.Rounds} rounds, worst {Fmt.Millis(st.Longest)} ms", $"{plan.FactoryDelay.TotalMilliseconds + 100:0} ms", ok ? "met" : "not met");
            }
        }

        return table;
    }
}
