using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OrleansSecureCache.Format;
using OrleansSecureCache.Grains;
using OrleansSecureCache.Serialization;

namespace OrleansSecureCache;

/// <summary>
/// The cache client. The public operations are here; how keys resolve is in <c>SecureCache.Keys.cs</c>,
/// the lease protocol in <c>SecureCache.Leases.cs</c>, chunk transfer in <c>SecureCache.Transfer.cs</c>,
/// and the value format in <c>Format/</c>.
/// </summary>
public sealed partial class SecureCache : ISecureCache
{
    private static readonly MemoizeOptions Defaults = new();

    private readonly Func<string, ISecureCacheGrain> _resolveGrain;
    private readonly SecureCacheOptions _options;
    private readonly ICacheSerializer _serializer;
    private readonly ILogger<SecureCache> _logger;
    private readonly TimeProvider _time;
    private readonly byte[]? _defaultKeyMaterial;
    private readonly CircuitBreaker _circuit;
    private readonly SingleFlight _flights = new();
    private readonly SecureCacheMetrics _metrics;
    private readonly DecodeLimits _decodeLimits;

    public SecureCache(
        IGrainFactory grains,
        IOptions<SecureCacheOptions> options,
        ICacheSerializer serializer,
        ILogger<SecureCache> logger,
        SecureCacheMetrics metrics,
        TimeProvider? time = null)
        : this(GrainsOf(grains), options, serializer, logger, metrics, time)
    {
    }

    /// <summary>For a client whose connection comes and goes: <paramref name="resolveGrain"/> may throw while it is down.</summary>
    internal SecureCache(
        Func<string, ISecureCacheGrain> resolveGrain,
        IOptions<SecureCacheOptions> options,
        ICacheSerializer serializer,
        ILogger<SecureCache> logger,
        SecureCacheMetrics metrics,
        TimeProvider? time = null)
    {
        _resolveGrain = resolveGrain ?? throw new ArgumentNullException(nameof(resolveGrain));
        _options = options?.Value ?? throw new ArgumentNullException(nameof(options));
        _serializer = serializer ?? throw new ArgumentNullException(nameof(serializer));
        _logger = logger ?? throw new ArgumentNullException(nameof(logger));
        _metrics = metrics ?? throw new ArgumentNullException(nameof(metrics));
        _time = time ?? TimeProvider.System;
        _defaultKeyMaterial = SecureCacheOptionsValidator.ResolveDefaultKeyMaterial(_options);
        _circuit = new CircuitBreaker(_options.CircuitBreakerFailures, _options.CircuitBreakDuration, _time);
        _decodeLimits = new DecodeLimits(_options.MaxEntryBytes, _options.MaxExpiration, _options.ClockSkew);
    }

    private static Func<string, ISecureCacheGrain> GrainsOf(IGrainFactory grains)
    {
        ArgumentNullException.ThrowIfNull(grains);
        return key => grains.GetGrain<ISecureCacheGrain>(key);
    }

    /// <summary>True while the circuit is open and calls go straight to their factories.</summary>
    public bool CircuitOpen => _circuit.IsOpen;

    public async ValueTask<T> MemoizeAsync<T>(CacheKey key, Func<CancellationToken, ValueTask<T>> factory, MemoizeOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(factory);
        var call = Resolve(key, options);
        var leader = false;
        var outcome = await _flights.RunAsync(call.FullKey, call.ForceOverwrite, token =>
        {
            leader = true;
            return MemoizeCoreAsync(call, factory, token);
        }, cancellationToken).ConfigureAwait(false);

        // The caller that did the work gets its object; callers that joined get their own copies, except of a
        // value that could not be serialized (then they share the computed instance).
        if (leader)
        {
            return outcome.Value!;
        }

        if (outcome.Payload is { } payload)
        {
            try
            {
                return _serializer.Deserialize<T>(payload);
            }
            catch (Exception ex)
            {
                Log.JoinedCopyFailed(_logger, call.KeyForLog, ex.GetType().Name);
            }
        }

        return outcome.Computed ? outcome.Value! : await factory(cancellationToken).ConfigureAwait(false);
    }

    private async Task<MemoOutcome<T>> MemoizeCoreAsync<T>(CallContext call, Func<CancellationToken, ValueTask<T>> factory, CancellationToken cancellationToken)
    {
        T? cached = default;
        byte[]? cachedPayload = null;
        var acquired = await AcquireAsync(call, plaintext =>
        {
            cached = _serializer.Deserialize<T>(plaintext);
            cachedPayload = plaintext;
            return true;
        }, cancellationToken).ConfigureAwait(false);

        if (acquired.Kind == AcquireKind.Hit)
        {
            return new MemoOutcome<T>(cached, cachedPayload, Computed: false);
        }

        if (acquired.Kind == AcquireKind.ComputeOnly)
        {
            var value = await factory(cancellationToken).ConfigureAwait(false);
            return new MemoOutcome<T>(value, null, Computed: true);
        }

        await using var upload = new EntryUpload(this, call, acquired.Lease!);
        _metrics.Builds.Add(1);
        var built = await factory(cancellationToken).ConfigureAwait(false); // its exception reaches the caller; DisposeAsync releases the lease
        byte[] payload;
        try
        {
            payload = Serialize(built);
        }
        catch (Exception ex)
        {
            Log.SerializeFailed(_logger, call.KeyForLog, typeof(T).Name, ex.GetType().Name);
            return new MemoOutcome<T>(built, null, Computed: true);
        }

        await upload.WriteAsync(payload, cancellationToken).ConfigureAwait(false);
        await upload.CommitAsync(cancellationToken).ConfigureAwait(false);
        return new MemoOutcome<T>(built, payload, Computed: true);
    }

    public async IAsyncEnumerable<T> MemoizeIterAsync<T>(CacheKey key, Func<CancellationToken, IAsyncEnumerable<T>> producer, MemoizeOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(producer);
        var call = Resolve(key, options);
        List<T>? cached = null;
        var acquired = await AcquireAsync(call, plaintext => TryReadItems(plaintext, out cached), cancellationToken).ConfigureAwait(false);
        if (acquired.Kind == AcquireKind.Hit)
        {
            foreach (var item in cached!)
            {
                yield return item;
            }

            yield break;
        }

        EntryUpload? upload = acquired.Kind == AcquireKind.Lease ? new EntryUpload(this, call, acquired.Lease!) : null;
        var frame = new ArrayBufferWriter<byte>();
        try
        {
            if (upload is not null)
            {
                _metrics.Builds.Add(1);
            }

            await foreach (var item in producer(cancellationToken).WithCancellation(cancellationToken).ConfigureAwait(false))
            {
                if (upload is { Active: true })
                {
                    await WriteItemAsync(upload, call, frame, item, cancellationToken).ConfigureAwait(false);
                }

                yield return item;
            }

            if (upload is not null)
            {
                await upload.CommitAsync(cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            // A producer that threw, a caller that stopped early, or a failed upload: release, commit nothing.
            if (upload is not null)
            {
                await upload.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    public async ValueTask<CacheLookup<T>> TryGetAsync<T>(CacheKey key, MemoizeOptions? options = null, CancellationToken cancellationToken = default)
    {
        var call = Resolve(key, options);
        T? value = default;
        var found = await ReadDirectAsync(call, plaintext =>
        {
            value = _serializer.Deserialize<T>(plaintext);
            return true;
        }, cancellationToken).ConfigureAwait(false);
        return found ? new CacheLookup<T>(true, value) : CacheLookup<T>.Miss;
    }

    public async ValueTask<CacheLookup<IReadOnlyList<T>>> TryGetItemsAsync<T>(CacheKey key, MemoizeOptions? options = null, CancellationToken cancellationToken = default)
    {
        var call = Resolve(key, options);
        List<T>? items = null;
        var found = await ReadDirectAsync(call, plaintext => TryReadItems(plaintext, out items), cancellationToken).ConfigureAwait(false);
        return found ? new CacheLookup<IReadOnlyList<T>>(true, items) : CacheLookup<IReadOnlyList<T>>.Miss;
    }

    public async ValueTask<bool> SetAsync<T>(CacheKey key, T value, MemoizeOptions? options = null, CancellationToken cancellationToken = default)
    {
        var call = Resolve(key, options) with { ForceOverwrite = true };
        var payload = Serialize(value);
        if (payload.Length > _options.MaxEntryBytes)
        {
            Log.ValueTooLarge(_logger, call.KeyForLog, _options.MaxEntryBytes);
            return false;
        }

        var lease = await LeaseDirectAsync(call, cancellationToken).ConfigureAwait(false);
        await using var upload = new EntryUpload(this, call, lease);
        await upload.WriteAsync(payload, cancellationToken).ConfigureAwait(false);
        return await upload.CommitAsync(cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask<bool> SetItemsAsync<T>(CacheKey key, IAsyncEnumerable<T> items, MemoizeOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(items);
        var call = Resolve(key, options) with { ForceOverwrite = true };
        var lease = await LeaseDirectAsync(call, cancellationToken).ConfigureAwait(false);
        await using var upload = new EntryUpload(this, call, lease);
        var frame = new ArrayBufferWriter<byte>();
        await foreach (var item in items.WithCancellation(cancellationToken).ConfigureAwait(false))
        {
            await WriteItemAsync(upload, call, frame, item, cancellationToken).ConfigureAwait(false);
        }

        return await upload.CommitAsync(cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask InvalidateAsync(CacheKey key, MemoizeOptions? options = null, CancellationToken cancellationToken = default)
    {
        var call = Resolve(key, options);
        await DirectAsync(call, async g =>
        {
            await g.Invalidate().ConfigureAwait(false);
            return true;
        }, cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask<CacheEntryInfo?> GetInfoAsync(CacheKey key, MemoizeOptions? options = null, CancellationToken cancellationToken = default)
    {
        var call = Resolve(key, options);
        var info = await DirectAsync(call, g => g.GetInfo(), cancellationToken).ConfigureAwait(false);
        if (info is null)
        {
            return null;
        }

        var described = info.Header is { } header ? EntryDecoder.Describe(header) : null;
        return new CacheEntryInfo(
            call.FullKey,
            info.HasEntry,
            described?.Encrypted ?? false,
            described?.Compressed ?? false,
            info.StoredBytes,
            info.ChunkCount,
            info.ExpiresAt,
            info.Generation,
            info.LeaseHeld);
    }

    /// <summary>
    /// Writes one item of a sequence as a 4-byte big-endian length and its bytes, serialized straight into a
    /// buffer reused for every item (the encoder copies what it is given before this returns).
    /// </summary>
    private async Task WriteItemAsync<T>(EntryUpload upload, CallContext call, ArrayBufferWriter<byte> frame, T item, CancellationToken cancellationToken)
    {
        if (!upload.Active)
        {
            return;
        }

        frame.ResetWrittenCount();
        try
        {
            frame.GetSpan(4);
            frame.Advance(4);
            _serializer.Serialize(item, frame);
            var length = checked((uint)(frame.WrittenCount - 4));
            BinaryPrimitives.WriteUInt32BigEndian(MemoryMarshal.AsMemory(frame.WrittenMemory).Span, length);
        }
        catch (Exception ex)
        {
            Log.SerializeFailed(_logger, call.KeyForLog, typeof(T).Name, ex.GetType().Name);
            await upload.AbandonAsync().ConfigureAwait(false);
            return;
        }

        await upload.WriteAsync(frame.WrittenMemory, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Splits verified plaintext into length-prefixed items and deserializes all of them; false on bad framing.
    /// A serializer exception propagates to <see cref="ReadAndAcceptAsync"/>, which treats it as unreadable.
    /// </summary>
    private bool TryReadItems<T>(byte[] plaintext, out List<T> items)
    {
        items = [];
        var rest = plaintext.AsSpan();
        while (rest.Length > 0)
        {
            if (rest.Length < 4)
            {
                return false;
            }

            var length = BinaryPrimitives.ReadUInt32BigEndian(rest);
            if (length > (uint)(rest.Length - 4))
            {
                return false;
            }

            items.Add(_serializer.Deserialize<T>(rest.Slice(4, (int)length)));
            rest = rest[(4 + (int)length)..];
        }

        return true;
    }

    /// <summary>A read that takes no lease; faults throw <see cref="SecureCacheUnavailableException"/>.</summary>
    private async Task<bool> ReadDirectAsync(CallContext call, Func<byte[], bool> accept, CancellationToken cancellationToken)
    {
        try
        {
            for (var attempt = 0; attempt < MaxUnreadableRetries; attempt++)
            {
                var request = new LookupRequest(false, TimeSpan.Zero, _options.LeaseDuration, call.InlineBytes, AcquireLease: false);
                var reply = await CallAsync(call, g => g.GetOrLease(request, cancellationToken), cancellationToken).ConfigureAwait(false);
                if (reply.Outcome != LookupOutcome.Hit || reply.Entry is not { } entry)
                {
                    return false;
                }

                switch (await ReadAndAcceptAsync(call, entry, accept, cancellationToken).ConfigureAwait(false))
                {
                    case ReadOutcome.Verified:
                        _metrics.Hits.Add(1);
                        return true;
                    case ReadOutcome.Unreadable:
                        return false; // reported and dropped: nothing to read
                }
            }

            return false; // replaced again and again while being read
        }
        catch (CacheFaultException ex)
        {
            throw Unavailable(ex);
        }
    }

    private async Task<LeaseGrant> LeaseDirectAsync(CallContext call, CancellationToken cancellationToken)
    {
        var request = new LookupRequest(true, TimeSpan.Zero, _options.LeaseDuration, 0);
        var reply = await DirectAsync(call, g => g.GetOrLease(request, cancellationToken), cancellationToken).ConfigureAwait(false);
        return reply.Lease ?? throw new SecureCacheUnavailableException($"The cache grain answered {reply.Outcome} to a write.", null);
    }

    private async Task<TResult> DirectAsync<TResult>(CallContext call, Func<ISecureCacheGrain, Task<TResult>> operation, CancellationToken cancellationToken)
    {
        try
        {
            return await CallAsync(call, operation, cancellationToken).ConfigureAwait(false);
        }
        catch (CacheFaultException ex)
        {
            throw Unavailable(ex);
        }
    }

    private static SecureCacheUnavailableException Unavailable(CacheFaultException ex) =>
        new($"The cache cluster could not be reached: {ex.InnerException?.Message ?? ex.Message}", ex.InnerException);

    private byte[] Serialize<T>(T value)
    {
        var buffer = new ArrayBufferWriter<byte>();
        _serializer.Serialize(value, buffer);
        return buffer.WrittenSpan.ToArray();
    }

    private sealed record MemoOutcome<T>(T? Value, byte[]? Payload, bool Computed);
}
