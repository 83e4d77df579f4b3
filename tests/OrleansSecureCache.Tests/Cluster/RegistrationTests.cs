using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Orleans.TestingHost;
using Xunit;

namespace OrleansSecureCache.Tests.Cluster;

/// <summary>Registration in hosts, and start-up validation of the configuration.</summary>
[Collection(ClusterCollection.Name)]
public sealed class RegistrationTests(ClusterFixture fixture)
{
    [Fact]
    public async Task SiloHost_ResolvesISecureCache_AndMemoizes()
    {
        var services = ((InProcessSiloHandle)fixture.Cluster.Silos[1]).SiloHost.Services;
        var cache = services.GetRequiredService<ISecureCache>();
        var key = $"silo-host-{Guid.NewGuid():N}";

        Assert.Equal(7, await cache.MemoizeAsync(key, () => 7, new MemoizeOptions { UseEncryption = true }));
        Assert.Equal(7, await fixture.CreateCache().MemoizeAsync(key, ClusterHelpers.MustHit<int>(), new MemoizeOptions { UseEncryption = true }));
    }

    [Theory]
    [InlineData("SecretKey", "too-short", "SecureCache:SecretKey must be at least 32 bytes")]
    [InlineData("DefaultEncryptionKey", "AAAAAAAAAAAAAAAAAAAAAAAAAAA=", "SecureCache:DefaultEncryptionKey must decode to 16, 24 or 32 bytes (got 20)")]
    [InlineData("ChunkSize", "2000000", "SecureCache:ChunkSize must be between 64 and 1047552")]
    [InlineData("SecretKeyFile", "/nonexistent/secret.key", "SecureCache:SecretKeyFile '/nonexistent/secret.key' cannot be read")]
    public async Task HostStart_FailsOnBadSetting_NamingIt(string setting, string value, string expected)
    {
        var host = BuildHost(new Dictionary<string, string?> { [$"SecureCache:{setting}"] = value });
        var ex = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());
        Assert.Contains(ex.Failures, f => f.Contains(expected, StringComparison.Ordinal));
        Assert.DoesNotContain(ex.Failures, f => f.Contains(value, StringComparison.Ordinal) && setting == "SecretKey");
    }

    [Fact]
    public async Task HostStart_ForcedEncryptionWithoutKeyMaterial_Fails()
    {
        var host = BuildHost(new Dictionary<string, string?> { ["SecureCache:ForceEncryption"] = "true" });
        var ex = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());
        Assert.Contains(ex.Failures, f => f.Contains("ForceEncryption is on but no key material", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Call_EncryptionWithoutKeyMaterial_Throws_NeverWritesPlaintext()
    {
        var cache = fixture.CreateCache(o => o.SecretKey = null);
        var key = $"no-material-{Guid.NewGuid():N}";
        await Assert.ThrowsAsync<InvalidOperationException>(() => cache.MemoizeAsync(key, () => "x", new MemoizeOptions { UseEncryption = true }).AsTask());
        Assert.False((await cache.TryGetAsync<string>(key)).Found);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(15)]
    [InlineData(20)]
    [InlineData(33)]
    public async Task Call_EncryptionKeyOfWrongLength_ThrowsWithTheLength(int length)
    {
        var cache = fixture.CreateCache();
        var ex = await Assert.ThrowsAsync<ArgumentException>(() => cache.MemoizeAsync("k", () => 1, new MemoizeOptions { EncryptionKey = new byte[length] }).AsTask());
        Assert.Equal("encryptionKey", ex.ParamName);
        Assert.Contains($"got {length}", ex.Message);
    }

    [Fact]
    public async Task Call_NullFactoryOrPart_ThrowsArgumentNull_EmptyFullKey_ThrowsArgument()
    {
        var cache = fixture.CreateCache();
        Assert.Equal("factory", (await Assert.ThrowsAsync<ArgumentNullException>(() => cache.MemoizeAsync("k", (Func<CancellationToken, ValueTask<int>>)null!).AsTask())).ParamName);
        Assert.Equal("parts", Assert.Throws<ArgumentNullException>(() => CacheKey.FromParts("a", null!)).ParamName);
        Assert.Equal("key", Assert.Throws<ArgumentNullException>(() => CacheKey.Of(null!)).ParamName);
        Assert.Equal("key", (await Assert.ThrowsAsync<ArgumentException>(() => cache.MemoizeAsync("", () => 1).AsTask())).ParamName);
        Assert.Equal("key", (await Assert.ThrowsAsync<ArgumentException>(() => cache.MemoizeAsync(default, () => 1).AsTask())).ParamName);
        Assert.Equal("key", (await Assert.ThrowsAsync<ArgumentException>(() => cache.SetAsync(CacheKey.FromParts(), 1).AsTask())).ParamName);
    }

    [Fact]
    public async Task Call_OptOutOfForcedEncryption_ThrowsWhenForbidden()
    {
        var cache = fixture.CreateCache(o => { o.ForceEncryption = true; o.ForbidEncryptionOptOut = true; });
        var ex = await Assert.ThrowsAsync<InvalidOperationException>(() => cache.MemoizeAsync("k", () => 1, new MemoizeOptions { UseEncryption = false }).AsTask());
        Assert.Equal("Encryption is forced for this cache; this call may not opt out.", ex.Message);
    }

    private static IHost BuildHost(Dictionary<string, string?> settings)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(settings);
        builder.Services.AddSingleton(FaultInjectingGrainFactory.Wrap(null!).Factory);
        builder.Services.AddSecureCache(builder.Configuration.GetSection(SecureCacheOptions.SectionName));
        return builder.Build();
    }
}
