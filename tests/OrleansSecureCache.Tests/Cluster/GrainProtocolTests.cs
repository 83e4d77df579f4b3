using OrleansSecureCache.Grains;
using Xunit;

namespace OrleansSecureCache.Tests.Cluster;

/// <summary>
/// The grain's own defences, called directly as a hostile or buggy client would: every bad request is
/// refused with a clear error and leaves the grain's state unchanged.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class GrainProtocolTests(ClusterFixture fixture)
{
    private static readonly LookupRequest Lease = new(false, TimeSpan.Zero, TimeSpan.FromSeconds(5), 0);

    private ISecureCacheGrain NewGrain() => fixture.Cluster.Client.GetGrain<ISecureCacheGrain>(Guid.NewGuid().ToString("N"));

    private static DateTimeOffset InAnHour => DateTimeOffset.UtcNow.AddHours(1);

    [Fact]
    public async Task Grain_SecondCaller_WaitsWhileLeaseIsHeld_ThenGetsTheCommittedEntry()
    {
        var grain = NewGrain();
        var first = await grain.GetOrLease(Lease);
        Assert.Equal(LookupOutcome.Lease, first.Outcome);

        var waiting = grain.GetOrLease(Lease with { MaxWait = TimeSpan.FromSeconds(10), InlineBytes = 1024 });
        await WaitUntil(async () => await fixture.Tamper(grain.GetPrimaryKeyString()).Waiters() == 1);
        var ack = await grain.Commit(first.Lease!.AsToken(), new CommitRequest([1, 2, 3], 1, InAnHour, [[9, 9]]));
        var second = await waiting;

        Assert.True(ack.Accepted);
        Assert.Equal(LookupOutcome.Hit, second.Outcome);
        Assert.Equal(first.Lease.VersionId, second.Entry!.VersionId);
        Assert.Equal([9, 9], second.Entry.InlineChunks![0]);
    }

    [Fact]
    public async Task Grain_Release_GrantsTheNextWaiterALeaseAtOnce()
    {
        var grain = NewGrain();
        var first = await grain.GetOrLease(Lease);
        var waiting = grain.GetOrLease(Lease with { MaxWait = TimeSpan.FromSeconds(10) });
        await WaitUntil(async () => await fixture.Tamper(grain.GetPrimaryKeyString()).Waiters() == 1);
        await grain.Release(first.Lease!.AsToken());
        var second = await waiting;

        Assert.Equal(LookupOutcome.Lease, second.Outcome);
        Assert.NotEqual(first.Lease.Token, second.Lease!.Token);
    }

    [Fact]
    public async Task Grain_OversizedChunk_IsRejected_StateUnchanged()
    {
        var grain = NewGrain();
        var lease = (await grain.GetOrLease(Lease)).Lease!;
        var ack = await grain.AppendChunks(lease.AsToken(), 0, [new byte[SecureCacheGrainOptions.DefaultMaxChunkBytes + 1]]);

        Assert.Equal(WriteStatus.Rejected, ack.Status);
        Assert.Contains("bytes", ack.Error);
        // The lease still works and nothing was staged: a commit of one fresh chunk is accepted.
        var commit = await grain.Commit(lease.AsToken(), new CommitRequest([1], 1, InAnHour, [[7]]));
        Assert.True(commit.Accepted);
    }

    [Fact]
    public async Task Grain_BatchOverMessageBudget_IsRejected()
    {
        var grain = NewGrain();
        var lease = (await grain.GetOrLease(Lease)).Lease!;
        var chunks = Enumerable.Range(0, 9).Select(_ => new byte[SecureCacheGrainOptions.DefaultMaxChunkBytes]).ToArray();
        var ack = await grain.AppendChunks(lease.AsToken(), 0, chunks);

        Assert.Equal(WriteStatus.Rejected, ack.Status);
        Assert.Contains("One message", ack.Error);
    }

    [Fact]
    public async Task Grain_OutOfOrderAppend_WrongCount_EmptyHeader_AreRejected()
    {
        var grain = NewGrain();
        var lease = (await grain.GetOrLease(Lease)).Lease!;
        var token = lease.AsToken();

        Assert.Equal(WriteStatus.Rejected, (await grain.AppendChunks(token, 1, [[1]])).Status);
        Assert.True((await grain.AppendChunks(token, 0, [[1]])).Accepted);
        Assert.Equal(WriteStatus.Rejected, (await grain.AppendChunks(token, 0, [[1]])).Status);
        Assert.Equal(WriteStatus.Rejected, (await grain.Commit(token, new CommitRequest([1], 3, InAnHour, [[2]]))).Status);
        Assert.Equal(WriteStatus.Rejected, (await grain.Commit(token, new CommitRequest([], 2, InAnHour, [[2]]))).Status);
        Assert.Equal(WriteStatus.Rejected, (await grain.Commit(token, new CommitRequest(new byte[4096], 2, InAnHour, [[2]]))).Status);
        Assert.Equal(WriteStatus.Rejected, (await grain.Commit(token, new CommitRequest([1], 2, DateTimeOffset.UtcNow.AddSeconds(-1), [[2]]))).Status);
        Assert.Null((await grain.GetInfo())!.Header);

        // After all of that, the honest commit of exactly what was staged still goes through.
        Assert.True((await grain.Commit(token, new CommitRequest([5], 2, InAnHour, [[2]]))).Accepted);
        var hit = await grain.GetOrLease(Lease with { InlineBytes = 100 });
        Assert.Equal([[1], [2]], hit.Entry!.InlineChunks!);
    }

    [Fact]
    public async Task Grain_WrongOrStaleToken_IsRefused_EntryUnchanged()
    {
        var grain = NewGrain();
        var lease = (await grain.GetOrLease(Lease)).Lease!;
        Assert.True((await grain.Commit(lease.AsToken(), new CommitRequest([1], 1, InAnHour, [[1]]))).Accepted);

        var forged = new LeaseToken(Guid.NewGuid(), lease.Generation);
        Assert.Equal(WriteStatus.LeaseLost, (await grain.AppendChunks(forged, 0, [[6]])).Status);
        Assert.Equal(WriteStatus.LeaseLost, (await grain.Commit(forged, new CommitRequest([6], 1, InAnHour, [[6]]))).Status);
        Assert.Equal(WriteStatus.LeaseLost, (await grain.Commit(lease.AsToken(), new CommitRequest([6], 1, InAnHour, [[6]]))).Status);
        Assert.Equal(WriteStatus.LeaseLost, (await grain.Heartbeat(lease.AsToken())).Status);

        var hit = await grain.GetOrLease(Lease with { InlineBytes = 100 });
        Assert.Equal(lease.VersionId, hit.Entry!.VersionId);
        Assert.Equal([[1]], hit.Entry.InlineChunks!);
    }

    [Fact]
    public async Task Grain_InvalidateDuringBuild_RefusesTheOlderCommit()
    {
        var grain = NewGrain();
        var lease = (await grain.GetOrLease(Lease)).Lease!;
        await grain.Invalidate();
        var ack = await grain.Commit(lease.AsToken(), new CommitRequest([1], 1, InAnHour, [[1]]));
        var after = await grain.GetOrLease(Lease);

        Assert.Equal(WriteStatus.LeaseLost, ack.Status);
        Assert.Equal(LookupOutcome.Lease, after.Outcome);
        Assert.True(after.Lease!.Generation > lease.Generation);
    }

    [Fact]
    public async Task Grain_VanishedBuilder_NextWaiterTakesOverAtTheDeadline()
    {
        var grain = NewGrain();
        var shortLease = Lease with { LeaseDuration = TimeSpan.FromMilliseconds(500) };
        var started = DateTimeOffset.UtcNow;
        var first = await grain.GetOrLease(shortLease);
        var second = await grain.GetOrLease(shortLease with { MaxWait = TimeSpan.FromSeconds(10) });
        var took = DateTimeOffset.UtcNow - started;

        Assert.Equal(LookupOutcome.Lease, second.Outcome);
        Assert.NotEqual(first.Lease!.Token, second.Lease!.Token);
        Assert.InRange(took, TimeSpan.FromMilliseconds(400), TimeSpan.FromSeconds(5));
        Assert.Equal(WriteStatus.LeaseLost, (await grain.Commit(first.Lease.AsToken(), new CommitRequest([1], 1, InAnHour, [[1]]))).Status);
    }

    [Fact]
    public async Task Grain_LongPoll_ReturnsWait_WhenTheCallersBoundIsShort()
    {
        var grain = NewGrain();
        await grain.GetOrLease(Lease);
        var reply = await grain.GetOrLease(Lease with { MaxWait = TimeSpan.FromMilliseconds(200) });
        Assert.Equal(LookupOutcome.Wait, reply.Outcome);
    }

    [Fact]
    public async Task Grain_ReportUnreadable_DropsOnlyTheNamedVersion()
    {
        var grain = NewGrain();
        var lease = (await grain.GetOrLease(Lease)).Lease!;
        await grain.Commit(lease.AsToken(), new CommitRequest([1], 1, InAnHour, [[1]]));

        Assert.False(await grain.ReportUnreadable(Guid.NewGuid()));
        Assert.Equal(LookupOutcome.Hit, (await grain.GetOrLease(Lease)).Outcome);
        Assert.True(await grain.ReportUnreadable(lease.VersionId));
        Assert.Equal(LookupOutcome.Lease, (await grain.GetOrLease(Lease)).Outcome);
    }

    [Fact]
    public async Task Grain_ReadChunks_OfAReplacedVersion_IsGone()
    {
        var grain = NewGrain();
        var first = (await grain.GetOrLease(Lease)).Lease!;
        await grain.Commit(first.AsToken(), new CommitRequest([1], 2, InAnHour, [[1], [2]]));
        Assert.Equal(ReadStatus.Ok, (await grain.ReadChunks(first.VersionId, 0, 1)).Status);

        var forced = (await grain.GetOrLease(Lease with { ForceOverwrite = true })).Lease!;
        await grain.Commit(forced.AsToken(), new CommitRequest([1], 1, InAnHour, [[3]]));
        Assert.Equal(ReadStatus.Gone, (await grain.ReadChunks(first.VersionId, 1, 1)).Status);
        Assert.Equal(ReadStatus.Rejected, (await grain.ReadChunks(forced.VersionId, 5, 1)).Status);
    }

    private static async Task WaitUntil(Func<Task<bool>> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "The condition was not reached within 10 s.");
            await Task.Yield();
        }
    }
}
