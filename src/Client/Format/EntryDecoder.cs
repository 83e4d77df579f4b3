using System.Buffers;
using System.Buffers.Binary;
using System.IO.Compression;
using System.Security.Cryptography;

namespace OrleansSecureCache.Format;

internal readonly record struct DecodeLimits(long MaxEntryBytes, TimeSpan MaxExpiration, TimeSpan ClockSkew);

internal readonly record struct DecodeResult(MissReason Miss, byte[]? Plaintext)
{
    public bool Ok => Miss == MissReason.None;
    public static DecodeResult Hit(byte[] plaintext) => new(MissReason.None, plaintext);
    public static DecodeResult Fail(MissReason reason) => new(reason, null);
}

/// <summary>What a header says, without any decryption. <see cref="PayloadBytes"/> and <see cref="ChunkCount"/> only for the plain format.</summary>
internal sealed record EntryDescription(bool Encrypted, bool Compressed, int SegmentSize, DateTimeOffset ExpiresAt, Guid VersionId, long? PayloadBytes)
{
    public int? ChunkCount { get; init; }
}

/// <summary>
/// Reads entries (§a.5). Every chunk is verified and decrypted before anything is returned. Bad data is
/// a miss with a reason, never an exception; exceptions mean programming errors (null list, bad limits,
/// a key of the wrong size, an empty grain id).
/// </summary>
internal static class EntryDecoder
{
    public static DecodeResult Open(ReadOnlySpan<byte> header, IReadOnlyList<byte[]> chunks, string grainId, Guid versionId,
        ReadOnlySpan<byte> keyMaterial, DecodeLimits limits, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(chunks);
        byte[] idBytes = EntryFormat.EncodeGrainId(grainId, nameof(grainId));
        EntryFormat.ValidateLimits(limits);
        if (keyMaterial.IsEmpty)
        {
            return OpenPlain(header, chunks, idBytes, versionId, limits, now);
        }
        if (!Ecv1.IsValidKeyMaterialLength(keyMaterial.Length))
        {
            throw new ArgumentException($"Key material must be 16, 24 or 32 bytes; got {keyMaterial.Length}.", nameof(keyMaterial));
        }
        return OpenEcv1(header, chunks, idBytes, versionId, keyMaterial, limits, now);
    }

    public static EntryDescription? Describe(ReadOnlySpan<byte> header)
    {
        if (Ecv1.ParseHeader(header, out var e) == MissReason.None)
        {
            return TryExpiry(e.ExpiresAt, out var expires)
                ? new EntryDescription(true, e.Compressed, e.SegmentSize, expires, EntryFormat.ReadVersion(e.VersionBytes), null)
                : null;
        }
        if (PlainFormat.ParseHeader(header, out var p) == MissReason.None)
        {
            return TryExpiry(p.ExpiresAt, out var expires)
                ? new EntryDescription(false, p.Compressed, p.SegmentSize, expires, EntryFormat.ReadVersion(p.VersionBytes), p.PayloadLength)
                {
                    ChunkCount = p.ChunkCount,
                }
                : null;
        }
        return null;
    }

    private static bool TryExpiry(ulong seconds, out DateTimeOffset expires)
    {
        expires = default;
        if (seconds > EntryFormat.MaxExpiresAtUnixSeconds)
        {
            return false;
        }
        expires = DateTimeOffset.FromUnixTimeSeconds((long)seconds);
        return true;
    }

    private static DecodeResult OpenEcv1(ReadOnlySpan<byte> headerBytes, IReadOnlyList<byte[]> chunks, byte[] idBytes, Guid versionId,
        ReadOnlySpan<byte> keyMaterial, DecodeLimits limits, DateTimeOffset now)
    {
        // 1. Header rules, in §a.3 order.
        var miss = Ecv1.ParseHeader(headerBytes, out var header);
        if (miss != MissReason.None)
        {
            return DecodeResult.Fail(miss);
        }
        if (header.KeyId != 0)
        {
            return DecodeResult.Fail(MissReason.KeyId); // no keyring yet: only keyId 0 is usable
        }
        if (!EntryFormat.IsExpiryAcceptable(header.ExpiresAt, now, limits))
        {
            return DecodeResult.Fail(MissReason.Expired);
        }
        if (!VersionMatches(header.VersionBytes, versionId))
        {
            return DecodeResult.Fail(MissReason.Version);
        }

        // 2. Limits, before any HKDF or AES work.
        int s = header.SegmentSize;
        int n = chunks.Count;
        if (n < 1 || n > EntryFormat.MaxChunkCount(limits.MaxEntryBytes, s))
        {
            return DecodeResult.Fail(MissReason.Limits);
        }
        long total = 0;
        for (int i = 0; i < n; i++)
        {
            var chunk = chunks[i];
            if (chunk is null)
            {
                return DecodeResult.Fail(MissReason.Limits);
            }
            bool lengthOk = i < n - 1
                ? chunk.Length == s + Ecv1.TagSize
                : chunk.Length >= Ecv1.TagSize && chunk.Length <= s + Ecv1.TagSize && (n == 1 || chunk.Length > Ecv1.TagSize);
            if (!lengthOk)
            {
                return DecodeResult.Fail(MissReason.Limits);
            }
            total += chunk.Length - Ecv1.TagSize;
        }
        // Uncompressed payloads are bounded by MaxEntryBytes itself; only zlib output may exceed it slightly.
        if (total > Array.MaxLength || (!header.Compressed && total > limits.MaxEntryBytes))
        {
            return DecodeResult.Fail(MissReason.Limits);
        }

        // 3. Derive keys and check the commitment before decrypting anything.
        var ctx = Ecv1.BuildCtx(headerBytes, idBytes);
        Span<byte> segmentKey = stackalloc byte[Ecv1.KeySize];
        Span<byte> commitment = stackalloc byte[Ecv1.CommitmentSize];
        AesGcm aes;
        try
        {
            Ecv1.DeriveEntryKeys(Ecv1.GetValueKey(keyMaterial), header.Salt, ctx, segmentKey, commitment);
            if (!CryptographicOperations.FixedTimeEquals(commitment, header.Commitment))
            {
                return DecodeResult.Fail(MissReason.Commitment);
            }
            aes = new AesGcm(segmentKey, Ecv1.TagSize);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(segmentKey);
            CryptographicOperations.ZeroMemory(commitment);
        }

        // 4. Decrypt every segment straight into one buffer: the result itself, or a pooled
        //    buffer for zlib input.
        int length = (int)total;
        byte[] buffer = header.Compressed ? ArrayPool<byte>.Shared.Rent(length) : new byte[length];
        bool ok = true;
        using (aes)
        {
            int offset = 0;
            for (int i = 0; i < n && ok; i++)
            {
                var chunk = chunks[i];
                int segmentLength = chunk.Length - Ecv1.TagSize;
                ok = Ecv1.TryOpenSegment(aes, (uint)i, i == n - 1, chunk, buffer.AsSpan(offset, segmentLength), ctx);
                offset += segmentLength;
            }
        }
        if (!ok)
        {
            // .NET clears only the failed segment; earlier ones are unauthenticated as a whole.
            CryptographicOperations.ZeroMemory(buffer.AsSpan(0, length));
            ReturnIfPooled(buffer, header.Compressed);
            return DecodeResult.Fail(MissReason.Tag);
        }
        if (!header.Compressed)
        {
            return DecodeResult.Hit(buffer);
        }

        // 5. Decompress with an output cap.
        var inflated = Inflate(buffer, length, limits.MaxEntryBytes);
        ReturnIfPooled(buffer, pooled: true);
        return inflated is null ? DecodeResult.Fail(MissReason.Decompress) : DecodeResult.Hit(inflated);
    }

    private static DecodeResult OpenPlain(ReadOnlySpan<byte> headerBytes, IReadOnlyList<byte[]> chunks, byte[] idBytes, Guid versionId,
        DecodeLimits limits, DateTimeOffset now)
    {
        var miss = PlainFormat.ParseHeader(headerBytes, out var header);
        if (miss != MissReason.None)
        {
            return DecodeResult.Fail(miss);
        }
        if (!EntryFormat.IsExpiryAcceptable(header.ExpiresAt, now, limits))
        {
            return DecodeResult.Fail(MissReason.Expired);
        }
        if (!VersionMatches(header.VersionBytes, versionId))
        {
            return DecodeResult.Fail(MissReason.Version);
        }

        int s = header.SegmentSize;
        int n = header.ChunkCount;
        long length = header.PayloadLength;
        if (n > EntryFormat.MaxChunkCount(limits.MaxEntryBytes, s)
            || (!header.Compressed && length > limits.MaxEntryBytes)
            || chunks.Count != n)
        {
            return DecodeResult.Fail(MissReason.Limits);
        }
        for (int i = 0; i < n; i++)
        {
            var chunk = chunks[i];
            long expected = i < n - 1 ? s : length - ((long)(n - 1) * s);
            if (chunk is null || chunk.Length != expected)
            {
                return DecodeResult.Fail(MissReason.Limits);
            }
        }

        // Checksum over the chunks, then one copy into the payload buffer.
        Span<byte> checksum = stackalloc byte[PlainFormat.ChecksumSize];
        using (var chunkHash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256))
        {
            for (int i = 0; i < n; i++)
            {
                PlainFormat.AppendChunk(chunkHash, chunks[i]);
            }
            PlainFormat.ComputeChecksum(headerBytes, idBytes, chunkHash, checksum);
        }
        if (!CryptographicOperations.FixedTimeEquals(checksum, header.Checksum))
        {
            return DecodeResult.Fail(MissReason.Checksum);
        }

        int total = (int)length;
        byte[] buffer = header.Compressed ? ArrayPool<byte>.Shared.Rent(total) : new byte[total];
        int offset = 0;
        for (int i = 0; i < n; i++)
        {
            chunks[i].CopyTo(buffer, offset);
            offset += chunks[i].Length;
        }
        if (!header.Compressed)
        {
            return DecodeResult.Hit(buffer);
        }
        var inflated = Inflate(buffer, total, limits.MaxEntryBytes);
        ReturnIfPooled(buffer, pooled: true);
        return inflated is null ? DecodeResult.Fail(MissReason.Decompress) : DecodeResult.Hit(inflated);
    }

    private static bool VersionMatches(ReadOnlySpan<byte> stored, Guid expected)
    {
        Span<byte> bytes = stackalloc byte[16];
        EntryFormat.WriteVersion(bytes, expected);
        return CryptographicOperations.FixedTimeEquals(stored, bytes);
    }

    private static void ReturnIfPooled(byte[] buffer, bool pooled)
    {
        if (pooled)
        {
            ArrayPool<byte>.Shared.Return(buffer, clearArray: true);
        }
    }

    /// <summary>
    /// Inflates zlib data into a buffer that never grows past <paramref name="cap"/>; null when the data
    /// is corrupt, truncated, followed by extra bytes, or would exceed the cap. Memory stays within
    /// about 1.5 x cap while growing.
    /// </summary>
    internal static byte[]? Inflate(byte[] source, int sourceLength, long cap)
    {
        if (sourceLength == 0)
        {
            return []; // ZLibStream writes nothing at all for an empty input
        }
        int capacityLimit = (int)Math.Min(cap, Array.MaxLength);
        // The output grows in pooled buffers (a fixed first size allocated about 64 KiB per small hit) and
        // only the exact result is a new array; every pooled buffer is wiped before it goes back.
        int initial = (int)Math.Min(capacityLimit, Math.Max(4 * 1024, (long)sourceLength * 4));
        byte[] output = ArrayPool<byte>.Shared.Rent(initial);
        int limit = Math.Min(output.Length, capacityLimit);
        int filled = 0;
        try
        {
            using var input = new MemoryStream(source, 0, sourceLength, writable: false);
            using var zlib = new ZLibStream(input, CompressionMode.Decompress);
            while (true)
            {
                if (filled == limit)
                {
                    if (limit == capacityLimit)
                    {
                        // At the cap: one more byte of output means the entry is too large.
                        Span<byte> probe = stackalloc byte[1];
                        if (zlib.Read(probe) != 0)
                        {
                            return null;
                        }
                        break;
                    }
                    var larger = ArrayPool<byte>.Shared.Rent((int)Math.Min(capacityLimit, (long)limit * 2));
                    output.AsSpan(0, filled).CopyTo(larger);
                    Return(output, filled);
                    output = larger;
                    limit = Math.Min(output.Length, capacityLimit);
                }
                int read = zlib.Read(output, filled, limit - filled);
                if (read == 0)
                {
                    break;
                }
                filled += read;
            }

            // ZLibStream reports a stream cut short as a normal end of data. A complete stream ends with
            // the Adler-32 of its output (which zlib has then verified), so the input's last four bytes
            // must be exactly that: this rejects truncated streams and trailing bytes alike.
            if (sourceLength < 6
                || BinaryPrimitives.ReadUInt32BigEndian(source.AsSpan(sourceLength - 4, 4)) != Adler32(output.AsSpan(0, filled)))
            {
                return null;
            }
            return output.AsSpan(0, filled).ToArray();
        }
        catch (InvalidDataException)
        {
            return null;
        }
        finally
        {
            Return(output, filled);
        }

        static void Return(byte[] buffer, int used)
        {
            CryptographicOperations.ZeroMemory(buffer.AsSpan(0, Math.Min(used, buffer.Length)));
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    internal static uint Adler32(ReadOnlySpan<byte> data)
    {
        const uint Mod = 65521;
        const int MaxRun = 5552; // largest run before the sums can overflow 32 bits
        uint a = 1, b = 0;
        while (!data.IsEmpty)
        {
            int run = Math.Min(MaxRun, data.Length);
            foreach (byte x in data[..run])
            {
                a += x;
                b += a;
            }
            a %= Mod;
            b %= Mod;
            data = data[run..];
        }
        return (b << 16) | a;
    }
}
