using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.TestingHost;
using OrleansSecureCache.Grains;
using OrleansSecureCache.Serialization;
using OrleansSecureCache.Silo;
using Xunit;

namespace OrleansSecureCache.Tests.Cluster;

/// <summary>
/// A 3-silo TestCluster configured by <typeparamref name="TConfigurator"/>, and cache clients over it as
/// application processes would have them. Deploying a cluster takes seconds, so test classes share one.
/// </summary>
public abstract class TestClusterFixture<TConfigurator> : IAsyncLifetime
    where TConfigurator : ISiloConfigurator, new()
{
    private readonly ILoggerFactory _loggerFactory;

    protected TestClusterFixture(params ILoggerProvider[] logs)
    {
        _loggerFactory = new LoggerFactory(logs);
    }

    public TestCluster Cluster { get; private set; } = null!;

    /// <summary>Client settings every cache of this fixture starts from.</summary>
    protected abstract SecureCacheOptions BaseOptions();

    public async Task InitializeAsync()
    {
        var builder = new TestClusterBuilder(3);
        builder.AddSiloBuilderConfigurator<TConfigurator>();
        Cluster = builder.Build();
        await Cluster.DeployAsync();
    }

    public async Task DisposeAsync()
    {
        await Cluster.StopAllSilosAsync();
        await Cluster.DisposeAsync();
    }

    /// <summary>A cache client over the given grain factory (default: the cluster's client), its options validated as at start-up.</summary>
    public SecureCache CreateCache(Action<SecureCacheOptions>? configure = null, IGrainFactory? grains = null)
    {
        var options = BaseOptions();
        configure?.Invoke(options);
        var validation = new SecureCacheOptionsValidator().Validate(null, options);
        if (validation.Failed)
        {
            throw new OptionsValidationException(nameof(SecureCacheOptions), typeof(SecureCacheOptions), validation.Failures);
        }

        return new SecureCache(grains ?? Cluster.Client, Options.Create(options), new JsonCacheSerializer(), new Logger<SecureCache>(_loggerFactory), new SecureCacheMetrics());
    }

    /// <summary>The test-only extension that reads and rewrites the committed entry of <paramref name="fullKey"/>'s grain.</summary>
    public IEntryTamperExtension Tamper(string fullKey) =>
        Cluster.Client.GetGrain<ISecureCacheGrain>(fullKey).AsReference<IEntryTamperExtension>();
}

/// <summary>The 3-silo cluster shared by every test in <see cref="ClusterCollection"/>.</summary>
public sealed class ClusterFixture : TestClusterFixture<ClusterFixture.TestSiloConfigurator>
{
    private static readonly CapturingLoggerProvider ClientLogs = new();

    public ClusterFixture()
        : base(ClientLogs)
    {
    }

    /// <summary>Every log line of the cache clients this fixture creates.</summary>
    public CapturingLoggerProvider Logs => ClientLogs;

    /// <summary>Every log line of the in-process silos (all levels for this project's categories), for leak checks (B22).</summary>
    public static CapturingLoggerProvider SiloLogs { get; } = new();

    protected override SecureCacheOptions BaseOptions() => new()
    {
        SecretKey = TestSecrets.SecretKey,
        LeaseDuration = TimeSpan.FromSeconds(5),
        WaitTimeout = TimeSpan.FromSeconds(30),
        OperationTimeout = TimeSpan.FromSeconds(10),
    };

    /// <summary>The grain factory of one silo, as a host that is itself a silo would use it.</summary>
    public IGrainFactory SiloGrainFactory(int index)
    {
        var silo = (InProcessSiloHandle)Cluster.Silos[index];
        return silo.SiloHost.Services.GetRequiredService<IGrainFactory>();
    }

    public sealed class TestSiloConfigurator : ISiloConfigurator
    {
        public void Configure(ISiloBuilder siloBuilder)
        {
            siloBuilder.AddSecureCacheGrains(o => o.MinLeaseDuration = TimeSpan.FromMilliseconds(100));
            siloBuilder.AddGrainExtension<IEntryTamperExtension, EntryTamperExtension>();
            siloBuilder.Services.AddSingleton<ILoggerProvider>(SiloLogs);
            siloBuilder.Services.AddLogging(logging => logging.AddFilter("OrleansSecureCache", LogLevel.Trace));

            // A host that is a silo uses the cache through the same registration as a client host.
            siloBuilder.Services.AddSecureCache(configure: o => o.SecretKey = TestSecrets.SecretKey);
        }
    }
}

[CollectionDefinition(Name)]
public sealed class ClusterCollection : ICollectionFixture<ClusterFixture>
{
    public const string Name = "cluster";
}

internal static class TestSecrets
{
    // A test-only secret: 64 hex characters, as the CLI generates. Not used anywhere but tests.
    public const string SecretKey = "3f1c2a9b8e7d6c5b4a3928170f1e2d3c4b5a69788796a5b4c3d2e1f00112233";
}
