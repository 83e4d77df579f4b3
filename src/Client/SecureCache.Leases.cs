using Microsoft.Extensions.Logging;
using OrleansSecureCache.Format;
using OrleansSecureCache.Grains;

namespace OrleansSecureCache;

/// <summary>
/// The client side of the grain's lease protocol: ask for the entry or a lease, wait in long polls while
/// another caller builds, verify what comes back, and fall back to computing locally on faults.
/// </summary>
public sealed partial class SecureCache
{
    /// <summary>What a call ends up doing after talking to the grain.</summary>
    private enum AcquireKind
    {
        /// <summary>A verified entry was accepted by the caller's reader.</summary>
        Hit,
        /// <summary>This caller holds the lease and builds.</summary>
        Lease,
        /// <summary>Compute without storing: the cluster faulted, the wait bound ran out, or entries kept failing to verify.</summary>
        ComputeOnly,
    }

    private readonly record struct Acquired(AcquireKind Kind, LeaseGrant? Lease);

    /// <summary>The longest a grain parks one lookup (its LongPoll is at most this); bounds a parked call.</summary>
    private static readonly TimeSpan MaxGrainLongPoll = TimeSpan.FromSeconds(20);

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    /// <summary>Unreadable entries in a row after which a caller stops reporting and just computes.</summary>
    private const int MaxUnreadableRetries = 3;

    /// <summary>
    /// Runs the lookup loop for a memoize call. <paramref name="accept"/> turns verified plaintext into the
    /// caller's value and returns false when it cannot (a deserialization failure counts as unreadable).
    /// </summary>
    private async Task<Acquired> AcquireAsync(CallContext call, Func<byte[], bool> accept, CancellationToken cancellationToken)
    {
        if (!_circuit.TryEnter())
        {
            _metrics.Fallbacks.Add(1);
            Log.CircuitOpenFallback(_logger, call.KeyForLog);
            return new Acquired(AcquireKind.ComputeOnly, null);
        }

        var waitUntil = _time.GetUtcNow() + call.WaitTimeout;
        var unreadable = 0;
        var waited = false;
        try
        {
            while (true)
            {
                // Only a caller that already knows another builder holds the lease asks to be parked; every
                // other ask must be answered at once, so a hung cluster costs it OperationTimeout, not a long poll.
                var remaining = waitUntil - _time.GetUtcNow();
                var maxWait = waited && remaining > TimeSpan.Zero ? remaining : TimeSpan.Zero;
                var request = new LookupRequest(call.ForceOverwrite, maxWait, _options.LeaseDuration, call.InlineBytes);
                var bound = maxWait > TimeSpan.Zero ? Min(maxWait, MaxGrainLongPoll) + _options.OperationTimeout : _options.OperationTimeout;
                var asked = _time.GetUtcNow();
                var reply = await CallAsync(call, g => g.GetOrLease(request, cancellationToken), cancellationToken, bound).ConfigureAwait(false);
                switch (reply.Outcome)
                {
                    case LookupOutcome.Hit when reply.Entry is { } entry:
                        var read = await ReadAndAcceptAsync(call, entry, accept, cancellationToken).ConfigureAwait(false);
                        if (read == ReadOutcome.Verified)
                        {
                            _metrics.Hits.Add(1);
                            if (waited)
                            {
                                _metrics.WaitedHits.Add(1);
                            }

                            return new Acquired(AcquireKind.Hit, null);
                        }

                        if (read == ReadOutcome.Unreadable && ++unreadable >= MaxUnreadableRetries)
                        {
                            return new Acquired(AcquireKind.ComputeOnly, null);
                        }

                        continue; // unreadable (reported and dropped) or replaced while read: ask again

                    case LookupOutcome.Lease when reply.Lease is { } lease:
                        _metrics.Misses.Add(1);
                        return new Acquired(AcquireKind.Lease, lease);

                    case LookupOutcome.Wait:
                        if (!waited)
                        {
                            waited = true;
                            _metrics.Waits.Add(1);
                            Log.Waiting(_logger, call.KeyForLog);
                        }

                        var now = _time.GetUtcNow();
                        if (now >= waitUntil)
                        {
                            _metrics.WaitTimeouts.Add(1);
                            Log.WaitTimedOut(_logger, call.KeyForLog, call.WaitTimeout);
                            return new Acquired(AcquireKind.ComputeOnly, null);
                        }

                        if (maxWait > TimeSpan.Zero && now - asked < maxWait / 2)
                        {
                            // Parked callers are capped per grain: back off (with jitter) instead of spinning on it.
                            var pause = TimeSpan.FromMilliseconds(Random.Shared.Next(50, 250));
                            await Task.Delay(Min(pause, waitUntil - now), _time, cancellationToken).ConfigureAwait(false);
                        }

                        continue;

                    default:
                        throw new CacheFaultException($"The grain answered {reply.Outcome} without its payload.", null);
                }
            }
        }
        catch (CacheFaultException ex)
        {
            _metrics.Fallbacks.Add(1);
            Log.ClusterFault(_logger, ex.InnerException ?? ex, call.KeyForLog);
            return new Acquired(AcquireKind.ComputeOnly, null);
        }
    }

    /// <summary>
    /// Reads and verifies a hit and hands its plaintext to <paramref name="accept"/>. An entry that fails
    /// verification, or that the reader cannot use (a type that changed shape since it was cached), is
    /// counted, logged and reported so the grain drops it; it is never an error.
    /// </summary>
    private async Task<ReadOutcome> ReadAndAcceptAsync(CallContext call, EntryView entry, Func<byte[], bool> accept, CancellationToken cancellationToken)
    {
        var read = await ReadEntryAsync(call, entry, cancellationToken).ConfigureAwait(false);
        if (read.Outcome == ReadOutcome.Gone)
        {
            return ReadOutcome.Gone;
        }

        var reason = read.Reason;
        if (read.Outcome == ReadOutcome.Verified)
        {
            try
            {
                if (accept(read.Plaintext!))
                {
                    return ReadOutcome.Verified;
                }
            }
            catch (Exception ex)
            {
                Log.DeserializeFailed(_logger, call.KeyForLog, ex.GetType().Name);
            }

            reason = MissReason.Format;
        }

        _metrics.Unreadable.Add(1, new KeyValuePair<string, object?>("reason", reason.ToString()));
        Log.Unreadable(_logger, call.KeyForLog, reason);
        await CallAsync(call, g => g.ReportUnreadable(entry.VersionId), cancellationToken).ConfigureAwait(false);
        return ReadOutcome.Unreadable;
    }

    /// <summary>
    /// A grain call with a bound, counted by the circuit breaker. Faults come out as
    /// <see cref="CacheFaultException"/>; the caller's own cancellation comes out as itself.
    /// </summary>
    private async Task<TResult> CallAsync<TResult>(CallContext call, Func<ISecureCacheGrain, Task<TResult>> operation, CancellationToken cancellationToken, TimeSpan? bound = null)
    {
        try
        {
            // Resolved here, inside the fault handling: a client still connecting has no grains to give yet.
            var result = await operation(_resolveGrain(call.FullKey)).WaitAsync(bound ?? _options.OperationTimeout, _time, cancellationToken).ConfigureAwait(false);
            if (_circuit.RecordSuccess())
            {
                Log.CircuitClosed(_logger);
            }

            return result;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception ex)
        {
            if (_circuit.RecordFailure())
            {
                _metrics.CircuitOpened.Add(1);
                Log.CircuitOpened(_logger, _options.CircuitBreakDuration);
            }

            throw new CacheFaultException("A call to the cache cluster failed.", ex);
        }
    }

    private Task CallAsync(CallContext call, Func<ISecureCacheGrain, Task> operation, CancellationToken cancellationToken) =>
        CallAsync(call, async g =>
        {
            await operation(g).ConfigureAwait(false);
            return true;
        }, cancellationToken);

    /// <summary>A cluster fault inside the client; never leaves the memoize methods.</summary>
    private sealed class CacheFaultException(string message, Exception? inner) : Exception(message, inner);
}
