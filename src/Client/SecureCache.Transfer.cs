using Microsoft.Extensions.Logging;
using OrleansSecureCache.Format;
using OrleansSecureCache.Grains;

namespace OrleansSecureCache;

/// <summary>Moving an entry's chunks between this process and its grain, a few MiB per message.</summary>
public sealed partial class SecureCache
{
    private enum ReadOutcome
    {
        Verified,
        Unreadable,
        Gone,
    }

    private readonly record struct EntryRead(ReadOutcome Outcome, byte[]? Plaintext, MissReason Reason);

    /// <summary>Fetches every chunk of <paramref name="view"/> and verifies all of it before anything is returned.</summary>
    private async Task<EntryRead> ReadEntryAsync(CallContext call, EntryView view, CancellationToken cancellationToken)
    {
        // Bound the allocation before fetching anything: the segment size comes from the entry's own header
        // (it is authenticated later), so entries written with another ChunkSize stay readable.
        var described = view.Header is null ? null : EntryDecoder.Describe(view.Header);
        if (described is null)
        {
            return new EntryRead(ReadOutcome.Unreadable, null, MissReason.Format);
        }

        if (view.ChunkCount < 1 || view.ChunkCount > EntryFormat.MaxChunkCount(_options.MaxEntryBytes, described.SegmentSize))
        {
            return new EntryRead(ReadOutcome.Unreadable, null, MissReason.Limits);
        }

        var chunks = view.InlineChunks;
        if (chunks is null || chunks.Length != view.ChunkCount)
        {
            chunks = new byte[view.ChunkCount][];
            var perBatch = Math.Max(1, _options.TransferBatchBytes / Math.Max(1, described.SegmentSize));
            var next = 0;
            while (next < chunks.Length)
            {
                var start = next;
                var batch = await CallAsync(call, g => g.ReadChunks(view.VersionId, start, perBatch, cancellationToken), cancellationToken).ConfigureAwait(false);
                if (batch.Status == ReadStatus.Gone)
                {
                    return new EntryRead(ReadOutcome.Gone, null, MissReason.None);
                }

                if (batch.Status != ReadStatus.Ok || batch.StartIndex != start || batch.Chunks is not { Length: > 0 } || start + batch.Chunks.Length > chunks.Length
                    || Array.IndexOf(batch.Chunks, null) >= 0)
                {
                    return new EntryRead(ReadOutcome.Unreadable, null, MissReason.Limits);
                }

                batch.Chunks.CopyTo(chunks, start);
                next += batch.Chunks.Length;
            }
        }

        if (Array.IndexOf(chunks, null) >= 0)
        {
            return new EntryRead(ReadOutcome.Unreadable, null, MissReason.Limits);
        }

        var result = EntryDecoder.Open(view.Header!, chunks, call.FullKey, view.VersionId, call.KeyMaterial, _decodeLimits, _time.GetUtcNow());
        return result.Ok
            ? new EntryRead(ReadOutcome.Verified, result.Plaintext, MissReason.None)
            : new EntryRead(ReadOutcome.Unreadable, null, result.Miss);
    }

    /// <summary>
    /// One write under a lease: plaintext goes in as it is produced, sealed chunks go out in batches, a
    /// heartbeat keeps the lease alive while the producer is slow, and the commit makes it all visible.
    /// Faults are logged and turn the upload off; they never reach the producer's caller.
    /// </summary>
    private sealed class EntryUpload : IAsyncDisposable
    {
        private readonly SecureCache _cache;
        private readonly CallContext _call;
        private readonly LeaseGrant _lease;
        private readonly EntryEncoder _encoder;
        private readonly DateTimeOffset _expiresAt;
        private readonly Queue<byte[]> _pending = new();
        private readonly int _batchBytes;
        private readonly CancellationTokenSource _heartbeatStop = new();
        private readonly Task _heartbeat;
        private long _pendingBytes;
        private int _sent;
        private bool _finished;

        public EntryUpload(SecureCache cache, CallContext call, LeaseGrant lease)
        {
            _cache = cache;
            _call = call;
            _lease = lease;
            _expiresAt = DateTimeOffset.FromUnixTimeSeconds((cache._time.GetUtcNow() + call.Expiration).ToUnixTimeSeconds());
            var chunkSize = Math.Min(cache._options.ChunkSize, lease.MaxChunkBytes);

            // Never send more per message than the grain accepts, whatever this client is configured with.
            _batchBytes = Math.Max(chunkSize, Math.Min(cache._options.TransferBatchBytes, lease.MaxBatchBytes));
            _encoder = EntryEncoder.Create(new EntryParams(call.FullKey, lease.VersionId, _expiresAt.ToUnixTimeSeconds(), chunkSize, call.Compress, call.KeyMaterial));
            _heartbeat = HeartbeatAsync(_heartbeatStop.Token);
        }

        /// <summary>False once the upload gave up; the caller keeps producing values either way.</summary>
        public bool Active { get; private set; } = true;

        public async Task WriteAsync(ReadOnlyMemory<byte> plaintext, CancellationToken cancellationToken)
        {
            if (!Active)
            {
                return;
            }

            if (_encoder.PlaintextBytes + plaintext.Length > _cache._options.MaxEntryBytes)
            {
                Log.ValueTooLarge(_cache._logger, _call.KeyForLog, _cache._options.MaxEntryBytes);
                _cache._metrics.TooLarge.Add(1);
                await AbandonAsync().ConfigureAwait(false);
                return;
            }

            try
            {
                // Feed large writes a batch at a time, so sealed chunks leave before the next batch is sealed
                // and at most about one batch of ciphertext waits in memory.
                while (!plaintext.IsEmpty && Active)
                {
                    var slice = plaintext[..Math.Min(plaintext.Length, _batchBytes)];
                    plaintext = plaintext[slice.Length..];
                    _encoder.Write(slice.Span);
                    Drain();
                    if (_pendingBytes >= _batchBytes)
                    {
                        await FlushAsync(cancellationToken).ConfigureAwait(false);
                    }
                }
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                await FailAsync(ex).ConfigureAwait(false);
            }
        }

        /// <summary>Seals the last segment, sends what is left with the commit; true when the entry is stored.</summary>
        public async Task<bool> CommitAsync(CancellationToken cancellationToken)
        {
            if (!Active)
            {
                return false;
            }

            try
            {
                var header = _encoder.Complete();
                Drain();
                await StopHeartbeatAsync().ConfigureAwait(false);
                var final = _pending.ToArray();
                var count = _sent + final.Length;
                var ack = await _cache.CallAsync(_call, g => g.Commit(_lease.AsToken(), new CommitRequest(header, count, _expiresAt, final)), cancellationToken).ConfigureAwait(false);
                _finished = true;
                Active = false;
                if (!ack.Accepted)
                {
                    LogRefused(ack);
                    return false;
                }

                _cache._metrics.Stored.Add(1);
                return true;
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                await FailAsync(ex).ConfigureAwait(false);
                return false;
            }
        }

        /// <summary>Gives the lease back without storing anything, so the next waiter can build at once.</summary>
        public async Task AbandonAsync()
        {
            Active = false;
            if (_finished)
            {
                return;
            }

            _finished = true;
            await StopHeartbeatAsync().ConfigureAwait(false);
            try
            {
                await _cache.CallAsync(_call, g => g.Release(_lease.AsToken()), CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                // The lease's deadline frees it anyway.
                Log.ReleaseFailed(_cache._logger, ex, _call.KeyForLog);
            }
        }

        public async ValueTask DisposeAsync()
        {
            await AbandonAsync().ConfigureAwait(false);
            _heartbeatStop.Dispose();
            _encoder.Dispose();
        }

        private void Drain()
        {
            while (_encoder.TryTakeChunk(out var chunk))
            {
                _pending.Enqueue(chunk);
                _pendingBytes += chunk.Length;
            }
        }

        private async Task FlushAsync(CancellationToken cancellationToken)
        {
            // Keep the last batch for the commit, so small entries cost one call.
            while (_pendingBytes >= _batchBytes && Active)
            {
                var batch = new List<byte[]>();
                long bytes = 0;
                while (_pending.Count > 0 && (batch.Count == 0 || bytes + _pending.Peek().Length <= _batchBytes))
                {
                    var chunk = _pending.Dequeue();
                    bytes += chunk.Length;
                    batch.Add(chunk);
                }

                _pendingBytes -= bytes;
                var start = _sent;
                var chunks = batch.ToArray();
                var ack = await _cache.CallAsync(_call, g => g.AppendChunks(_lease.AsToken(), start, chunks), cancellationToken).ConfigureAwait(false);
                if (!ack.Accepted)
                {
                    LogRefused(ack);
                    await AbandonAsync().ConfigureAwait(false);
                    return;
                }

                _sent += chunks.Length;
            }
        }

        private async Task HeartbeatAsync(CancellationToken stop)
        {
            var period = _lease.Duration / 3;
            if (period < TimeSpan.FromMilliseconds(50))
            {
                period = TimeSpan.FromMilliseconds(50);
            }

            using var timer = new PeriodicTimer(period, _cache._time);
            try
            {
                while (await timer.WaitForNextTickAsync(stop).ConfigureAwait(false))
                {
                    var ack = await _cache.CallAsync(_call, g => g.Heartbeat(_lease.AsToken()), stop).ConfigureAwait(false);
                    if (!ack.Accepted)
                    {
                        LogRefused(ack);
                        Active = false;
                        return;
                    }
                }
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                // stopped
            }
            catch (Exception ex)
            {
                Log.HeartbeatFailed(_cache._logger, ex, _call.KeyForLog);
            }
        }

        private async Task StopHeartbeatAsync()
        {
            if (!_heartbeatStop.IsCancellationRequested)
            {
                await _heartbeatStop.CancelAsync().ConfigureAwait(false);
            }

            await _heartbeat.ConfigureAwait(false);
        }

        private async Task FailAsync(Exception ex)
        {
            Log.StoreFailed(_cache._logger, ex, _call.KeyForLog);
            _cache._metrics.Faults.Add(1);
            await AbandonAsync().ConfigureAwait(false);
        }

        private void LogRefused(WriteAck ack)
        {
            if (ack.Status == WriteStatus.LeaseLost)
            {
                Log.WriteSuperseded(_cache._logger, _call.KeyForLog, ack.Error ?? "lease lost");
            }
            else
            {
                Log.WriteRejected(_cache._logger, _call.KeyForLog, ack.Error ?? "rejected");
            }
        }
    }
}
