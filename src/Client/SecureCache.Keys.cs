using OrleansSecureCache.Grains;

namespace OrleansSecureCache;

/// <summary>From a key and per-call options to what one call needs: its grain, key material and settings.</summary>
public sealed partial class SecureCache
{
    /// <summary>Everything one call resolved before any I/O. Bad input throws here, never later.</summary>
    internal sealed record CallContext(
        string FullKey,
        string KeyForLog,
        byte[] KeyMaterial,
        TimeSpan Expiration,
        bool Compress,
        TimeSpan WaitTimeout,
        bool ForceOverwrite,
        int InlineBytes);

    internal CallContext Resolve(CacheKey key, MemoizeOptions? options)
    {
        options ??= Defaults;
        var (encrypted, material) = ResolveEncryption(options);
        var fullKey = CacheKeys.MakeCacheKey(key, _options.KeyPrefix, encrypted, material);
        if (fullKey.Length == 0)
        {
            throw new ArgumentException("The full cache key is empty; an entry needs a non-empty key (or a key prefix).", nameof(key));
        }

        var expiration = options.Expiration ?? _options.DefaultExpiration;
        if (expiration <= TimeSpan.Zero || expiration > _options.MaxExpiration)
        {
            throw new ArgumentOutOfRangeException(nameof(options), expiration,
                $"Expiration must be positive and at most {_options.MaxExpiration} (SecureCache:MaxExpiration).");
        }

        var wait = options.WaitTimeout ?? _options.WaitTimeout;
        if (wait < TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(options), wait, "WaitTimeout must not be negative.");
        }

        return new CallContext(
            fullKey,
            // With encryption the digest is all anyone may see; a prefix of it is enough to correlate logs.
            encrypted ? fullKey[..16] : fullKey,
            material,
            expiration,
            options.Compress ?? _options.CompressByDefault,
            wait,
            options.ForceOverwrite,
            options.LargeData ? 0 : _options.InlineBytes);
    }

    private (bool Encrypted, byte[] Material) ResolveEncryption(MemoizeOptions options)
    {
        if (options.EncryptionKey is { } perCall)
        {
            if (options.UseEncryption == false)
            {
                throw new ArgumentException("An encryption key was given together with UseEncryption = false.", nameof(options));
            }

            KeyMaterial.ValidateValueKey(perCall.Span, "encryptionKey");
            return (true, perCall.ToArray());
        }

        var encrypt = options.UseEncryption ?? _options.ForceEncryption;
        if (options.UseEncryption == false && _options.ForceEncryption)
        {
            if (_options.ForbidEncryptionOptOut)
            {
                throw new InvalidOperationException("Encryption is forced for this cache; this call may not opt out.");
            }

            Log.EncryptionOptOut(_logger);
        }

        if (!encrypt)
        {
            return (false, []);
        }

        return (true, _defaultKeyMaterial ?? throw new InvalidOperationException(
            "Encryption was asked for but no key material is configured: set SecureCache:SecretKey (or SecretKeyFile) or SecureCache:DefaultEncryptionKey, or pass an encryption key."));
    }

    public string MakeCacheKey(CacheKey key, MemoizeOptions? options = null) => Resolve(key, options).FullKey;
}
