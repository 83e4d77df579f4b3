using System.Buffers;
using System.Security.Cryptography;
using System.Text;

namespace OrleansSecureCache;

/// <summary>
/// Builds full cache keys exactly as Djblets' <c>make_cache_key</c> does (checked against
/// <c>vectors/make-cache-key.json</c>). With encryption the result is the grain id.
/// </summary>
/// <remarks>
/// Lengths are counted in Unicode scalar values, as Python counts code points. Text is encoded
/// with <see cref="Encoding.UTF8"/>, which replaces each lone surrogate by U+FFFD; a lone
/// surrogate therefore counts as one scalar value, and keys that differ only by a lone
/// surrogate versus U+FFFD give the same digest. (Djblets cannot hash such keys at all.)
/// </remarks>
public static class CacheKeys
{
    /// <summary>Djblets' <c>MAX_KEY_SIZE</c>, in scalar values.</summary>
    public const int MaxKeyLength = 240;

    private const int HashHexLength = 64;
    private const int KeptPrefixLength = MaxKeyLength - HashHexLength; // 176

    // Worst case of the kept prefix in UTF-16: every scalar a surrogate pair.
    private const int MaxTruncatedChars = KeptPrefixLength * 2 + HashHexLength;

    private const int StackallocByteLimit = 1024;

    /// <summary>
    /// Joins <paramref name="prefix"/> and the key with <c>:</c>. A plain key is used as is; a
    /// multi-part key of two or more parts has each part's <c>%</c> replaced by <c>%25</c>, then
    /// <c>:</c> by <c>%3A</c>; a single part is not escaped. Prefix parts are never escaped.
    /// </summary>
    public static string Normalize(CacheKey key, IReadOnlyList<string>? prefix)
    {
        key.ThrowIfDefault(nameof(key));
        int prefixCount = prefix?.Count ?? 0;
        string? plain = key.Plain;

        if (prefixCount == 0 && plain is not null)
        {
            return plain;
        }

        string[] parts = plain is null ? key.PartsArray! : [plain];
        bool escape = parts.Length > 1;

        int length = 0;
        for (int i = 0; i < prefixCount; i++)
        {
            string p = prefix![i] ?? throw new ArgumentNullException(nameof(prefix), $"Key prefix part at index {i} is null.");
            length += p.Length;
        }

        foreach (string part in parts)
        {
            length += escape ? EscapedPartLength(part) : part.Length;
        }

        int separators = prefixCount + parts.Length - 1;
        if (separators > 0)
        {
            length += separators;
        }

        if (length == 0)
        {
            return string.Empty;
        }

        return string.Create(length, (prefix, prefixCount, parts, escape), static (dest, st) =>
        {
            int pos = 0;
            bool first = true;
            for (int i = 0; i < st.prefixCount; i++)
            {
                AppendSeparator(dest, ref pos, ref first);
                string p = st.prefix![i];
                p.CopyTo(dest[pos..]);
                pos += p.Length;
            }

            foreach (string part in st.parts)
            {
                AppendSeparator(dest, ref pos, ref first);
                if (st.escape)
                {
                    pos += WriteEscapedPart(part, dest[pos..]);
                }
                else
                {
                    part.CopyTo(dest[pos..]);
                    pos += part.Length;
                }
            }
        });
    }

    /// <summary>
    /// The full cache key. Encrypted: the lowercase hex of
    /// <c>HMAC-SHA256(encryptionKey, UTF-8(normalized key))</c>, 64 characters. Unencrypted: the
    /// normalized key with U+0000–U+0020 and U+007F written as <c>\xNN</c>; when that is longer than
    /// 240 scalar values, its first 176 followed by the hex SHA-256 of its UTF-8.
    /// </summary>
    /// <param name="key">The application's key.</param>
    /// <param name="prefix">Parts placed before the key (site domain, root); may be null.</param>
    /// <param name="useEncryption">Whether to return the HMAC digest.</param>
    /// <param name="encryptionKey">The HMAC key; required (any non-empty length) when
    /// <paramref name="useEncryption"/> is true, ignored otherwise.</param>
    /// <exception cref="ArgumentException"><paramref name="key"/> is default, or encryption is
    /// asked for without key material.</exception>
    public static string MakeCacheKey(
        CacheKey key,
        IReadOnlyList<string>? prefix = null,
        bool useEncryption = false,
        ReadOnlySpan<byte> encryptionKey = default)
    {
        if (useEncryption && encryptionKey.IsEmpty)
        {
            // Never fall back to a plaintext key when encryption was asked for.
            throw new ArgumentException(
                "Encryption was requested but no key material was given; key material is required to build an encrypted cache key.",
                nameof(encryptionKey));
        }

        string normalized = Normalize(key, prefix);
        return useEncryption ? HmacHex(normalized, encryptionKey) : EscapeAndTruncate(normalized);
    }

    private static string HmacHex(string text, ReadOnlySpan<byte> hmacKey)
    {
        Span<byte> mac = stackalloc byte[HMACSHA256.HashSizeInBytes];
        // The exact count is only needed when the worst case would not fit on the stack.
        int byteCount = Encoding.UTF8.GetMaxByteCount(text.Length);
        if (byteCount > StackallocByteLimit)
        {
            byteCount = Encoding.UTF8.GetByteCount(text);
        }

        byte[]? rented = null;
        Span<byte> buffer = byteCount <= StackallocByteLimit
            ? stackalloc byte[StackallocByteLimit]
            : (rented = ArrayPool<byte>.Shared.Rent(byteCount));
        int written = 0;
        try
        {
            written = Encoding.UTF8.GetBytes(text, buffer);
            HMACSHA256.HashData(hmacKey, buffer[..written], mac);
            return Convert.ToHexStringLower(mac);
        }
        finally
        {
            // The plaintext key is what encryption hides; do not leave it in a shared pool.
            CryptographicOperations.ZeroMemory(buffer[..written]);
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    private static string EscapeAndTruncate(string normalized)
    {
        string escaped = EscapeControlChars(normalized);

        // Scalar count <= UTF-16 length, so short strings need no counting.
        if (escaped.Length <= MaxKeyLength)
        {
            return escaped;
        }

        int scalars = 0;
        int keptChars = -1;
        for (int i = 0; i < escaped.Length; scalars++)
        {
            if (scalars == KeptPrefixLength)
            {
                keptChars = i;
            }

            // A valid pair is one scalar; a lone surrogate is one too (it becomes U+FFFD in UTF-8).
            i += char.IsHighSurrogate(escaped[i]) && i + 1 < escaped.Length && char.IsLowSurrogate(escaped[i + 1]) ? 2 : 1;
        }

        if (scalars <= MaxKeyLength)
        {
            return escaped;
        }

        Span<byte> digest = stackalloc byte[SHA256.HashSizeInBytes];
        int byteCount = Encoding.UTF8.GetByteCount(escaped);
        byte[]? rented = null;
        Span<byte> buffer = byteCount <= StackallocByteLimit
            ? stackalloc byte[StackallocByteLimit]
            : (rented = ArrayPool<byte>.Shared.Rent(byteCount));
        try
        {
            int written = Encoding.UTF8.GetBytes(escaped, buffer);
            SHA256.HashData(buffer[..written], digest);
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }

        Span<char> result = stackalloc char[MaxTruncatedChars];
        escaped.AsSpan(0, keptChars).CopyTo(result);
        Convert.TryToHexStringLower(digest, result[keptChars..], out int hexChars);
        return new string(result[..(keptChars + hexChars)]);
    }

    private static bool IsControlOrSpace(char c) => c <= '\u0020' || c == '\u007f';

    private static string EscapeControlChars(string text)
    {
        int count = 0;
        foreach (char c in text)
        {
            if (IsControlOrSpace(c))
            {
                count++;
            }
        }

        if (count == 0)
        {
            return text;
        }

        // Each escaped char (1) becomes \xNN (4).
        return string.Create(text.Length + 3 * count, text, static (dest, src) =>
        {
            int pos = 0;
            foreach (char c in src)
            {
                if (IsControlOrSpace(c))
                {
                    dest[pos++] = '\\';
                    dest[pos++] = 'x';
                    dest[pos++] = HexLower(c >> 4);
                    dest[pos++] = HexLower(c & 0xF);
                }
                else
                {
                    dest[pos++] = c;
                }
            }
        });
    }

    private static char HexLower(int nibble) => (char)(nibble < 10 ? '0' + nibble : 'a' + nibble - 10);

    private static int EscapedPartLength(string part)
    {
        int length = part.Length;
        foreach (char c in part)
        {
            if (c is '%' or ':')
            {
                length += 2;
            }
        }

        return length;
    }

    // One pass equals Djblets' two replaces ('%' first, then ':'): the second adds no '%' the first could see.
    private static int WriteEscapedPart(string part, Span<char> dest)
    {
        int pos = 0;
        foreach (char c in part)
        {
            if (c == '%')
            {
                dest[pos++] = '%';
                dest[pos++] = '2';
                dest[pos++] = '5';
            }
            else if (c == ':')
            {
                dest[pos++] = '%';
                dest[pos++] = '3';
                dest[pos++] = 'A';
            }
            else
            {
                dest[pos++] = c;
            }
        }

        return pos;
    }

    private static void AppendSeparator(Span<char> dest, ref int pos, ref bool first)
    {
        if (!first)
        {
            dest[pos++] = ':';
        }

        first = false;
    }
}
