using OrleansSecureCache.Format;
using Xunit;
using static OrleansSecureCache.Tests.Format.FormatTestKit;

namespace OrleansSecureCache.Tests.Format;

/// <summary>Programming errors throw; bad data never does (see the threat and property tests).</summary>
public class EntryDecoderArgumentTests
{
    private static readonly Sealed Entry = Seal(Params(true), Data(100));

    [Fact]
    public void Decoder_NullChunkList_Throws()
        => Assert.Throws<ArgumentNullException>(() =>
            EntryDecoder.Open(Entry.Header, null!, IdA, EntryVersion, KeyA, Limits, Now));

    [Fact]
    public void Decoder_EmptyGrainId_Throws()
        => Assert.Throws<ArgumentException>(() =>
            EntryDecoder.Open(Entry.Header, Entry.Chunks, "", EntryVersion, KeyA, Limits, Now));

    [Fact]
    public void Decoder_KeyMaterialOfWrongLength_Throws()
        => Assert.Throws<ArgumentException>(() =>
            EntryDecoder.Open(Entry.Header, Entry.Chunks, IdA, EntryVersion, new byte[20], Limits, Now));

    [Fact]
    public void Decoder_NonPositiveEntryLimit_Throws()
        => Assert.Throws<ArgumentOutOfRangeException>(() =>
            EntryDecoder.Open(Entry.Header, Entry.Chunks, IdA, EntryVersion, KeyA, Limits with { MaxEntryBytes = 0 }, Now));

    [Fact]
    public void Decoder_NegativeClockSkew_Throws()
        => Assert.Throws<ArgumentOutOfRangeException>(() =>
            EntryDecoder.Open(Entry.Header, Entry.Chunks, IdA, EntryVersion, KeyA, Limits with { ClockSkew = TimeSpan.FromSeconds(-1) }, Now));

    [Fact]
    public void Decoder_NullChunkInTheList_IsALimitsMiss()
    {
        var chunks = Entry.Chunks.ToList();
        chunks[1] = null!;

        Assert.Equal(MissReason.Limits, EntryDecoder.Open(Entry.Header, chunks, IdA, EntryVersion, KeyA, Limits, Now).Miss);
    }
}
