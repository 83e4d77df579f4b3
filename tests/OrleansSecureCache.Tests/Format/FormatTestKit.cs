using OrleansSecureCache.Format;

namespace OrleansSecureCache.Tests.Format;

/// <summary>Sealing and opening helpers shared by the format tests.</summary>
internal static class FormatTestKit
{
    public static readonly DateTimeOffset Now = DateTimeOffset.FromUnixTimeSeconds(1_700_000_000);
    public static readonly long ExpiresAt = Now.ToUnixTimeSeconds() + 3600;
    public static readonly DecodeLimits Limits = new(1 << 20, TimeSpan.FromDays(30), TimeSpan.FromMinutes(5));
    public static readonly Guid EntryVersion = new("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0");
    public const string IdA = "3b1c0ad6b0e4f5f3e1d9c0b8a7f6e5d4c3b2a1908f7e6d5c4b3a29180f1e2d3c";
    public const string IdB = "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf";

    public static readonly byte[] KeyA = Enumerable.Range(0x10, 32).Select(i => (byte)i).ToArray();
    public static readonly byte[] KeyB = Enumerable.Range(0x90, 32).Select(i => (byte)i).ToArray();

    public sealed record Sealed(byte[] Header, List<byte[]> Chunks)
    {
        public Sealed Copy() => new((byte[])Header.Clone(), Chunks.Select(c => (byte[])c.Clone()).ToList());
    }

    public static EntryParams Params(bool encrypted, bool compress = false, int chunkSize = 64, string id = IdA,
        Guid? version = null, long? expiresAt = null, byte[]? key = null)
        => new(id, version ?? EntryVersion, expiresAt ?? ExpiresAt, chunkSize, compress,
            encrypted ? (key ?? KeyA) : ReadOnlyMemory<byte>.Empty);

    /// <summary>Seals <paramref name="data"/> in writes of <paramref name="writeSize"/> bytes, taking chunks as they appear.</summary>
    public static Sealed Seal(EntryParams p, ReadOnlySpan<byte> data, int writeSize = int.MaxValue, byte[]? salt = null)
    {
        using var encoder = salt is null ? EntryEncoder.Create(p) : EntryEncoder.CreateForTest(p, salt);
        var chunks = new List<byte[]>();
        while (!data.IsEmpty)
        {
            int take = Math.Min(writeSize, data.Length);
            encoder.Write(data[..take]);
            data = data[take..];
            while (encoder.TryTakeChunk(out var c))
            {
                chunks.Add(c);
            }
        }
        var header = encoder.Complete();
        while (encoder.TryTakeChunk(out var c))
        {
            chunks.Add(c);
        }
        return new Sealed(header, chunks);
    }

    public static DecodeResult Open(Sealed s, bool encrypted, string id = IdA, Guid? version = null,
        byte[]? key = null, DecodeLimits? limits = null, DateTimeOffset? now = null)
        => EntryDecoder.Open(s.Header, s.Chunks, id, version ?? EntryVersion,
            encrypted ? (key ?? KeyA) : ReadOnlySpan<byte>.Empty, limits ?? Limits, now ?? Now);

    /// <summary>Deterministic data with some redundancy, so zlib has work to do but does not collapse it.</summary>
    public static byte[] Data(int length, int seed = 1)
    {
        var random = new Random(seed);
        var data = new byte[length];
        for (int i = 0; i < length; i++)
        {
            data[i] = random.Next(4) == 0 ? (byte)random.Next(256) : (byte)('a' + (i % 7));
        }
        return data;
    }

    public static byte[] RandomBytes(int length, int seed)
    {
        var data = new byte[length];
        new Random(seed).NextBytes(data);
        return data;
    }

    public static byte[] FromHex(string hex) => Convert.FromHexString(string.Concat(hex.Where(c => !char.IsWhiteSpace(c))));
}
