using System.Text.Json;
using Xunit;

namespace OrleansSecureCache.Tests.Keys;

/// <summary>Every case of vectors/make-cache-key.json (Djblets' own make_cache_key output).</summary>
public class CacheKeyVectorTests
{
    private sealed record VectorCase(
        string Id,
        CacheKey Key,
        string[] Prefix,
        bool UseEncryption,
        byte[]? EncryptionKey,
        string Expected);

    private static readonly Lazy<IReadOnlyDictionary<string, VectorCase>> Vectors = new(Load);

    private static IReadOnlyDictionary<string, VectorCase> Load()
    {
        string path = Path.Combine(AppContext.BaseDirectory, "TestData", "make-cache-key.json");
        using JsonDocument doc = JsonDocument.Parse(File.ReadAllBytes(path));
        var cases = new Dictionary<string, VectorCase>(StringComparer.Ordinal);
        foreach (JsonElement c in doc.RootElement.GetProperty("cases").EnumerateArray())
        {
            JsonElement keyElement = c.GetProperty("key");
            CacheKey key = keyElement.ValueKind switch
            {
                JsonValueKind.String => CacheKey.Of(keyElement.GetString()!),
                JsonValueKind.Array => CacheKey.FromParts(keyElement.EnumerateArray().Select(e => e.GetString()!).ToArray()),
                _ => throw new InvalidDataException($"Unexpected key kind {keyElement.ValueKind}"),
            };
            JsonElement hex = c.GetProperty("encryption_key_hex");
            var vc = new VectorCase(
                c.GetProperty("id").GetString()!,
                key,
                c.GetProperty("prefix").EnumerateArray().Select(e => e.GetString()!).ToArray(),
                c.GetProperty("use_encryption").GetBoolean(),
                hex.ValueKind == JsonValueKind.Null ? null : Convert.FromHexString(hex.GetString()!),
                c.GetProperty("expected").GetString()!);
            cases.Add(vc.Id, vc);
        }

        return cases;
    }

    // Only the id crosses into xunit, so each case is its own test named by its id.
    public static IEnumerable<object[]> CaseIds() => Vectors.Value.Keys.Select(id => new object[] { id });

    [Theory]
    [MemberData(nameof(CaseIds))]
    public void Keys_Vector_MatchesDjblets(string id)
    {
        VectorCase c = Vectors.Value[id];
        string actual = CacheKeys.MakeCacheKey(c.Key, c.Prefix, c.UseEncryption, c.EncryptionKey);
        Assert.Equal(c.Expected, actual);
    }

    [Fact]
    public void Keys_Vector_FileHasAllCaseKinds()
    {
        IReadOnlyDictionary<string, VectorCase> all = Vectors.Value;
        Assert.Equal(143, all.Count);
        Assert.Contains(all.Values, c => c.Key.IsMultiPart);
        Assert.Contains(all.Values, c => c.Prefix.Length == 2);
        Assert.Contains(all.Values, c => c.EncryptionKey is { Length: 65 });
    }
}
