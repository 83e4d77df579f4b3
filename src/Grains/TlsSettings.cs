using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace OrleansSecureCache.Grains;

/// <summary>
/// Mutual TLS between clients and silos and between silos, shared by the silo (<c>Silo:Tls</c>), the CLI
/// (<c>Osc:Tls</c>) and the library (<see cref="Enabled"/> off by default). This process's certificate comes
/// from a PFX file (password in the environment variable <see cref="CertificatePasswordVariable"/>) or a PEM
/// certificate and key; the other side's certificate is trusted only when pinned: its thumbprint is listed in
/// <see cref="TrustedThumbprints"/> or it chains to the CA in <see cref="CaCertificatePath"/>.
/// </summary>
public sealed class TlsSettings
{
    public bool Enabled { get; set; }

    /// <summary>A PKCS#12 (.pfx) file with this process's certificate and private key.</summary>
    public string? CertificatePath { get; set; }

    /// <summary>Name of the environment variable that holds the PFX password (the password itself is never configured).</summary>
    public string? CertificatePasswordVariable { get; set; }

    /// <summary>A PEM certificate, with <see cref="KeyPemPath"/>, instead of a PFX.</summary>
    public string? CertificatePemPath { get; set; }

    public string? KeyPemPath { get; set; }

    /// <summary>Comma-separated SHA-256 (64 hex) or SHA-1 (40 hex) thumbprints of the certificates to trust.</summary>
    public string? TrustedThumbprints { get; set; }

    /// <summary>A PEM file of the CA certificate(s) the other side's certificate must chain to.</summary>
    public string? CaCertificatePath { get; set; }

    /// <summary>How long one TLS handshake may take.</summary>
    public TimeSpan HandshakeTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>What is wrong with these settings, each line naming its setting under <paramref name="section"/>.</summary>
    public IEnumerable<string> Validate(string section)
    {
        if (!Enabled)
        {
            yield break;
        }

        var pfx = !string.IsNullOrWhiteSpace(CertificatePath);
        var pem = !string.IsNullOrWhiteSpace(CertificatePemPath) || !string.IsNullOrWhiteSpace(KeyPemPath);
        if (pfx == pem)
        {
            yield return $"{section}:CertificatePath (PFX) or {section}:CertificatePemPath with {section}:KeyPemPath is required when {section}:Enabled is true (exactly one of them).";
        }
        else if (pfx && !File.Exists(CertificatePath))
        {
            yield return $"{section}:CertificatePath: no file at '{CertificatePath}'.";
        }
        else if (pem && (string.IsNullOrWhiteSpace(CertificatePemPath) || string.IsNullOrWhiteSpace(KeyPemPath)))
        {
            yield return $"{section}:CertificatePemPath and {section}:KeyPemPath must both be set.";
        }
        else if (pem && !File.Exists(CertificatePemPath))
        {
            yield return $"{section}:CertificatePemPath: no file at '{CertificatePemPath}'.";
        }
        else if (pem && !File.Exists(KeyPemPath))
        {
            yield return $"{section}:KeyPemPath: no file at '{KeyPemPath}'.";
        }

        if (pfx && !string.IsNullOrWhiteSpace(CertificatePasswordVariable) && Environment.GetEnvironmentVariable(CertificatePasswordVariable) is null)
        {
            yield return $"{section}:CertificatePasswordVariable names '{CertificatePasswordVariable}', which is not set in the environment.";
        }

        var thumbprints = ParseThumbprints().ToList();
        if (thumbprints.Any(t => !(t.Length is 40 or 64) || !t.All(Uri.IsHexDigit)))
        {
            yield return $"{section}:TrustedThumbprints must be SHA-256 (64 hex digits) or SHA-1 (40 hex digits) thumbprints, comma-separated.";
        }

        var ca = !string.IsNullOrWhiteSpace(CaCertificatePath);
        if (thumbprints.Count == 0 && !ca)
        {
            yield return $"{section}:TrustedThumbprints or {section}:CaCertificatePath is required when {section}:Enabled is true (certificates are pinned).";
        }
        else if (ca && !File.Exists(CaCertificatePath))
        {
            yield return $"{section}:CaCertificatePath: no file at '{CaCertificatePath}'.";
        }

        if (HandshakeTimeout <= TimeSpan.Zero)
        {
            yield return $"{section}:HandshakeTimeout must be positive.";
        }
    }

    /// <summary>Throws <see cref="InvalidOperationException"/> naming the setting when the settings are unusable.</summary>
    public void EnsureValid(string section)
    {
        var errors = Validate(section).ToList();
        if (errors.Count > 0)
        {
            throw new InvalidOperationException(string.Join(" ", errors));
        }
    }

    /// <summary>This process's certificate, with its private key.</summary>
    public X509Certificate2 LoadCertificate(string section)
    {
        try
        {
            if (!string.IsNullOrWhiteSpace(CertificatePath))
            {
                var password = string.IsNullOrWhiteSpace(CertificatePasswordVariable) ? null : Environment.GetEnvironmentVariable(CertificatePasswordVariable);
                return X509CertificateLoader.LoadPkcs12FromFile(CertificatePath, password);
            }

            using var pem = X509Certificate2.CreateFromPemFile(CertificatePemPath!, KeyPemPath);
            // Through PKCS#12 so the key is usable by SslStream on every platform.
            return X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);
        }
        catch (CryptographicException ex)
        {
            throw new InvalidOperationException($"{section}: the certificate cannot be loaded ({(CertificatePath ?? CertificatePemPath)}): {ex.Message}", ex);
        }
    }

    /// <summary>
    /// The pinning check for the other side's certificate: listed thumbprint, or a chain to the configured CA.
    /// The platform's own verdict (<see cref="SslPolicyErrors"/>) is ignored: self-signed and name-less
    /// certificates are expected, and pinning is stricter than the system store.
    /// </summary>
    public Func<X509Certificate2?, bool> CreateValidator(string section)
    {
        var pinned = ParseThumbprints().Select(t => t.ToUpperInvariant()).ToHashSet(StringComparer.Ordinal);
        X509Certificate2Collection? roots = null;
        if (!string.IsNullOrWhiteSpace(CaCertificatePath))
        {
            roots = new X509Certificate2Collection();
            try
            {
                roots.ImportFromPemFile(CaCertificatePath);
            }
            catch (CryptographicException ex)
            {
                throw new InvalidOperationException($"{section}:CaCertificatePath: '{CaCertificatePath}' is not a PEM certificate file: {ex.Message}", ex);
            }
        }

        return certificate =>
        {
            if (certificate is null)
            {
                return false;
            }

            if (pinned.Contains(certificate.GetCertHashString(HashAlgorithmName.SHA256)) || pinned.Contains(certificate.GetCertHashString(HashAlgorithmName.SHA1)))
            {
                return true;
            }

            if (roots is null)
            {
                return false;
            }

            using var chain = new X509Chain();
            chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            chain.ChainPolicy.CustomTrustStore.AddRange(roots);
            chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
            return chain.Build(certificate);
        };
    }

    private IEnumerable<string> ParseThumbprints() =>
        (TrustedThumbprints ?? "").Split([',', ';', ' '], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(t => t.Replace(":", "", StringComparison.Ordinal));
}
