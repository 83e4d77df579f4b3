using System.Text;

namespace OrleansSecureCache;

/// <summary>
/// A cache key as the application gives it: one string (a plain key, used as is) or a list of
/// parts (a multi-part key, each part escaped when there are two or more; see
/// <see cref="CacheKeys.Normalize"/>). Put user-controlled values in separate parts: a plain
/// key <c>"a:b"</c> and the parts <c>["a", "b"]</c> map to the same cache key (Djblets parity).
/// </summary>
/// <remarks>
/// Equality is structural: same shape (plain or multi-part) and the same strings, compared
/// ordinally. <c>default(CacheKey)</c> is not a key; the cache APIs reject it with an
/// <see cref="ArgumentException"/>.
/// </remarks>
public readonly struct CacheKey : IEquatable<CacheKey>
{
    internal const string DefaultKeyMessage = "CacheKey is default/uninitialized.";

    // Exactly one of these is set, except for default(CacheKey) where both are null.
    private readonly string? _plain;
    private readonly string[]? _parts;

    private CacheKey(string? plain, string[]? parts)
    {
        _plain = plain;
        _parts = parts;
    }

    /// <summary>A plain key, used as is.</summary>
    /// <exception cref="ArgumentNullException"><paramref name="key"/> is null.</exception>
    public static CacheKey Of(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        return new CacheKey(key, null);
    }

    /// <summary>A multi-part key. The array is copied.</summary>
    /// <exception cref="ArgumentNullException"><paramref name="parts"/> or one of its elements is null.</exception>
    public static CacheKey FromParts(params string[] parts)
    {
        ArgumentNullException.ThrowIfNull(parts);
        for (int i = 0; i < parts.Length; i++)
        {
            if (parts[i] is null)
            {
                throw new ArgumentNullException(nameof(parts), $"Cache key part at index {i} is null.");
            }
        }

        // Copy so a caller mutating its array cannot change a key already in use.
        return new CacheKey(null, parts.Length == 0 ? [] : (string[])parts.Clone());
    }

    /// <summary>Same as <see cref="Of"/>.</summary>
    public static implicit operator CacheKey(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        return new CacheKey(key, null);
    }

    /// <summary>Same as <see cref="FromParts"/>.</summary>
    public static implicit operator CacheKey(string[] parts) => FromParts(parts);

    /// <summary>True for <c>default(CacheKey)</c>, which is not a usable key.</summary>
    public bool IsDefault => _plain is null && _parts is null;

    /// <summary>True when the key was given as a list of parts (of any length, 0 and 1 included).</summary>
    public bool IsMultiPart => _parts is not null;

    /// <summary>The parts: one element for a plain key; empty for <c>default(CacheKey)</c>.</summary>
    public IReadOnlyList<string> Parts => _parts ?? (_plain is null ? [] : [_plain]);

    internal string? Plain => _plain;

    internal string[]? PartsArray => _parts;

    /// <summary>Throws the documented <see cref="ArgumentException"/> for <c>default(CacheKey)</c>.</summary>
    internal void ThrowIfDefault(string paramName)
    {
        if (IsDefault)
        {
            throw new ArgumentException(DefaultKeyMessage, paramName);
        }
    }

    public bool Equals(CacheKey other)
    {
        if (_parts is null || other._parts is null)
        {
            return _parts is null && other._parts is null && string.Equals(_plain, other._plain, StringComparison.Ordinal);
        }

        return _parts.AsSpan().SequenceEqual(other._parts, StringComparer.Ordinal);
    }

    public override bool Equals(object? obj) => obj is CacheKey other && Equals(other);

    public override int GetHashCode()
    {
        if (_parts is null)
        {
            return _plain is null ? 0 : StringComparer.Ordinal.GetHashCode(_plain);
        }

        var hash = new HashCode();
        hash.Add(_parts.Length);
        foreach (string part in _parts)
        {
            hash.Add(part, StringComparer.Ordinal);
        }

        return hash.ToHashCode();
    }

    public static bool operator ==(CacheKey left, CacheKey right) => left.Equals(right);

    public static bool operator !=(CacheKey left, CacheKey right) => !left.Equals(right);

    /// <summary>
    /// The plain key as is, or the parts as <c>["a", "b"]</c> (quotes and backslashes escaped) so
    /// the two shapes cannot be confused. This is the application's key text: decide before logging it.
    /// </summary>
    public override string ToString()
    {
        if (_plain is not null)
        {
            return _plain;
        }

        if (_parts is null)
        {
            return "(default CacheKey)";
        }

        var sb = new StringBuilder("[");
        for (int i = 0; i < _parts.Length; i++)
        {
            if (i > 0)
            {
                sb.Append(", ");
            }

            sb.Append('"').Append(_parts[i].Replace("\\", "\\\\", StringComparison.Ordinal)
                .Replace("\"", "\\\"", StringComparison.Ordinal)).Append('"');
        }

        return sb.Append(']').ToString();
    }
}
