using System.Diagnostics;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using OrleansSecureCache.Tests.Cli;
using Xunit;
using Xunit.Abstractions;

namespace OrleansSecureCache.Tests.MultiProcess;

/// <summary>
/// Mutual TLS between silos and with clients (certificates made here, pinned by thumbprint): a client with a
/// trusted certificate works; one without, or with one the silos do not trust, is refused within seconds with
/// an error that says the TLS handshake was refused.
/// </summary>
[Collection(MultiProcessCollection.Name)]
public sealed class TlsTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Quickly = TimeSpan.FromSeconds(15);

    [SkippableFact]
    public async Task Tls_TrustedClientWorks_UntrustedOrCertificatelessClientRefusedQuickly()
    {
        await using var cluster = await ProcessCluster.StartAsync(output, "tls", "Memory");
        var dir = cluster.LogDirectory;
        using var siloCert = SelfSigned("osc-silo");
        using var clientCert = SelfSigned("osc-client");
        using var strangerCert = SelfSigned("osc-stranger");
        const string passwordVariable = "OSC_TEST_PFX_PASSWORD";
        var password = Convert.ToHexString(RandomNumberGenerator.GetBytes(12));
        await File.WriteAllBytesAsync(Path.Combine(dir, "silo.pfx"), siloCert.Export(X509ContentType.Pkcs12, password));
        await WritePemAsync(clientCert, Path.Combine(dir, "client"));
        await WritePemAsync(strangerCert, Path.Combine(dir, "stranger"));
        var siloThumb = siloCert.GetCertHashString(HashAlgorithmName.SHA256);

        cluster.SiloEnvironment["Silo__Tls__Enabled"] = "true";
        cluster.SiloEnvironment["Silo__Tls__CertificatePath"] = Path.Combine(dir, "silo.pfx");
        cluster.SiloEnvironment["Silo__Tls__CertificatePasswordVariable"] = passwordVariable;
        cluster.SiloEnvironment[passwordVariable] = password;
        // Silos trust each other (same certificate) and the one client certificate.
        cluster.SiloEnvironment["Silo__Tls__TrustedThumbprints"] = $"{siloThumb},{clientCert.GetCertHashString(HashAlgorithmName.SHA256)}";

        await cluster.RunAsync(async () =>
        {
            await cluster.StartSilosAsync(2); // silo-to-silo traffic is TLS too: they must form one cluster

            var trusted = cluster.BaseClientEnvironment();
            AddClientTls(trusted, Path.Combine(dir, "client"), siloThumb);
            var client = await cluster.StartClientAsync("trusted-client", trusted);
            Assert.Equal(2, (await ProcessCluster.ActiveSilosAsync(client))?.Length);
            Assert.Equal(0, (await client.SendAsync("fill tls 50")).GetProperty("wrong").GetInt32());
            Assert.Equal(50, (await client.SendAsync("check tls 50")).GetProperty("hits").GetInt32());

            // The library in an application process, with a certificate the silos do not trust.
            var stranger = cluster.BaseClientEnvironment();
            AddClientTls(stranger, Path.Combine(dir, "stranger"), siloThumb);
            var clock = Stopwatch.StartNew();
            await using (var refused = new ClientProcess("stranger-client", stranger, dir))
            {
                var first = await refused.ReadFirstLineAsync(TimeSpan.FromSeconds(60));
                cluster.Report($"library client with an untrusted certificate: {clock.Elapsed.TotalSeconds:0.0} s: {first.GetProperty("event")} tls={first.GetProperty("tls")}");
                Assert.Equal("connect-failed", first.GetProperty("event").GetString());
                Assert.True(first.GetProperty("tls").GetBoolean(), first.ToString());
                Assert.True(clock.Elapsed < Quickly, $"refused after {clock.Elapsed.TotalSeconds:0.0} s");
            }

            // The CLI: with a certificate the silos do not trust, and without TLS at all.
            using var cli = new CliRunner();
            cli.Variables["Osc__Redis"] = cluster.Redis.ConnectionString;
            cli.Variables["Osc__ClusterId"] = cluster.ClusterId;
            cli.Variables["Osc__ConnectTimeout"] = "00:00:30";
            cli.Variables["SecureCache__SecretKey"] = ProcessCluster.Secret;
            foreach (var (key, value) in stranger.Where(v => v.Key.StartsWith("SecureCache__Cluster__Tls__", StringComparison.Ordinal)))
            {
                cli.Variables[key.Replace("SecureCache__Cluster__", "Osc__", StringComparison.Ordinal)] = value;
            }

            await AssertCliRefusedAsync(cluster, cli, "an untrusted certificate");
            foreach (var key in cli.Variables.Keys.Where(k => k.StartsWith("Osc__Tls__", StringComparison.Ordinal)).ToList())
            {
                cli.Variables.Remove(key);
            }

            await AssertCliRefusedAsync(cluster, cli, "no TLS");

            // memoize still answers: the command's output, with a warning.
            var memoize = await cli.RunAsync("memoize", "--key", "tls-fallback", "--", "echo", "from-the-command");
            Assert.Equal(0, memoize.ExitCode);
            Assert.Equal("from-the-command\n", Encoding.UTF8.GetString(memoize.Stdout));
            Assert.Contains("TLS handshake", memoize.Stderr, StringComparison.Ordinal);
        });
    }

    private static async Task AssertCliRefusedAsync(ProcessCluster cluster, CliRunner cli, string what)
    {
        var clock = Stopwatch.StartNew();
        var result = await cli.RunAsync("get", "--key", "tls-probe");
        cluster.Report($"CLI with {what}: exit {result.ExitCode} after {clock.Elapsed.TotalSeconds:0.0} s: {result.Stderr.Trim()}");
        Assert.Equal(4, result.ExitCode);
        Assert.Contains("TLS handshake", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("refused", result.Stderr, StringComparison.Ordinal);
        Assert.True(clock.Elapsed < Quickly, $"refused after {clock.Elapsed.TotalSeconds:0.0} s");
    }

    private static void AddClientTls(Dictionary<string, string> environment, string pemBase, string siloThumbprint)
    {
        environment["SecureCache__Cluster__Tls__Enabled"] = "true";
        environment["SecureCache__Cluster__Tls__CertificatePemPath"] = pemBase + ".crt";
        environment["SecureCache__Cluster__Tls__KeyPemPath"] = pemBase + ".key";
        environment["SecureCache__Cluster__Tls__TrustedThumbprints"] = siloThumbprint;
    }

    private static X509Certificate2 SelfSigned(string name)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1"), new Oid("1.3.6.1.5.5.7.3.2")], false));
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName("localhost");
        san.AddIpAddress(System.Net.IPAddress.Loopback);
        request.CertificateExtensions.Add(san.Build());
        return request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
    }

    private static async Task WritePemAsync(X509Certificate2 certificate, string pathBase)
    {
        await File.WriteAllTextAsync(pathBase + ".crt", certificate.ExportCertificatePem());
        using var key = certificate.GetECDsaPrivateKey()!;
        await File.WriteAllTextAsync(pathBase + ".key", key.ExportPkcs8PrivateKeyPem());
    }
}
