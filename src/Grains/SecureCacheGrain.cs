using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Concurrency;

namespace OrleansSecureCache.Grains;

/// <summary>
/// One cache entry and its rebuild lease: the whole protocol in one file.
/// <list type="number">
/// <item>At most one live lease. It has a deadline that appends and heartbeats extend, never past
/// <see cref="SecureCacheGrainOptions.MaxLeaseLife"/>.</item>
/// <item>A generation number: <see cref="Invalidate"/> and force-overwrites bump it, and only the live
/// lease of the current generation may append or commit, so a stale builder never brings its value back.</item>
/// <item>Chunks are staged and become visible all at once on commit.</item>
/// <item>Every end of a lease (commit, release, deadline) wakes the waiters; the first to run takes the next lease.</item>
/// <item>Waiters are parked at most one long poll per call, so no call outlives its caller.</item>
/// </list>
/// The grain is reentrant: parked waiters must not block the builder's appends and commit.
/// Every method therefore re-checks state after each await.
/// </summary>
[Reentrant]
public sealed partial class SecureCacheGrain : Grain, ISecureCacheGrain
{
    private readonly SecureCacheGrainOptions _options;
    private readonly ILogger<SecureCacheGrain> _logger;
    private readonly TimeProvider _time;

    private long _generation;
    private CommittedEntry? _entry;
    private Lease? _lease;
    private int _waiters;
    private TaskCompletionSource _changed = NewSignal();
    private IGrainTimer? _expiryTimer;

    public SecureCacheGrain(IOptions<SecureCacheGrainOptions> options, ILogger<SecureCacheGrain> logger, IServiceProvider services)
    {
        _options = options.Value;
        _logger = logger;
        _time = services.GetService<TimeProvider>() ?? TimeProvider.System;
        _storage = services.GetRequiredKeyedService<Orleans.Storage.IGrainStorage>(SecureCacheGrainOptions.StorageName);
        _budget = services.GetRequiredService<CacheMemoryTracker>();
        _siloServices = services.GetRequiredService<ICacheSiloServiceClient>();
        _localSilo = services.GetRequiredService<ILocalSiloDetails>().SiloAddress;
    }

    private DateTimeOffset Now => _time.GetUtcNow();

    private string Key => this.GetPrimaryKeyString();

    /// <summary>
    /// How logs name this entry: a 64-hex digest (an encrypted key) by its first 16 characters, as the client
    /// does; a plain key as it is (the application chose not to hide it).
    /// </summary>
    private string LogKey => Key.Length == 64 && Key.All(char.IsAsciiHexDigitLower) ? Key[..16] : Key;

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        await LoadAsync(cancellationToken);
        ScheduleExpiry();
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        _expiryTimer?.Dispose();
        await SaveOnDeactivateAsync(reason, cancellationToken);
    }

    public async Task<LookupReply> GetOrLease(LookupRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var pollEnd = Now + Clamp(request.MaxWait, TimeSpan.Zero, _options.LongPoll);
        var parked = false;
        try
        {
            while (true)
            {
                cancellationToken.ThrowIfCancellationRequested();
                await ExpireStaleAsync(Now);
                var now = Now; // the await above may have taken a storage round trip

                if (_entry is not null && !request.ForceOverwrite)
                {
                    var view = _entry.ToView(request.InlineBytes, _options.MaxInlineBytes);
                    NoteRead(now, readerFollows: view.InlineChunks is null);
                    return new LookupReply(LookupOutcome.Hit, view, null);
                }

                if (!request.AcquireLease)
                {
                    return new LookupReply(LookupOutcome.Miss, null, null);
                }

                if (request.ForceOverwrite)
                {
                    // A forced build supersedes any running one: that builder's commit will be refused.
                    if (_lease is not null)
                    {
                        Log.LeaseSuperseded(_logger, LogKey, _lease.Generation);
                    }

                    _generation++;
                    _lease = null;
                    Signal();
                    return new LookupReply(LookupOutcome.Lease, null, GrantLease(request, now));
                }

                if (_lease is null)
                {
                    return new LookupReply(LookupOutcome.Lease, null, GrantLease(request, now));
                }

                if (now >= pollEnd || (!parked && _waiters >= _options.MaxWaiters))
                {
                    return new LookupReply(LookupOutcome.Wait, null, null);
                }

                if (!parked)
                {
                    parked = true;
                    _waiters++;
                }

                var until = pollEnd < _lease.Deadline ? pollEnd : _lease.Deadline;
                await WaitForChangeAsync(until - now, cancellationToken);
            }
        }
        finally
        {
            if (parked)
            {
                _waiters--;
            }
        }
    }

    public Task<ChunkBatch> ReadChunks(Guid versionId, int startIndex, int maxChunks, CancellationToken cancellationToken = default)
    {
        var entry = _entry;
        if (entry is null || entry.VersionId != versionId || entry.ExpiresAt <= Now)
        {
            return Task.FromResult(new ChunkBatch(ReadStatus.Gone, startIndex, [], "That version is no longer the current entry."));
        }

        if (startIndex < 0 || startIndex >= entry.Chunks.Length || maxChunks < 1)
        {
            return Task.FromResult(new ChunkBatch(ReadStatus.Rejected, startIndex, [],
                $"Chunk range start {startIndex}, count {maxChunks} is outside the entry's {entry.Chunks.Length} chunks."));
        }

        // Never let one reply grow past the batch budget, whatever the caller asked for.
        var end = startIndex;
        long bytes = 0;
        while (end < entry.Chunks.Length && end - startIndex < maxChunks)
        {
            var next = entry.Chunks[end].Length;
            if (end > startIndex && bytes + next > _options.MaxBatchBytes)
            {
                break;
            }

            bytes += next;
            end++;
        }

        NoteRead(Now, readerFollows: end < entry.Chunks.Length);
        return Task.FromResult(new ChunkBatch(ReadStatus.Ok, startIndex, entry.Chunks[startIndex..end], null));
    }

    public Task<WriteAck> AppendChunks(LeaseToken lease, int startIndex, byte[][] chunks)
    {
        if (CheckLease(lease) is { } lost)
        {
            return Task.FromResult(lost);
        }

        var live = _lease!;
        if (startIndex != live.Staged.Count)
        {
            return Task.FromResult(Reject($"Chunks must be appended in order: expected index {live.Staged.Count}, got {startIndex}."));
        }

        if (CheckChunks(chunks, live) is { } rejected)
        {
            return Task.FromResult(rejected);
        }

        foreach (var chunk in chunks)
        {
            live.Staged.Add(chunk);
            live.StagedBytes += chunk.Length;
        }

        return Task.FromResult(Extend(live));
    }

    public Task<WriteAck> Heartbeat(LeaseToken lease)
    {
        if (CheckLease(lease) is { } lost)
        {
            return Task.FromResult(lost);
        }

        return Task.FromResult(Extend(_lease!));
    }

    public async Task<WriteAck> Commit(LeaseToken lease, CommitRequest commit)
    {
        if (CheckLease(lease) is { } lost)
        {
            return lost;
        }

        var live = _lease!;
        if (commit is null || commit.Header is null)
        {
            return Reject("A commit needs a header.");
        }

        if (commit.Header.Length == 0 || commit.Header.Length > _options.MaxHeaderBytes)
        {
            return Reject($"The header must be 1 to {_options.MaxHeaderBytes} bytes; got {commit.Header.Length}.");
        }

        var final = commit.FinalChunks ?? [];
        if (final.Length > 0 && CheckChunks(final, live) is { } rejected)
        {
            return rejected;
        }

        var count = live.Staged.Count + final.Length;
        if (commit.ChunkCount != count || count < 1)
        {
            return Reject($"The commit names {commit.ChunkCount} chunks but {count} were sent; an entry has at least one.");
        }

        var now = Now;
        if (commit.ExpiresAt <= now)
        {
            return Reject("The entry's expiry is not in the future.");
        }

        var expiresAt = commit.ExpiresAt > now + _options.MaxExpiration ? now + _options.MaxExpiration : commit.ExpiresAt;
        var chunks = new byte[count][];
        live.Staged.CopyTo(chunks);
        final.CopyTo(chunks, live.Staged.Count);
        var entry = new CommittedEntry(live.VersionId, live.Generation, commit.Header, chunks, live.StagedBytes + Sum(final), expiresAt);

        // Nothing else may use this lease while the entry is being persisted.
        live.Committing = true;
        var reserved = entry.MemoryBytes;
        try
        {
            // The silo's budget first: least recently used entries elsewhere make room, or the commit is refused.
            if (!await _budget.ReserveAsync(this.GetGrainId(), reserved))
            {
                Log.OverBudget(_logger, LogKey, reserved, _budget.Budget);
                return Reject($"The silo's cache budget ({_budget.Budget} bytes) has no room for {reserved} bytes now; the entry was not stored.");
            }

            try
            {
                await PersistCommitAsync(entry);
            }
            catch
            {
                _budget.CancelReservation(reserved);
                throw;
            }
        }
        finally
        {
            live.Committing = false;
        }

        if (!ReferenceEquals(_lease, live) || _generation != live.Generation)
        {
            // Invalidated or superseded while storage was written: never serve it.
            _budget.CancelReservation(reserved);
            await PersistDropAsync(entry);
            return new WriteAck(WriteStatus.LeaseLost, "The entry was invalidated while the commit was being stored.", default);
        }

        _budget.Holding(this.GetGrainId(), entry.VersionId, entry.MemoryBytes, entry.ExpiresAt, reserved);
        _entry = entry;
        _lease = null;
        Signal();
        ScheduleExpiry();
        Log.Committed(_logger, LogKey, entry.Chunks.Length, entry.StoredBytes);
        return new WriteAck(WriteStatus.Accepted, null, default);
    }

    public Task Release(LeaseToken lease)
    {
        if (_lease is { } live && live.Token == lease.Token && live.Generation == lease.Generation && !live.Committing)
        {
            _lease = null;
            Signal();
            Log.LeaseReleased(_logger, LogKey);
        }

        return Task.CompletedTask;
    }

    public async Task<bool> ReportUnreadable(Guid versionId)
    {
        if (_entry is not { } entry || entry.VersionId != versionId)
        {
            return false;
        }

        Log.UnreadableDropped(_logger, LogKey, versionId);
        _entry = null;
        _budget.Dropped(this.GetGrainId(), DropReason.Removed);
        Signal();
        await PersistDropAsync(entry);
        return true;
    }

    public async Task Invalidate()
    {
        _generation++;
        var entry = _entry;
        _entry = null;
        _lease = null;
        if (entry is not null)
        {
            _budget.Dropped(this.GetGrainId(), DropReason.Removed);
        }

        Signal();
        Log.Invalidated(_logger, LogKey, _generation);
        await PersistDropAsync(entry);
    }

    public Task<EntryInfo?> GetInfo()
    {
        var entry = _entry is { } e && e.ExpiresAt > Now ? e : null;
        if (entry is null && _lease is null && _generation == 0)
        {
            return Task.FromResult<EntryInfo?>(null);
        }

        return Task.FromResult<EntryInfo?>(new EntryInfo(
            _generation,
            entry is not null,
            entry?.VersionId ?? Guid.Empty,
            entry?.Header,
            entry?.Chunks.Length ?? 0,
            entry?.StoredBytes ?? 0,
            entry?.ExpiresAt,
            _lease is not null,
            _lease?.Deadline));
    }

    private LeaseGrant GrantLease(LookupRequest request, DateTimeOffset now)
    {
        var asked = request.LeaseDuration <= TimeSpan.Zero ? _options.DefaultLeaseDuration : request.LeaseDuration;
        var duration = Clamp(asked, _options.MinLeaseDuration, _options.MaxLeaseDuration);
        _lease = new Lease(Guid.NewGuid(), _generation, Guid.NewGuid(), now, now + duration, duration);
        Log.LeaseGranted(_logger, LogKey, _generation);
        return new LeaseGrant(_lease.Token, _lease.Generation, _lease.VersionId, _lease.Deadline, duration, _options.MaxChunkBytes, _options.MaxBatchBytes);
    }

    private WriteAck? CheckLease(LeaseToken token)
    {
        var live = _lease;
        if (live is null || live.Token != token.Token || live.Generation != token.Generation || _generation != token.Generation)
        {
            return new WriteAck(WriteStatus.LeaseLost, "This lease is not the live lease of the current generation.", default);
        }

        if (live.Committing)
        {
            return Reject("The lease is committing.");
        }

        if (live.Deadline <= Now)
        {
            Log.LeaseExpired(_logger, LogKey, live.Generation);
            _lease = null;
            Signal();
            return new WriteAck(WriteStatus.LeaseLost, "The lease's deadline passed.", default);
        }

        return null;
    }

    private WriteAck? CheckChunks(byte[][] chunks, Lease live)
    {
        if (chunks is null)
        {
            return Reject("No chunks were sent.");
        }

        long batch = 0;
        for (var i = 0; i < chunks.Length; i++)
        {
            var length = chunks[i]?.Length ?? -1;
            if (length < 0 || length > _options.MaxChunkBytes)
            {
                return Reject($"Chunk {i} of the batch is {(length < 0 ? "missing" : $"{length} bytes")}; chunks are 0 to {_options.MaxChunkBytes} bytes.");
            }

            batch += length;
        }

        if (batch > _options.MaxBatchBytes)
        {
            return Reject($"One message may carry at most {_options.MaxBatchBytes} bytes of chunks; got {batch}.");
        }

        if (live.Staged.Count + chunks.Length > _options.MaxChunks)
        {
            return Reject($"An entry has at most {_options.MaxChunks} chunks.");
        }

        if (live.StagedBytes + batch > _options.MaxEntryBytes)
        {
            return Reject($"An entry holds at most {_options.MaxEntryBytes} bytes.");
        }

        return null;
    }

    private WriteAck Extend(Lease live)
    {
        var limit = live.GrantedAt + _options.MaxLeaseLife;
        var next = Now + live.Duration;
        live.Deadline = next < limit ? next : limit;
        return new WriteAck(WriteStatus.Accepted, null, live.Deadline);
    }

    private async Task ExpireStaleAsync(DateTimeOffset now)
    {
        if (_lease is { Committing: false } lease && lease.Deadline <= now)
        {
            // The builder vanished (or its lease outlived MaxLeaseLife): the next waiter takes over.
            Log.LeaseExpired(_logger, LogKey, lease.Generation);
            _lease = null;
            Signal();
        }

        if (_entry is { } entry && entry.ExpiresAt <= now)
        {
            _entry = null;
            _budget.Dropped(this.GetGrainId(), DropReason.Expired);
            await PersistDropAsync(entry);
        }
    }

    private async Task WaitForChangeAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        if (timeout <= TimeSpan.Zero)
        {
            return;
        }

        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var delay = Task.Delay(timeout, _time, cts.Token);
        await Task.WhenAny(_changed.Task, delay);
        cts.Cancel();
    }

    private void Signal()
    {
        var previous = _changed;
        _changed = NewSignal();
        previous.TrySetResult();
    }

    private void ScheduleExpiry()
    {
        _expiryTimer?.Dispose();
        _expiryTimer = null;
        if (_entry is null)
        {
            return;
        }

        // Grain timers cannot wait ~49 days; re-arm daily for long expiries.
        var due = _entry.ExpiresAt - Now;
        due = Clamp(due, TimeSpan.FromMilliseconds(1), TimeSpan.FromDays(1));
        _expiryTimer = this.RegisterGrainTimer(OnExpiryTimerAsync, new GrainTimerCreationOptions(due, Timeout.InfiniteTimeSpan) { KeepAlive = false });
    }

    private async Task OnExpiryTimerAsync(CancellationToken cancellationToken)
    {
        await ExpireStaleAsync(Now);
        if (_entry is null && _lease is null && _waiters == 0)
        {
            // Nothing left to serve: let the activation go rather than wait for idle collection.
            this.DeactivateOnIdle();
        }
        else
        {
            ScheduleExpiry();
        }
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private static WriteAck Reject(string error) => new(WriteStatus.Rejected, error, default);

    private static TimeSpan Clamp(TimeSpan value, TimeSpan min, TimeSpan max) => value < min ? min : value > max ? max : value;

    private static long Sum(byte[][] chunks)
    {
        long total = 0;
        foreach (var chunk in chunks)
        {
            total += chunk.Length;
        }

        return total;
    }

    private sealed class Lease(Guid token, long generation, Guid versionId, DateTimeOffset grantedAt, DateTimeOffset deadline, TimeSpan duration)
    {
        public Guid Token { get; } = token;
        public long Generation { get; } = generation;
        public Guid VersionId { get; } = versionId;
        public DateTimeOffset GrantedAt { get; } = grantedAt;
        public DateTimeOffset Deadline { get; set; } = deadline;
        public TimeSpan Duration { get; } = duration;
        public List<byte[]> Staged { get; } = [];
        public long StagedBytes { get; set; }
        public bool Committing { get; set; }
    }

    private sealed record CommittedEntry(Guid VersionId, long Generation, byte[] Header, byte[][] Chunks, long StoredBytes, DateTimeOffset ExpiresAt)
    {
        /// <summary>What the silo's budget counts for this entry: its header and chunk bytes.</summary>
        public long MemoryBytes => StoredBytes + Header.Length;

        public EntryView ToView(int inlineBytes, int maxInlineBytes)
        {
            var inline = StoredBytes <= Math.Min(inlineBytes, maxInlineBytes) ? Chunks : null;
            return new EntryView(VersionId, Generation, Header, Chunks.Length, StoredBytes, ExpiresAt, inline);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Debug, "Lease granted for {Key} (generation {Generation})")]
        public static partial void LeaseGranted(ILogger logger, string key, long generation);

        [LoggerMessage(2, LogLevel.Debug, "Lease released without a commit for {Key}")]
        public static partial void LeaseReleased(ILogger logger, string key);

        [LoggerMessage(3, LogLevel.Warning, "Lease for {Key} (generation {Generation}) passed its deadline; the next waiter takes over")]
        public static partial void LeaseExpired(ILogger logger, string key, long generation);

        [LoggerMessage(4, LogLevel.Information, "Build for {Key} (generation {Generation}) superseded by a forced overwrite")]
        public static partial void LeaseSuperseded(ILogger logger, string key, long generation);

        [LoggerMessage(5, LogLevel.Debug, "Committed {Key}: {Chunks} chunks, {Bytes} bytes")]
        public static partial void Committed(ILogger logger, string key, int chunks, long bytes);

        [LoggerMessage(6, LogLevel.Information, "A reader could not verify {Key} version {VersionId}; entry dropped")]
        public static partial void UnreadableDropped(ILogger logger, string key, Guid versionId);

        [LoggerMessage(7, LogLevel.Debug, "Invalidated {Key}; generation is now {Generation}")]
        public static partial void Invalidated(ILogger logger, string key, long generation);

        [LoggerMessage(8, LogLevel.Warning, "Grain storage failed for {Key} during {Operation}")]
        public static partial void StorageFailed(ILogger logger, Exception exception, string key, string operation);

        [LoggerMessage(9, LogLevel.Debug, "Entry {Key} not saved while the silo shuts down (its storage may already be gone): {Error}")]
        public static partial void NotSavedAtShutdown(ILogger logger, string key, string error);

        [LoggerMessage(10, LogLevel.Warning, "Entry {Key} ({Bytes} bytes) not stored: the silo's cache budget ({Budget} bytes) has no room (entries in use, or the entry is larger than the budget)")]
        public static partial void OverBudget(ILogger logger, string key, long bytes, long budget);

        [LoggerMessage(11, LogLevel.Debug, "Entry {Key} dropped for the silo's memory budget")]
        public static partial void Evicted(ILogger logger, string key);
    }
}
