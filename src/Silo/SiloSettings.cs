using System.ComponentModel.DataAnnotations;

namespace OrleansSecureCache.Silo;

/// <summary>Where the silo listens and which cluster it joins; the <c>Silo</c> configuration section.</summary>
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
}
