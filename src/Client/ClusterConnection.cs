using System.Net;
using System.Net.Sockets;
using System.Security.Authentication;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Orleans.Configuration;
using Orleans.Connections.Security;
using OrleansSecureCache.Grains;
using StackExchange.Redis;

namespace OrleansSecureCache;

/// <summary>How a client finds the silos' gateways.</summary>
public enum GatewayDiscovery
{
    /// <summary>A fixed list of gateways (<see cref="ClusterConnectionOptions.Gateways"/>); default <c>localhost:30000</c>.</summary>
    Static,

    /// <summary>The silos' membership in Redis (<see cref="ClusterConnectionOptions.Redis"/>), as silos with <c>Silo:Clustering=Redis</c> keep it.</summary>
    Redis,
}

/// <summary>
/// How a client reaches the cache cluster: gateway discovery matching the silos' clustering, cluster and service
/// ids, mutual TLS. Bound from <see cref="SectionName"/> by <see cref="ClusterConnectionExtensions.UseSecureCacheCluster(IClientBuilder, IConfiguration)"/>;
/// the CLI binds the same settings from its <c>Osc</c> section.
/// </summary>
public sealed class ClusterConnectionOptions
{
    public const string SectionName = "SecureCache:Cluster";
    public const string DefaultGateway = "localhost:30000";

    public GatewayDiscovery Clustering { get; set; } = GatewayDiscovery.Static;

    /// <summary>Gateways as <c>host:port</c>, for <see cref="GatewayDiscovery.Static"/>.</summary>
    public List<string> Gateways { get; set; } = [];

    /// <summary>StackExchange.Redis connection string, for <see cref="GatewayDiscovery.Redis"/>.</summary>
    public string? Redis { get; set; }

    public string ClusterId { get; set; } = "osc";

    public string ServiceId { get; set; } = "OrleansSecureCache";

    /// <summary>How often the gateway list is re-read from Redis (Orleans' default is 1 minute).</summary>
    public TimeSpan GatewayListRefreshPeriod { get; set; } = TimeSpan.FromSeconds(5);

    public TlsSettings Tls { get; set; } = new();

    /// <summary>What is wrong, each line naming its setting under <paramref name="section"/>.</summary>
    public IEnumerable<string> Validate(string section)
    {
        if (Clustering == GatewayDiscovery.Redis && string.IsNullOrWhiteSpace(Redis))
            yield return $"{section}:Redis (a Redis connection string such as 127.0.0.1:6379) is required when {section}:Clustering=Redis.";
        if (string.IsNullOrWhiteSpace(ClusterId))
            yield return $"{section}:ClusterId must not be empty.";
        if (string.IsNullOrWhiteSpace(ServiceId))
            yield return $"{section}:ServiceId must not be empty.";
        if (GatewayListRefreshPeriod <= TimeSpan.Zero)
            yield return $"{section}:GatewayListRefreshPeriod must be positive.";
        foreach (var error in Tls.Validate($"{section}:Tls"))
            yield return error;
    }
}

/// <summary>The TLS handshake with a gateway failed: this client's certificate was refused, or it refused the silo's.</summary>
public sealed class TlsHandshakeRefusedException(string message, Exception? inner = null) : Exception(message, inner);

public static class ClusterConnectionExtensions
{
    /// <summary>
    /// Configures the Orleans client from <paramref name="section"/> (by default <c>SecureCache:Cluster</c>):
    /// static gateways or Redis discovery, ids, mutual TLS. Throws <see cref="InvalidOperationException"/>
    /// naming the setting when the settings are unusable.
    /// </summary>
    public static IClientBuilder UseSecureCacheCluster(this IClientBuilder client, IConfiguration section)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(section);
        var path = section is IConfigurationSection s ? s.Path : ClusterConnectionOptions.SectionName;
        var options = new ClusterConnectionOptions();
        try
        {
            section.Bind(options);
        }
        catch (InvalidOperationException ex)
        {
            throw new InvalidOperationException($"Invalid cluster connection settings: {ex.Message}", ex);
        }

        return client.UseSecureCacheCluster(options, path);
    }

    /// <summary>
    /// Configures the Orleans client from <paramref name="options"/>. Static gateways are resolved now unless
    /// <paramref name="resolvedGateways"/> gives them. <paramref name="section"/> only names settings in errors.
    /// </summary>
    public static IClientBuilder UseSecureCacheCluster(this IClientBuilder client, ClusterConnectionOptions options,
        string section = ClusterConnectionOptions.SectionName, IReadOnlyList<IPEndPoint>? resolvedGateways = null)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(options);
        var errors = options.Validate(section).ToList();
        if (errors.Count > 0)
        {
            throw new InvalidOperationException(string.Join(" ", errors));
        }

        if (options.Clustering == GatewayDiscovery.Redis)
        {
            ConfigurationOptions redis;
            try
            {
                redis = ConfigurationOptions.Parse(options.Redis!);
            }
            catch (ArgumentException ex)
            {
                throw new InvalidOperationException($"{section}:Redis is not a valid Redis connection string ('{options.Redis}'): {ex.Message}", ex);
            }

            redis.AbortOnConnectFail = false;
            client.UseRedisClustering(o => o.ConfigurationOptions = redis);
            client.Configure<GatewayOptions>(o => o.GatewayListRefreshPeriod = options.GatewayListRefreshPeriod);
        }
        else
        {
            var gateways = resolvedGateways ?? ResolveGateways(options.Gateways.Count > 0 ? options.Gateways : [ClusterConnectionOptions.DefaultGateway], section);
            client.UseStaticClustering([.. gateways]);
        }

        client.Configure<ClusterOptions>(o =>
        {
            o.ClusterId = options.ClusterId;
            o.ServiceId = options.ServiceId;
        });

        client.Services.AddSingleton(new TlsRefusalProbe(options, section));
        if (options.Tls.Enabled)
        {
            var tlsSection = $"{section}:Tls";
            var certificate = options.Tls.LoadCertificate(tlsSection);
            var validate = options.Tls.CreateValidator(tlsSection);
            client.UseTls(certificate, o =>
            {
                o.RemoteCertificateMode = RemoteCertificateMode.RequireCertificate;
                o.RemoteCertificateValidation = (remote, _, _) => validate(remote);
                o.HandshakeTimeout = options.Tls.HandshakeTimeout;
            });
        }

        return client;
    }

    /// <summary>
    /// Retries failed connection attempts as <paramref name="retry"/> says, except when the TLS handshake is
    /// refused: then start-up fails at once with <see cref="TlsHandshakeRefusedException"/> (Orleans alone would
    /// retry until its timeout with a generic error).
    /// </summary>
    public static IClientBuilder UseSecureCacheConnectionRetry(this IClientBuilder client, Func<Exception, CancellationToken, Task<bool>> retry)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(retry);
        client.Services.AddSingleton<IClientConnectionRetryFilter>(sp => new TlsAwareRetryFilter(sp, retry));
        return client;
    }

    /// <summary>
    /// Whether a connection failure is a refused TLS handshake (a certificate refused by either side, or a
    /// silo that speaks TLS to a client that does not), rather than a silo that is down.
    /// </summary>
    public static bool IsTlsRefusal(Exception exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            if (e is AuthenticationException or TlsHandshakeRefusedException)
            {
                return true;
            }

            if (e.Message.Contains("SSL", StringComparison.Ordinal) || e.Message.Contains("TLS", StringComparison.Ordinal)
                || e.Message.Contains("certificate", StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }

            if (e is AggregateException aggregate && aggregate.InnerExceptions.Any(IsTlsRefusal))
            {
                return true;
            }
        }

        return false;
    }

    private static List<IPEndPoint> ResolveGateways(IEnumerable<string> gateways, string section)
    {
        var endpoints = new List<IPEndPoint>();
        foreach (var gateway in gateways)
        {
            var colon = gateway.LastIndexOf(':');
            if (colon <= 0 || !int.TryParse(gateway.AsSpan(colon + 1), out var port) || port is < 1 or > 65535)
            {
                throw new InvalidOperationException($"{section}:Gateways: a gateway must be host:port (got '{gateway}').");
            }

            var host = gateway[..colon].Trim('[', ']');
            if (!IPAddress.TryParse(host, out var address))
            {
                try
                {
                    var addresses = Dns.GetHostAddresses(host);
                    address = addresses.FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork) ?? addresses.FirstOrDefault();
                }
                catch (SocketException ex)
                {
                    throw new InvalidOperationException($"{section}:Gateways: '{host}' cannot be resolved: {ex.Message}", ex);
                }
            }

            endpoints.Add(new IPEndPoint(address ?? throw new InvalidOperationException($"{section}:Gateways: '{host}' has no address."), port));
        }

        return endpoints;
    }
}
