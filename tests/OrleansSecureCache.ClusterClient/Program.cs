using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Runtime;
using OrleansSecureCache;

// The multi-process tests' application: connects through the library's own registration
// (SecureCache:Cluster, SecureCache), then runs the commands it reads on standard input, one per line, and
// answers each with one JSON line on standard output. Logs go to standard error.
var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = args, ContentRootPath = AppContext.BaseDirectory });
builder.Logging.ClearProviders();
builder.Logging.AddSimpleConsole(o => o.SingleLine = true);
builder.Services.Configure<Microsoft.Extensions.Logging.Console.ConsoleLoggerOptions>(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
builder.UseOrleansClient(client =>
{
    client.UseSecureCacheCluster(builder.Configuration.GetSection(ClusterConnectionOptions.SectionName));
    client.UseSecureCacheConnectionRetry(async (ex, token) =>
    {
        Console.Error.WriteLine($"connect failed: {ex.GetType().Name}: {ex.Message}");
        await Task.Delay(250, token);
        return true;
    });
});
builder.Services.AddSecureCache(builder.Configuration.GetSection("SecureCache"));

using var host = builder.Build();
var counters = new ClientCounters();
using var connectTimeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
try
{
    await host.StartAsync(connectTimeout.Token);
}
catch (Exception ex)
{
    Emit(new { @event = "connect-failed", tls = ClusterConnectionExtensions.IsTlsRefusal(ex), error = ex.ToString() });
    return 4;
}

var cache = host.Services.GetRequiredService<ISecureCache>();
var grains = host.Services.GetRequiredService<IGrainFactory>();
var workload = new Workload(cache, grains, counters);
Emit(new { @event = "ready" });

while (Console.In.ReadLine() is { } line)
{
    var words = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
    if (words.Length == 0)
    {
        continue;
    }

    if (words[0] == "quit")
    {
        break;
    }

    try
    {
        Emit(await workload.RunAsync(words));
    }
    catch (Exception ex)
    {
        Emit(new { op = words[0], error = ex.ToString() });
    }
}

await workload.StopLoadAsync();
try
{
    using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(5));
    await host.StopAsync(stop.Token);
}
catch (OperationCanceledException)
{
}

return 0;

static void Emit(object value)
{
    lock (Console.Out)
    {
        Console.Out.WriteLine(JsonSerializer.Serialize(value));
        Console.Out.Flush();
    }
}

/// <summary>The library's own counters, read in-process.</summary>
internal sealed class ClientCounters : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly ConcurrentDictionary<string, long> _values = new();

    public ClientCounters()
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == SecureCacheMetrics.MeterName)
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, _, _) => _values.AddOrUpdate(instrument.Name, value, (_, old) => old + value));
        _listener.Start();
    }

    public Dictionary<string, long> Snapshot() => new(_values);

    public void Dispose() => _listener.Dispose();
}

internal sealed class Workload(ISecureCache cache, IGrainFactory grains, ClientCounters counters)
{
    private static readonly MemoizeOptions Options = new() { UseEncryption = true };
    private CancellationTokenSource? _load;
    private Task? _loadTask;
    private LoadStats? _stats;

    public async Task<object> RunAsync(string[] w)
    {
        switch (w[0])
        {
            case "stampede": return await StampedeAsync(w[1], int.Parse(w[2], CultureInfo.InvariantCulture), int.Parse(w[3], CultureInfo.InvariantCulture), long.Parse(w[4], CultureInfo.InvariantCulture));
            case "fill": return await FillAsync(w[1], int.Parse(w[2], CultureInfo.InvariantCulture));
            case "check": return await CheckAsync(w[1], int.Parse(w[2], CultureInfo.InvariantCulture));
            case "load-start": return StartLoad(w[1], int.Parse(w[2], CultureInfo.InvariantCulture), int.Parse(w[3], CultureInfo.InvariantCulture));
            case "load-stop": return await StopLoadAsync();
            case "load-peek": return _stats?.Summary(counters) ?? new { op = "load-peek", error = "no load" };
            case "hosts": return await HostsAsync();
            case "placement": return await PlacementAsync();
            case "counters": return new { op = "counters", counters = counters.Snapshot() };
            default: return new { op = w[0], error = "unknown command" };
        }
    }

    private async Task<object> StampedeAsync(string key, int callers, int factoryMs, long startAtUnixMs)
    {
        var delay = DateTimeOffset.FromUnixTimeMilliseconds(startAtUnixMs) - DateTimeOffset.UtcNow;
        if (delay > TimeSpan.Zero)
        {
            await Task.Delay(delay);
        }

        var runs = 0;
        var exceptions = 0;
        var clock = Stopwatch.StartNew();
        var calls = Enumerable.Range(0, callers).Select(async _ =>
        {
            await Task.Yield();
            try
            {
                return await cache.MemoizeAsync(CacheKey.Of(key), async ct =>
                {
                    Interlocked.Increment(ref runs);
                    await Task.Delay(factoryMs, ct);
                    return $"{Environment.ProcessId}-{Guid.NewGuid():N}";
                }, Options);
            }
            catch (Exception)
            {
                Interlocked.Increment(ref exceptions);
                return "exception";
            }
        }).ToList();
        var values = await Task.WhenAll(calls);
        return new { op = "stampede", runs, exceptions, callers, values = values.Distinct().ToArray(), ms = clock.ElapsedMilliseconds };
    }

    public static string Expected(string prefix, int i) => $"value:{prefix}:{i}";

    private async Task<object> FillAsync(string prefix, int count)
    {
        var wrong = 0;
        await Parallel.ForEachAsync(Enumerable.Range(0, count), new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (i, ct) =>
        {
            var value = await cache.MemoizeAsync(CacheKey.FromParts(prefix, i.ToString(CultureInfo.InvariantCulture)), () => Expected(prefix, i), Options, ct);
            if (value != Expected(prefix, i))
            {
                Interlocked.Increment(ref wrong);
            }
        });
        return new { op = "fill", count, wrong };
    }

    private async Task<object> CheckAsync(string prefix, int count)
    {
        int hits = 0, misses = 0, wrong = 0, errors = 0;
        await Parallel.ForEachAsync(Enumerable.Range(0, count), new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (i, ct) =>
        {
            try
            {
                var lookup = await cache.TryGetAsync<string>(CacheKey.FromParts(prefix, i.ToString(CultureInfo.InvariantCulture)), Options, ct);
                if (!lookup.Found)
                {
                    Interlocked.Increment(ref misses);
                }
                else if (lookup.Value == Expected(prefix, i))
                {
                    Interlocked.Increment(ref hits);
                }
                else
                {
                    Interlocked.Increment(ref wrong);
                }
            }
            catch (SecureCacheUnavailableException)
            {
                Interlocked.Increment(ref errors);
            }
        });
        return new { op = "check", count, hits, misses, wrong, errors };
    }

    private object StartLoad(string prefix, int keys, int workers)
    {
        _load = new CancellationTokenSource();
        var stats = _stats = new LoadStats(counters.Snapshot());
        var token = _load.Token;
        _loadTask = Task.WhenAll(Enumerable.Range(0, workers).Select(worker => Task.Run(async () =>
        {
            var random = new Random(worker * 7919 + Environment.ProcessId);
            while (!token.IsCancellationRequested)
            {
                var i = random.Next(keys);
                var clock = Stopwatch.StartNew();
                try
                {
                    // Mixed load: mostly reads through memoize, some forced rewrites and invalidations.
                    var roll = random.Next(100);
                    var key = CacheKey.FromParts(prefix, i.ToString(CultureInfo.InvariantCulture));
                    if (roll < 3)
                    {
                        await cache.InvalidateAsync(key, Options, CancellationToken.None);
                        stats.Record(clock.Elapsed, ok: true);
                        continue;
                    }

                    var options = roll < 8 ? new MemoizeOptions { UseEncryption = true, ForceOverwrite = true } : Options;
                    var value = await cache.MemoizeAsync(key, async ct =>
                    {
                        await Task.Delay(5, ct);
                        return Expected(prefix, i);
                    }, options, CancellationToken.None);
                    stats.Record(clock.Elapsed, ok: value == Expected(prefix, i));
                }
                catch (SecureCacheUnavailableException)
                {
                    stats.RecordUnavailable(clock.Elapsed); // InvalidateAsync is a direct operation: it may throw this, by contract
                }
                catch (Exception ex)
                {
                    stats.RecordException(ex);
                }
            }
        }, CancellationToken.None)));
        return new { op = "load-start", prefix, keys, workers };
    }

    public async Task<object> StopLoadAsync()
    {
        if (_load is null || _loadTask is null || _stats is null)
        {
            return new { op = "load-stop", error = "no load" };
        }

        await _load.CancelAsync();
        await _loadTask;
        _load = null;
        return _stats.Summary(counters);
    }

    private async Task<object> HostsAsync()
    {
        // Bounded: the management call may be routed through a silo that just died.
        var hosts = await grains.GetGrain<IManagementGrain>(0).GetHosts(onlyActive: true).WaitAsync(TimeSpan.FromSeconds(3));
        return new { op = "hosts", active = hosts.Where(h => h.Value == SiloStatus.Active).Select(h => h.Key.Endpoint.Port).OrderBy(p => p).ToArray() };
    }

    private async Task<object> PlacementAsync()
    {
        var stats = await grains.GetGrain<IManagementGrain>(0).GetDetailedGrainStatistics().WaitAsync(TimeSpan.FromSeconds(10));
        var perSilo = stats.Where(s => s.GrainType.Contains("securecache", StringComparison.OrdinalIgnoreCase))
            .GroupBy(s => s.SiloAddress.Endpoint.Port)
            .ToDictionary(g => g.Key.ToString(CultureInfo.InvariantCulture), g => g.Count());
        return new { op = "placement", perSilo };
    }
}

internal sealed class LoadStats(Dictionary<string, long> countersAtStart)
{
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private long _calls, _wrong, _exceptions, _unavailable, _maxTicks;
    private string? _firstException;

    public void Record(TimeSpan elapsed, bool ok)
    {
        Interlocked.Increment(ref _calls);
        if (!ok)
        {
            Interlocked.Increment(ref _wrong);
        }

        Max(elapsed);
    }

    public void RecordUnavailable(TimeSpan elapsed)
    {
        Interlocked.Increment(ref _calls);
        Interlocked.Increment(ref _unavailable);
        Max(elapsed);
    }

    public void RecordException(Exception ex)
    {
        Interlocked.Increment(ref _exceptions);
        Interlocked.CompareExchange(ref _firstException, ex.ToString(), null);
    }

    public object Summary(ClientCounters counters)
    {
        var now = counters.Snapshot();
        var delta = now.ToDictionary(kv => kv.Key, kv => kv.Value - countersAtStart.GetValueOrDefault(kv.Key));
        return new
        {
            op = "load",
            seconds = _clock.Elapsed.TotalSeconds,
            calls = Interlocked.Read(ref _calls),
            wrong = Interlocked.Read(ref _wrong),
            exceptions = Interlocked.Read(ref _exceptions),
            unavailable = Interlocked.Read(ref _unavailable),
            maxMs = TimeSpan.FromTicks(Interlocked.Read(ref _maxTicks)).TotalMilliseconds,
            firstException = _firstException,
            counters = delta,
        };
    }

    private void Max(TimeSpan elapsed)
    {
        var ticks = elapsed.Ticks;
        long seen;
        while (ticks > (seen = Interlocked.Read(ref _maxTicks)) && Interlocked.CompareExchange(ref _maxTicks, ticks, seen) != seen)
        {
        }
    }
}
