using System.Reflection;
using System.Security.Cryptography;
using System.Text;
using OrleansSecureCache.Grains;
using OrleansSecureCache.Tests.Cluster;
using Xunit;

namespace OrleansSecureCache.Tests.Attack;

/// <summary>Shared helpers of the attack and behaviour tests: stored entries, tampering, miss assertions, leak checks.</summary>
internal static class AttackKit
{
    /// <summary>Encrypted, uncompressed, 64-byte stored chunks (48-byte segments), so small values span many chunks.</summary>
    public static readonly MemoizeOptions Encrypted = new() { UseEncryption = true, Compress = false };

    public static string NewId() => Guid.NewGuid().ToString("N");

    /// <summary>A key whose parts carry a recognisable plaintext marker, so leak checks can look for it.</summary>
    public static CacheKey NewKey(string name, out string plaintextPart)
    {
        plaintextPart = $"KEYPART-{name}-{NewId()}";
        return CacheKey.FromParts("tenant", plaintextPart);
    }

    public static SecureCache SmallChunkCache(ClusterFixture fixture, Action<SecureCacheOptions>? configure = null, IGrainFactory? grains = null) =>
        fixture.CreateCache(o =>
        {
            o.ChunkSize = 64;
            configure?.Invoke(o);
        }, grains);

    /// <summary>A value long enough for several 48-byte segments.</summary>
    public static string Value(string marker, int repeat = 24) => string.Concat(Enumerable.Repeat($"<{marker}>", repeat));

    /// <summary>Stores <paramref name="value"/> under <paramref name="key"/> and returns the entry as an attacker with silo access sees it.</summary>
    public static async Task<StoredEntry> StoreAsync(ClusterFixture fixture, SecureCache cache, CacheKey key, string value, MemoizeOptions options)
    {
        var stored = await cache.MemoizeAsync(key, () => value, options);
        Assert.Equal(value, stored);
        var entry = await fixture.Tamper(cache.MakeCacheKey(key, options)).Read();
        Assert.NotNull(entry);
        return entry!;
    }

    public static StoredEntry Copy(this StoredEntry entry) =>
        new(entry.VersionId, entry.Header.ToArray(), entry.Chunks.Select(c => c.ToArray()).ToArray(), entry.ExpiresAt);

    public static StoredEntry WithChunks(this StoredEntry entry, IEnumerable<byte[]> chunks) =>
        new(entry.VersionId, entry.Header.ToArray(), chunks.Select(c => c.ToArray()).ToArray(), entry.ExpiresAt);

    /// <summary>
    /// The read after tampering: the caller gets the factory's fresh value (never anything derived from the
    /// tampered bytes), the factory runs exactly once, and the rebuilt value is then a hit.
    /// </summary>
    public static async Task AssertMissAndRebuiltAsync(SecureCache reader, CacheKey key, MemoizeOptions options, params string[] mustNotReturn)
    {
        var fresh = $"rebuilt-{NewId()}";
        var runs = 0;
        var got = await reader.MemoizeAsync(key, () => { Interlocked.Increment(ref runs); return fresh; }, options);

        Assert.Equal(fresh, got);
        Assert.Equal(1, runs);
        foreach (var bad in mustNotReturn)
        {
            Assert.DoesNotContain(bad, got, StringComparison.Ordinal);
        }

        Assert.Equal(fresh, await reader.MemoizeAsync(key, ClusterHelpers.MustHit<string>(), options));
    }

    /// <summary>
    /// B22: no log line of this process or of the silos, at any level, carries a secret: a plaintext key
    /// part, a value marker, or key material (hex in either case, base64).
    /// </summary>
    public static void AssertNoLeaks(ClusterFixture fixture, IEnumerable<string> plaintext, IEnumerable<byte[]> keyMaterial)
    {
        var needles = plaintext.ToList();
        foreach (var key in keyMaterial.Append(DefaultKeyMaterial))
        {
            needles.Add(Convert.ToHexString(key));
            needles.Add(Convert.ToBase64String(key));
        }

        needles.Add(TestSecrets.SecretKey);
        var lines = fixture.Logs.Lines.Concat(ClusterFixture.SiloLogs.Lines).ToList();
        Assert.NotEmpty(lines);
        foreach (var line in lines)
        {
            foreach (var needle in needles)
            {
                if (line.Contains(needle, StringComparison.OrdinalIgnoreCase))
                {
                    Assert.Fail($"A log line carries a secret ({needle.Length} chars): {line[..Math.Min(line.Length, 200)]}");
                }
            }
        }
    }

    /// <summary>The key material the fixture's clients derive from the test secret.</summary>
    public static byte[] DefaultKeyMaterial =>
        SecureCacheOptionsValidator.ResolveDefaultKeyMaterial(new SecureCacheOptions { SecretKey = TestSecrets.SecretKey })!;

    /// <summary>True when <paramref name="haystack"/> holds <paramref name="marker"/> as UTF-8, UTF-16 (LE/BE) or base64 (any alignment).</summary>
    public static bool ContainsMarker(byte[] haystack, string marker)
    {
        var utf8 = Encoding.UTF8.GetBytes(marker);
        var forms = new List<byte[]> { utf8, Encoding.Unicode.GetBytes(marker), Encoding.BigEndianUnicode.GetBytes(marker) };
        for (var shift = 0; shift < 3; shift++)
        {
            // Base64 of the marker at each alignment, minus the characters that depend on neighbouring bytes.
            var b64 = Convert.ToBase64String(new byte[shift].Concat(utf8).ToArray());
            var core = b64[(shift == 0 ? 0 : 4)..^4];
            forms.Add(Encoding.ASCII.GetBytes(core));
        }

        return forms.Any(f => haystack.AsSpan().IndexOf(f) >= 0);
    }

    public static byte[] Dump(StoredEntry entry, string fullKey) =>
        entry.Header.Concat(entry.Chunks.SelectMany(c => c)).Concat(Encoding.UTF8.GetBytes(fullKey)).Concat(entry.VersionId.ToByteArray()).ToArray();

    public static string Hmac(byte[] key, string text) => Convert.ToHexStringLower(HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(text)));

    /// <summary>Polls a time-based condition (expiry, break durations) with a bound; not used for synchronisation.</summary>
    public static async Task PollUntilAsync(Func<Task<bool>> condition, TimeSpan bound, string what)
    {
        var deadline = DateTime.UtcNow + bound;
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"{what} was not reached within {bound}.");
            }

            await Task.Delay(50);
        }
    }
}

/// <summary>An <see cref="IGrainFactory"/> whose cache grains record every call (method name, and the outcome of lookups).</summary>
public class RecordingGrainFactory : DispatchProxy
{
    private IGrainFactory _inner = null!;

    public System.Collections.Concurrent.ConcurrentQueue<string> Calls { get; } = new();

    public static (IGrainFactory Factory, RecordingGrainFactory Recorder) Wrap(IGrainFactory inner)
    {
        var proxy = Create<IGrainFactory, RecordingGrainFactory>();
        var recorder = (RecordingGrainFactory)(object)proxy;
        recorder._inner = inner;
        return (proxy, recorder);
    }

    protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
    {
        if (targetMethod is { Name: nameof(IGrainFactory.GetGrain), IsGenericMethod: true } && targetMethod.GetGenericArguments()[0] == typeof(ISecureCacheGrain))
        {
            return RecordingGrain.Create(_inner.GetGrain<ISecureCacheGrain>((string)args![0]!), this);
        }

        return targetMethod!.Invoke(_inner, args);
    }
}

public class RecordingGrain : DispatchProxy
{
    private ISecureCacheGrain _real = null!;
    private RecordingGrainFactory _recorder = null!;

    public static ISecureCacheGrain Create(ISecureCacheGrain real, RecordingGrainFactory recorder)
    {
        var proxy = Create<ISecureCacheGrain, RecordingGrain>();
        var self = (RecordingGrain)(object)proxy;
        self._real = real;
        self._recorder = recorder;
        return proxy;
    }

    protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
    {
        var result = targetMethod!.Invoke(_real, args);
        if (result is Task<LookupReply> lookup)
        {
            return Record(lookup);
        }

        _recorder.Calls.Enqueue(targetMethod.Name);
        return result;
    }

    private async Task<LookupReply> Record(Task<LookupReply> lookup)
    {
        var reply = await lookup;
        _recorder.Calls.Enqueue($"GetOrLease:{reply.Outcome}");
        return reply;
    }
}
