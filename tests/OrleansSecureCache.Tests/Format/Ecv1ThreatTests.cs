using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using OrleansSecureCache.Format;
using Xunit;
using static OrleansSecureCache.Tests.Format.FormatTestKit;

namespace OrleansSecureCache.Tests.Format;

/// <summary>Format-level rows of the threat catalogue (crypto-format.md §b) against ECV1.</summary>
public class Ecv1ThreatTests
{
    // S = 48: 160 bytes give chunks of 64, 64, 64 and 32 stored bytes.
    private static readonly byte[] Value = Data(160);

    private static Sealed SealA(byte[]? value = null, bool compress = false) => Seal(Params(true, compress), value ?? Value);

    private static MissReason OpenMiss(Sealed entry, string id = IdA, Guid? version = null, byte[]? key = null,
        DecodeLimits? limits = null, DateTimeOffset? now = null)
    {
        var result = Open(entry, true, id, version, key, limits, now);
        if (!result.Ok)
        {
            Assert.Null(result.Plaintext); // never partial plaintext
        }
        return result.Miss;
    }

    [Fact]
    public void Ecv1_UntouchedEntry_IsAHit()
    {
        var entry = SealA();
        Assert.Equal(4, entry.Chunks.Count);
        Assert.Equal(Value, Open(entry, true).Plaintext);
    }

    [Fact]
    public void B2_EntryCopiedToAnotherId_MissesOnCommitment()
    {
        var entryOfB = Seal(Params(true, id: IdB), Value);

        Assert.Equal(MissReason.Commitment, OpenMiss(entryOfB, id: IdA));
    }

    [Fact]
    public void B3_ChunkFromAnotherEntryOfTheSameId_MissesOnTag()
    {
        var a = SealA();
        var b = SealA(); // same id, version and plaintext: only the salt differs
        var mixed = a.Copy();
        mixed.Chunks[1] = b.Chunks[1];

        Assert.Equal(MissReason.Tag, OpenMiss(mixed));
    }

    [Fact]
    public void B3_TornReadOfTwoWrites_MissesOnTag()
    {
        var first = SealA(Data(160, seed: 1));
        var second = SealA(Data(160, seed: 2));
        var torn = new Sealed(second.Header, [second.Chunks[0], second.Chunks[1], first.Chunks[2], first.Chunks[3]]);

        Assert.Equal(MissReason.Tag, OpenMiss(torn));
    }

    [Fact]
    public void B4_ReorderedChunks_MissOnTag()
    {
        var entry = SealA().Copy();
        (entry.Chunks[1], entry.Chunks[2]) = (entry.Chunks[2], entry.Chunks[1]);

        Assert.Equal(MissReason.Tag, OpenMiss(entry));
    }

    [Fact]
    public void B5_DroppedMiddleChunk_MissesOnTag()
    {
        var entry = SealA().Copy();
        entry.Chunks.RemoveAt(1);

        Assert.Equal(MissReason.Tag, OpenMiss(entry));
    }

    [Fact]
    public void B5_B6_DroppedLastChunk_MissesOnTag()
    {
        // The new last chunk was sealed with last-flag 0.
        var entry = SealA().Copy();
        entry.Chunks.RemoveAt(entry.Chunks.Count - 1);

        Assert.Equal(MissReason.Tag, OpenMiss(entry));
    }

    [Fact]
    public void B6_LastChunkCutByOneByte_MissesOnTag()
    {
        var entry = SealA().Copy();
        entry.Chunks[^1] = entry.Chunks[^1][..^1];

        Assert.Equal(MissReason.Tag, OpenMiss(entry));
    }

    [Fact]
    public void B6_LastChunkCutToABareTag_MissesOnLimits()
    {
        var entry = SealA().Copy();
        entry.Chunks[^1] = entry.Chunks[^1][..16];

        Assert.Equal(MissReason.Limits, OpenMiss(entry));
    }

    [Fact]
    public void B7_AppendedChunk_AfterAPartialLastChunk_MissesOnLimits()
    {
        var entry = SealA().Copy();
        entry.Chunks.Add(RandomBytes(40, seed: 3)); // the old last chunk is now a short non-final chunk

        Assert.Equal(MissReason.Limits, OpenMiss(entry));
    }

    [Fact]
    public void B7_AppendedChunk_AfterAFullLastChunk_MissesOnTag()
    {
        var entry = SealA(Data(96)).Copy(); // two full chunks; the second carries last-flag 1
        entry.Chunks.Add(RandomBytes(17, seed: 3));

        Assert.Equal(MissReason.Tag, OpenMiss(entry));
    }

    [Fact]
    public void B8_OneCiphertextBitFlipped_MissesOnTag()
    {
        var entry = SealA().Copy();
        entry.Chunks[2][5] ^= 0x01;

        Assert.Equal(MissReason.Tag, OpenMiss(entry));
    }

    [Fact]
    public void B8_OneTagBitFlipped_MissesOnTag()
    {
        var entry = SealA().Copy();
        entry.Chunks[0][^1] ^= 0x80;

        Assert.Equal(MissReason.Tag, OpenMiss(entry));
    }

    [Fact]
    public void B8_LastByteOfLastSegmentFlipped_MissesOnTag()
    {
        // The edit that was clean against CFB8.
        var entry = SealA().Copy();
        entry.Chunks[^1][^17] ^= 0x01;

        Assert.Equal(MissReason.Tag, OpenMiss(entry));
    }

    [Fact]
    public void B9_EverySliceOfEveryChunkAsAOneChunkEntry_Misses()
    {
        var entry = SealA();
        int opened = 0;
        for (int c = 0; c < entry.Chunks.Count; c++)
        {
            var chunk = entry.Chunks[c];
            for (int start = 0; start < chunk.Length; start++)
            {
                for (int end = start + 1; end <= chunk.Length; end++)
                {
                    var forged = new Sealed(entry.Header, [chunk[start..end]]);
                    var miss = OpenMiss(forged);
                    Assert.Equal(end - start < 16 ? MissReason.Limits : MissReason.Tag, miss);
                    opened++;
                }
            }
        }
        Assert.True(opened > 5000);
    }

    public enum HeaderEdit
    {
        MagicByte, Suite, CompressionFlag, UnknownFlag, SegmentSizeOtherValid, SegmentSizeTooSmall, SegmentSizeTooLarge,
        KeyId, ExpiryExtended, ExpiryBeyondMaximum, ExpiryInThePast, VersionOnly, VersionAndReportedVersion, Salt, Commitment,
        HeaderTruncated, HeaderExtended,
    }

    [Theory]
    [InlineData(HeaderEdit.MagicByte, nameof(MissReason.Format))]
    [InlineData(HeaderEdit.Suite, nameof(MissReason.Suite))]
    [InlineData(HeaderEdit.CompressionFlag, nameof(MissReason.Commitment))]
    [InlineData(HeaderEdit.UnknownFlag, nameof(MissReason.Flags))]
    [InlineData(HeaderEdit.SegmentSizeOtherValid, nameof(MissReason.Limits))]
    [InlineData(HeaderEdit.SegmentSizeTooSmall, nameof(MissReason.SegmentSize))]
    [InlineData(HeaderEdit.SegmentSizeTooLarge, nameof(MissReason.SegmentSize))]
    [InlineData(HeaderEdit.KeyId, nameof(MissReason.KeyId))]
    [InlineData(HeaderEdit.ExpiryExtended, nameof(MissReason.Commitment))]
    [InlineData(HeaderEdit.ExpiryBeyondMaximum, nameof(MissReason.Expired))]
    [InlineData(HeaderEdit.ExpiryInThePast, nameof(MissReason.Expired))]
    [InlineData(HeaderEdit.VersionOnly, nameof(MissReason.Version))]
    [InlineData(HeaderEdit.VersionAndReportedVersion, nameof(MissReason.Commitment))]
    [InlineData(HeaderEdit.Salt, nameof(MissReason.Commitment))]
    [InlineData(HeaderEdit.Commitment, nameof(MissReason.Commitment))]
    [InlineData(HeaderEdit.HeaderTruncated, nameof(MissReason.Format))]
    [InlineData(HeaderEdit.HeaderExtended, nameof(MissReason.Format))]
    public void B10_HeaderEdit_Misses(HeaderEdit edit, string expected)
    {
        var entry = SealA().Copy();
        var h = entry.Header;
        Guid reported = EntryVersion;
        switch (edit)
        {
            case HeaderEdit.MagicByte: h[2] ^= 0x01; break;
            case HeaderEdit.Suite: h[Ecv1.OffSuite] = 0x02; break;
            case HeaderEdit.CompressionFlag: h[Ecv1.OffFlags] ^= 0x01; break;
            case HeaderEdit.UnknownFlag: h[Ecv1.OffFlags] |= 0x02; break;
            case HeaderEdit.SegmentSizeOtherValid: BinaryPrimitives.WriteUInt32BigEndian(h.AsSpan(Ecv1.OffSegmentSize), 47); break;
            case HeaderEdit.SegmentSizeTooSmall: BinaryPrimitives.WriteUInt32BigEndian(h.AsSpan(Ecv1.OffSegmentSize), 15); break;
            case HeaderEdit.SegmentSizeTooLarge: BinaryPrimitives.WriteUInt32BigEndian(h.AsSpan(Ecv1.OffSegmentSize), Ecv1.MaxSegmentSize + 1); break;
            case HeaderEdit.KeyId: BinaryPrimitives.WriteUInt32BigEndian(h.AsSpan(Ecv1.OffKeyId), 1); break;
            case HeaderEdit.ExpiryExtended: BinaryPrimitives.WriteUInt64BigEndian(h.AsSpan(Ecv1.OffExpiresAt), (ulong)ExpiresAt + 86_400); break;
            case HeaderEdit.ExpiryBeyondMaximum: BinaryPrimitives.WriteUInt64BigEndian(h.AsSpan(Ecv1.OffExpiresAt), (ulong)ExpiresAt + (366UL * 86_400)); break;
            case HeaderEdit.ExpiryInThePast: BinaryPrimitives.WriteUInt64BigEndian(h.AsSpan(Ecv1.OffExpiresAt), (ulong)Now.ToUnixTimeSeconds() - 1); break;
            case HeaderEdit.VersionOnly: h[Ecv1.OffVersionId + 3] ^= 0x01; break;
            case HeaderEdit.VersionAndReportedVersion:
                h[Ecv1.OffVersionId + 3] ^= 0x01;
                reported = new Guid(h.AsSpan(Ecv1.OffVersionId, 16), bigEndian: true);
                break;
            case HeaderEdit.Salt: h[Ecv1.OffSalt + 31] ^= 0x01; break;
            case HeaderEdit.Commitment: h[Ecv1.OffCommitment + 10] ^= 0x01; break;
            case HeaderEdit.HeaderTruncated: entry = entry with { Header = h[..^1] }; break;
            case HeaderEdit.HeaderExtended: entry = entry with { Header = [.. h, 0] }; break;
        }

        Assert.Equal(Enum.Parse<MissReason>(expected), OpenMiss(entry, version: reported));
    }

    [Fact]
    public void B10_SegmentSizeEditedToMatchChunkLengths_MissesOnCommitment()
    {
        // A one-chunk entry whose last chunk fits the edited S passes the length rules.
        var entry = SealA(Data(20)).Copy();
        BinaryPrimitives.WriteUInt32BigEndian(entry.Header.AsSpan(Ecv1.OffSegmentSize), 40);

        Assert.Equal(MissReason.Commitment, OpenMiss(entry));
    }

    [Fact]
    public void B11_ReadAtOrAfterExpiry_MissesAsExpired()
    {
        var entry = SealA();
        var expiry = DateTimeOffset.FromUnixTimeSeconds(ExpiresAt);

        Assert.Equal(MissReason.None, OpenMiss(entry, now: expiry.AddSeconds(-1)));
        Assert.Equal(MissReason.Expired, OpenMiss(entry, now: expiry));
        Assert.Equal(MissReason.Expired, OpenMiss(entry, now: expiry.AddSeconds(1)));
    }

    [Fact]
    public void B11_ExpiryFurtherAheadThanMaximumPlusSkew_MissesAsExpired()
    {
        var limits = Limits with { MaxExpiration = TimeSpan.FromMinutes(30), ClockSkew = TimeSpan.FromMinutes(5) };
        var entry = SealA(); // expires in one hour

        Assert.Equal(MissReason.Expired, OpenMiss(entry, limits: limits));
        Assert.Equal(MissReason.None, OpenMiss(entry, limits: limits with { ClockSkew = TimeSpan.FromMinutes(30) }));
    }

    [Fact]
    public void B13_Utf8TextAsHeader_MissesOnFormat()
    {
        var text = Encoding.UTF8.GetBytes("{\"user\":\"alice\",\"role\":\"admin\",\"padding\":\"" + new string('x', 60) + "\"}");
        var entry = new Sealed(text[..Ecv1.HeaderSize], [Encoding.UTF8.GetBytes("more plain text that is not a chunk")]);

        Assert.Equal(MissReason.Format, OpenMiss(entry));
        Assert.Equal(MissReason.Format, Open(entry, false).Miss);
        Assert.Equal(MissReason.Format, Open(entry with { Header = text }, true).Miss);
    }

    [Fact]
    public void B13_Cfb8LookingBytes_MissOnFormat()
    {
        // Djblets stores IV(16) || CFB8 ciphertext: random-looking bytes of any length.
        for (int seed = 0; seed < 200; seed++)
        {
            var blob = RandomBytes(16 + seed, seed);
            var entry = new Sealed(blob, [RandomBytes(64, seed + 1000)]);
            Assert.Equal(MissReason.Format, OpenMiss(entry));
            Assert.Equal(MissReason.Format, Open(entry, false).Miss);
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void B13_PlainEntryGivenToAnEncryptedReader_MissesOnFormat(bool compress)
    {
        var plain = Seal(Params(false, compress), Value);

        Assert.Equal(MissReason.Format, OpenMiss(plain));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void B13_EncryptedEntryGivenToAPlainReader_MissesOnFormat(bool compress)
    {
        var encrypted = SealA(compress: compress);

        Assert.Equal(MissReason.Format, Open(encrypted, false).Miss);
    }

    [Fact]
    public void B14_WrongKey_MissesOnCommitment_WithoutAnyDecryption()
    {
        var entry = SealA();
        long decryptsBefore = Ecv1.Probe.Decrypts;

        var miss = OpenMiss(entry, key: KeyB);

        Assert.Equal(MissReason.Commitment, miss);
        Assert.Equal(decryptsBefore, Ecv1.Probe.Decrypts);
    }

    [Fact]
    public void B14_WrongKeyOfAnotherLength_MissesOnCommitment()
    {
        var entry = SealA();

        Assert.Equal(MissReason.Commitment, OpenMiss(entry, key: KeyA[..16]));
    }

    [Fact]
    public void B14_RightKey_DecryptsEachChunkOnce()
    {
        var entry = SealA();
        long before = Ecv1.Probe.Decrypts;

        Assert.Equal(MissReason.None, OpenMiss(entry));
        Assert.Equal(before + entry.Chunks.Count, Ecv1.Probe.Decrypts);
    }

    [Fact]
    public void B18_TooManyChunks_MissesOnLimits_BeforeAnyKeyDerivationOrDecryption()
    {
        // S = 48 and MaxEntryBytes = 99 * 48 allow ceil(99) + 1 = 100 chunks; the entry has 101.
        var limits = Limits with { MaxEntryBytes = 99 * 48 };
        var entry = SealA(Data((100 * 48) + 1));
        Assert.Equal(101, entry.Chunks.Count);
        long derivations = Ecv1.Probe.KeyDerivations;
        long decrypts = Ecv1.Probe.Decrypts;

        Assert.Equal(MissReason.Limits, OpenMiss(entry, limits: limits));
        Assert.Equal(derivations, Ecv1.Probe.KeyDerivations);
        Assert.Equal(decrypts, Ecv1.Probe.Decrypts);
    }

    [Fact]
    public void B18_CompressedEntryAtTheChunkCountLimit_IsNotRejectedByTheCount()
    {
        // Incompressible data grows slightly under zlib: ceil(max / S) + 1 chunks must still be accepted.
        var limits = Limits with { MaxEntryBytes = 99 * 48 };
        var value = RandomBytes(99 * 48, seed: 5);
        var entry = SealA(value, compress: true);
        Assert.Equal(100, entry.Chunks.Count); // zlib stored blocks: 4752 bytes become 4763

        Assert.Equal(value, Open(entry, true, limits: limits).Plaintext);
    }

    [Fact]
    public void B18_OversizedChunk_MissesOnLimits_BeforeAnyKeyDerivation()
    {
        var entry = SealA().Copy();
        entry.Chunks[0] = [.. entry.Chunks[0], 0];
        long derivations = Ecv1.Probe.KeyDerivations;

        Assert.Equal(MissReason.Limits, OpenMiss(entry));
        Assert.Equal(derivations, Ecv1.Probe.KeyDerivations);
    }

    [Fact]
    public void B18_NoChunks_MissesOnLimits()
        => Assert.Equal(MissReason.Limits, OpenMiss(SealA() with { Chunks = [] }));

    [Fact]
    public void B18_UncompressedEntryLargerThanTheLimit_MissesOnLimits()
        => Assert.Equal(MissReason.Limits, OpenMiss(SealA(), limits: Limits with { MaxEntryBytes = 159 }));

    [Fact]
    public void B18_AuthenticZlibBomb_MissesOnDecompress()
    {
        const int maxEntryBytes = 256 * 1024;
        var limits = Limits with { MaxEntryBytes = maxEntryBytes };
        var bomb = new byte[4 * maxEntryBytes]; // zeros: compresses to about a kilobyte
        var entry = Seal(Params(true, compress: true, chunkSize: 4096), bomb);
        Assert.True(entry.Chunks.Sum(c => c.Length) < maxEntryBytes / 16);

        Assert.Equal(MissReason.Decompress, OpenMiss(entry, limits: limits));
    }

    [Fact]
    public void B18_OneByteOverTheLimitAfterInflation_MissesOnDecompress()
    {
        var limits = Limits with { MaxEntryBytes = 10_000 };
        var entry = SealA(Data(10_001), compress: true);

        Assert.Equal(MissReason.Decompress, OpenMiss(entry, limits: limits));
    }

    [Fact]
    public void B19_SealingTheSameInputTwice_GivesDifferentSaltsCommitmentsAndChunks()
    {
        var first = SealA();
        var second = SealA();

        Assert.NotEqual(first.Header.AsSpan(Ecv1.OffSalt, 32).ToArray(), second.Header.AsSpan(Ecv1.OffSalt, 32).ToArray());
        Assert.NotEqual(first.Header.AsSpan(Ecv1.OffCommitment, 32).ToArray(), second.Header.AsSpan(Ecv1.OffCommitment, 32).ToArray());
        for (int i = 0; i < first.Chunks.Count; i++)
        {
            Assert.NotEqual(first.Chunks[i], second.Chunks[i]);
        }
        // Everything but salt and commitment is equal.
        Assert.Equal(first.Header[..Ecv1.OffSalt], second.Header[..Ecv1.OffSalt]);
        Assert.Equal(first.Header[Ecv1.OffExpiresAt..Ecv1.OffCommitment], second.Header[Ecv1.OffExpiresAt..Ecv1.OffCommitment]);
    }

    [Fact]
    public void Ecv1_AuthenticEntryWithCorruptZlib_MissesOnDecompress()
    {
        // Only a key holder can make this; the reader must still miss, not throw.
        Assert.Equal(MissReason.Decompress, OpenMiss(ZLibCorruptEntry()));
    }

    /// <summary>An authentic compressed entry whose zlib stream is cut short, sealed by hand.</summary>
    private static Sealed ZLibCorruptEntry()
    {
        using var compressed = new MemoryStream();
        using (var z = new ZLibStream(compressed, CompressionLevel.Fastest, leaveOpen: true))
        {
            z.Write(Data(5000));
        }
        var truncatedZlib = compressed.ToArray()[..^20];

        // Seal truncatedZlib as the stored payload of a compressed entry, using the format's own primitives.
        var salt = RandomBytes(32, 10);
        var header = new byte[Ecv1.HeaderSize];
        Ecv1.WriteHeaderFields(header, compressed: true, segmentSize: 48, keyId: 0, salt, ExpiresAt, EntryVersion);
        var ctx = Ecv1.BuildCtx(header, Encoding.ASCII.GetBytes(IdA));
        var segmentKey = new byte[32];
        Ecv1.DeriveEntryKeys(Ecv1.GetValueKey(KeyA), salt, ctx, segmentKey, header.AsSpan(Ecv1.OffCommitment, 32));
        using var aes = new System.Security.Cryptography.AesGcm(segmentKey, 16);
        var chunks = truncatedZlib.Chunk(48).ToList();
        var sealedChunks = new List<byte[]>();
        for (int i = 0; i < chunks.Count; i++)
        {
            var chunk = new byte[chunks[i].Length + 16];
            Ecv1.SealSegment(aes, (uint)i, i == chunks.Count - 1, chunks[i], chunk, ctx);
            sealedChunks.Add(chunk);
        }
        return new Sealed(header, sealedChunks);
    }
}
