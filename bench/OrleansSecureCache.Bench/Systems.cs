using Microsoft.Extensions.Caching.Hybrid;
using Microsoft.Extensions.Caching.StackExchangeRedis;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Orleans.TestingHost;
using OrleansSecureCache.Serialization;
using OrleansSecureCache.Silo;
using StackExchange.Redis;
using ZiggyCreatures.Caching.Fusion;
using ZiggyCreatures.Caching.Fusion.Locking.Distributed.Redis;
using ZiggyCreatures.Caching.Fusion.Serialization.SystemTextJson;

namespace OrleansSecureCache.Bench;

/// <summary>One application process's view of a cache: what every scenario calls.</summary>
internal interface ICacheNode
{
    ValueTask<byte[]> GetOrCreateAsync(string key, Func<CancellationToken, ValueTask<byte[]>> factory, bool compress, CancellationToken cancellationToken);

    ValueTask SetAsync(string key, byte[] value, bool compress, CancellationToken cancellationToken);

    ValueTask<byte[]?> GetAsync(string key, bool compress, CancellationToken cancellationToken);

    ValueTask RemoveAsync(string key, CancellationToken cancellationToken);
}

/// <summary>A system under test: two nodes (application processes) over one shared back end.</summary>
internal sealed record BenchSystem(string Name, string Description, bool IsThisCache, bool? Encrypted, bool SupportsCompression, string Topology, IReadOnlyList<ICacheNode> Nodes)
{
    public ICacheNode Primary => Nodes[0];
}

/// <summary>The systems the harness knows, and the shared back ends they need, started only when selected.</summary>
internal sealed class SystemCatalog : IAsyncDisposable
{
    public static readonly IReadOnlyList<(string Name, string Description)> All =
    [
        ("osc-1silo-enc", "this cache, 1-silo TestCluster, encrypted"),
        ("osc-1silo-plain", "this cache, 1-silo TestCluster, unencrypted"),
        ("osc-3silo-enc", "this cache, 3-silo TestCluster, encrypted"),
        ("osc-3silo-plain", "this cache, 3-silo TestCluster, unencrypted"),
        ("osc-tcp-enc", "this cache, external client over loopback TCP to a silo host, encrypted"),
        ("osc-tcp-plain", "this cache, external client over loopback TCP to a silo host, unencrypted"),
        ("hybrid-remote", "HybridCache over Redis, local cache off"),
        ("hybrid-local", "HybridCache over Redis, local cache on"),
        ("fusion-redis", "FusionCache over Redis, memory level skipped, Redis distributed locker"),
        ("redis-raw", "StackExchange.Redis GET/SET (no stampede protection): the floor"),
    ];

    /// <summary>The system ratios are taken against, when it is selected.</summary>
    public const string Baseline = "osc-tcp-enc";

    // A bench-only secret, never used anywhere else.
    private const string BenchSecret = "b3nch0000000000000000000000000000000000000000000000000000000000a";

    private readonly List<Func<ValueTask>> _stops = [];
    private readonly TextWriter _log;
    private RedisServer? _redis;

    public SystemCatalog(TextWriter log) => _log = log;

    public List<BenchSystem> Systems { get; } = [];

    /// <summary>Names matching a filter: the exact name, or a family ("osc", "osc-tcp", "hybrid").</summary>
    public static IEnumerable<string> Match(string filter) =>
        All.Select(s => s.Name).Where(n => n.Equals(filter, StringComparison.OrdinalIgnoreCase) || n.StartsWith(filter + "-", StringComparison.OrdinalIgnoreCase));

    public async Task StartAsync(IReadOnlyCollection<string> names, CancellationToken cancellationToken)
    {
        if (names.Any(n => !n.StartsWith("osc-", StringComparison.Ordinal)))
        {
            _log.WriteLine("starting redis-server ...");
            _redis = await RedisServer.StartAsync(cancellationToken).ConfigureAwait(false);
            _stops.Add(() => _redis.DisposeAsync());
            _log.WriteLine($"redis-server on {_redis.Endpoint}");
        }

        foreach (var (topology, silos) in new[] { ("1silo", 1), ("3silo", 3) })
        {
            if (names.Any(n => n.StartsWith($"osc-{topology}-", StringComparison.Ordinal)))
            {
                _log.WriteLine($"deploying a {silos}-silo TestCluster ...");
                var builder = new TestClusterBuilder((short)silos);
                builder.AddSiloBuilderConfigurator<BenchSiloConfigurator>();
                builder.AddClientBuilderConfigurator<BenchClientConfigurator>();
                var cluster = builder.Build();
                _stops.Add(async () =>
                {
                    await cluster.StopAllSilosAsync().ConfigureAwait(false);
                    await cluster.DisposeAsync().ConfigureAwait(false);
                });
                await cluster.DeployAsync().ConfigureAwait(false);

                // Node 1 is a host that is itself a silo (the last one), as an application co-hosted with a silo.
                var siloFactory = ((InProcessSiloHandle)cluster.Silos[^1]).SiloHost.Services.GetRequiredService<IGrainFactory>();
                AddOsc(names, topology, [cluster.Client, siloFactory]);
            }
        }

        if (names.Any(n => n.StartsWith("osc-tcp-", StringComparison.Ordinal)))
        {
            _log.WriteLine("starting a silo host on loopback TCP and two external clients ...");
            var clusterId = "bench-" + Guid.NewGuid().ToString("N")[..8];
            var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["Silo:SiloPort"] = FreePorts.Next().ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["Silo:GatewayPort"] = FreePorts.Next().ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["Silo:ClusterId"] = clusterId,
                ["Silo:ServiceId"] = "OrleansSecureCacheBench",
            }).Build();
            var settings = SiloHosting.ReadSettings(configuration);
            var silo = new HostBuilder()
                .ConfigureLogging(Quiet)
                .UseOrleans(s => s.ConfigureSecureCacheSilo(configuration, settings))
                .Build();
            _stops.Add(async () =>
            {
                await silo.StopAsync(CancellationToken.None).ConfigureAwait(false);
                silo.Dispose();
            });
            await silo.StartAsync(cancellationToken).ConfigureAwait(false);
            var clients = new List<IGrainFactory>();
            for (var i = 0; i < 2; i++)
            {
                var client = new HostBuilder()
                    .ConfigureLogging(Quiet)
                    .UseOrleansClient(c => c.UseLocalhostClustering(settings.GatewayPort, settings.ServiceId, settings.ClusterId))
                    .Build();
                _stops.Add(async () =>
                {
                    await client.StopAsync(CancellationToken.None).ConfigureAwait(false);
                    client.Dispose();
                });
                await client.StartAsync(cancellationToken).ConfigureAwait(false);
                clients.Add(client.Services.GetRequiredService<IClusterClient>());
            }

            AddOsc(names, "tcp", clients);
        }

        if (_redis is not null)
        {
            foreach (var local in new[] { false, true })
            {
                var name = local ? "hybrid-local" : "hybrid-remote";
                if (names.Contains(name))
                {
                    var nodes = new List<ICacheNode>();
                    for (var i = 0; i < 2; i++)
                    {
                        nodes.Add(await HybridNode.CreateAsync(_redis, local, _stops).ConfigureAwait(false));
                    }

                    Add(name, null, false, "redis", nodes);
                }
            }

            if (names.Contains("fusion-redis"))
            {
                var nodes = new List<ICacheNode>();
                for (var i = 0; i < 2; i++)
                {
                    nodes.Add(await FusionNode.CreateAsync(_redis, _stops).ConfigureAwait(false));
                }

                Add("fusion-redis", null, false, "redis", nodes);
            }

            if (names.Contains("redis-raw"))
            {
                var nodes = new List<ICacheNode>();
                for (var i = 0; i < 2; i++)
                {
                    var mux = await ConnectionMultiplexer.ConnectAsync(_redis.ClientOptions()).ConfigureAwait(false);
                    _stops.Add(async () => await mux.DisposeAsync().ConfigureAwait(false));
                    nodes.Add(new RawRedisNode(mux.GetDatabase()));
                }

                Add("redis-raw", null, false, "redis", nodes);
            }
        }

        // Keep the catalogue's order, so tables read the same whatever the filter.
        Systems.Sort((a, b) => IndexOf(a.Name).CompareTo(IndexOf(b.Name)));
    }

    public async ValueTask DisposeAsync()
    {
        // Stop in reverse order of start; Redis (started first) goes last.
        for (var i = _stops.Count - 1; i >= 0; i--)
        {
            try
            {
                await _stops[i]().ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                _log.WriteLine($"while stopping: {ex.GetType().Name}: {ex.Message}");
            }
        }

        _stops.Clear();
    }

    private static int IndexOf(string name) => All.Select(s => s.Name).ToList().IndexOf(name);

    private static void Quiet(ILoggingBuilder logging) => logging.ClearProviders().SetMinimumLevel(LogLevel.Warning);

    private void AddOsc(IReadOnlyCollection<string> names, string topology, IReadOnlyList<IGrainFactory> factories)
    {
        foreach (var encrypted in new[] { true, false })
        {
            var name = $"osc-{topology}-{(encrypted ? "enc" : "plain")}";
            if (names.Contains(name))
            {
                Add(name, encrypted, true, topology, factories.Select(f => (ICacheNode)new OscNode(CreateCache(f), encrypted)).ToList());
            }
        }
    }

    private void Add(string name, bool? encrypted, bool compression, string topology, IReadOnlyList<ICacheNode> nodes)
    {
        var description = All.First(s => s.Name == name).Description;
        Systems.Add(new BenchSystem(name, description, name.StartsWith("osc-", StringComparison.Ordinal), encrypted, compression, topology, nodes));
    }

    internal static SecureCache CreateCache(IGrainFactory grains)
    {
        var options = new SecureCacheOptions { SecretKey = BenchSecret };
        var validation = new SecureCacheOptionsValidator().Validate(null, options);
        if (validation.Failed)
        {
            throw new BenchException(validation.FailureMessage);
        }

        return new SecureCache(grains, Options.Create(options), new JsonCacheSerializer(), NullLogger<SecureCache>.Instance, new SecureCacheMetrics());
    }

    public sealed class BenchSiloConfigurator : ISiloConfigurator
    {
        public void Configure(ISiloBuilder siloBuilder)
        {
            siloBuilder.AddSecureCacheGrains();
            siloBuilder.Services.AddLogging(l => l.SetMinimumLevel(LogLevel.Warning));
        }
    }

    public sealed class BenchClientConfigurator : IClientBuilderConfigurator
    {
        public void Configure(IConfiguration configuration, IClientBuilder clientBuilder) =>
            clientBuilder.Services.AddLogging(l => l.SetMinimumLevel(LogLevel.Warning));
    }
}

internal sealed class OscNode(SecureCache cache, bool encrypted) : ICacheNode
{
    private readonly MemoizeOptions[] _options =
    [
        new() { UseEncryption = encrypted, Compress = false },
        new() { UseEncryption = encrypted, Compress = true },
    ];

    public SecureCache Cache => cache;

    public ValueTask<byte[]> GetOrCreateAsync(string key, Func<CancellationToken, ValueTask<byte[]>> factory, bool compress, CancellationToken cancellationToken) =>
        cache.MemoizeAsync(key, factory, _options[compress ? 1 : 0], cancellationToken);

    public async ValueTask SetAsync(string key, byte[] value, bool compress, CancellationToken cancellationToken)
    {
        if (!await cache.SetAsync(key, value, _options[compress ? 1 : 0], cancellationToken).ConfigureAwait(false))
        {
            throw new InvalidOperationException($"this cache refused to store {value.Length} bytes");
        }
    }

    public async ValueTask<byte[]?> GetAsync(string key, bool compress, CancellationToken cancellationToken)
    {
        var lookup = await cache.TryGetAsync<byte[]>(key, _options[compress ? 1 : 0], cancellationToken).ConfigureAwait(false);
        return lookup.Found ? lookup.Value : null;
    }

    public ValueTask RemoveAsync(string key, CancellationToken cancellationToken) => cache.InvalidateAsync(key, _options[0], cancellationToken);
}

internal sealed class HybridNode : ICacheNode
{
    private static readonly HybridCacheEntryOptions ReadOnly = new()
    {
        Flags = HybridCacheEntryFlags.DisableLocalCacheWrite | HybridCacheEntryFlags.DisableDistributedCacheWrite,
    };

    private readonly HybridCache _cache;
    private readonly HybridCacheEntryOptions _entry;
    private readonly HybridCacheEntryOptions _read;

    private HybridNode(HybridCache cache, bool local)
    {
        _cache = cache;
        _entry = new HybridCacheEntryOptions
        {
            Expiration = TimeSpan.FromHours(1),
            LocalCacheExpiration = TimeSpan.FromHours(1),
            Flags = local ? HybridCacheEntryFlags.None : HybridCacheEntryFlags.DisableLocalCache,
        };
        _read = local ? ReadOnly : new HybridCacheEntryOptions { Flags = ReadOnly.Flags | HybridCacheEntryFlags.DisableLocalCache };
    }

    public static async Task<HybridNode> CreateAsync(RedisServer redis, bool local, List<Func<ValueTask>> stops)
    {
        var mux = await ConnectionMultiplexer.ConnectAsync(redis.ClientOptions()).ConfigureAwait(false);
        var services = new ServiceCollection();
        services.AddLogging(l => l.SetMinimumLevel(LogLevel.Warning));
        services.AddStackExchangeRedisCache(o => o.ConnectionMultiplexerFactory = () => Task.FromResult<IConnectionMultiplexer>(mux));
        services.AddHybridCache(o =>
        {
            // Large values must be stored, not skipped (the default cap is 1 MiB).
            o.MaximumPayloadBytes = 512L * 1024 * 1024;
            o.MaximumKeyLength = 1024;
        });
        var provider = services.BuildServiceProvider();
        stops.Add(async () =>
        {
            await provider.DisposeAsync().ConfigureAwait(false);
            await mux.DisposeAsync().ConfigureAwait(false);
        });
        return new HybridNode(provider.GetRequiredService<HybridCache>(), local);
    }

    public ValueTask<byte[]> GetOrCreateAsync(string key, Func<CancellationToken, ValueTask<byte[]>> factory, bool compress, CancellationToken cancellationToken) =>
        _cache.GetOrCreateAsync(key, factory, static (f, ct) => f(ct), _entry, cancellationToken: cancellationToken);

    public ValueTask SetAsync(string key, byte[] value, bool compress, CancellationToken cancellationToken) =>
        _cache.SetAsync(key, value, _entry, cancellationToken: cancellationToken);

    public ValueTask<byte[]?> GetAsync(string key, bool compress, CancellationToken cancellationToken) =>
        _cache.GetOrCreateAsync<byte[]?>(key, static _ => ValueTask.FromResult<byte[]?>(null), _read, cancellationToken: cancellationToken);

    public ValueTask RemoveAsync(string key, CancellationToken cancellationToken) => _cache.RemoveAsync(key, cancellationToken);
}

internal sealed class FusionNode(FusionCache cache) : ICacheNode
{
    public static async Task<FusionNode> CreateAsync(RedisServer redis, List<Func<ValueTask>> stops)
    {
        var mux = await ConnectionMultiplexer.ConnectAsync(redis.ClientOptions()).ConfigureAwait(false);
        var cache = new FusionCache(new FusionCacheOptions
        {
            CacheName = "bench",
            DefaultEntryOptions = new FusionCacheEntryOptions
            {
                Duration = TimeSpan.FromHours(1),

                // A remote comparison: every read goes to Redis, as this cache's reads go to its grain.
                SkipMemoryCacheRead = true,
                SkipMemoryCacheWrite = true,
                AllowBackgroundDistributedCacheOperations = false,
                DistributedCacheSoftTimeout = Timeout.InfiniteTimeSpan,
                DistributedCacheHardTimeout = Timeout.InfiniteTimeSpan,
            },
        });
        cache.SetupDistributedCache(
            new RedisCache(Options.Create(new RedisCacheOptions { ConnectionMultiplexerFactory = () => Task.FromResult<IConnectionMultiplexer>(mux) })),
            new FusionCacheSystemTextJsonSerializer());
        var locker = new RedisDistributedLocker(Options.Create(new RedisDistributedLockerOptions { ConfigurationOptions = redis.ClientOptions() }), NullLogger<RedisDistributedLocker>.Instance);
        cache.SetupDistributedLocker(locker);
        stops.Add(async () =>
        {
            cache.Dispose();
            locker.Dispose();
            await mux.DisposeAsync().ConfigureAwait(false);
        });
        return new FusionNode(cache);
    }

    public ValueTask<byte[]> GetOrCreateAsync(string key, Func<CancellationToken, ValueTask<byte[]>> factory, bool compress, CancellationToken cancellationToken) =>
        cache.GetOrSetAsync<byte[]>(key, async (_, ct) => await factory(ct).ConfigureAwait(false), token: cancellationToken);

    public ValueTask SetAsync(string key, byte[] value, bool compress, CancellationToken cancellationToken) =>
        cache.SetAsync(key, value, token: cancellationToken);

    public async ValueTask<byte[]?> GetAsync(string key, bool compress, CancellationToken cancellationToken)
    {
        var found = await cache.TryGetAsync<byte[]>(key, token: cancellationToken).ConfigureAwait(false);
        return found.HasValue ? found.Value : null;
    }

    public ValueTask RemoveAsync(string key, CancellationToken cancellationToken) => cache.RemoveAsync(key, token: cancellationToken);
}

internal sealed class RawRedisNode(IDatabase db) : ICacheNode
{
    public async ValueTask<byte[]> GetOrCreateAsync(string key, Func<CancellationToken, ValueTask<byte[]>> factory, bool compress, CancellationToken cancellationToken)
    {
        var cached = await db.StringGetAsync(key).ConfigureAwait(false);
        if (cached.HasValue)
        {
            return (byte[])cached!;
        }

        var value = await factory(cancellationToken).ConfigureAwait(false);
        await db.StringSetAsync(key, value, TimeSpan.FromHours(1)).ConfigureAwait(false);
        return value;
    }

    public async ValueTask SetAsync(string key, byte[] value, bool compress, CancellationToken cancellationToken) =>
        await db.StringSetAsync(key, value, TimeSpan.FromHours(1)).ConfigureAwait(false);

    public async ValueTask<byte[]?> GetAsync(string key, bool compress, CancellationToken cancellationToken)
    {
        var cached = await db.StringGetAsync(key).ConfigureAwait(false);
        return cached.HasValue ? (byte[])cached! : null;
    }

    public async ValueTask RemoveAsync(string key, CancellationToken cancellationToken) => await db.KeyDeleteAsync(key).ConfigureAwait(false);
}
