using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Messaging;

namespace OrleansSecureCache;

/// <summary>
/// Orleans reports a refused TLS handshake as a generic "unable to connect" and retries for as long as it is
/// allowed to. When a connection attempt fails, this probe speaks TLS to one gateway itself to tell a refused
/// handshake (our certificate refused, theirs not trusted, TLS on one side only) from a silo that is down.
/// </summary>
internal sealed class TlsRefusalProbe(ClusterConnectionOptions options, string section)
{
    private static readonly TimeSpan Step = TimeSpan.FromSeconds(2);

    /// <summary>Why the handshake with <paramref name="gateway"/> is refused, or null when TLS is not the problem.</summary>
    public async Task<string?> DiagnoseAsync(IPEndPoint gateway, CancellationToken cancellationToken)
    {
        using var client = new TcpClient(gateway.AddressFamily);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(Step);
        try
        {
            await client.ConnectAsync(gateway, timeout.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException)
        {
            return null; // down or unreachable: not a TLS matter
        }

        X509Certificate2? certificate = options.Tls.Enabled ? options.Tls.LoadCertificate($"{section}:Tls") : null;
        Func<X509Certificate2?, bool>? trusted = options.Tls.Enabled ? options.Tls.CreateValidator($"{section}:Tls") : null;
        X509Certificate2? serverCertificate = null;
        await using var tls = new SslStream(client.GetStream(), leaveInnerStreamOpen: false, (_, remote, _, _) =>
        {
            serverCertificate = remote is null ? null : new X509Certificate2(remote);
            return true; // judged below, so the reason can be told
        });
        try
        {
            using var handshake = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            handshake.CancelAfter(Step);
            await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
            {
                TargetHost = "localhost",
                ClientCertificates = certificate is null ? null : [certificate],
                CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
            }, handshake.Token).ConfigureAwait(false);
        }
        catch (AuthenticationException ex)
        {
            return $"the TLS handshake with the gateway {gateway} was refused: {ex.Message}";
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException)
        {
            // The gateway does not speak TLS.
            return options.Tls.Enabled ? $"the TLS handshake with the gateway {gateway} was refused: the gateway does not speak TLS (is TLS off on the silos?)" : null;
        }
        finally
        {
            certificate?.Dispose();
        }

        if (trusted is null)
        {
            return $"the TLS handshake was refused: the gateway {gateway} requires TLS and this client has TLS off (set {section}:Tls)";
        }

        if (!trusted(serverCertificate))
        {
            return $"the TLS handshake with the gateway {gateway} was refused: its certificate ({serverCertificate?.Subject}, SHA-256 {serverCertificate?.GetCertHashString(System.Security.Cryptography.HashAlgorithmName.SHA256)}) is not pinned in {section}:Tls";
        }

        // TLS 1.3: the silo judges our certificate after the handshake and then closes the connection.
        try
        {
            using var read = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            read.CancelAfter(Step);
            var buffer = new byte[1];
            var n = await tls.ReadAsync(buffer, read.Token).ConfigureAwait(false);
            return n == 0 ? $"the TLS handshake with the gateway {gateway} was refused: the silo closed the connection (does it trust this client's certificate?)" : null;
        }
        catch (Exception ex) when (ex is AuthenticationException or IOException)
        {
            return $"the TLS handshake with the gateway {gateway} was refused: the silo does not accept this client's certificate ({ex.Message})";
        }
        catch (OperationCanceledException)
        {
            return null; // the silo waits for us: TLS is fine
        }
    }
}

/// <summary>Retries a failed connection as the caller's delegate says, unless a probe shows the TLS handshake is refused.</summary>
internal sealed class TlsAwareRetryFilter(IServiceProvider services, Func<Exception, CancellationToken, Task<bool>> retry) : IClientConnectionRetryFilter
{
    public async Task<bool> ShouldRetryConnectionAttempt(Exception exception, CancellationToken cancellationToken)
    {
        if (ClusterConnectionExtensions.IsTlsRefusal(exception))
        {
            throw new TlsHandshakeRefusedException($"The TLS handshake was refused: {exception.Message}", exception);
        }

        if (services.GetService<TlsRefusalProbe>() is { } probe && services.GetService<IGatewayListProvider>() is { } provider)
        {
            IList<Uri> gateways;
            try
            {
                gateways = await provider.GetGateways().ConfigureAwait(false);
            }
            catch (Exception)
            {
                gateways = [];
            }

            foreach (var gateway in gateways.Take(2))
            {
                if (!IPAddress.TryParse(gateway.Host, out var address))
                {
                    continue;
                }

                if (await probe.DiagnoseAsync(new IPEndPoint(address, gateway.Port), cancellationToken).ConfigureAwait(false) is { } reason)
                {
                    throw new TlsHandshakeRefusedException(char.ToUpperInvariant(reason[0]) + reason[1..] + ".", exception);
                }
            }
        }

        return await retry(exception, cancellationToken).ConfigureAwait(false);
    }
}
