using System.Buffers;
using System.IO.Compression;
using System.Security.Cryptography;

namespace OrleansSecureCache.Format;

/// <summary>What one entry is written with.</summary>
internal sealed record EntryParams(
    string GrainId,
    Guid VersionId,
    long ExpiresAtUnixSeconds,
    int ChunkSize,
    bool Compress,
    ReadOnlyMemory<byte> KeyMaterial);

/// <summary>
/// Writes one entry: ECV1 when key material is given, else the plain format. Not thread-safe.
/// Data is cut into segments of S bytes as it arrives; a full segment is sealed only once more data
/// follows it, because the last segment carries the last flag (§a.4 "streaming writes").
/// </summary>
internal sealed class EntryEncoder : IDisposable
{
    private readonly int _segmentSize;
    private readonly long _expiresAt;
    private readonly Guid _versionId;
    private readonly bool _compress;
    private readonly byte[] _idBytes;

    // ECV1 only.
    private readonly byte[]? _ecvHeader;
    private readonly byte[]? _ctx;
    private AesGcm? _aes;

    // Plain only: running hash C over the chunks.
    private IncrementalHash? _chunkHash;

    private ZLibStream? _zlib;
    private byte[]? _pending; // rented; holds the segment being filled
    private int _pendingLength;
    private int _pendingUsed; // high-water mark of _pending: the only part that ever held plaintext
    private uint _sealedCount;
    private long _storedBytes;
    private readonly Queue<byte[]> _ready = new();
    private bool _completed;
    private bool _disposed;

    private EntryEncoder(EntryParams p, ReadOnlySpan<byte> salt)
    {
        ArgumentNullException.ThrowIfNull(p);
        _idBytes = EntryFormat.EncodeGrainId(p.GrainId, nameof(p.GrainId));
        ArgumentOutOfRangeException.ThrowIfNegative(p.ExpiresAtUnixSeconds, nameof(p.ExpiresAtUnixSeconds));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(p.ExpiresAtUnixSeconds, EntryFormat.MaxExpiresAtUnixSeconds, nameof(p.ExpiresAtUnixSeconds));
        _expiresAt = p.ExpiresAtUnixSeconds;
        _versionId = p.VersionId;
        _compress = p.Compress;

        var keyMaterial = p.KeyMaterial.Span;
        bool encrypted = !keyMaterial.IsEmpty;
        if (encrypted)
        {
            if (!Ecv1.IsValidKeyMaterialLength(keyMaterial.Length))
            {
                throw new ArgumentException($"Key material must be 16, 24 or 32 bytes; got {keyMaterial.Length}.", nameof(p.KeyMaterial));
            }
            if (!Ecv1.IsValidSegmentSize((long)p.ChunkSize - Ecv1.TagSize))
            {
                throw new ArgumentOutOfRangeException(nameof(p.ChunkSize), p.ChunkSize,
                    $"An encrypted chunk must be {Ecv1.MinSegmentSize + Ecv1.TagSize} to {EntryFormat.MaxChunkBytes} bytes.");
            }
            if (salt.Length != Ecv1.SaltSize)
            {
                throw new ArgumentException($"The salt must be {Ecv1.SaltSize} bytes.", nameof(salt));
            }
            _segmentSize = p.ChunkSize - Ecv1.TagSize;

            _ecvHeader = new byte[Ecv1.HeaderSize];
            Ecv1.WriteHeaderFields(_ecvHeader, _compress, _segmentSize, keyId: 0, salt, _expiresAt, _versionId);
            _ctx = Ecv1.BuildCtx(_ecvHeader, _idBytes);
            Span<byte> segmentKey = stackalloc byte[Ecv1.KeySize];
            try
            {
                Ecv1.DeriveEntryKeys(Ecv1.GetValueKey(keyMaterial), salt, _ctx, segmentKey,
                    _ecvHeader.AsSpan(Ecv1.OffCommitment, Ecv1.CommitmentSize));
                _aes = new AesGcm(segmentKey, Ecv1.TagSize);
            }
            finally
            {
                CryptographicOperations.ZeroMemory(segmentKey);
            }
        }
        else
        {
            if (!PlainFormat.IsValidSegmentSize(p.ChunkSize))
            {
                throw new ArgumentOutOfRangeException(nameof(p.ChunkSize), p.ChunkSize,
                    $"A plain chunk must be {PlainFormat.MinSegmentSize} to {PlainFormat.MaxSegmentSize} bytes.");
            }
            _segmentSize = p.ChunkSize;
            _chunkHash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        }

        _pending = ArrayPool<byte>.Shared.Rent(_segmentSize);
        if (_compress)
        {
            _zlib = new ZLibStream(new SegmentSink(this), EntryFormat.WriteCompression, leaveOpen: false);
        }
    }

    /// <summary>A new encoder with a fresh 32-byte salt from the OS CSPRNG (§a.6 step 2).</summary>
    public static EntryEncoder Create(EntryParams p)
    {
        Span<byte> salt = stackalloc byte[Ecv1.SaltSize];
        RandomNumberGenerator.Fill(salt);
        return new EntryEncoder(p, salt);
    }

    /// <summary>Only for known-answer tests: a fixed salt reuses nonces under the same key.</summary>
    internal static EntryEncoder CreateForTest(EntryParams p, ReadOnlySpan<byte> salt) => new(p, salt);

    public bool Encrypted => _ecvHeader is not null;

    /// <summary>Uncompressed bytes written so far.</summary>
    public long PlaintextBytes { get; private set; }

    /// <summary>Appends serialized bytes; may be called any number of times before <see cref="Complete"/>.</summary>
    public void Write(ReadOnlySpan<byte> plaintext)
    {
        ThrowIfFinished();
        PlaintextBytes += plaintext.Length;
        if (_zlib is not null)
        {
            _zlib.Write(plaintext);
        }
        else
        {
            AppendStored(plaintext);
        }
    }

    /// <summary>Sealed chunks, in order, as soon as they are final.</summary>
    public bool TryTakeChunk(out byte[] chunk) => _ready.TryDequeue(out chunk!);

    /// <summary>Flushes the compressor, seals the final segment and returns the header. Remaining chunks via <see cref="TryTakeChunk"/>.</summary>
    public byte[] Complete()
    {
        ThrowIfFinished();
        if (_zlib is not null)
        {
            _zlib.Dispose(); // writes the zlib trailer through the sink
            _zlib = null;
        }
        // By construction the pending segment is non-empty unless nothing at all was stored.
        Emit(_pending.AsSpan(0, _pendingLength), last: true);
        _completed = true;

        byte[] header;
        if (_ecvHeader is not null)
        {
            header = (byte[])_ecvHeader.Clone();
        }
        else
        {
            header = new byte[PlainFormat.HeaderSize];
            PlainFormat.WriteHeaderFields(header, _compress, _segmentSize, checked((int)_sealedCount), _storedBytes, _expiresAt, _versionId);
            PlainFormat.ComputeChecksum(header, _idBytes, _chunkHash!, header.AsSpan(PlainFormat.OffChecksum));
        }
        ReleaseResources();
        return header;
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }
        _disposed = true;
        if (_zlib is not null)
        {
            var zlib = _zlib;
            _zlib = null;
            zlib.Dispose(); // its final flush reaches AppendStored, which ignores it once disposed
        }
        ReleaseResources();
        _ready.Clear();
    }

    /// <summary>The segmenter: takes stored bytes (compressed or not) and seals every full segment that has a successor.</summary>
    private void AppendStored(ReadOnlySpan<byte> data)
    {
        if (_disposed || _completed)
        {
            return;
        }
        _storedBytes += data.Length;
        var pending = _pending!;
        while (!data.IsEmpty)
        {
            if (_pendingLength == _segmentSize)
            {
                Emit(pending.AsSpan(0, _segmentSize), last: false); // more data follows it
                _pendingLength = 0;
            }
            if (_pendingLength == 0 && data.Length > _segmentSize)
            {
                // Seal straight from the caller's span: no copy for large writes.
                Emit(data[.._segmentSize], last: false);
                data = data[_segmentSize..];
                continue;
            }
            int take = Math.Min(_segmentSize - _pendingLength, data.Length);
            data[..take].CopyTo(pending.AsSpan(_pendingLength));
            _pendingLength += take;
            _pendingUsed = Math.Max(_pendingUsed, _pendingLength);
            data = data[take..];
        }
    }

    private void Emit(ReadOnlySpan<byte> segment, bool last)
    {
        if (_sealedCount == uint.MaxValue)
        {
            throw new InvalidOperationException("An entry cannot have more than 2^32 - 1 segments.");
        }
        byte[] chunk;
        if (_aes is not null)
        {
            chunk = GC.AllocateUninitializedArray<byte>(segment.Length + Ecv1.TagSize);
            Ecv1.SealSegment(_aes, _sealedCount, last, segment, chunk, _ctx);
        }
        else
        {
            chunk = segment.ToArray();
            PlainFormat.AppendChunk(_chunkHash!, chunk);
        }
        _sealedCount++;
        _ready.Enqueue(chunk);
    }

    private void ReleaseResources()
    {
        if (_pending is not null)
        {
            // Wipe what held plaintext, not the whole rented segment (clearing 1 MiB cost ~40 µs per small entry).
            CryptographicOperations.ZeroMemory(_pending.AsSpan(0, _pendingUsed));
            ArrayPool<byte>.Shared.Return(_pending);
            _pending = null;
        }
        _pendingLength = 0;
        _aes?.Dispose();
        _aes = null;
        _chunkHash?.Dispose();
        _chunkHash = null;
    }

    private void ThrowIfFinished()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_completed)
        {
            throw new InvalidOperationException("The entry is already complete.");
        }
    }

    /// <summary>Receives the compressor's output.</summary>
    private sealed class SegmentSink(EntryEncoder owner) : Stream
    {
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => owner.AppendStored(buffer.AsSpan(offset, count));
        public override void Write(ReadOnlySpan<byte> buffer) => owner.AppendStored(buffer);
    }
}
