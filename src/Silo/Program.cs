using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OrleansSecureCache.Silo;

// The silo host: configuration in, a running silo out. Settings come from appsettings.json, then
// environment variables (Silo__GatewayPort, Silo__Clustering=Redis, SecureCache__Grain__MaxChunks, ...), then the
// command line. appsettings.json sits beside the executable, wherever it is started from.
var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = args, ContentRootPath = AppContext.BaseDirectory });
builder.Logging.ClearProviders();
builder.Logging.AddSimpleConsole(o => o.SingleLine = true);
builder.Services.Configure<Microsoft.Extensions.Logging.Console.ConsoleLoggerOptions>(o => o.LogToStandardErrorThreshold = LogLevel.Trace);

SiloSettings settings;
IHost host;
try
{
    settings = SiloHosting.ReadSettings(builder.Configuration);
    await SiloHosting.EnsureRedisReachableAsync(settings);
    builder.UseOrleans(silo => silo.ConfigureSecureCacheSilo(builder.Configuration, settings));
    host = builder.Build();
}
catch (InvalidOperationException ex)
{
    Console.Error.WriteLine($"The silo cannot start: {ex.Message}");
    return 2;
}

using (host)
{
    try
    {
        await host.StartAsync();
    }
    catch (OptionsValidationException ex)
    {
        Console.Error.WriteLine($"The silo cannot start: {string.Join(" ", ex.Failures)}");
        return 2;
    }

    host.Services.GetRequiredService<ILoggerFactory>().CreateLogger("OrleansSecureCache.Silo").LogInformation(
        "Silo {ClusterId}/{ServiceId} listening: silo port {SiloPort}, gateway (clients) port {GatewayPort}, clustering {Clustering}, storage {Storage}, TLS {Tls}",
        settings.ClusterId, settings.ServiceId, settings.SiloPort, settings.GatewayPort, settings.Clustering, settings.Storage, settings.Tls.Enabled ? "on" : "off");
    await host.WaitForShutdownAsync();
}

return 0;
