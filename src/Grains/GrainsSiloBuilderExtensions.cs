using Microsoft.Extensions.DependencyInjection;

namespace OrleansSecureCache.Grains;

public static class GrainsSiloBuilderExtensions
{
    /// <summary>
    /// The silo's memory budget for cache entries: the tracker (a singleton), the per-silo service, the grain
    /// extension the tracker drops entries through, and the stats grain. Called by <c>AddSecureCacheGrains</c>.
    /// </summary>
    public static ISiloBuilder AddSecureCacheMemoryBudget(this ISiloBuilder builder)
    {
        builder.Services.AddSingleton<CacheMemoryTracker>();
        builder.Services.AddSingleton<ICacheSiloServiceClient, CacheSiloServiceClient>();
        builder.AddGrainService<CacheSiloService>();
        builder.AddGrainExtension<ICacheEntryControl, CacheEntryControl>();
        return builder;
    }
}
