using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.TestingHost;
using OrleansSecureCache.Grains;
using OrleansSecureCache.Serialization;
using OrleansSecureCache.Silo;
using Xunit;

namespace OrleansSecureCache.Tests.Cluster;

/// <summary>One 3-silo TestCluster shared by every cluster test (deploying one takes seconds).</summary>
public sealed class ClusterFixture : IAsyncLifetime
{
    public TestCluster Cluster { get; private set; } = null!;

    private readonly ILoggerFactory _loggerFactory;

    public ClusterFixture()
    {
        _loggerFactory = new LoggerFactory([Logs]);
    }

    public CapturingLoggerProvider Logs { get; } = new();

    /// <summary>Every log line of the in-process silos (all levels for this project's categories), for leak checks (B22).</summary>
    public static CapturingLoggerProvider SiloLogs { get; } = new();

    public async Task InitializeAsync()
    {
        var builder = new TestClusterBuilder(3);
        builder.AddSiloBuilderConfigurator<TestSiloConfigurator>();
        Cluster = builder.Build();
        await Cluster.DeployAsync();
    }

    public async Task DisposeAsync()
    {
        await Cluster.StopAllSilosAsync();
        await Cluster.DisposeAsync();
    }

    /// <summary>A cache client as one application process would have it, over the given grain factory (default: the cluster's client).</summary>
    public SecureCache CreateCache(Action<SecureCacheOptions>? configure = null, IGrainFactory? grains = null)
    {
        var options = new SecureCacheOptions
        {
            SecretKey = TestSecrets.SecretKey,
            LeaseDuration = TimeSpan.FromSeconds(5),
            WaitTimeout = TimeSpan.FromSeconds(30),
            OperationTimeout = TimeSpan.FromSeconds(10),
        };
        configure?.Invoke(options);
        var validation = new SecureCacheOptionsValidator().Validate(null, options);
        if (validation.Failed)
        {
            throw new OptionsValidationException(nameof(SecureCacheOptions), typeof(SecureCacheOptions), validation.Failures);
        }

        return new SecureCache(grains ?? Cluster.Client, Options.Create(options), new JsonCacheSerializer(), new Logger<SecureCache>(_loggerFactory), new SecureCacheMetrics());
    }

    /// <summary>The grain factory of one silo, as a host that is itself a silo would use it.</summary>
    public IGrainFactory SiloGrainFactory(int index)
    {
        var silo = (InProcessSiloHandle)Cluster.Silos[index];
        return silo.SiloHost.Services.GetRequiredService<IGrainFactory>();
    }

    public IEntryTamperExtension Tamper(string fullKey) =>
        Cluster.Client.GetGrain<ISecureCacheGrain>(fullKey).AsReference<IEntryTamperExtension>();

    private sealed class TestSiloConfigurator : ISiloConfigurator
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
