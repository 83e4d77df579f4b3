using System.Buffers;
using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Security.Cryptography;

namespace OrleansSecureCache.Format;

/// <summary>
/// ECV1, the encrypted value format (shared/crypto-format.md §a). All integers big-endian.
/// Header (102 bytes):
///   0 magic 45 43 56 01 | 4 suite 01 | 5 flags (bit 0 = zlib) | 6 u32 S | 10 u32 keyId
///   14 salt[32] | 46 u64 expiresAt | 54 versionId[16] | 70 commitment[32]
/// ctx = header[0..70) || u16(len(id)) || id; it is the HKDF info suffix and the GCM AAD.
/// Chunk i = AES-256-GCM(K_seg, nonce_i, segment_i, ctx) as ciphertext || 16-byte tag,
/// nonce_i = 00x7 || u32(i) || (last ? 01 : 00).
/// </summary>
internal static class Ecv1
{
    public const int HeaderSize = 102;
    public const int CtxHeaderBytes = 70;
    public const byte Suite = 0x01;
    public const int TagSize = 16;
    public const int NonceSize = 12;
    public const int SaltSize = 32;
    public const int KeySize = 32;
    public const int CommitmentSize = 32;
    public const int MinSegmentSize = 16;
    public const int MaxSegmentSize = EntryFormat.MaxChunkBytes - TagSize; // 1 047 536
    public const int DefaultChunkSize = EntryFormat.MaxChunkBytes;

    public const int OffSuite = 4;
    public const int OffFlags = 5;
    public const int OffSegmentSize = 6;
    public const int OffKeyId = 10;
    public const int OffSalt = 14;
    public const int OffExpiresAt = 46;
    public const int OffVersionId = 54;
    public const int OffCommitment = 70;

    /// <summary>"ECV" and format 1: 45 43 56 01.</summary>
    public const uint Magic = 0x4543_5601;

    private static ReadOnlySpan<byte> LabelValueRoot => "ECV1/value-root"u8;
    private static ReadOnlySpan<byte> LabelValueKey => "ECV1/value-key"u8;
    private static ReadOnlySpan<byte> LabelSegmentKey => "ECV1/segment-key"u8;
    private static ReadOnlySpan<byte> LabelCommitment => "ECV1/commitment"u8;

    /// <summary>
    /// Per-thread counters so tests can prove that limits and the commitment are checked before any
    /// HKDF or AES work. Thread-static because tests run in parallel and the decoder is synchronous.
    /// </summary>
    internal static class Probe
    {
        [ThreadStatic] private static long t_keyDerivations;
        [ThreadStatic] private static long t_decrypts;

        public static long KeyDerivations => t_keyDerivations;
        public static long Decrypts => t_decrypts;

        internal static void CountDerivation() => t_keyDerivations++;
        internal static void CountDecrypt() => t_decrypts++;
    }

    public static bool IsValidKeyMaterialLength(int length) => length is 16 or 24 or 32;

    public static bool IsValidSegmentSize(long s) => s is >= MinSegmentSize and <= MaxSegmentSize;

    // ---- header -------------------------------------------------------------------------------

    internal readonly ref struct Header
    {
        public Header(ReadOnlySpan<byte> bytes) => Bytes = bytes;
        public ReadOnlySpan<byte> Bytes { get; }
        public byte Flags => Bytes[OffFlags];
        public bool Compressed => (Flags & EntryFormat.FlagZlib) != 0;
        public int SegmentSize => (int)BinaryPrimitives.ReadUInt32BigEndian(Bytes[OffSegmentSize..]);
        public uint KeyId => BinaryPrimitives.ReadUInt32BigEndian(Bytes[OffKeyId..]);
        public ReadOnlySpan<byte> Salt => Bytes.Slice(OffSalt, SaltSize);
        public ulong ExpiresAt => BinaryPrimitives.ReadUInt64BigEndian(Bytes[OffExpiresAt..]);
        public ReadOnlySpan<byte> VersionBytes => Bytes.Slice(OffVersionId, 16);
        public ReadOnlySpan<byte> Commitment => Bytes.Slice(OffCommitment, CommitmentSize);
    }

    /// <summary>Structural rules of §a.3 that need no reader context: length, magic, suite, flags, S.</summary>
    public static MissReason ParseHeader(ReadOnlySpan<byte> bytes, out Header header)
    {
        header = default;
        if (bytes.Length != HeaderSize || BinaryPrimitives.ReadUInt32BigEndian(bytes) != Magic)
        {
            return MissReason.Format;
        }
        var h = new Header(bytes);
        if (bytes[OffSuite] != Suite)
        {
            return MissReason.Suite;
        }
        if ((h.Flags & ~EntryFormat.FlagZlib) != 0)
        {
            return MissReason.Flags;
        }
        if (!IsValidSegmentSize(BinaryPrimitives.ReadUInt32BigEndian(bytes[OffSegmentSize..])))
        {
            return MissReason.SegmentSize;
        }
        header = h;
        return MissReason.None;
    }

    /// <summary>Writes header[0..70); the commitment is filled in by the caller after key derivation.</summary>
    public static void WriteHeaderFields(Span<byte> header, bool compressed, int segmentSize, uint keyId,
        ReadOnlySpan<byte> salt, long expiresAtUnixSeconds, Guid versionId)
    {
        BinaryPrimitives.WriteUInt32BigEndian(header, Magic);
        header[OffSuite] = Suite;
        header[OffFlags] = compressed ? EntryFormat.FlagZlib : (byte)0;
        BinaryPrimitives.WriteUInt32BigEndian(header[OffSegmentSize..], (uint)segmentSize);
        BinaryPrimitives.WriteUInt32BigEndian(header[OffKeyId..], keyId);
        salt.CopyTo(header.Slice(OffSalt, SaltSize));
        BinaryPrimitives.WriteUInt64BigEndian(header[OffExpiresAt..], (ulong)expiresAtUnixSeconds);
        EntryFormat.WriteVersion(header[OffVersionId..], versionId);
    }

    public static byte[] BuildCtx(ReadOnlySpan<byte> header, ReadOnlySpan<byte> idBytes)
    {
        var ctx = new byte[CtxHeaderBytes + 2 + idBytes.Length];
        header[..CtxHeaderBytes].CopyTo(ctx);
        EntryFormat.WriteBoundId(ctx.AsSpan(CtxHeaderBytes), idBytes);
        return ctx;
    }

    // ---- key derivation -----------------------------------------------------------------------

    // K_enc costs a few µs, but every call with the same key material needs it; keep a few.
    // The dictionary key is an HMAC of M under a per-process random key, so M itself is never a key
    // and equal tags mean equal M. Evicted arrays are not zeroed: another thread may still use one.
    private const int ValueKeyCacheCapacity = 64;
    private static readonly byte[] s_valueKeyTagKey = RandomNumberGenerator.GetBytes(32);
    private static readonly ConcurrentDictionary<ValueKeyTag, byte[]> s_valueKeys = new();

    private readonly record struct ValueKeyTag(ulong A, ulong B, ulong C, ulong D);

    /// <summary>K_enc[0] for key material M, cached. The returned span must not be written.</summary>
    public static ReadOnlySpan<byte> GetValueKey(ReadOnlySpan<byte> keyMaterial)
    {
        if (!IsValidKeyMaterialLength(keyMaterial.Length))
        {
            throw new ArgumentException($"Key material must be 16, 24 or 32 bytes; got {keyMaterial.Length}.", nameof(keyMaterial));
        }
        Span<byte> mac = stackalloc byte[32];
        HMACSHA256.HashData(s_valueKeyTagKey, keyMaterial, mac);
        var tag = new ValueKeyTag(
            BinaryPrimitives.ReadUInt64LittleEndian(mac),
            BinaryPrimitives.ReadUInt64LittleEndian(mac[8..]),
            BinaryPrimitives.ReadUInt64LittleEndian(mac[16..]),
            BinaryPrimitives.ReadUInt64LittleEndian(mac[24..]));
        if (s_valueKeys.TryGetValue(tag, out var cached))
        {
            return cached;
        }
        var derived = DeriveValueKey(keyMaterial, keyId: 0);
        if (s_valueKeys.Count >= ValueKeyCacheCapacity)
        {
            s_valueKeys.Clear();
        }
        return s_valueKeys.GetOrAdd(tag, derived);
    }

    /// <summary>K_enc[keyId] = Expand(Extract(salt "ECV1/value-root", ikm M), "ECV1/value-key" || u32(keyId), 32).</summary>
    internal static byte[] DeriveValueKey(ReadOnlySpan<byte> keyMaterial, uint keyId)
    {
        Probe.CountDerivation();
        Span<byte> prk = stackalloc byte[32];
        Span<byte> info = stackalloc byte[LabelValueKey.Length + 4];
        try
        {
            HKDF.Extract(HashAlgorithmName.SHA256, keyMaterial, LabelValueRoot, prk);
            LabelValueKey.CopyTo(info);
            BinaryPrimitives.WriteUInt32BigEndian(info[LabelValueKey.Length..], keyId);
            var valueKey = new byte[KeySize];
            HKDF.Expand(HashAlgorithmName.SHA256, prk, valueKey, info);
            return valueKey;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(prk);
        }
    }

    /// <summary>
    /// PRK_e = Extract(salt, ikm K_enc); K_seg = Expand(PRK_e, "ECV1/segment-key" || ctx, 32);
    /// commit = Expand(PRK_e, "ECV1/commitment" || ctx, 32). PRK_e is zeroed here; the caller zeroes the outputs.
    /// </summary>
    public static void DeriveEntryKeys(ReadOnlySpan<byte> valueKey, ReadOnlySpan<byte> salt, ReadOnlySpan<byte> ctx,
        Span<byte> segmentKey, Span<byte> commitment)
    {
        Probe.CountDerivation();
        int infoLength = LabelSegmentKey.Length + ctx.Length;
        byte[]? rented = infoLength > 512 ? ArrayPool<byte>.Shared.Rent(infoLength) : null;
        Span<byte> info = rented is null ? stackalloc byte[512] : rented;
        Span<byte> prk = stackalloc byte[32];
        try
        {
            HKDF.Extract(HashAlgorithmName.SHA256, valueKey, salt, prk);

            LabelSegmentKey.CopyTo(info);
            ctx.CopyTo(info[LabelSegmentKey.Length..]);
            HKDF.Expand(HashAlgorithmName.SHA256, prk, segmentKey[..KeySize], info[..(LabelSegmentKey.Length + ctx.Length)]);

            LabelCommitment.CopyTo(info);
            ctx.CopyTo(info[LabelCommitment.Length..]);
            HKDF.Expand(HashAlgorithmName.SHA256, prk, commitment[..CommitmentSize], info[..(LabelCommitment.Length + ctx.Length)]);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(prk);
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    // ---- segments -----------------------------------------------------------------------------

    public static void WriteNonce(Span<byte> nonce, uint index, bool last)
    {
        nonce[..7].Clear();
        BinaryPrimitives.WriteUInt32BigEndian(nonce[7..], index);
        nonce[11] = last ? (byte)1 : (byte)0;
    }

    /// <summary>Encrypts one segment straight into its chunk: ciphertext, then tag.</summary>
    public static void SealSegment(AesGcm aes, uint index, bool last, ReadOnlySpan<byte> segment, Span<byte> chunk, ReadOnlySpan<byte> ctx)
    {
        Span<byte> nonce = stackalloc byte[NonceSize];
        WriteNonce(nonce, index, last);
        aes.Encrypt(nonce, segment, chunk[..segment.Length], chunk.Slice(segment.Length, TagSize), ctx);
    }

    /// <summary>Decrypts one chunk into <paramref name="segment"/>; false when the tag fails.</summary>
    public static bool TryOpenSegment(AesGcm aes, uint index, bool last, ReadOnlySpan<byte> chunk, Span<byte> segment, ReadOnlySpan<byte> ctx)
    {
        Probe.CountDecrypt();
        Span<byte> nonce = stackalloc byte[NonceSize];
        WriteNonce(nonce, index, last);
        try
        {
            aes.Decrypt(nonce, chunk[..^TagSize], chunk[^TagSize..], segment, ctx);
            return true;
        }
        catch (CryptographicException)
        {
            // AuthenticationTagMismatchException derives from it; the caller zeroes its whole buffer.
            return false;
        }
    }
}
