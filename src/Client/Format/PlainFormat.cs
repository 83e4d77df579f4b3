using System.Buffers.Binary;
using System.Security.Cryptography;

namespace OrleansSecureCache.Format;

// Plain format "PCV1": entries written without encryption. Integers big-endian.
//
//   offset size field
//        0    4 magic 50 43 56 01 ("PCV", format 1); never equal to ECV1's magic
//        4    1 flags: bit 0 = zlib before chunking; bits 1-7 must be 0
//        5    4 u32 S: chunk size (16 .. 1 047 552); every chunk but the last is exactly S bytes
//        9    4 u32 n: chunk count = max(1, ceil(L / S))
//       13    8 u64 L: stored payload bytes (after compression), = sum of chunk lengths
//       21    8 u64 expiresAt, Unix seconds (same read rule as ECV1)
//       29   16 versionId (Guid, big-endian layout), must equal the one the grain reports
//       45   32 checksum = SHA-256( header[0..45) || u16(len(id)) || id || C )
//                 where C = SHA-256( u32(len(chunk_0)) || chunk_0 || ... || u32(len(chunk_n-1)) || chunk_n-1 )
//   total 77
//
// Chunking is canonical (the last chunk holds 1..S bytes, 0 only for an empty payload), so the
// length rules plus the checksum catch a missing, extra, reordered, truncated or altered chunk, an
// entry copied to another id and a header from another write. C is a nested hash only so that the
// writer can hash chunks as it emits them, before it knows n and L.
// The checksum is unkeyed: it detects accidents (lost chunks, transport or storage bugs, mixed
// writes), not a deliberate forger. Only ECV1 protects against an attacker who can write the store.
internal static class PlainFormat
{
    public const uint Magic = 0x5043_5601;
    public const int HeaderSize = 77;
    public const int MinSegmentSize = 16;
    public const int MaxSegmentSize = EntryFormat.MaxChunkBytes;

    public const int OffFlags = 4;
    public const int OffSegmentSize = 5;
    public const int OffChunkCount = 9;
    public const int OffPayloadLength = 13;
    public const int OffExpiresAt = 21;
    public const int OffVersionId = 29;
    public const int OffChecksum = 45;
    public const int ChecksumSize = 32;

    public static bool IsValidSegmentSize(long s) => s is >= MinSegmentSize and <= MaxSegmentSize;

    internal readonly ref struct Header
    {
        public Header(ReadOnlySpan<byte> bytes) => Bytes = bytes;
        public ReadOnlySpan<byte> Bytes { get; }
        public bool Compressed => (Bytes[OffFlags] & EntryFormat.FlagZlib) != 0;
        public int SegmentSize => (int)BinaryPrimitives.ReadUInt32BigEndian(Bytes[OffSegmentSize..]);
        public int ChunkCount => (int)BinaryPrimitives.ReadUInt32BigEndian(Bytes[OffChunkCount..]);
        public long PayloadLength => (long)BinaryPrimitives.ReadUInt64BigEndian(Bytes[OffPayloadLength..]);
        public ulong ExpiresAt => BinaryPrimitives.ReadUInt64BigEndian(Bytes[OffExpiresAt..]);
        public ReadOnlySpan<byte> VersionBytes => Bytes.Slice(OffVersionId, 16);
        public ReadOnlySpan<byte> Checksum => Bytes.Slice(OffChecksum, ChecksumSize);
    }

    /// <summary>Structural rules: length, magic, flags, S, and n consistent with L and S.</summary>
    public static MissReason ParseHeader(ReadOnlySpan<byte> bytes, out Header header)
    {
        header = default;
        if (bytes.Length != HeaderSize || BinaryPrimitives.ReadUInt32BigEndian(bytes) != Magic)
        {
            return MissReason.Format;
        }
        if ((bytes[OffFlags] & ~EntryFormat.FlagZlib) != 0)
        {
            return MissReason.Flags;
        }
        uint s = BinaryPrimitives.ReadUInt32BigEndian(bytes[OffSegmentSize..]);
        if (!IsValidSegmentSize(s))
        {
            return MissReason.SegmentSize;
        }
        uint n = BinaryPrimitives.ReadUInt32BigEndian(bytes[OffChunkCount..]);
        ulong length = BinaryPrimitives.ReadUInt64BigEndian(bytes[OffPayloadLength..]);
        // Reject lengths beyond any array first, so the count arithmetic cannot overflow.
        if (length > (ulong)Array.MaxLength || n != CanonicalChunkCount((long)length, (int)s))
        {
            return MissReason.Limits;
        }
        header = new Header(bytes);
        return MissReason.None;
    }

    public static long CanonicalChunkCount(long payloadLength, int segmentSize)
        => payloadLength == 0 ? 1 : (payloadLength + segmentSize - 1) / segmentSize;

    /// <summary>Writes everything but the checksum.</summary>
    public static void WriteHeaderFields(Span<byte> header, bool compressed, int segmentSize, int chunkCount,
        long payloadLength, long expiresAtUnixSeconds, Guid versionId)
    {
        BinaryPrimitives.WriteUInt32BigEndian(header, Magic);
        header[OffFlags] = compressed ? EntryFormat.FlagZlib : (byte)0;
        BinaryPrimitives.WriteUInt32BigEndian(header[OffSegmentSize..], (uint)segmentSize);
        BinaryPrimitives.WriteUInt32BigEndian(header[OffChunkCount..], (uint)chunkCount);
        BinaryPrimitives.WriteUInt64BigEndian(header[OffPayloadLength..], (ulong)payloadLength);
        BinaryPrimitives.WriteUInt64BigEndian(header[OffExpiresAt..], (ulong)expiresAtUnixSeconds);
        EntryFormat.WriteVersion(header[OffVersionId..], versionId);
    }

    /// <summary>Feeds u32(len) || chunk into the running chunk hash C.</summary>
    public static void AppendChunk(IncrementalHash chunkHash, ReadOnlySpan<byte> chunk)
    {
        Span<byte> length = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(length, (uint)chunk.Length);
        chunkHash.AppendData(length);
        chunkHash.AppendData(chunk);
    }

    /// <summary>checksum = SHA-256(header[0..45) || u16(len(id)) || id || C); C is taken from <paramref name="chunkHash"/>.</summary>
    public static void ComputeChecksum(ReadOnlySpan<byte> header, ReadOnlySpan<byte> idBytes, IncrementalHash chunkHash, Span<byte> checksum)
    {
        Span<byte> chunksDigest = stackalloc byte[32];
        chunkHash.GetHashAndReset(chunksDigest);
        using var outer = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        outer.AppendData(header[..OffChecksum]);
        Span<byte> idLength = stackalloc byte[2];
        BinaryPrimitives.WriteUInt16BigEndian(idLength, (ushort)idBytes.Length);
        outer.AppendData(idLength);
        outer.AppendData(idBytes);
        outer.AppendData(chunksDigest);
        outer.GetHashAndReset(checksum[..ChecksumSize]);
    }
}
