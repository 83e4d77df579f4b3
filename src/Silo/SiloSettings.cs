using System.ComponentModel.DataAnnotations;
using OrleansSecureCache.Grains;

namespace OrleansSecureCache.Silo;

public enum SiloClustering
{
    /// <summary>Development clustering on this machine (the first silo is the primary); the default.</summary>
    Localhost,

    /// <summary>Membership in Redis (<see cref="SiloSettings.Redis"/>): any number of silos, on any machines.</summary>
    Redis,
}

public enum SiloStorage
{
    /// <summary>In-memory grain storage: entries die with the silos that hold them; the default.</summary>
    Memory,

    /// <summary>Redis grain storage (<see cref="SiloSettings.Redis"/>), written at every commit.</summary>
    Redis,
}

/// <summary>
/// Where the silo listens, which cluster it joins, how membership and grain storage are kept; the <c>Silo</c>
/// configuration section (environment variables <c>Silo__Name</c>, e.g. <c>Silo__Clustering=Redis</c>).
/// </summary>
public sealed class SiloSettings
{
    public const string SectionName = "Silo";

    [Range(1, 65535)]
    public int SiloPort { get; set; } = 11111;

    [Range(1, 65535)]
    public int GatewayPort { get; set; } = 30000;

    [Required(AllowEmptyStrings = false)]
    public string ClusterId { get; set; } = "osc";

    [Required(AllowEmptyStrings = false)]
    public string ServiceId { get; set; } = "OrleansSecureCache";

    public SiloClustering Clustering { get; set; } = SiloClustering.Localhost;

    public SiloStorage Storage { get; set; } = SiloStorage.Memory;

    /// <summary>StackExchange.Redis connection string (e.g. <c>127.0.0.1:6379</c>); required when clustering or storage is Redis.</summary>
    public string? Redis { get; set; }

    /// <summary>How long start-up may try to reach Redis before it fails with the address.</summary>
    public TimeSpan RedisConnectTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// The address other silos and clients use to reach this one (an IP address or a host name resolved at
    /// start-up). Localhost clustering always uses loopback; Redis clustering defaults to 127.0.0.1.
    /// </summary>
    public string? AdvertisedAddress { get; set; }

    /// <summary>Listen on every interface (containers) rather than only on the advertised address.</summary>
    public bool ListenOnAnyAddress { get; set; }

    /// <summary>Membership tuning (Orleans' <c>ClusterMembershipOptions</c>); unset values keep Orleans' defaults.</summary>
    public MembershipSettings Membership { get; set; } = new();

    /// <summary>Mutual TLS between silos and with clients.</summary>
    public TlsSettings Tls { get; set; } = new();

    /// <summary>Cross-field rules; each line names its setting.</summary>
    public IEnumerable<string> Validate()
    {
        var needsRedis = Clustering == SiloClustering.Redis || Storage == SiloStorage.Redis;
        if (needsRedis && string.IsNullOrWhiteSpace(Redis))
        {
            yield return $"{SectionName}:Redis (a Redis connection string such as 127.0.0.1:6379) is required when "
                + $"{SectionName}:Clustering={Clustering} and {SectionName}:Storage={Storage}.";
        }

        if (SiloPort == GatewayPort)
        {
            yield return $"{SectionName}:SiloPort and {SectionName}:GatewayPort must differ (both are {SiloPort}).";
        }

        if (RedisConnectTimeout <= TimeSpan.Zero || RedisConnectTimeout > TimeSpan.FromMinutes(2))
        {
            yield return $"{SectionName}:RedisConnectTimeout must be between 0 and 2 minutes.";
        }

        if (Clustering == SiloClustering.Localhost && !string.IsNullOrWhiteSpace(AdvertisedAddress))
        {
            yield return $"{SectionName}:AdvertisedAddress needs {SectionName}:Clustering=Redis (localhost clustering is loopback only).";
        }

        foreach (var error in Membership.Validate())
        {
            yield return error;
        }

        foreach (var error in Tls.Validate($"{SectionName}:Tls"))
        {
            yield return error;
        }
    }
}

/// <summary>How fast a dead silo is noticed; the <c>Silo:Membership</c> section.</summary>
public sealed class MembershipSettings
{
    /// <summary>Timeout of one liveness probe (Orleans default 5 s).</summary>
    public TimeSpan? ProbeTimeout { get; set; }

    /// <summary>Missed probes before a silo suspects another (Orleans default 3).</summary>
    public int? NumMissedProbesLimit { get; set; }

    /// <summary>How often the membership table is read (Orleans default 60 s).</summary>
    public TimeSpan? TableRefreshTimeout { get; set; }

    /// <summary>How often a silo writes its I-am-alive time (Orleans default 30 s).</summary>
    public TimeSpan? IAmAliveTablePublishTimeout { get; set; }

    public IEnumerable<string> Validate()
    {
        const string prefix = SiloSettings.SectionName + ":Membership:";
        if (ProbeTimeout is { } probe && probe <= TimeSpan.Zero)
            yield return $"{prefix}ProbeTimeout must be positive.";
        if (NumMissedProbesLimit is { } missed && missed < 1)
            yield return $"{prefix}NumMissedProbesLimit must be at least 1.";
        if (TableRefreshTimeout is { } refresh && refresh <= TimeSpan.Zero)
            yield return $"{prefix}TableRefreshTimeout must be positive.";
        if (IAmAliveTablePublishTimeout is { } alive && alive <= TimeSpan.Zero)
            yield return $"{prefix}IAmAliveTablePublishTimeout must be positive.";
    }
}
