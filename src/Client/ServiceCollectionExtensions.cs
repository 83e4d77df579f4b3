using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using OrleansSecureCache.Serialization;

namespace OrleansSecureCache;

public static class ServiceCollectionExtensions
{
    /// <summary>
    /// Registers <see cref="ISecureCache"/>. Works in any host that has an <see cref="IGrainFactory"/>: one with an
    /// Orleans client (<c>UseOrleansClient</c>) and a silo alike. Options come from <paramref name="configuration"/>
    /// (the <c>SecureCache</c> section) and <paramref name="configure"/>, and are validated at start-up.
    /// </summary>
    public static IServiceCollection AddSecureCache(this IServiceCollection services, IConfiguration? configuration = null, Action<SecureCacheOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        var options = services.AddOptions<SecureCacheOptions>();
        if (configuration is not null)
        {
            options.Bind(configuration);
        }

        if (configure is not null)
        {
            options.Configure(configure);
        }

        options.ValidateDataAnnotations().ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<SecureCacheOptions>, SecureCacheOptionsValidator>());
        services.TryAddSingleton<ICacheSerializer>(_ => new JsonCacheSerializer());
        services.TryAddSingleton<SecureCacheMetrics>();
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<SecureCache>();
        services.TryAddSingleton<ISecureCache>(sp => sp.GetRequiredService<SecureCache>());
        return services;
    }
}
