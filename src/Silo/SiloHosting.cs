using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using OrleansSecureCache.Grains;

namespace OrleansSecureCache.Silo;

/// <summary>All of the silo's hosting decisions, shared by the executable and the tests' clusters.</summary>
public static class SiloHosting
{
    public static SiloSettings ReadSettings(IConfiguration configuration)
    {
        var settings = configuration.GetSection(SiloSettings.SectionName).Get<SiloSettings>() ?? new SiloSettings();
        var results = new List<ValidationResult>();
        if (!Validator.TryValidateObject(settings, new ValidationContext(settings), results, validateAllProperties: true))
        {
            throw new InvalidOperationException("Invalid silo settings: " + string.Join(" ", results.Select(r => $"{SiloSettings.SectionName}:{string.Join(",", r.MemberNames)}: {r.ErrorMessage}")));
        }

        return settings;
    }

    public static ISiloBuilder ConfigureSecureCacheSilo(this ISiloBuilder silo, IConfiguration configuration, SiloSettings settings)
    {
        silo.UseLocalhostClustering(settings.SiloPort, settings.GatewayPort, serviceId: settings.ServiceId, clusterId: settings.ClusterId);
        silo.Services.Configure<SecureCacheGrainOptions>(configuration.GetSection(SecureCacheGrainOptions.SectionName));
        silo.AddSecureCacheGrains();
        return silo;
    }
}
