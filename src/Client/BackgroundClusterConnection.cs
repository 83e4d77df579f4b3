using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OrleansSecureCache.Grains;
using OrleansSecureCache.Serialization;

namespace OrleansSecureCache;

/// <summary>
/// An Orleans client that connects in the background, so an application starts (and keeps answering from its
/// factories) while the cache cluster is down, misconfigured or refusing its certificate. Until it is
/// connected, every cache call is a cluster fault: the factory's value is returned and a warning logged.
/// Failed attempts are retried with backoff; once connected, Orleans itself keeps the connection up.
/// </summary>
public sealed partial class BackgroundClusterConnection : IHostedService, IAsyncDisposable
{
    private readonly IConfiguration _cluster;
    private readonly ILogger<BackgroundClusterConnection> _logger;
    private readonly TimeSpan _connectTimeout;
    private readonly TaskCompletionSource _connected = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _stop = new();
    private Task _loop = Task.CompletedTask;
    private IHost? _client;
    private volatile IClusterClient? _clusterClient;
    private int _disposed;

    public BackgroundClusterConnection(IConfiguration clusterSection, ILogger<BackgroundClusterConnection> logger, TimeSpan? connectTimeout = null)
    {
        _cluster = clusterSection ?? throw new ArgumentNullException(nameof(clusterSection));
        _logger = logger ?? throw new ArgumentNullException(nameof(logger));
        _connectTimeout = connectTimeout ?? TimeSpan.FromSeconds(10);

        // Bad settings are start-up errors, not something to retry.
        var options = clusterSection.Get<ClusterConnectionOptions>() ?? new ClusterConnectionOptions();
        var errors = options.Validate(clusterSection is IConfigurationSection s ? s.Path : ClusterConnectionOptions.SectionName).ToList();
        if (errors.Count > 0)
        {
            throw new OptionsValidationException(ClusterConnectionOptions.SectionName, typeof(ClusterConnectionOptions), errors);
        }
    }

    /// <summary>True once the client reached a gateway.</summary>
    public bool IsConnected => _clusterClient is not null;

    /// <summary>Completes when the client first reaches a gateway.</summary>
    public Task Connected => _connected.Task;

    internal ISecureCacheGrain GetGrain(string key) =>
        (_clusterClient ?? throw new InvalidOperationException("The cache cluster is not connected (yet)."))
            .GetGrain<ISecureCacheGrain>(key);

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _loop = ConnectLoopAsync(_stop.Token);
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        await _loop.ConfigureAwait(false);
        if (_client is { } client)
        {
            await client.StopAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    public async ValueTask DisposeAsync()
    {
        // The container may dispose it twice: as itself and as the hosted service it also is.
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        await _stop.CancelAsync().ConfigureAwait(false);
        await _loop.ConfigureAwait(false);
        _client?.Dispose();
        _stop.Dispose();
    }

    private async Task ConnectLoopAsync(CancellationToken stop)
    {
        var delay = TimeSpan.FromSeconds(1);
        while (!stop.IsCancellationRequested)
        {
            var host = new HostBuilder()
                .UseOrleansClient(client =>
                {
                    client.UseSecureCacheCluster(_cluster);
                    client.UseSecureCacheConnectionRetry((_, _) => Task.FromResult(false));
                })
                .Build();
            try
            {
                using var attempt = CancellationTokenSource.CreateLinkedTokenSource(stop);
                attempt.CancelAfter(_connectTimeout);
                await host.StartAsync(attempt.Token).ConfigureAwait(false);
                _client = host;
                _clusterClient = host.Services.GetRequiredService<IClusterClient>();
                _connected.TrySetResult();
                Log.Connected(_logger);
                return;
            }
            catch (Exception ex) when (!stop.IsCancellationRequested)
            {
                host.Dispose();
                var reason = ClusterConnectionExtensions.IsTlsRefusal(ex) ? "the TLS handshake was refused" : ex.Message;
                Log.ConnectFailed(_logger, reason, delay);
            }
            catch (OperationCanceledException)
            {
                host.Dispose();
                return;
            }

            try
            {
                await Task.Delay(delay, stop).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromSeconds(30).Ticks));
        }
    }

    private static partial class Log
    {
        [LoggerMessage(200, LogLevel.Information, "Connected to the cache cluster")]
        public static partial void Connected(ILogger logger);

        [LoggerMessage(201, LogLevel.Warning, "The cache cluster cannot be reached ({Reason}); calls use their factories; retrying in {Delay}")]
        public static partial void ConnectFailed(ILogger logger, string reason, TimeSpan delay);
    }
}

public static class SecureCacheClientExtensions
{
    /// <summary>
    /// Registers <see cref="ISecureCache"/> with an Orleans client of its own that connects in the background
    /// (<see cref="BackgroundClusterConnection"/>): the application starts whether or not the cluster answers.
    /// Reads the <c>SecureCache</c> section for the cache and <c>SecureCache:Cluster</c> for the connection
    /// (gateways or Redis discovery, ids, TLS). Use <see cref="ServiceCollectionExtensions.AddSecureCache"/>
    /// instead in a host that already has an Orleans client or is a silo.
    /// </summary>
    public static IServiceCollection AddSecureCacheClient(this IServiceCollection services, IConfiguration configuration, Action<SecureCacheOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        var cache = configuration.GetSection(SecureCacheOptions.SectionName);
        services.AddSecureCache(cache, configure);
        services.TryAddSingleton(sp => new BackgroundClusterConnection(
            cache.GetSection("Cluster"), sp.GetRequiredService<ILogger<BackgroundClusterConnection>>()));
        services.AddHostedService(sp => sp.GetRequiredService<BackgroundClusterConnection>());
        services.Replace(ServiceDescriptor.Singleton(sp => new SecureCache(
            sp.GetRequiredService<BackgroundClusterConnection>().GetGrain,
            sp.GetRequiredService<IOptions<SecureCacheOptions>>(),
            sp.GetRequiredService<ICacheSerializer>(),
            sp.GetRequiredService<ILogger<SecureCache>>(),
            sp.GetRequiredService<SecureCacheMetrics>(),
            sp.GetService<TimeProvider>())));
        return services;
    }
}
