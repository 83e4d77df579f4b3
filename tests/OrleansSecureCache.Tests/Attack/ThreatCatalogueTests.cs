using System.Reflection;
using System.Text.RegularExpressions;
using OrleansSecureCache.Format;
using OrleansSecureCache.Tests.Cluster;
using Xunit;
using static OrleansSecureCache.Tests.Attack.AttackKit;

namespace OrleansSecureCache.Tests.Attack;

/// <summary>
/// The threat catalogue of crypto-format.md §b (B1–B22) on the 3-silo cluster. The attacker rewrites a
/// grain's committed entry through <see cref="ClusterFixture.Tamper"/>; every read afterwards must return
/// the factory's fresh value (one factory run), never anything built from the tampered bytes. Each test
/// ends with the B22 log check: no plaintext key part, value marker or key material in any log line.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed partial class ThreatCatalogueTests(ClusterFixture fixture)
{
    [GeneratedRegex("^[0-9a-f]{64}$")]
    private static partial Regex DigestId();

    [Fact]
    public async Task B1_StoredEntryHoldsNoPlaintext_IdIsDigestWithoutKeyPart()
    {
        const string marker = "SECRET-MARKER-7";
        var cache = fixture.CreateCache();
        var key = NewKey("b1", out var part);
        var fullKey = cache.MakeCacheKey(key, Encrypted);
        var value = $"the value is {marker}, twice: {marker}";

        var entry = await StoreAsync(fixture, cache, key, value, Encrypted);
        var info = await cache.GetInfoAsync(key, Encrypted);
        var dump = Dump(entry, fullKey);

        Assert.False(ContainsMarker(dump, marker), "the stored entry carries the value in clear");
        Assert.False(ContainsMarker(dump, part), "the stored entry carries the key in clear");
        Assert.Matches(DigestId(), fullKey);
        Assert.DoesNotContain(part, fullKey, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("tenant", fullKey, StringComparison.OrdinalIgnoreCase);
        Assert.True(info!.Encrypted);
        // The check itself is sound: the same marker stored without encryption is found.
        var plain = new MemoizeOptions { UseEncryption = false, Compress = false };
        var plainEntry = await StoreAsync(fixture, cache, $"b1-plain-{NewId()}", value, plain);
        Assert.True(ContainsMarker(plainEntry.Chunks.SelectMany(c => c).ToArray(), marker));
        AssertNoLeaks(fixture, [part], []);
    }

    [Fact]
    public async Task B2_WholeEntryOfBCopiedToA_IsMiss()
    {
        var cache = SmallChunkCache(fixture);
        var a = NewKey("b2a", out var partA);
        var b = NewKey("b2b", out var partB);
        var aValue = Value("A-VALUE");
        var bValue = Value("B-VALUE");
        await StoreAsync(fixture, cache, a, aValue, Encrypted);
        var bEntry = await StoreAsync(fixture, cache, b, bValue, Encrypted);

        await fixture.Tamper(cache.MakeCacheKey(a, Encrypted)).Write(bEntry);

        await AssertMissAndRebuiltAsync(SmallChunkCache(fixture), a, Encrypted, "A-VALUE", "B-VALUE");
        AssertNoLeaks(fixture, [partA, partB, "A-VALUE", "B-VALUE"], []);
    }

    [Fact]
    public async Task B3_ChunkSplicedFromAnotherEntry_IsMiss()
    {
        var cache = SmallChunkCache(fixture);
        var a = NewKey("b3a", out var partA);
        var b = NewKey("b3b", out _);
        var aEntry = await StoreAsync(fixture, cache, a, Value("A3-VALUE"), Encrypted);
        var bEntry = await StoreAsync(fixture, cache, b, Value("B3-VALUE"), Encrypted);
        Assert.True(aEntry.Chunks.Length >= 3);

        var spliced = aEntry.Copy();
        spliced.Chunks[1] = bEntry.Chunks[1];
        await fixture.Tamper(cache.MakeCacheKey(a, Encrypted)).Write(spliced);

        await AssertMissAndRebuiltAsync(cache, a, Encrypted, "A3-VALUE", "B3-VALUE");
        AssertNoLeaks(fixture, [partA, "A3-VALUE", "B3-VALUE"], []);
    }

    [Fact]
    public async Task B3_TornRead_HeaderOfOneWriteChunksOfAnother_IsMiss()
    {
        var cache = SmallChunkCache(fixture);
        var key = NewKey("b3torn", out var part);
        var first = await StoreAsync(fixture, cache, key, Value("FIRST-WRITE"), Encrypted);
        var secondValue = Value("SECOND-WRITE");
        await cache.MemoizeAsync(key, () => secondValue, Encrypted with { ForceOverwrite = true });
        var second = (await fixture.Tamper(cache.MakeCacheKey(key, Encrypted)).Read())!;

        var torn = second.WithChunks(second.Chunks.Take(2).Concat(first.Chunks.Skip(2)));
        await fixture.Tamper(cache.MakeCacheKey(key, Encrypted)).Write(torn);

        await AssertMissAndRebuiltAsync(cache, key, Encrypted, "FIRST-WRITE", "SECOND-WRITE");
        AssertNoLeaks(fixture, [part, "FIRST-WRITE", "SECOND-WRITE"], []);
    }

    [Fact]
    public async Task B4_ReorderedChunks_IsMiss()
    {
        var cache = SmallChunkCache(fixture);
        var key = NewKey("b4", out var part);
        var entry = await StoreAsync(fixture, cache, key, Value("B4-VALUE"), Encrypted);
        var swapped = entry.Copy();
        (swapped.Chunks[1], swapped.Chunks[2]) = (swapped.Chunks[2], swapped.Chunks[1]);
        await fixture.Tamper(cache.MakeCacheKey(key, Encrypted)).Write(swapped);

        await AssertMissAndRebuiltAsync(cache, key, Encrypted, "B4-VALUE");
        AssertNoLeaks(fixture, [part, "B4-VALUE"], []);
    }

    [Theory]
    [InlineData("middle")]
    [InlineData("last")]
    public async Task B5_DroppedChunk_IsMiss(string which)
    {
        var cache = SmallChunkCache(fixture);
        var key = NewKey("b5", out var part);
        var entry = await StoreAsync(fixture, cache, key, Value("B5-VALUE"), Encrypted);
        var drop = which == "last" ? entry.Chunks.Length - 1 : entry.Chunks.Length / 2;
        await fixture.Tamper(cache.MakeCacheKey(key, Encrypted)).Write(entry.WithChunks(entry.Chunks.Where((_, i) => i != drop)));

        await AssertMissAndRebuiltAsync(cache, key, Encrypted, "B5-VALUE");
        AssertNoLeaks(fixture, [part, "B5-VALUE"], []);
    }

    [Fact]
    public async Task B6_LastChunkTruncatedByOneByte_IsMiss()
    {
        var cache = SmallChunkCache(fixture);
        var key = NewKey("b6", out var part);
        var entry = await StoreAsync(fixture, cache, key, Value("B6-VALUE"), Encrypted);
        var cut = entry.Copy();
        cut.Chunks[^1] = cut.Chunks[^1][..^1];
        await fixture.Tamper(cache.MakeCacheKey(key, Encrypted)).Write(cut);

        await AssertMissAndRebuiltAsync(cache, key, Encrypted, "B6-VALUE");
        AssertNoLeaks(fixture, [part, "B6-VALUE"], []);
    }

    [Theory]
    [InlineData("copy-of-first")]
    [InlineData("random")]
    public async Task B7_AppendedChunk_IsMiss(string kind)
    {
        var cache = SmallChunkCache(fixture);
        var key = NewKey("b7", out var part);
        var entry = await StoreAsync(fixture, cache, key, Value("B7-VALUE"), Encrypted);
        var extra = kind == "random" ? System.Security.Cryptography.RandomNumberGenerator.GetBytes(64) : entry.Chunks[0];
        await fixture.Tamper(cache.MakeCacheKey(key, Encrypted)).Write(entry.WithChunks(entry.Chunks.Append(extra)));

        await AssertMissAndRebuiltAsync(cache, key, Encrypted, "B7-VALUE");
        AssertNoLeaks(fixture, [part, "B7-VALUE"], []);
    }

    [Theory]
    [InlineData("ciphertext")]
    [InlineData("tag")]
    public async Task B8_FlippedBit_IsMiss(string where)
    {
        var cache = SmallChunkCache(fixture);
        var key = NewKey("b8", out var part);
        var entry = await StoreAsync(fixture, cache, key, Value("B8-VALUE"), Encrypted);
        var flipped = entry.Copy();
        var chunk = flipped.Chunks[1];
        chunk[where == "tag" ? chunk.Length - 1 : 3] ^= 0x01;
        await fixture.Tamper(cache.MakeCacheKey(key, Encrypted)).Write(flipped);

        await AssertMissAndRebuiltAsync(cache, key, Encrypted, "B8-VALUE");
        AssertNoLeaks(fixture, [part, "B8-VALUE"], []);
    }

    [Fact]
    public async Task B9_SlicesOfAChunkAsOneChunkEntries_AllMiss()
    {
        // A sample of slices at the cluster level; every slice of every chunk is covered at the format level
        // (Ecv1ThreatTests.B9_EverySliceOfEveryChunkAsAOneChunkEntry_Misses).
        var cache = SmallChunkCache(fixture);
        var key = NewKey("b9", out var part);
        var entry = await StoreAsync(fixture, cache, key, Value("B9-VALUE"), Encrypted);
        var tamper = fixture.Tamper(cache.MakeCacheKey(key, Encrypted));
        var slices = 0;
        foreach (var source in new[] { entry.Chunks[0], entry.Chunks[^1] })
        {
            for (var start = 0; start < source.Length; start += 7)
            {
                for (var end = start + 16; end <= source.Length; end += 9)
                {
                    await tamper.Write(entry.WithChunks([source[start..end]]));
                    await AssertMissAndRebuiltAsync(cache, key, Encrypted, "B9-VALUE");
                    slices++;
                }
            }
        }

        Assert.True(slices > 20, $"only {slices} slices tried");
        AssertNoLeaks(fixture, [part, "B9-VALUE"], []);
    }

    [Theory]
    [InlineData("magic", 0, 0x01)]
    [InlineData("suite", Ecv1.OffSuite, 0x02)]
    [InlineData("flags-compression", Ecv1.OffFlags, 0x01)]
    [InlineData("flags-unknown", Ecv1.OffFlags, 0x80)]
    [InlineData("segment-size", Ecv1.OffSegmentSize + 3, 0x01)]
    [InlineData("key-id", Ecv1.OffKeyId + 3, 0x01)]
    [InlineData("salt", Ecv1.OffSalt + 5, 0x01)]
    [InlineData("expiry-later", Ecv1.OffExpiresAt + 6, 0x01)]
    [InlineData("expiry-earlier-but-future", Ecv1.OffExpiresAt + 7, 0x01)]
    [InlineData("version", Ecv1.OffVersionId + 2, 0x01)]
    [InlineData("commitment-first-byte", Ecv1.OffCommitment, 0x01)]
    [InlineData("commitment-last-byte", Ecv1.HeaderSize - 1, 0x80)]
    public async Task B10_HeaderEdit_IsMiss(string field, int offset, int xor)
    {
        var cache = SmallChunkCache(fixture);
        var key = NewKey($"b10-{field}", out var part);
        var entry = await StoreAsync(fixture, cache, key, Value("B10-VALUE"), Encrypted);
        var edited = entry.Copy();
        edited.Header[offset] ^= (byte)xor;
        await fixture.Tamper(cache.MakeCacheKey(key, Encrypted)).Write(edited);

        await AssertMissAndRebuiltAsync(cache, key, Encrypted, "B10-VALUE");
        AssertNoLeaks(fixture, [part, "B10-VALUE"], []);
    }

    [Fact]
    public async Task B10_GrainReportsAnotherVersionId_IsMiss()
    {
        var cache = SmallChunkCache(fixture);
        var key = NewKey("b10-grain-version", out _);
        var entry = await StoreAsync(fixture, cache, key, Value("B10V-VALUE"), Encrypted);
        await fixture.Tamper(cache.MakeCacheKey(key, Encrypted)).Write(entry with { VersionId = Guid.NewGuid() });

        await AssertMissAndRebuiltAsync(cache, key, Encrypted, "B10V-VALUE");
    }

    [Fact]
    public async Task B11_ExpiredEntryReplayedWithLaterGrainExpiry_IsMiss()
    {
        var cache = SmallChunkCache(fixture);
        var key = NewKey("b11", out var part);
        var shortLived = Encrypted with { Expiration = TimeSpan.FromSeconds(2) };
        var entry = await StoreAsync(fixture, cache, key, Value("B11-VALUE"), shortLived);
        var sealedExpiry = EntryDecoder.Describe(entry.Header)!.ExpiresAt;

        // Time-based: wait (bounded) until the authenticated expiry has passed.
        await PollUntilAsync(() => Task.FromResult(DateTimeOffset.UtcNow.ToUnixTimeSeconds() > sealedExpiry.ToUnixTimeSeconds()), TimeSpan.FromSeconds(10), "the sealed expiry");
        await fixture.Tamper(cache.MakeCacheKey(key, shortLived)).Write(entry with { ExpiresAt = DateTimeOffset.UtcNow.AddHours(1) });

        await AssertMissAndRebuiltAsync(cache, key, Encrypted, "B11-VALUE");
        AssertNoLeaks(fixture, [part, "B11-VALUE"], []);
    }

    [Fact]
    public async Task B12_Rollback_SameIdWithinExpiryIsAccepted_Residual_VersionedKeyPartMisses()
    {
        var cache = SmallChunkCache(fixture);
        var user = $"user-{NewId()}";

        // Documented residual (crypto-format.md §b B12, §e): an older entry of the same id, replayed within its
        // expiry, IS accepted. Binding the version id stops mixing, not rollback.
        CacheKey same = new[] { "acl", user };
        var v1 = await StoreAsync(fixture, cache, same, "ACL-V1", Encrypted);
        await cache.MemoizeAsync(same, () => "ACL-V2", Encrypted with { ForceOverwrite = true });
        Assert.Equal("ACL-V2", await cache.MemoizeAsync(same, ClusterHelpers.MustHit<string>(), Encrypted));
        await fixture.Tamper(cache.MakeCacheKey(same, Encrypted)).Write(v1);
        Assert.Equal("ACL-V1", await cache.MemoizeAsync(same, ClusterHelpers.MustHit<string>(), Encrypted));

        // The mitigation: a client-known generation in the key parts. v1 copied to the g2 id is a miss.
        CacheKey g1 = new[] { "acl", user, "g1" };
        CacheKey g2 = new[] { "acl", user, "g2" };
        var old = await StoreAsync(fixture, cache, g1, "ACL-G1", Encrypted);
        await fixture.Tamper(cache.MakeCacheKey(g2, Encrypted)).Write(old);
        await AssertMissAndRebuiltAsync(cache, g2, Encrypted, "ACL-G1");
        AssertNoLeaks(fixture, [user], []);
    }

    [Fact]
    public async Task B13_PlainEntryWhereEncryptedExpected_AndViceVersa_AreMisses()
    {
        var cache = SmallChunkCache(fixture);
        var plain = new MemoizeOptions { UseEncryption = false, Compress = false };

        // Plain entry copied under an encrypted id.
        var p = $"b13-plain-{NewId()}";
        var e = NewKey("b13-enc", out var part);
        var plainEntry = await StoreAsync(fixture, cache, p, Value("PLAIN-VALUE"), plain);
        await StoreAsync(fixture, cache, e, Value("ENC-VALUE"), Encrypted);
        await fixture.Tamper(cache.MakeCacheKey(e, Encrypted)).Write(plainEntry);
        await AssertMissAndRebuiltAsync(cache, e, Encrypted, "PLAIN-VALUE", "ENC-VALUE");

        // Encrypted entry copied under a plain id.
        var encEntry = (await fixture.Tamper(cache.MakeCacheKey(e, Encrypted)).Read())!;
        await fixture.Tamper(cache.MakeCacheKey(p, plain)).Write(encEntry);
        await AssertMissAndRebuiltAsync(cache, p, plain, "PLAIN-VALUE");

        // Ids that coincide without any tampering: a plain key spelled as another key's digest (§c.3).
        var e2 = NewKey("b13-same-id", out var part2);
        var digest = cache.MakeCacheKey(e2, Encrypted);
        await StoreAsync(fixture, cache, e2, Value("DIGEST-VALUE"), Encrypted);
        Assert.Equal(digest, cache.MakeCacheKey(digest, plain));
        await AssertMissAndRebuiltAsync(cache, digest, plain, "DIGEST-VALUE");
        await AssertMissAndRebuiltAsync(cache, e2, Encrypted, "DIGEST-VALUE");
        AssertNoLeaks(fixture, [part, part2, "ENC-VALUE", "DIGEST-VALUE"], []);
    }

    [Fact]
    public async Task B14_WrongPerCallKey_IsMissAndRebuilt()
    {
        // Zero AES decryptions on a wrong key are proven at the format level
        // (Ecv1ThreatTests.B14_WrongKey_MissesOnCommitment_WithoutAnyDecryption).
        var cache = SmallChunkCache(fixture);
        var keyA = System.Security.Cryptography.RandomNumberGenerator.GetBytes(32);
        var keyB = System.Security.Cryptography.RandomNumberGenerator.GetBytes(32);
        var withA = new MemoizeOptions { EncryptionKey = keyA, Compress = false };
        var withB = new MemoizeOptions { EncryptionKey = keyB, Compress = false };
        var key = NewKey("b14", out var part);

        var entry = await StoreAsync(fixture, cache, key, Value("B14-VALUE"), withA);
        Assert.NotEqual(cache.MakeCacheKey(key, withA), cache.MakeCacheKey(key, withB));
        await AssertMissAndRebuiltAsync(cache, key, withB, "B14-VALUE"); // another id: simply not found
        await fixture.Tamper(cache.MakeCacheKey(key, withB)).Write(entry); // the same bytes under B's id
        await AssertMissAndRebuiltAsync(cache, key, withB, "B14-VALUE");
        Assert.Contains(fixture.Logs.Lines, l => l.Contains(cache.MakeCacheKey(key, withB)[..16]) && l.Contains("(Commitment)"));
        AssertNoLeaks(fixture, [part, "B14-VALUE"], [keyA, keyB]);
    }

    [Theory]
    [InlineData(16, true)]
    [InlineData(24, true)]
    [InlineData(32, true)]
    [InlineData(0, false)]
    [InlineData(8, false)]
    [InlineData(15, false)]
    [InlineData(20, false)]
    [InlineData(31, false)]
    [InlineData(33, false)]
    [InlineData(64, false)]
    public async Task B15_PerCallKeyPolicy_BytesOnly_16_24_32(int length, bool accepted)
    {
        var (grains, control) = FaultInjectingGrainFactory.Wrap(fixture.Cluster.Client);
        var cache = fixture.CreateCache(grains: grains);
        var options = new MemoizeOptions { EncryptionKey = new byte[length].Select((_, i) => (byte)(i * 37 + 1)).ToArray() };
        var key = $"b15-{NewId()}";
        if (accepted)
        {
            Assert.Equal("v", await cache.MemoizeAsync(key, () => "v", options));
            return;
        }

        var ex = await Assert.ThrowsAsync<ArgumentException>(async () => await cache.MemoizeAsync(key, () => "v", options));
        Assert.Equal("encryptionKey", ex.ParamName);
        Assert.Contains(length.ToString(System.Globalization.CultureInfo.InvariantCulture), ex.Message);
        Assert.Equal(0, control.Calls); // refused before any I/O
    }

    [Fact]
    public void B15_PerCallKeyApi_TakesBytesOnly_NoStringOrPasswordOverloads()
    {
        var keyProperties = typeof(MemoizeOptions).GetProperties().Where(p => p.Name.Contains("Key", StringComparison.OrdinalIgnoreCase)).ToList();
        Assert.Equal([typeof(ReadOnlyMemory<byte>?)], keyProperties.Select(p => p.PropertyType));
        var publicTypes = typeof(SecureCache).Assembly.GetExportedTypes();
        var stringKeyParameters = publicTypes
            .SelectMany(t => t.GetMethods(BindingFlags.Public | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly))
            .SelectMany(m => m.GetParameters())
            .Where(p => p.ParameterType == typeof(string) && p.Name is { } n && (n.Contains("encryptionKey", StringComparison.OrdinalIgnoreCase) || n.Contains("password", StringComparison.OrdinalIgnoreCase)));
        Assert.Empty(stringKeyParameters);
    }

    [Fact]
    public async Task B16_CommitmentEditedAtEitherEnd_IsMiss_ComparerIsFixedTime()
    {
        // The comparer itself is pinned by SourcePolicyTests.FormatCode_ChecksCommitmentAndChecksumWithFixedTimeEquals
        // and FormatCode_NeverUsesSequenceEqual (no timing unit tests, per §b B16). Here: an edit in the first or
        // the last byte of the commitment is a miss either way.
        var cache = SmallChunkCache(fixture);
        foreach (var offset in new[] { Ecv1.OffCommitment, Ecv1.HeaderSize - 1 })
        {
            var key = NewKey($"b16-{offset}", out _);
            var entry = await StoreAsync(fixture, cache, key, Value("B16-VALUE"), Encrypted);
            entry.Header[offset] ^= 0x01;
            await fixture.Tamper(cache.MakeCacheKey(key, Encrypted)).Write(entry);
            await AssertMissAndRebuiltAsync(cache, key, Encrypted, "B16-VALUE");
        }

        var source = File.ReadAllText(FindSource("src/Client/Format/EntryDecoder.cs"));
        Assert.Contains("FixedTimeEquals", source, StringComparison.Ordinal);
    }

    [Fact]
    public async Task B17_CompressionOff_EqualLengthValuesGiveEqualSizes_OnTheyDiffer()
    {
        var cache = fixture.CreateCache();
        var redundant = new byte[20_000];
        Array.Fill(redundant, (byte)'a');
        var random = System.Security.Cryptography.RandomNumberGenerator.GetBytes(20_000);

        async Task<long> StoredSize(byte[] value, bool compress)
        {
            var options = new MemoizeOptions { UseEncryption = true, Compress = compress };
            var key = $"b17-{NewId()}";
            await cache.MemoizeAsync(key, () => value, options);
            return (await cache.GetInfoAsync(key, options))!.StoredBytes;
        }

        Assert.Equal(await StoredSize(redundant, false), await StoredSize(random, false));
        var compressedRedundant = await StoredSize(redundant, true);
        var compressedRandom = await StoredSize(random, true);
        Assert.NotEqual(compressedRedundant, compressedRandom); // documented: compression leaks redundancy
        Assert.True(compressedRedundant < compressedRandom / 10);
    }

    [Theory]
    [InlineData("too-many-chunks")]
    [InlineData("huge-chunk")]
    public async Task B18_OversizedEntryBehindTheGrainsBack_IsMissOnLimits(string kind)
    {
        // MaxEntryBytes 4 MiB → at most 6 chunks of ~1 MiB. The zlib bomb is covered at the format level
        // (Ecv1ThreatTests.B18_AuthenticZlibBomb_MissesOnDecompress).
        var cache = fixture.CreateCache(o => o.MaxEntryBytes = 4 * 1024 * 1024);
        var key = NewKey($"b18-{kind}", out var part);
        var entry = await StoreAsync(fixture, cache, key, Value("B18-VALUE"), Encrypted);
        var hostile = kind == "too-many-chunks"
            ? entry.WithChunks(Enumerable.Range(0, 5000).Select(_ => entry.Chunks[0]))
            : entry.WithChunks([new byte[3 * 1024 * 1024]]);
        await fixture.Tamper(cache.MakeCacheKey(key, Encrypted)).Write(hostile);

        await AssertMissAndRebuiltAsync(cache, key, Encrypted, "B18-VALUE");
        Assert.Contains(fixture.Logs.Lines, l => l.Contains(cache.MakeCacheKey(key, Encrypted)[..16]) && l.Contains("(Limits)"));
        AssertNoLeaks(fixture, [part, "B18-VALUE"], []);
    }

    [Fact]
    public async Task B19_TwoWritesOfTheSameValue_DifferInSaltCommitmentAndChunks()
    {
        var cache = SmallChunkCache(fixture);
        var key = NewKey("b19", out _);
        var value = Value("B19-VALUE");
        var first = await StoreAsync(fixture, cache, key, value, Encrypted);
        await cache.MemoizeAsync(key, () => value, Encrypted with { ForceOverwrite = true });
        var second = (await fixture.Tamper(cache.MakeCacheKey(key, Encrypted)).Read())!;

        Assert.NotEqual(first.VersionId, second.VersionId);
        Assert.NotEqual(first.Header[Ecv1.OffSalt..Ecv1.OffExpiresAt], second.Header[Ecv1.OffSalt..Ecv1.OffExpiresAt]);
        Assert.NotEqual(first.Header[Ecv1.OffCommitment..], second.Header[Ecv1.OffCommitment..]);
        Assert.Equal(first.Chunks.Length, second.Chunks.Length);
        for (var i = 0; i < first.Chunks.Length; i++)
        {
            Assert.NotEqual(first.Chunks[i], second.Chunks[i]);
        }
    }

    [Fact]
    public async Task B20_IdDependsOnKeyMaterial_OtherSecretNeitherFindsNorReads()
    {
        var ours = SmallChunkCache(fixture);
        var theirs = SmallChunkCache(fixture, o => o.SecretKey = "another-deployment-secret-of-at-least-32-bytes!");
        var key = NewKey("b20", out var part);
        var ourId = ours.MakeCacheKey(key, Encrypted);
        var theirId = theirs.MakeCacheKey(key, Encrypted);
        Assert.NotEqual(ourId, theirId);
        Assert.Equal(Hmac(DefaultKeyMaterial, $"tenant:{part}"), ourId);

        var entry = await StoreAsync(fixture, ours, key, Value("B20-VALUE"), Encrypted);
        await AssertMissAndRebuiltAsync(theirs, key, Encrypted, "B20-VALUE");
        await fixture.Tamper(theirId).Write(entry); // even given our bytes under its id
        await AssertMissAndRebuiltAsync(theirs, key, Encrypted, "B20-VALUE");
        // No API computes an encrypted id without key material.
        var keyless = new SecureCache(fixture.Cluster.Client, Microsoft.Extensions.Options.Options.Create(new SecureCacheOptions()),
            new Serialization.JsonCacheSerializer(), Microsoft.Extensions.Logging.Abstractions.NullLogger<SecureCache>.Instance, new SecureCacheMetrics());
        Assert.Throws<InvalidOperationException>(() => keyless.MakeCacheKey(key, Encrypted));
    }

    [Fact]
    public async Task B21_NormalizationAmbiguity_ThreeFormsShareOneEntry_DjbletsParity()
    {
        var cache = fixture.CreateCache();
        var suffix = NewId();
        CacheKey joined = $"a:{suffix}";
        CacheKey parts = new[] { "a", suffix };
        CacheKey single = new[] { $"a:{suffix}" };
        Assert.Equal(cache.MakeCacheKey(joined, Encrypted), cache.MakeCacheKey(parts, Encrypted));
        Assert.Equal(cache.MakeCacheKey(joined, Encrypted), cache.MakeCacheKey(single, Encrypted));

        await cache.MemoizeAsync(joined, () => "shared", Encrypted);
        Assert.Equal("shared", await cache.MemoizeAsync(parts, ClusterHelpers.MustHit<string>(), Encrypted));
        Assert.Equal("shared", await cache.MemoizeAsync(single, ClusterHelpers.MustHit<string>(), Encrypted));
        // Escaping keeps user input inside its part: ["a:x"] as one of two parts is another key.
        Assert.NotEqual(cache.MakeCacheKey(joined, Encrypted), cache.MakeCacheKey(new[] { "p", $"a:{suffix}" }, Encrypted));
    }

    [Fact]
    public async Task B22_TamperAndFaults_NoSecretInAnyLogLine_ClientOrSilo()
    {
        var perCallKey = System.Security.Cryptography.RandomNumberGenerator.GetBytes(32);
        var withKey = new MemoizeOptions { EncryptionKey = perCallKey, Compress = false };
        var cache = SmallChunkCache(fixture);
        var key = NewKey("b22", out var part);
        const string marker = "B22-VALUE-MARKER";

        // Tampering: a flipped bit, a dropped chunk, a foreign entry.
        var entry = await StoreAsync(fixture, cache, key, Value(marker), withKey);
        var tamper = fixture.Tamper(cache.MakeCacheKey(key, withKey));
        var flipped = entry.Copy();
        flipped.Chunks[0][0] ^= 1;
        await tamper.Write(flipped);
        await AssertMissAndRebuiltAsync(cache, key, withKey, marker);
        await tamper.Write(entry.WithChunks(entry.Chunks.Skip(1)));
        await AssertMissAndRebuiltAsync(cache, key, withKey, marker);

        // Faults: unreachable cluster while reading, then while writing.
        var (grains, control) = FaultInjectingGrainFactory.Wrap(fixture.Cluster.Client);
        var faulty = SmallChunkCache(fixture, grains: grains);
        control.Mode = FaultMode.Throw;
        Assert.Equal(marker, await faulty.MemoizeAsync(NewKey("b22-read", out var readPart), () => marker, withKey));
        control.Mode = FaultMode.Healthy;
        var writeKey = NewKey("b22-write", out var writePart);
        Assert.Equal(marker, await faulty.MemoizeAsync(writeKey, () => { control.Mode = FaultMode.Throw; return marker; }, withKey));

        Assert.Contains(fixture.Logs.Lines, l => l.Contains("could not be read"));
        Assert.Contains(fixture.Logs.Lines, l => l.Contains("Cache cluster fault"));
        Assert.Contains(fixture.Logs.Lines, l => l.Contains(faulty.MakeCacheKey(writeKey, withKey)[..16]) && l.Contains("Storing"));
        Assert.Contains(ClusterFixture.SiloLogs.Lines, l => l.Contains("OrleansSecureCache"));
        AssertNoLeaks(fixture, [part, readPart, writePart, marker], [perCallKey]);
    }

    internal static string FindSource(string relative)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, relative);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new FileNotFoundException(relative);
    }
}
