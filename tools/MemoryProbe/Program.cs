using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OrleansSecureCache.Grains;
using OrleansSecureCache.Silo;

// Usage: MemoryProbe entries VALUE_BYTES COUNT      memory per entry beyond its bytes, active and idle (parked)
//        MemoryProbe pressure VALUE_BYTES BUDGET_BYTES  ten times the budget written; memory sampled over time
// One in-process silo with memory storage (as the silo executable), written through the grain protocol
// from inside the silo, so no client shares the process. GC.Collect before every sample.
var mode = args.Length > 0 ? args[0] : "entries";
var valueBytes = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 100;
var third = args.Length > 2 ? long.Parse(args[2], CultureInfo.InvariantCulture) : 100_000;
var budget = mode == "pressure" ? third : (long?)null;

var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
builder.Logging.ClearProviders();
builder.UseOrleans(silo =>
{
    silo.UseLocalhostClustering(22111, 32000);
    silo.AddSecureCacheGrains(o => o.MemoryBudgetBytes = budget);
});
using var host = builder.Build();
await host.StartAsync();
var grains = host.Services.GetRequiredService<IGrainFactory>();
var tracker = host.Services.GetRequiredService<CacheMemoryTracker>();
var header = new byte[102]; // an ECV1 header's size
var lease = new LookupRequest(false, TimeSpan.Zero, TimeSpan.FromSeconds(30), 0);

async Task WriteAsync(string key)
{
    var grain = grains.GetGrain<ISecureCacheGrain>(key);
    var reply = await grain.GetOrLease(lease);
    var ack = await grain.Commit(reply.Lease!.AsToken(), new CommitRequest(header, 1, DateTimeOffset.UtcNow.AddDays(1), [new byte[valueBytes]]));
    if (!ack.Accepted)
    {
        throw new InvalidOperationException(ack.Error);
    }
}

(long Heap, long WorkingSet) Sample()
{
    for (var i = 0; i < 3; i++)
    {
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
    }

    using var process = Process.GetCurrentProcess();
    return (GC.GetTotalMemory(false), process.WorkingSet64);
}

string Mib(long bytes) => (bytes / 1048576.0).ToString("0.0", CultureInfo.InvariantCulture) + " MiB";

if (mode == "entries")
{
    var count = (int)third;
    // Warm up (first activations, storage grains), then the baseline.
    await Task.WhenAll(Enumerable.Range(0, 200).Select(i => WriteAsync($"warm-{i}")));
    await grains.GetGrain<IManagementGrain>(0).ForceActivationCollection(TimeSpan.Zero);
    await Task.Delay(2000);
    var baseline = Sample();
    var clock = Stopwatch.StartNew();
    var next = 0;
    await Task.WhenAll(Enumerable.Range(0, 64).Select(async _ =>
    {
        int i;
        while ((i = Interlocked.Increment(ref next)) <= count)
        {
            await WriteAsync($"{i:x8}{new string('0', 56)}"); // a 64-hex key, as encrypted keys are
        }
    }));
    var written = clock.Elapsed;
    var active = Sample();
    var payload = header.Length + valueBytes;
    Console.WriteLine($"value {valueBytes} B × {count}: written in {written.TotalSeconds:0.0} s; tracker {tracker.Snapshot()}");
    Console.WriteLine($"  active: heap +{Mib(active.Heap - baseline.Heap)} ({(active.Heap - baseline.Heap) / (double)count - payload:0} B/entry beyond the {payload} B entry), working set +{Mib(active.WorkingSet - baseline.WorkingSet)} ({(active.WorkingSet - baseline.WorkingSet) / (double)count - payload:0} B/entry beyond)");

    await grains.GetGrain<IManagementGrain>(0).ForceActivationCollection(TimeSpan.Zero);
    var wait = Stopwatch.StartNew();
    while (tracker.Snapshot().ActiveEntries > 0 && wait.Elapsed < TimeSpan.FromMinutes(5))
    {
        await Task.Delay(500);
        if (wait.Elapsed.TotalSeconds % 20 < 0.5)
        {
            await grains.GetGrain<IManagementGrain>(0).ForceActivationCollection(TimeSpan.Zero);
        }
    }

    await Task.Delay(2000);
    var idle = Sample();
    Console.WriteLine($"  idle (parked in memory storage, {wait.Elapsed.TotalSeconds:0} s to collect): heap +{Mib(idle.Heap - baseline.Heap)} ({(idle.Heap - baseline.Heap) / (double)count - payload:0} B/entry beyond), working set +{Mib(idle.WorkingSet - baseline.WorkingSet)} ({(idle.WorkingSet - baseline.WorkingSet) / (double)count - payload:0} B/entry beyond); tracker {tracker.Snapshot()}");
}
else
{
    var total = 10 * budget!.Value;
    var written = 0L;
    var i = 0;
    var baseline = Sample();
    Console.WriteLine($"budget {Mib(budget.Value)}, values {valueBytes} B, writing {Mib(total)}; baseline heap {Mib(baseline.Heap)}, working set {Mib(baseline.WorkingSet)}");
    var clock = Stopwatch.StartNew();
    var step = total / 10;
    var nextReport = step;
    while (written < total)
    {
        await Task.WhenAll(Enumerable.Range(0, 16).Select(j => WriteAsync($"p-{i}-{j}")));
        i++;
        written += 16L * valueBytes;
        if (written >= nextReport)
        {
            nextReport += step;
            var s = Sample();
            var stats = tracker.Snapshot();
            Console.WriteLine($"  t={clock.Elapsed.TotalSeconds,5:0.0} s written {Mib(written),10}: tracked {Mib(stats.Bytes)} in {stats.Entries} entries, evictions {stats.Evictions}; heap {Mib(s.Heap)}, working set {Mib(s.WorkingSet)}");
        }
    }
}

await host.StopAsync();
