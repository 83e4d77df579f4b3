using System.ComponentModel.DataAnnotations;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Orleans.Configuration;
using Orleans.Connections.Security;
using Orleans.Serialization;
using Orleans.Storage;
using OrleansSecureCache.Grains;
using StackExchange.Redis;

namespace OrleansSecureCache.Silo;

/// <summary>All of the silo's hosting decisions, shared by the executable and the tests' clusters.</summary>
public static class SiloHosting
{
    /// <summary>
    /// Reads and validates the <c>Silo</c> section. Throws <see cref="InvalidOperationException"/> with a
    /// message naming each bad setting.
    /// </summary>
    public static SiloSettings ReadSettings(IConfiguration configuration)
    {
        SiloSettings settings;
        try
        {
            settings = configuration.GetSection(SiloSettings.SectionName).Get<SiloSettings>() ?? new SiloSettings();
        }
        catch (InvalidOperationException ex)
        {
            // The binder names the key ("Failed to convert configuration value at 'Silo:Clustering' ...").
            throw new InvalidOperationException($"Invalid silo settings: {ex.Message}", ex);
        }

        var results = new List<ValidationResult>();
        Validator.TryValidateObject(settings, new ValidationContext(settings), results, validateAllProperties: true);
        var errors = results.Select(r => $"{SiloSettings.SectionName}:{string.Join(",", r.MemberNames)}: {r.ErrorMessage}")
            .Concat(settings.Validate())
            .ToList();
        if (errors.Count > 0)
        {
            throw new InvalidOperationException("Invalid silo settings: " + string.Join(" ", errors));
        }

        return settings;
    }

    /// <summary>
    /// Fails within <see cref="SiloSettings.RedisConnectTimeout"/> when Redis is needed and cannot be reached,
    /// with the address in the message (Orleans itself would retry for much longer).
    /// </summary>
    public static async Task EnsureRedisReachableAsync(SiloSettings settings, CancellationToken cancellationToken = default)
    {
        if (settings.Clustering != SiloClustering.Redis && settings.Storage != SiloStorage.Redis)
        {
            return;
        }

        var options = ParseRedis(settings);
        var where = string.Join(", ", options.EndPoints.Select(e => e.ToString()));
        options.AbortOnConnectFail = true;
        options.ConnectRetry = 1;
        options.ConnectTimeout = (int)settings.RedisConnectTimeout.TotalMilliseconds;
        try
        {
            var connect = ConnectionMultiplexer.ConnectAsync(options);
            await using var connection = await connect.WaitAsync(settings.RedisConnectTimeout, cancellationToken).ConfigureAwait(false);
            await connection.GetDatabase().PingAsync().WaitAsync(settings.RedisConnectTimeout, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException or SocketException)
        {
            throw new InvalidOperationException(
                $"{SiloSettings.SectionName}:Redis: Redis at {where} could not be reached within "
                + $"{settings.RedisConnectTimeout.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture)} s: {ex.Message}", ex);
        }
    }

    public static ISiloBuilder ConfigureSecureCacheSilo(this ISiloBuilder silo, IConfiguration configuration, SiloSettings settings)
    {
        if (settings.Clustering == SiloClustering.Redis)
        {
            var redis = ParseRedis(settings);
            silo.UseRedisClustering(o => o.ConfigurationOptions = redis);
            silo.Configure<ClusterOptions>(o =>
            {
                o.ClusterId = settings.ClusterId;
                o.ServiceId = settings.ServiceId;
            });
            silo.ConfigureEndpoints(ResolveAdvertisedAddress(settings), settings.SiloPort, settings.GatewayPort, settings.ListenOnAnyAddress);
        }
        else
        {
            silo.UseLocalhostClustering(settings.SiloPort, settings.GatewayPort, serviceId: settings.ServiceId, clusterId: settings.ClusterId);
        }

        var membership = settings.Membership;
        silo.Configure<ClusterMembershipOptions>(o =>
        {
            if (membership.ProbeTimeout is { } probe) o.ProbeTimeout = probe;
            if (membership.NumMissedProbesLimit is { } missed) o.NumMissedProbesLimit = missed;
            if (membership.TableRefreshTimeout is { } refresh) o.TableRefreshTimeout = refresh;
            if (membership.IAmAliveTablePublishTimeout is { } alive) o.IAmAliveTablePublishTimeout = alive;
        });

        if (settings.Tls.Enabled)
        {
            const string section = SiloSettings.SectionName + ":Tls";
            var certificate = settings.Tls.LoadCertificate(section);
            var validate = settings.Tls.CreateValidator(section);
            silo.UseTls(certificate, o =>
            {
                o.RemoteCertificateMode = RemoteCertificateMode.RequireCertificate;
                o.ClientCertificateMode = RemoteCertificateMode.RequireCertificate;
                o.RemoteCertificateValidation = (remote, _, _) => validate(remote);
                o.HandshakeTimeout = settings.Tls.HandshakeTimeout;
            });
        }

        silo.Services.Configure<SecureCacheGrainOptions>(configuration.GetSection(SecureCacheGrainOptions.SectionName));
        if (settings.Storage == SiloStorage.Redis)
        {
            var redis = ParseRedis(settings);
            silo.AddRedisGrainStorage(SecureCacheGrainOptions.StorageName, ob => ob.Configure<Serializer>((o, serializer) =>
            {
                o.ConfigurationOptions = redis;
                o.GrainStorageSerializer = new OrleansGrainStorageSerializer(serializer);
            }));

            // Durable storage: entries are written at commit, so they outlive the silo that built them.
            if (string.IsNullOrEmpty(configuration[$"{SecureCacheGrainOptions.SectionName}:Persistence"]))
            {
                silo.Services.PostConfigure<SecureCacheGrainOptions>(o => o.Persistence = EntryPersistence.WriteThrough);
            }

            silo.AddSecureCacheGrains(addMemoryStorage: false);
        }
        else
        {
            silo.AddSecureCacheGrains();
        }

        return silo;
    }

    /// <summary>The address this silo advertises: the setting (an IP or a name, resolved now), else loopback.</summary>
    public static IPAddress ResolveAdvertisedAddress(SiloSettings settings)
    {
        var text = settings.AdvertisedAddress;
        if (string.IsNullOrWhiteSpace(text))
        {
            return IPAddress.Loopback;
        }

        if (IPAddress.TryParse(text, out var address))
        {
            return address;
        }

        try
        {
            var addresses = Dns.GetHostAddresses(text);
            return addresses.FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork) ?? addresses.FirstOrDefault()
                ?? throw new InvalidOperationException($"{SiloSettings.SectionName}:AdvertisedAddress: '{text}' has no address.");
        }
        catch (SocketException ex)
        {
            throw new InvalidOperationException($"{SiloSettings.SectionName}:AdvertisedAddress: '{text}' cannot be resolved: {ex.Message}", ex);
        }
    }

    private static ConfigurationOptions ParseRedis(SiloSettings settings)
    {
        ConfigurationOptions options;
        try
        {
            options = ConfigurationOptions.Parse(settings.Redis!);
        }
        catch (ArgumentException ex)
        {
            throw new InvalidOperationException($"{SiloSettings.SectionName}:Redis is not a valid Redis connection string ('{settings.Redis}'): {ex.Message}", ex);
        }

        if (options.EndPoints.Count == 0)
        {
            throw new InvalidOperationException($"{SiloSettings.SectionName}:Redis names no Redis endpoint ('{settings.Redis}').");
        }

        // After start-up Orleans keeps the connection and reconnects when Redis comes back.
        options.AbortOnConnectFail = false;
        options.ConnectTimeout = (int)settings.RedisConnectTimeout.TotalMilliseconds;
        return options;
    }
}
