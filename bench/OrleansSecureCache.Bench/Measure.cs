using System.Diagnostics;

namespace OrleansSecureCache.Bench;

/// <summary>What one system did in one case, summed over rounds.</summary>
internal sealed class Sample
{
    private readonly List<long> _latencies = [];

    public long Ops { get; private set; }

    public long Bytes { get; private set; }

    public TimeSpan Elapsed { get; private set; }

    public long Allocated { get; private set; }

    public long FactoryRuns { get; set; }

    /// <summary>Longest single run (stampede: time until the last caller was served).</summary>
    public TimeSpan Longest { get; private set; }

    public string? Note { get; set; }

    public double OpsPerSecond => Elapsed > TimeSpan.Zero ? Ops / Elapsed.TotalSeconds : 0;

    public double MegabytesPerSecond => Elapsed > TimeSpan.Zero ? Bytes / 1e6 / Elapsed.TotalSeconds : 0;

    public double AllocatedPerOp => Ops > 0 ? (double)Allocated / Ops : 0;

    public TimeSpan Percentile(double p)
    {
        if (_latencies.Count == 0)
        {
            return TimeSpan.Zero;
        }

        _latencies.Sort();
        var index = (int)Math.Min(_latencies.Count - 1, Math.Ceiling(p * _latencies.Count) - 1);
        return Stopwatch.GetElapsedTime(0, _latencies[Math.Max(0, index)]);
    }

    public void Add(RunResult run)
    {
        Ops += run.Ops;
        Bytes += run.Bytes;
        Elapsed += run.Elapsed;
        Allocated += run.Allocated;
        _latencies.AddRange(run.Latencies);
        if (run.Elapsed > Longest)
        {
            Longest = run.Elapsed;
        }
    }
}

internal sealed record RunResult(long Ops, long Bytes, TimeSpan Elapsed, long Allocated, IReadOnlyList<long> Latencies);

internal static class Load
{
    private const int MaxSamplesPerCaller = 200_000;

    /// <summary>
    /// Runs <paramref name="callers"/> concurrent loops of <paramref name="operation"/>, released together, until
    /// <paramref name="duration"/> has passed or each did <paramref name="opsPerCaller"/> operations. Allocation is
    /// the whole process's (GC.GetTotalAllocatedBytes), so in-process silos are included.
    /// </summary>
    public static async Task<RunResult> RunAsync(int callers, TimeSpan? duration, int opsPerCaller, long bytesPerOp,
        Func<int, long, CancellationToken, ValueTask> operation, CancellationToken cancellationToken)
    {
        var capacity = Math.Min(MaxSamplesPerCaller, duration is null ? opsPerCaller : MaxSamplesPerCaller);
        var latencies = new long[callers][];
        for (var i = 0; i < callers; i++)
        {
            latencies[i] = new long[duration is null ? opsPerCaller : 16_384];
        }

        var counts = new long[callers];
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var stopAt = long.MaxValue;
        var tasks = new Task[callers];
        for (var c = 0; c < callers; c++)
        {
            var caller = c;
            tasks[c] = Task.Run(async () =>
            {
                await gate.Task.ConfigureAwait(false);
                long n = 0;
                var mine = latencies[caller];
                while (n < opsPerCaller && Stopwatch.GetTimestamp() < Volatile.Read(ref stopAt))
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    var t0 = Stopwatch.GetTimestamp();
                    await operation(caller, n, cancellationToken).ConfigureAwait(false);
                    var took = Stopwatch.GetTimestamp() - t0;
                    if (n < capacity)
                    {
                        if (n >= mine.Length)
                        {
                            Array.Resize(ref mine, (int)Math.Min(capacity, mine.Length * 2L));
                            latencies[caller] = mine;
                        }

                        mine[n] = took;
                    }

                    n++;
                }

                counts[caller] = n;
            }, CancellationToken.None);
        }

        GC.Collect();
        GC.WaitForPendingFinalizers();
        var allocated0 = GC.GetTotalAllocatedBytes(true);
        var started = Stopwatch.GetTimestamp();
        if (duration is { } d)
        {
            Volatile.Write(ref stopAt, started + (long)(d.TotalSeconds * Stopwatch.Frequency));
        }

        gate.SetResult();
        await Task.WhenAll(tasks).ConfigureAwait(false);
        var elapsed = Stopwatch.GetElapsedTime(started);
        var allocated = GC.GetTotalAllocatedBytes(true) - allocated0;
        var ops = counts.Sum();
        var samples = new List<long>((int)Math.Min(ops, int.MaxValue / 2));
        for (var i = 0; i < callers; i++)
        {
            samples.AddRange(latencies[i].AsSpan(0, (int)Math.Min(counts[i], capacity)).ToArray());
        }

        return new RunResult(ops, ops * bytesPerOp, elapsed, allocated, samples);
    }
}
