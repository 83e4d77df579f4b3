using System.Diagnostics;
using System.Text;
using OrleansSecureCache.Format;
using OrleansSecureCache.Grains;
using OrleansSecureCache.Tests.Attack;
using OrleansSecureCache.Tests.Cluster;
using Xunit;
using static OrleansSecureCache.Tests.Attack.AttackKit;

namespace OrleansSecureCache.Tests.Behaviours;

/// <summary>
/// The Djblets behaviours of djblets-behaviours.md that had no end-to-end test yet, on the 3-silo cluster.
/// K1–K7 are unit tests (Keys/CacheKeyBehaviourTests), M1/L1/L2 are in MemoizeClusterTests, M3/L4/C2–C4 in
/// BuilderEndsTests; the README table maps every id to its tests.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class DjbletsBehaviourTests(ClusterFixture fixture)
{
    [Fact]
    public async Task Djblets_M2_ReadFails_FactoryValueReturned_Logged()
    {
        var (grains, control) = FaultInjectingGrainFactory.Wrap(fixture.Cluster.Client);
        var cache = fixture.CreateCache(grains: grains);
        var key = NewKey("m2-read", out _);
        control.Mode = FaultMode.Throw;

        var value = await cache.MemoizeAsync(key, () => "from factory", Encrypted);

        Assert.Equal("from factory", value);
        Assert.Equal(1, control.Calls);
        Assert.Contains(fixture.Logs.Lines, l => l.StartsWith("Warning", StringComparison.Ordinal)
            && l.Contains($"Cache cluster fault for {cache.MakeCacheKey(key, Encrypted)[..16]}") && l.Contains("injected"));
    }

    [Fact]
    public async Task Djblets_M2_WriteFails_FactoryValueReturned_Logged()
    {
        var (grains, control) = FaultInjectingGrainFactory.Wrap(fixture.Cluster.Client);
        var cache = fixture.CreateCache(grains: grains);
        var key = NewKey("m2-write", out _);

        // The lease is granted; the cluster goes away while the factory runs, so the commit fails.
        var value = await cache.MemoizeAsync(key, () => { control.Mode = FaultMode.Throw; return "built"; }, Encrypted);

        Assert.Equal("built", value);
        Assert.Contains(fixture.Logs.Lines, l => l.StartsWith("Warning", StringComparison.Ordinal)
            && l.Contains($"Storing {cache.MakeCacheKey(key, Encrypted)[..16]} failed"));
        control.Mode = FaultMode.Healthy;
        Assert.False((await fixture.CreateCache().TryGetAsync<string>(key, Encrypted)).Found);
    }

    [Fact]
    public async Task Djblets_M4_EncryptedStoredBytesAreNotPlaintext_AndKeyIsDigest()
    {
        var perCall = System.Security.Cryptography.RandomNumberGenerator.GetBytes(32);
        var options = new MemoizeOptions { EncryptionKey = perCall, Compress = false };
        var cache = fixture.CreateCache();
        var key = NewKey("m4", out var part);
        const string marker = "M4-PLAINTEXT-MARKER";

        var entry = await StoreAsync(fixture, cache, key, $"{marker} {marker}", options);
        var fullKey = cache.MakeCacheKey(key, options);

        Assert.Equal(Hmac(perCall, $"tenant:{part}"), fullKey); // the stored key is the digest (K5)
        Assert.False(ContainsMarker(Dump(entry, fullKey), marker));
        Assert.False(ContainsMarker(Dump(entry, fullKey), part));
        Assert.Equal(Encoding.ASCII.GetBytes("ECV"), entry.Header[..3]);
    }

    [Fact]
    public async Task Djblets_M4_CustomKey_OnlyThatKeyReads()
    {
        var cache = fixture.CreateCache();
        var keyA = System.Security.Cryptography.RandomNumberGenerator.GetBytes(32);
        var withA = new MemoizeOptions { EncryptionKey = keyA };
        var withB = new MemoizeOptions { EncryptionKey = System.Security.Cryptography.RandomNumberGenerator.GetBytes(16) };
        var key = NewKey("m4-custom", out _);

        await cache.MemoizeAsync(key, () => "secret-a", withA);
        Assert.Equal("secret-a", await fixture.CreateCache().MemoizeAsync(key, ClusterHelpers.MustHit<string>(), withA));

        // When the key changes, the old entry is not found (another digest) and the value is rebuilt.
        await AssertMissAndRebuiltAsync(fixture.CreateCache(), key, withB, "secret-a");
        await AssertMissAndRebuiltAsync(fixture.CreateCache(), key, Encrypted, "secret-a"); // the default key
        // And A's bytes placed under B's id do not decrypt with B.
        var entry = (await fixture.Tamper(cache.MakeCacheKey(key, withA)).Read())!;
        await fixture.Tamper(cache.MakeCacheKey(key, withB)).Write(entry);
        await AssertMissAndRebuiltAsync(fixture.CreateCache(), key, withB, "secret-a");
        Assert.Equal("secret-a", await fixture.CreateCache().MemoizeAsync(key, ClusterHelpers.MustHit<string>(), withA));
    }

    [Fact]
    public async Task Djblets_M5_WrongKeyOrTamperedOrPlain_IsMissAndRebuilt()
    {
        var cache = fixture.CreateCache();
        var key = NewKey("m5", out _);
        var fullKey = cache.MakeCacheKey(key, Encrypted);
        var tamper = fixture.Tamper(fullKey);

        // Other key: an entry sealed under another per-call key, placed under this id.
        var other = new MemoizeOptions { EncryptionKey = System.Security.Cryptography.RandomNumberGenerator.GetBytes(32), Compress = false };
        var foreign = await StoreAsync(fixture, cache, $"m5-other-{NewId()}", "M5-OTHER", other);
        await tamper.Write(foreign);
        await AssertMissAndRebuiltAsync(cache, key, Encrypted, "M5-OTHER");

        // Tampered: one bit of the committed entry.
        var entry = (await tamper.Read())!;
        var rebuiltValue = await cache.MemoizeAsync(key, ClusterHelpers.MustHit<string>(), Encrypted);
        entry.Chunks[0][0] ^= 0x10;
        await tamper.Write(entry);
        await AssertMissAndRebuiltAsync(cache, key, Encrypted, rebuiltValue);

        // Not encrypted at all: a plain entry under this id.
        var plain = await StoreAsync(fixture, cache, $"m5-plain-{NewId()}", "M5-PLAIN", new MemoizeOptions { UseEncryption = false });
        await tamper.Write(plain);
        await AssertMissAndRebuiltAsync(cache, key, Encrypted, "M5-PLAIN");
    }

    [Fact]
    public async Task Djblets_M6_ExpirationHonoured()
    {
        var cache = fixture.CreateCache();
        var key = NewKey("m6", out _);
        var shortLived = Encrypted with { Expiration = TimeSpan.FromSeconds(2) };
        var runs = 0;
        string Factory() => $"run-{Interlocked.Increment(ref runs)}";

        Assert.Equal("run-1", await cache.MemoizeAsync(key, Factory, shortLived));
        Assert.Equal("run-1", await cache.MemoizeAsync(key, Factory, shortLived));
        Assert.Equal(1, runs);

        // Time-based: poll (bounded) until the expired entry makes the factory run again.
        await PollUntilAsync(async () => await cache.MemoizeAsync(key, Factory, shortLived) != "run-1", TimeSpan.FromSeconds(10), "expiry");
        Assert.Equal(2, runs);

        // The default is 30 days.
        Assert.Equal(TimeSpan.FromDays(30), new SecureCacheOptions().DefaultExpiration);
        var longKey = NewKey("m6-default", out _);
        await cache.MemoizeAsync(longKey, () => "v", Encrypted);
        var info = await cache.GetInfoAsync(longKey, Encrypted);
        Assert.InRange(info!.ExpiresAt!.Value, DateTimeOffset.UtcNow.AddDays(30).AddMinutes(-1), DateTimeOffset.UtcNow.AddDays(30).AddMinutes(1));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Djblets_L3_MissingChunk_Rebuilt(bool encrypt)
    {
        var cache = SmallChunkCache(fixture);
        var options = new MemoizeOptions { UseEncryption = encrypt, Compress = false };
        var key = NewKey($"l3-{encrypt}", out _);
        var items = Enumerable.Range(0, 60).Select(i => $"item-{i}").ToArray();
        await ClusterHelpers.Collect(cache.MemoizeIterAsync(key, () => items, options));
        var tamper = fixture.Tamper(cache.MakeCacheKey(key, options));
        var entry = (await tamper.Read())!;
        Assert.True(entry.Chunks.Length > 4);

        await tamper.Write(entry.WithChunks(entry.Chunks.Where((_, i) => i != 2)));
        var runs = 0;
        var rebuilt = await ClusterHelpers.Collect(cache.MemoizeIterAsync(key, () => { runs++; return new[] { "fresh-1", "fresh-2" }; }, options));
        Assert.Equal(["fresh-1", "fresh-2"], rebuilt);
        Assert.Equal(1, runs);
    }

    [Fact]
    public async Task Djblets_L3_CorruptedChunk_Rebuilt()
    {
        var cache = SmallChunkCache(fixture);
        var key = NewKey("l3-corrupt", out _);
        var items = Enumerable.Range(0, 60).Select(i => $"item-{i}").ToArray();
        await ClusterHelpers.Collect(cache.MemoizeIterAsync(key, () => items, Encrypted));
        var tamper = fixture.Tamper(cache.MakeCacheKey(key, Encrypted));
        var entry = (await tamper.Read())!;
        entry.Chunks[3][5] ^= 0x01;
        await tamper.Write(entry);

        var runs = 0;
        var rebuilt = await ClusterHelpers.Collect(cache.MemoizeIterAsync(key, () => { runs++; return new[] { "fresh" }; }, Encrypted));
        Assert.Equal(["fresh"], rebuilt);
        Assert.Equal(1, runs);
    }

    [Fact]
    public async Task Djblets_L5_StorageFailureWhileWriting_CallerStillGetsEveryItem()
    {
        var (grains, control) = FaultInjectingGrainFactory.Wrap(fixture.Cluster.Client);
        var cache = fixture.CreateCache(o => o.TransferBatchBytes = 1024 * 1024, grains);
        var key = NewKey("l5", out _);
        var options = new MemoizeOptions { UseEncryption = true, Compress = false };
        const int count = 40;

        async IAsyncEnumerable<byte[]> Producer([System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken ct)
        {
            for (var i = 0; i < count; i++)
            {
                if (i == 1)
                {
                    control.Mode = FaultMode.Throw; // the lease was granted before the first item; storage now fails
                }

                var item = new byte[64 * 1024];
                Array.Fill(item, (byte)i);
                yield return item;
                await Task.Yield();
            }
        }

        var received = await ClusterHelpers.Collect(cache.MemoizeIterAsync(key, Producer, options));

        Assert.Equal(count, received.Count);
        for (var i = 0; i < count; i++)
        {
            Assert.All(received[i], b => Assert.Equal((byte)i, b));
        }

        Assert.Contains(fixture.Logs.Lines, l => l.Contains($"Storing {cache.MakeCacheKey(key, options)[..16]} failed"));
        control.Mode = FaultMode.Healthy;
        Assert.False((await fixture.CreateCache().TryGetItemsAsync<byte[]>(key, options)).Found);
    }

    [Fact]
    public async Task Djblets_C1_HitTakesNoLease()
    {
        var key = NewKey("c1", out _);
        await fixture.CreateCache().MemoizeAsync(key, () => new byte[3 * 1024 * 1024], Encrypted); // several chunks, read in batches
        var (grains, recorder) = RecordingGrainFactory.Wrap(fixture.Cluster.Client);
        var cache = fixture.CreateCache(grains: grains);

        var hits = await Task.WhenAll(Enumerable.Range(0, 5).Select(_ => cache.MemoizeAsync(key, ClusterHelpers.MustHit<byte[]>(), Encrypted).AsTask()));

        Assert.All(hits, h => Assert.Equal(3 * 1024 * 1024, h.Length));
        var calls = recorder.Calls.ToArray();
        Assert.Contains("GetOrLease:Hit", calls);
        Assert.All(calls, c => Assert.True(c is "GetOrLease:Hit" or "ReadChunks", $"a hit made the call {c}"));
        var info = await fixture.CreateCache().GetInfoAsync(key, Encrypted);
        Assert.False(info!.BuildInProgress);
    }

    [Fact]
    public async Task Djblets_C5_CrashedHolderExpires_NextCallerTakesOver()
    {
        var cache = fixture.CreateCache();
        var key = NewKey("c5", out _);
        var grain = fixture.Cluster.Client.GetGrain<ISecureCacheGrain>(cache.MakeCacheKey(key, Encrypted));
        var crashed = await grain.GetOrLease(new LookupRequest(false, TimeSpan.Zero, TimeSpan.FromMilliseconds(500), 0));
        Assert.Equal(LookupOutcome.Lease, crashed.Outcome);
        var deadline = crashed.Lease!.Deadline;

        var clock = Stopwatch.StartNew();
        var value = await cache.MemoizeAsync(key, () => "taken over", Encrypted);

        Assert.Equal("taken over", value);
        Assert.True(DateTimeOffset.UtcNow >= deadline, "the lease was taken before its deadline");
        Assert.InRange(clock.Elapsed, TimeSpan.FromMilliseconds(200), TimeSpan.FromSeconds(5));
        Assert.Equal("taken over", await fixture.CreateCache().MemoizeAsync(key, ClusterHelpers.MustHit<string>(), Encrypted));
        Assert.Equal(WriteStatus.LeaseLost, (await grain.Commit(crashed.Lease.AsToken(), new CommitRequest([1], 1, DateTimeOffset.UtcNow.AddHours(1), [[1]]))).Status);
    }
}
