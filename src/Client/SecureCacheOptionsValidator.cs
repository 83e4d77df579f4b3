using System.Text;
using Microsoft.Extensions.Options;

namespace OrleansSecureCache;

/// <summary>Start-up validation of <see cref="SecureCacheOptions"/>: every message names its setting.</summary>
internal sealed class SecureCacheOptionsValidator : IValidateOptions<SecureCacheOptions>
{
    public ValidateOptionsResult Validate(string? name, SecureCacheOptions options)
    {
        var errors = new List<string>();
        try
        {
            var material = ResolveDefaultKeyMaterial(options);
            if (options.ForceEncryption && material is null)
            {
                errors.Add("SecureCache:ForceEncryption is on but no key material is configured: set SecureCache:SecretKey, SecretKeyFile or DefaultEncryptionKey.");
            }
        }
        catch (ArgumentException ex)
        {
            errors.Add(ex.Message);
        }

        if (options.ChunkSize is < 64 or > SecureCacheOptions.MaxChunkSize)
        {
            errors.Add($"SecureCache:ChunkSize must be between 64 and {SecureCacheOptions.MaxChunkSize} bytes (got {options.ChunkSize}).");
        }

        Positive(errors, options.DefaultExpiration, "DefaultExpiration");
        Positive(errors, options.MaxExpiration, "MaxExpiration");
        Positive(errors, options.LeaseDuration, "LeaseDuration");
        Positive(errors, options.OperationTimeout, "OperationTimeout");
        Positive(errors, options.CircuitBreakDuration, "CircuitBreakDuration");
        if (options.DefaultExpiration > options.MaxExpiration)
        {
            errors.Add("SecureCache:DefaultExpiration must not exceed SecureCache:MaxExpiration.");
        }

        if (options.WaitTimeout < TimeSpan.Zero)
        {
            errors.Add("SecureCache:WaitTimeout must not be negative.");
        }

        if (options.ClockSkew < TimeSpan.Zero)
        {
            errors.Add("SecureCache:ClockSkew must not be negative.");
        }

        if (options.MaxEntryBytes < 1)
        {
            errors.Add("SecureCache:MaxEntryBytes must be positive.");
        }

        if (options.KeyPrefix.Any(p => p is null))
        {
            errors.Add("SecureCache:KeyPrefix must not contain null parts.");
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    /// <summary>
    /// The key material for calls without a key of their own: DefaultEncryptionKey if set, else the key derived
    /// from SecretKey (or the file SecretKeyFile names), else none. Throws ArgumentException naming the setting.
    /// </summary>
    internal static byte[]? ResolveDefaultKeyMaterial(SecureCacheOptions options)
    {
        if (!string.IsNullOrEmpty(options.DefaultEncryptionKey))
        {
            return KeyMaterial.DecodeDefaultEncryptionKey(options.DefaultEncryptionKey);
        }

        var secret = options.SecretKey;
        if (string.IsNullOrEmpty(secret) && !string.IsNullOrEmpty(options.SecretKeyFile))
        {
            try
            {
                secret = File.ReadAllText(options.SecretKeyFile, Encoding.UTF8).TrimEnd('\r', '\n');
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                throw new ArgumentException($"SecureCache:SecretKeyFile '{options.SecretKeyFile}' cannot be read: {ex.Message}");
            }
        }

        return string.IsNullOrEmpty(secret) ? null : KeyMaterial.DeriveDefaultEncryptionKey(secret);
    }

    private static void Positive(List<string> errors, TimeSpan value, string setting)
    {
        if (value <= TimeSpan.Zero)
        {
            errors.Add($"SecureCache:{setting} must be positive (got {value}).");
        }
    }
}
