using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Orleans.Concurrency;
using Orleans.Runtime.Services;
using Orleans.Services;

namespace OrleansSecureCache.Grains;

// The silo side of the memory budget, beyond the tracker itself:
// - ICacheEntryControl: how the tracker asks a cache grain to drop its entry (on the grain's own scheduler).
//   A grain extension, internal to this assembly: not part of ISecureCacheGrain, so clients do not see it.
// - ICacheSiloService: one per silo (a grain service), so a grain can tell the silo that parked its entry to
//   forget it, and the stats grain can ask each silo for its counters.
// - ICacheStatsGrain: the cluster's counters for a client (osc stats), read-only.

/// <summary>What became of an eviction request.</summary>
public enum EvictOutcome
{
    /// <summary>The entry was dropped: state cleared, storage cleared, activation deactivating.</summary>
    Dropped,
    /// <summary>The grain does not hold that version (already gone, replaced, or moved): nothing to do.</summary>
    NotHeld,
    /// <summary>In use (a live lease or a reader mid-way): not dropped.</summary>
    Refused,
}

/// <summary>The tracker's handle on a cache grain. Internal: no client can call it.</summary>
[Alias("osc.ICacheEntryControl")]
internal interface ICacheEntryControl : IGrainExtension
{
    /// <summary>Drop the entry if it is still <paramref name="versionId"/> and nobody is using it; then deactivate.</summary>
    [ResponseTimeout("00:00:10")]
    [Alias("Evict")]
    Task<EvictOutcome> Evict(Guid versionId);

    /// <summary>Activate (which clears expired storage) and deactivate again if there is nothing to serve.</summary>
    [ResponseTimeout("00:00:10")]
    [Alias("Sweep")]
    Task Sweep();
}

internal sealed class CacheEntryControl(IGrainContext context) : ICacheEntryControl
{
    private SecureCacheGrain Grain => (SecureCacheGrain)context.GrainInstance!;

    public Task<EvictOutcome> Evict(Guid versionId) => Grain.EvictForBudgetAsync(versionId);

    public Task Sweep() => Grain.SweepAsync();
}

/// <summary>One counter set of one silo (or the cluster's totals, with <see cref="Silo"/> "total").</summary>
[GenerateSerializer, Immutable]
[Alias("osc.SiloCacheStats")]
public sealed record SiloCacheStats(
    string Silo,
    long Entries,
    long Bytes,
    long ActiveEntries,
    long ActiveBytes,
    long ParkedEntries,
    long ParkedBytes,
    long BudgetBytes,
    long Evictions,
    long Expirations,
    long RefusedCommits);

/// <summary>The per-silo service (a grain service: one system target per silo).</summary>
[Alias("osc.ICacheSiloService")]
public interface ICacheSiloService : IGrainService
{
    [Alias("GetStats")]
    Task<SiloCacheStats> GetStats();

    /// <summary>The entry this silo parked in storage was loaded by an activation (anywhere): stop counting it here.</summary>
    [Alias("Forget")]
    [OneWay]
    Task Forget(GrainId id, Guid versionId, bool expired);
}

/// <summary>Reaches <see cref="ICacheSiloService"/> on a given silo.</summary>
public interface ICacheSiloServiceClient : IGrainServiceClient<ICacheSiloService>
{
    ICacheSiloService On(SiloAddress silo);
}

internal sealed class CacheSiloServiceClient(IServiceProvider services) : GrainServiceClient<ICacheSiloService>(services), ICacheSiloServiceClient
{
    public ICacheSiloService On(SiloAddress silo) => GetGrainService(silo);
}

[Reentrant]
internal sealed class CacheSiloService : GrainService, ICacheSiloService
{
    private readonly CacheMemoryTracker _tracker;
    private readonly ILocalSiloDetails _silo;
    private readonly ILogger<CacheSiloService> _logger;
    private readonly CancellationTokenSource _stop = new();
    private Task? _sweeper;

    public CacheSiloService(GrainId id, Silo silo, ILoggerFactory loggerFactory, IServiceProvider services)
        : base(id, silo, loggerFactory)
    {
        _tracker = services.GetRequiredService<CacheMemoryTracker>();
        _silo = services.GetRequiredService<ILocalSiloDetails>();
        _logger = loggerFactory.CreateLogger<CacheSiloService>();
    }

    public Task<SiloCacheStats> GetStats() => Task.FromResult(_tracker.Snapshot() with { Silo = _silo.SiloAddress.ToString() });

    public Task Forget(GrainId id, Guid versionId, bool expired)
    {
        _tracker.Forget(id, versionId, expired ? DropReason.Expired : DropReason.Removed);
        return Task.CompletedTask;
    }

    public override Task Start()
    {
        // The sweep runs off this target's scheduler: it only calls grains and the thread-safe tracker.
        _sweeper = Task.Run(() => SweepLoopAsync(_stop.Token));
        return base.Start();
    }

    public override async Task Stop()
    {
        await _stop.CancelAsync();
        if (_sweeper is not null)
        {
            try
            {
                await _sweeper;
            }
            catch (OperationCanceledException)
            {
            }
        }

        await base.Stop();
    }

    private async Task SweepLoopAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(_tracker.SweepInterval);
        while (await timer.WaitForNextTickAsync(cancellationToken))
        {
            try
            {
                await _tracker.SweepExpiredAsync(cancellationToken);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                SweepLog.Failed(_logger, ex);
            }
        }
    }
}

internal static partial class SweepLog
{
    [LoggerMessage(22, LogLevel.Warning, "The expiry sweep failed")]
    public static partial void Failed(ILogger logger, Exception exception);
}

/// <summary>The cluster's cache counters, per silo: what <c>osc stats</c> prints. Read-only.</summary>
[Alias("osc.ICacheStatsGrain")]
public interface ICacheStatsGrain : IGrainWithIntegerKey
{
    [Alias("GetClusterStats")]
    Task<SiloCacheStats[]> GetClusterStats();
}

[StatelessWorker]
internal sealed class CacheStatsGrain(ICacheSiloServiceClient silos) : Grain, ICacheStatsGrain
{
    public async Task<SiloCacheStats[]> GetClusterStats()
    {
        var hosts = await GrainFactory.GetGrain<IManagementGrain>(0).GetHosts(onlyActive: true);
        var stats = await Task.WhenAll(hosts.Keys.OrderBy(s => s.ToString(), StringComparer.Ordinal).Select(s => silos.On(s).GetStats()));
        return stats;
    }
}
