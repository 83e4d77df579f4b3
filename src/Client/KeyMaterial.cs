using System.Security.Cryptography;
using System.Text;

namespace OrleansSecureCache;

/// <summary>
/// Key material inputs and their validation (crypto-format.md §a.1, §c.1–c.2). Messages give
/// lengths only, never key bytes or secrets.
/// </summary>
internal static class KeyMaterial
{
    public const int MinSecretKeyBytes = 32;

    private const int DefaultEncryptionKeyBytes = 32;

    /// <summary>
    /// The default encryption key: <c>HKDF-Expand(HKDF-Extract(salt = "ECV1/default-key",
    /// ikm = UTF-8(secretKey)), "ECV1/default-encryption-key", 32)</c> with SHA-256.
    /// </summary>
    /// <exception cref="ArgumentException">The secret is shorter than 32 bytes as UTF-8.</exception>
    public static byte[] DeriveDefaultEncryptionKey(string secretKey)
    {
        ArgumentNullException.ThrowIfNull(secretKey);
        byte[] ikm = Encoding.UTF8.GetBytes(secretKey);
        Span<byte> prk = stackalloc byte[SHA256.HashSizeInBytes];
        try
        {
            if (ikm.Length < MinSecretKeyBytes)
            {
                throw new ArgumentException(
                    $"SecureCache:SecretKey must be at least {MinSecretKeyBytes} bytes as UTF-8 (got {ikm.Length}); it is used to derive the cache encryption keys.",
                    nameof(secretKey));
            }

            // .NET order is Extract(hash, ikm, salt, prk): salt second, easy to swap.
            HKDF.Extract(HashAlgorithmName.SHA256, ikm, "ECV1/default-key"u8, prk);
            byte[] okm = new byte[DefaultEncryptionKeyBytes];
            HKDF.Expand(HashAlgorithmName.SHA256, prk, okm, "ECV1/default-encryption-key"u8);
            return okm;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(ikm);
            CryptographicOperations.ZeroMemory(prk);
        }
    }

    /// <summary>Checks that a per-call value key is 16, 24 or 32 bytes.</summary>
    /// <exception cref="ArgumentException">Any other length; <paramref name="paramName"/> is reported.</exception>
    public static void ValidateValueKey(ReadOnlySpan<byte> key, string paramName)
    {
        if (!IsValueKeyLength(key.Length))
        {
            throw new ArgumentException(
                $"Encryption key must be 16, 24 or 32 bytes; got {key.Length}. Generate one with RandomNumberGenerator.GetBytes(32).",
                paramName);
        }
    }

    /// <summary>Decodes the configured <c>DefaultEncryptionKey</c> (base64, 16, 24 or 32 bytes).</summary>
    /// <exception cref="ArgumentException">Not base64, or the wrong length.</exception>
    public static byte[] DecodeDefaultEncryptionKey(string base64)
    {
        ArgumentNullException.ThrowIfNull(base64);
        byte[] key;
        try
        {
            key = Convert.FromBase64String(base64);
        }
        catch (FormatException)
        {
            // No inner exception or input echo: the text is a secret.
            throw new ArgumentException(
                "SecureCache:DefaultEncryptionKey is not valid base64; it must be the base64 of 16, 24 or 32 random bytes.",
                nameof(base64));
        }

        if (!IsValueKeyLength(key.Length))
        {
            int length = key.Length;
            CryptographicOperations.ZeroMemory(key);
            throw new ArgumentException(
                $"SecureCache:DefaultEncryptionKey must decode to 16, 24 or 32 bytes (got {length}).",
                nameof(base64));
        }

        return key;
    }

    private static bool IsValueKeyLength(int length) => length is 16 or 24 or 32;
}
