using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;
using Microsoft.Extensions.Options;
using Orleans.Configuration;

namespace OrleansSecureCache.Cli;

/// <summary>Where the CLI runs: its standard streams and environment. Tests replace all of it.</summary>
internal sealed record CliEnvironment
{
    /// <summary>Environment variables; null means the process environment.</summary>
    public IReadOnlyDictionary<string, string>? Variables { get; init; }

    /// <summary>The folder holding <c>appsettings.json</c>; the executable's folder by default.</summary>
    public string BaseDirectory { get; init; } = AppContext.BaseDirectory;

    /// <summary>Let Ctrl+C and SIGTERM cancel the running verb (the real process only).</summary>
    public bool HandleTermination { get; init; }

    /// <summary>Runs last when a host is built (tests: another cluster connection, other services).</summary>
    public Action<HostApplicationBuilder>? ConfigureHost { get; init; }

    public string? GetVariable(string name) =>
        Variables is null ? Environment.GetEnvironmentVariable(name) : Variables.GetValueOrDefault(name);
}

/// <summary>The settings every verb shares, as given on the command line.</summary>
internal sealed record CommonArgs(
    bool Encrypt,
    byte[]? EncryptionKey,
    IReadOnlyList<string>? Prefix,
    IReadOnlyList<string>? Gateways,
    TimeSpan? ConnectTimeout,
    bool Verbose,
    string? Redis = null);

/// <summary>The cluster could not be reached within the connect timeout.</summary>
internal sealed class ClusterUnreachableException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>Configuration that cannot be used (exit code 1).</summary>
internal sealed class CliConfigurationException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// Configuration (appsettings.json beside the executable, then environment variables such as
/// <c>SecureCache__SecretKey</c> or <c>Osc__Gateways__0</c>), the secret, and the host with its Orleans client.
/// </summary>
internal sealed class CliHost : IAsyncDisposable
{
    public const string OscSection = "Osc";
    public const string DefaultGateway = "localhost:30000";
    public const string DefaultClusterId = "osc";
    public const string DefaultServiceId = "OrleansSecureCache";
    public static readonly TimeSpan DefaultConnectTimeout = TimeSpan.FromSeconds(5);

    private readonly IHost _host;

    private CliHost(IHost host)
    {
        _host = host;
        Cache = host.Services.GetRequiredService<ISecureCache>();
    }

    public ISecureCache Cache { get; }

    /// <summary>The cluster's grains, for verbs about the cluster itself (osc stats).</summary>
    public IGrainFactory Grains => _host.Services.GetRequiredService<IClusterClient>();

    public static IConfigurationRoot BuildConfiguration(CliEnvironment environment)
    {
        var builder = new ConfigurationBuilder()
            .AddJsonFile(Path.Combine(environment.BaseDirectory, "appsettings.json"), optional: true, reloadOnChange: false);
        if (environment.Variables is null)
        {
            builder.AddEnvironmentVariables();
        }
        else
        {
            builder.AddInMemoryCollection(environment.Variables.Select(v =>
                new KeyValuePair<string, string?>(v.Key.Replace("__", ConfigurationPath.KeyDelimiter, StringComparison.Ordinal), v.Value)));
        }

        return builder.Build();
    }

    /// <summary>
    /// The cache options as configured, with the command line's overrides, and the per-user secret file when
    /// encryption needs a default key and configuration gives no secret. The file is created only then.
    /// </summary>
    public static SecureCacheOptions ResolveOptions(IConfiguration configuration, CommonArgs common, CliEnvironment environment)
    {
        var section = configuration.GetSection(SecureCacheOptions.SectionName);
        var options = new SecureCacheOptions();
        try
        {
            section.Bind(options);
        }
        catch (InvalidOperationException ex)
        {
            throw new CliConfigurationException($"Invalid SecureCache configuration: {ex.Message}", ex);
        }

        ApplyOverrides(options, common, environment);
        return options;
    }

    private static void ApplyOverrides(SecureCacheOptions options, CommonArgs common, CliEnvironment environment)
    {
        if (common.Prefix is { Count: > 0 } prefix)
        {
            options.KeyPrefix = [.. prefix];
        }

        var hasSecret = !string.IsNullOrEmpty(options.SecretKey)
            || !string.IsNullOrEmpty(options.SecretKeyFile)
            || !string.IsNullOrEmpty(options.DefaultEncryptionKey);
        var needsDefaultKey = (common.Encrypt && common.EncryptionKey is null) || options.ForceEncryption;
        if (!hasSecret && needsDefaultKey)
        {
            try
            {
                options.SecretKeyFile = SecretKeyFile.GetOrCreate(SecretKeyFile.DefaultDirectory(environment.GetVariable));
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or InvalidOperationException)
            {
                throw new CliConfigurationException($"The per-user secret key file cannot be created or read: {ex.Message}", ex);
            }
        }
    }

    /// <summary>
    /// Builds the host and connects to the cluster, retrying until the connect timeout. Throws
    /// <see cref="ClusterUnreachableException"/> when no gateway answered in time.
    /// </summary>
    public static async Task<CliHost> ConnectAsync(IConfiguration configuration, SecureCacheOptions resolved, CommonArgs common, CliEnvironment environment, CancellationToken cancellationToken)
    {
        var osc = configuration.GetSection(OscSection);
        var connection = ReadConnection(osc, common);
        var gateways = common.Gateways is { Count: > 0 } given ? given : ConfiguredGateways(osc);
        var connectTimeout = common.ConnectTimeout ?? ReadTimeSpan(osc, "ConnectTimeout") ?? DefaultConnectTimeout;
        var where = connection.Clustering == GatewayDiscovery.Redis
            ? $"the gateways registered in Redis at {connection.Redis}"
            : string.Join(", ", gateways);

        // Resolved before building the host so a bad name is reported as such.
        var endpoints = connection.Clustering == GatewayDiscovery.Static
            ? await ResolveGatewaysAsync(gateways, cancellationToken).ConfigureAwait(false)
            : [];

        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings
        {
            DisableDefaults = true,
            ContentRootPath = environment.BaseDirectory,
        });
        builder.Configuration.AddConfiguration(configuration);
        ConfigureLogging(builder, configuration, common.Verbose);
        builder.Services.AddSingleton<IHostLifetime, CliLifetime>();

        Exception? lastFailure = null;
        try
        {
            builder.UseOrleansClient(client =>
            {
                client.UseSecureCacheCluster(connection, OscSection, endpoints);
                client.UseSecureCacheConnectionRetry(async (ex, token) =>
                {
                    lastFailure = ex;

                    await Task.Delay(TimeSpan.FromMilliseconds(250), token).ConfigureAwait(false);
                    return true; // until the connect timeout cancels StartAsync
                });
            });
        }
        catch (InvalidOperationException ex)
        {
            throw new CliConfigurationException(ex.Message, ex);
        }

        // Bound from configuration again, then given the command line's prefix and the per-user secret file.
        builder.Services.AddSecureCache(builder.Configuration.GetSection(SecureCacheOptions.SectionName), o =>
        {
            o.KeyPrefix = [.. resolved.KeyPrefix];
            o.SecretKeyFile = resolved.SecretKeyFile;
        });
        environment.ConfigureHost?.Invoke(builder);

        var host = builder.Build();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(connectTimeout);
        try
        {
            await host.StartAsync(timeout.Token).ConfigureAwait(false);
            return new CliHost(host);
        }
        catch (OptionsValidationException ex)
        {
            await DisposeQuietlyAsync(host).ConfigureAwait(false);
            throw new CliConfigurationException($"Invalid SecureCache configuration: {string.Join(" ", ex.Failures)}", ex);
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested && ClusterConnectionExtensions.IsTlsRefusal(ex))
        {
            await DisposeQuietlyAsync(host).ConfigureAwait(false);
            var refusal = FindRefusal(ex);
            throw new ClusterUnreachableException(
                $"The TLS handshake with the cache cluster at {where} was refused (check Osc:Tls: this client's certificate "
                + $"must be trusted by the silos, and theirs pinned here). {refusal?.Message ?? Innermost(ex).Message}", ex);
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            await DisposeQuietlyAsync(host).ConfigureAwait(false);
            var cause = lastFailure ?? (ex is OperationCanceledException ? null : ex);
            throw new ClusterUnreachableException(
                $"The cache cluster could not be reached at {where} within {connectTimeout.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture)} s"
                + (cause is null ? "." : $": {cause.Message}"),
                cause ?? ex);
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await _host.StopAsync(stop.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException)
        {
            // Leaving is best effort; the silos notice a vanished client on their own.
        }
        finally
        {
            await DisposeHostAsync(_host).ConfigureAwait(false);
        }
    }

    private static void ConfigureLogging(HostApplicationBuilder builder, IConfiguration configuration, bool verbose)
    {
        var logging = builder.Logging;
        logging.ClearProviders();
        logging.AddConfiguration(configuration.GetSection("Logging"));
        logging.AddSimpleConsole(o => o.SingleLine = true);
        builder.Services.Configure<ConsoleLoggerOptions>(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
        logging.SetMinimumLevel(verbose ? LogLevel.Information : LogLevel.Warning);

        // Orleans reports every failed gateway attempt; the CLI says it once, clearly, itself.
        logging.AddFilter("Orleans", verbose ? LogLevel.Information : LogLevel.Error);
        logging.AddFilter("Microsoft", verbose ? LogLevel.Information : LogLevel.Warning);

        // A host that cannot connect logs the cancellation with a stack trace; the CLI's own message says it.
        logging.AddFilter("Microsoft.Extensions.Hosting", verbose ? LogLevel.Information : LogLevel.None);
    }

    /// <summary>
    /// The connection settings from the <c>Osc</c> section (<c>ClusterId</c>, <c>ServiceId</c>, <c>Redis</c>,
    /// <c>Tls</c>, ...). <c>--redis</c> or <c>Osc:Redis</c> selects Redis discovery unless gateways were given on the
    /// command line.
    /// </summary>
    internal static ClusterConnectionOptions ReadConnection(IConfigurationSection osc, CommonArgs common)
    {
        var connection = new ClusterConnectionOptions();
        try
        {
            osc.Bind(connection);
        }
        catch (InvalidOperationException ex)
        {
            throw new CliConfigurationException($"Invalid {OscSection} configuration: {ex.Message}", ex);
        }

        connection.ClusterId = NonEmpty(connection.ClusterId) ?? DefaultClusterId;
        connection.ServiceId = NonEmpty(connection.ServiceId) ?? DefaultServiceId;
        if (common.Redis is { } redis)
        {
            connection.Redis = redis;
            connection.Clustering = GatewayDiscovery.Redis;
        }
        else if (common.Gateways is { Count: > 0 })
        {
            connection.Clustering = GatewayDiscovery.Static;
        }
        else if (NonEmpty(connection.Redis) is not null && osc["Clustering"] is null)
        {
            connection.Clustering = GatewayDiscovery.Redis;
        }

        var errors = connection.Validate(OscSection).ToList();
        if (errors.Count > 0)
        {
            throw new CliConfigurationException(string.Join(" ", errors));
        }

        return connection;
    }

    private static TlsHandshakeRefusedException? FindRefusal(Exception? exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            if (e is TlsHandshakeRefusedException refusal)
            {
                return refusal;
            }

            if (e is AggregateException aggregate && aggregate.InnerExceptions.Select(FindRefusal).FirstOrDefault(r => r is not null) is { } inner)
            {
                return inner;
            }
        }

        return null;
    }

    private static Exception Innermost(Exception exception)
    {
        var e = exception;
        while (e.InnerException is not null)
        {
            e = e.InnerException;
        }

        return e;
    }

    /// <summary><c>Osc:Gateway</c> (one string, comma-separated) when set, else the list <c>Osc:Gateways</c>, else the default.</summary>
    private static IReadOnlyList<string> ConfiguredGateways(IConfigurationSection osc)
    {
        if (NonEmpty(osc["Gateway"]) is { } given)
        {
            return given.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        }

        var list = osc.GetSection("Gateways").GetChildren().Select(c => c.Value).OfType<string>().Where(v => v.Length > 0).ToList();
        return list.Count > 0 ? list : [DefaultGateway];
    }

    private static TimeSpan? ReadTimeSpan(IConfigurationSection section, string key)
    {
        var text = section[key];
        if (string.IsNullOrEmpty(text))
        {
            return null;
        }

        if (TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out var value) && value > TimeSpan.Zero)
        {
            return value;
        }

        throw new CliConfigurationException($"{OscSection}:{key} must be a positive time span such as 00:00:05 (got '{text}').");
    }

    /// <summary>Checks the <c>host:port</c> syntax of a gateway (IPv6 addresses in brackets).</summary>
    public static bool TryParseGateway(string text, out string host, out int port)
    {
        host = "";
        port = 0;
        var colon = text.LastIndexOf(':');
        if (colon <= 0 || colon == text.Length - 1)
        {
            return false;
        }

        host = text[..colon];
        if (host.StartsWith('[') && host.EndsWith(']'))
        {
            host = host[1..^1];
        }
        else if (host.Contains(':', StringComparison.Ordinal))
        {
            return false; // an IPv6 address needs brackets
        }

        return host.Length > 0
            && int.TryParse(text.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out port)
            && port is > 0 and <= 65535;
    }

    private static async Task<IPEndPoint[]> ResolveGatewaysAsync(IReadOnlyList<string> gateways, CancellationToken cancellationToken)
    {
        var endpoints = new List<IPEndPoint>();
        foreach (var gateway in gateways)
        {
            if (!TryParseGateway(gateway, out var host, out var port))
            {
                throw new CliConfigurationException($"A gateway must be host:port (got '{gateway}').");
            }

            if (IPAddress.TryParse(host, out var address))
            {
                endpoints.Add(new IPEndPoint(address, port));
                continue;
            }

            IPAddress[] addresses;
            try
            {
                addresses = await Dns.GetHostAddressesAsync(host, cancellationToken).ConfigureAwait(false);
            }
            catch (SocketException ex)
            {
                throw new ClusterUnreachableException($"The gateway host '{host}' cannot be resolved: {ex.Message}", ex);
            }

            // Silos listen on IPv4 unless told otherwise; prefer it, as "localhost" may resolve to ::1 first.
            var chosen = addresses.FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork) ?? addresses.FirstOrDefault()
                ?? throw new ClusterUnreachableException($"The gateway host '{host}' has no address.");
            endpoints.Add(new IPEndPoint(chosen, port));
        }

        return [.. endpoints];
    }

    private static string? NonEmpty(string? value) => string.IsNullOrWhiteSpace(value) ? null : value;

    private static async Task DisposeQuietlyAsync(IHost host)
    {
        try
        {
            using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            await host.StopAsync(stop.Token).ConfigureAwait(false);
        }
        catch (Exception)
        {
            // The host never started properly; only its resources matter now.
        }

        await DisposeHostAsync(host).ConfigureAwait(false);
    }

    private static async Task DisposeHostAsync(IHost host)
    {
        if (host is IAsyncDisposable asyncDisposable)
        {
            await asyncDisposable.DisposeAsync().ConfigureAwait(false);
        }
        else
        {
            host.Dispose();
        }
    }

    /// <summary>The CLI owns Ctrl+C (System.CommandLine cancels the verb); the host must not take it.</summary>
    private sealed class CliLifetime : IHostLifetime
    {
        public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
