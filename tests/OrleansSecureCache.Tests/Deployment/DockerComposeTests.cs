using System.Reflection;
using OrleansSecureCache.Grains;
using OrleansSecureCache.Silo;
using OrleansSecureCache.Tests.MultiProcess;
using Xunit;

namespace OrleansSecureCache.Tests.Deployment;

/// <summary>
/// No Docker engine here: docker-compose.yml is read (a small hand parser for its plain block style) and
/// checked against the code: Dockerfiles and what they copy exist, every environment variable is a setting
/// the silo or the CLI reads, ports agree with the silo settings and the Dockerfile.
/// </summary>
public sealed class DockerComposeTests
{
    private static readonly string Root = BuiltPaths.RepositoryRoot;

    [Fact]
    public void Compose_EveryDockerfileAndEveryCopiedPathExists()
    {
        var services = ComposeFile.Load(Path.Combine(Root, "docker-compose.yml"));
        Assert.Contains("redis", services.Keys);
        Assert.Equal(3, services.Values.Count(s => DockerfileOf(s)?.EndsWith("src/Silo/Dockerfile", StringComparison.Ordinal) == true));
        Assert.Single(services.Values, s => DockerfileOf(s)?.EndsWith("src/Cli/Dockerfile", StringComparison.Ordinal) == true);
        foreach (var (name, service) in services.Where(s => s.Value.ContainsKey("build.dockerfile")))
        {
            var context = Path.GetFullPath(Path.Combine(Root, service.GetValueOrDefault("build.context") ?? "."));
            var dockerfile = Path.Combine(context, service["build.dockerfile"]);
            Assert.True(File.Exists(dockerfile), $"{name}: {dockerfile} does not exist");
            var lines = File.ReadAllLines(dockerfile);
            Assert.Contains(lines, l => l.StartsWith("FROM mcr.microsoft.com/dotnet/sdk:10.0", StringComparison.Ordinal));
            Assert.Contains(lines, l => l.StartsWith("FROM mcr.microsoft.com/dotnet/runtime:10.0", StringComparison.Ordinal));
            foreach (var copy in lines.Where(l => l.StartsWith("COPY ", StringComparison.Ordinal) && !l.Contains("--from", StringComparison.Ordinal)))
            {
                var parts = copy.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                foreach (var source in parts[1..^1])
                {
                    var path = Path.Combine(context, source);
                    Assert.True(File.Exists(path) || Directory.Exists(path), $"{name}: '{copy}' copies {source}, which does not exist");
                }
            }
        }
    }

    [Fact]
    public void Compose_EveryEnvironmentVariableIsASettingTheProcessReads_PortsAgree()
    {
        var services = ComposeFile.Load(Path.Combine(Root, "docker-compose.yml"));
        var siloDockerfile = File.ReadAllLines(Path.Combine(Root, "src/Silo/Dockerfile"));
        var exposed = siloDockerfile.Where(l => l.StartsWith("EXPOSE", StringComparison.Ordinal)).SelectMany(l => l.Split(' ')[1..]).Select(int.Parse).ToHashSet();
        var defaults = new SiloSettings();
        Assert.Contains(defaults.SiloPort, exposed);
        Assert.Contains(defaults.GatewayPort, exposed);

        foreach (var (name, service) in services)
        {
            var dockerfile = DockerfileOf(service);
            var isSilo = dockerfile?.EndsWith("src/Silo/Dockerfile", StringComparison.Ordinal) == true;
            var isCli = dockerfile?.EndsWith("src/Cli/Dockerfile", StringComparison.Ordinal) == true;
            foreach (var (variable, value) in service.Where(kv => kv.Key.StartsWith("environment.", StringComparison.Ordinal)))
            {
                var key = variable["environment.".Length..].Split("__");
                Assert.True(isSilo || isCli, $"{name} sets {variable} but runs neither the silo nor the CLI");
                var known = isSilo ? IsSiloSetting(key) : IsCliSetting(key);
                Assert.True(known, $"{name}: {string.Join("__", key)} is not a setting the {(isSilo ? "silo" : "CLI")} reads");
            }

            if (isSilo)
            {
                var silo = int.Parse(service["environment.Silo__SiloPort"]);
                var gateway = int.Parse(service["environment.Silo__GatewayPort"]);
                Assert.Contains(silo, exposed);
                Assert.Contains(gateway, exposed);
                Assert.Equal(name, service["environment.Silo__AdvertisedAddress"]);
                Assert.Equal("redis:6379", service["environment.Silo__Redis"]);
            }
        }
    }

    private static string? DockerfileOf(Dictionary<string, string> service) =>
        service.TryGetValue("build.dockerfile", out var file) ? file.Replace('\\', '/') : null;

    private static bool IsSiloSetting(string[] key) => key[0] switch
    {
        "Silo" => HasPath(typeof(SiloSettings), key[1..]),
        "SecureCache" when key.Length > 2 && key[1] == "Grain" => HasPath(typeof(SecureCacheGrainOptions), key[2..]),
        "Logging" => true,
        _ => false,
    };

    private static bool IsCliSetting(string[] key) => key[0] switch
    {
        // The CLI's own keys beside the connection settings it shares with the library.
        "Osc" => key.Length == 2 && key[1] is "Gateway" or "ConnectTimeout" || HasPath(typeof(ClusterConnectionOptions), key[1..]),
        "SecureCache" when key.Length > 2 && key[1] == "Cluster" => HasPath(typeof(ClusterConnectionOptions), key[2..]),
        "SecureCache" => HasPath(typeof(SecureCacheOptions), key[1..]),
        "Logging" => true,
        _ => false,
    };

    /// <summary>Whether <paramref name="path"/> names a settable property (nested classes followed; list indexes allowed).</summary>
    private static bool HasPath(Type type, string[] path)
    {
        if (path.Length == 0)
        {
            return false;
        }

        var property = type.GetProperty(path[0], BindingFlags.Public | BindingFlags.Instance | BindingFlags.IgnoreCase);
        if (property is null || !property.CanWrite && !property.PropertyType.IsGenericType)
        {
            return false;
        }

        var rest = path[1..];
        if (rest.Length == 0)
        {
            return true;
        }

        if (property.PropertyType.IsGenericType)
        {
            return rest.Length == 1 && int.TryParse(rest[0], out _);
        }

        return property.PropertyType.IsClass && property.PropertyType != typeof(string) && HasPath(property.PropertyType, rest);
    }

    /// <summary>Services of a compose file as flattened keys (<c>build.dockerfile</c>, <c>environment.Silo__Redis</c>).</summary>
    private static class ComposeFile
    {
        public static Dictionary<string, Dictionary<string, string>> Load(string path)
        {
            var services = new Dictionary<string, Dictionary<string, string>>();
            Dictionary<string, string>? current = null;
            string? block = null;
            var inServices = false;
            foreach (var raw in File.ReadAllLines(path))
            {
                var line = raw.Split(" #")[0].TrimEnd();
                if (line.Length == 0 || line.TrimStart().StartsWith('#'))
                {
                    continue;
                }

                var indent = line.Length - line.TrimStart().Length;
                var text = line.Trim();
                if (indent == 0)
                {
                    inServices = text == "services:";
                    continue;
                }

                if (!inServices)
                {
                    continue;
                }

                if (indent == 2)
                {
                    current = services[text.TrimEnd(':')] = [];
                    block = null;
                }
                else if (indent == 4 && current is not null)
                {
                    var (key, value) = Split(text);
                    block = value.Length == 0 ? key : null;
                    if (value.Length > 0)
                    {
                        current[key] = value;
                    }
                }
                else if (indent == 6 && current is not null && block is not null)
                {
                    if (text.StartsWith("- ", StringComparison.Ordinal))
                    {
                        current[$"{block}[{current.Keys.Count(k => k.StartsWith(block + "[", StringComparison.Ordinal))}]"] = Unquote(text[2..]);
                    }
                    else
                    {
                        var (key, value) = Split(text);
                        current[$"{block}.{key}"] = value;
                    }
                }
            }

            return services;
        }

        private static (string Key, string Value) Split(string text)
        {
            var colon = text.IndexOf(':', StringComparison.Ordinal);
            return (text[..colon].Trim(), Unquote(text[(colon + 1)..].Trim()));
        }

        private static string Unquote(string value) =>
            value.Length >= 2 && value[0] == '"' && value[^1] == '"' ? value[1..^1] : value;
    }
}
