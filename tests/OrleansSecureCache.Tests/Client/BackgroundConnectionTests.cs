using System.Diagnostics;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OrleansSecureCache.Silo;
using OrleansSecureCache.Tests.Cluster;
using OrleansSecureCache.Tests.MultiProcess;
using Xunit;

namespace OrleansSecureCache.Tests.Client;

/// <summary>
/// <see cref="SecureCacheClientExtensions.AddSecureCacheClient"/>: an application whose cluster is unreachable
/// still starts and gets its factories' values with a warning; once a silo answers, it caches.
/// </summary>
[Collection(ClusterCollection.Name)] // one cluster at a time on this machine
public sealed class BackgroundConnectionTests
{
    [Fact]
    public async Task WrongGateway_HostStarts_CallsReturnTheFactorysValue_WithAWarning()
    {
        var logs = new CapturingLoggerProvider();
        using var app = ClientHost(BuiltPaths.FreePort(), logs);
        var clock = Stopwatch.StartNew();
        await app.StartAsync();
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"start took {clock.Elapsed}");

        var cache = app.Services.GetRequiredService<ISecureCache>();
        clock.Restart();
        Assert.Equal(42, await cache.MemoizeAsync("k", () => 42));
        Assert.Equal(43, await cache.MemoizeAsync("k", () => 43));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(2) + TimeSpan.FromSeconds(5), $"calls took {clock.Elapsed}");
        await WaitFor(() => logs.Lines.Any(l => l.Contains("cannot be reached")));
        await app.StopAsync();
    }

    [Fact]
    public async Task ClusterComesUpLater_ClientConnects_AndCaches()
    {
        var gatewayPort = BuiltPaths.FreePort();
        using var app = ClientHost(gatewayPort, new CapturingLoggerProvider());
        await app.StartAsync();
        var cache = app.Services.GetRequiredService<ISecureCache>();
        Assert.Equal("before", await cache.MemoizeAsync("later", () => "before")); // no cluster yet: the factory's value

        using var silo = await StartSiloAsync(gatewayPort);
        await app.Services.GetRequiredService<BackgroundClusterConnection>().Connected.WaitAsync(TimeSpan.FromSeconds(60));

        var runs = 0;
        Assert.Equal("cached", await cache.MemoizeAsync("later", () => { runs++; return "cached"; }));
        Assert.Equal("cached", await cache.MemoizeAsync("later", () => { runs++; return "not this"; }));
        Assert.Equal(1, runs);
        await app.StopAsync();
        await silo.StopAsync();
    }

    private static IHost ClientHost(int gatewayPort, CapturingLoggerProvider logs)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["SecureCache:SecretKey"] = TestSecrets.SecretKey,
            ["SecureCache:OperationTimeout"] = "00:00:02",
            ["SecureCache:Cluster:Gateways:0"] = $"127.0.0.1:{gatewayPort}",
        });
        builder.Logging.AddProvider(logs);
        builder.Services.AddSecureCacheClient(builder.Configuration);
        return builder.Build();
    }

    private static async Task<IHost> StartSiloAsync(int gatewayPort)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Silo:SiloPort"] = BuiltPaths.FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Silo:GatewayPort"] = gatewayPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
        });
        var settings = SiloHosting.ReadSettings(builder.Configuration);
        builder.UseOrleans(silo => silo.ConfigureSecureCacheSilo(builder.Configuration, settings));
        var host = builder.Build();
        await host.StartAsync();
        return host;
    }

    private static async Task WaitFor(Func<bool> condition)
    {
        var deadline = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(30), "The condition was not reached within 30 s.");
            await Task.Delay(50);
        }
    }
}
