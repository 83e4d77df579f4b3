using Orleans.Runtime;
using OrleansSecureCache.Grains;

namespace OrleansSecureCache.Tests.Cluster;

/// <summary>What an attacker with access to a silo's memory sees of an entry.</summary>
[GenerateSerializer, Immutable]
public sealed record StoredEntry(Guid VersionId, byte[] Header, byte[][] Chunks, DateTimeOffset ExpiresAt);

/// <summary>A test-only grain extension: reads and rewrites a cache grain's committed entry behind the protocol's back.</summary>
public interface IEntryTamperExtension : IGrainExtension
{
    Task<StoredEntry?> Read();

    Task Write(StoredEntry entry);

    Task<int> Waiters();

    /// <summary>The silo this activation lives on, so a test can kill exactly that one.</summary>
    Task<SiloAddress> HostingSilo();
}

internal sealed class EntryTamperExtension(IGrainContext context) : IEntryTamperExtension
{
    private SecureCacheGrain Grain => (SecureCacheGrain)context.GrainInstance!;

    public Task<StoredEntry?> Read() => Task.FromResult(Grain.PeekEntryForTest() is { } e
        ? new StoredEntry(e.VersionId, e.Header.ToArray(), e.Chunks.Select(c => c.ToArray()).ToArray(), e.ExpiresAt)
        : null);

    public Task Write(StoredEntry entry)
    {
        Grain.ReplaceEntryForTest(entry.VersionId, entry.Header, entry.Chunks, entry.ExpiresAt);
        return Task.CompletedTask;
    }

    public Task<int> Waiters() => Task.FromResult(Grain.WaitersForTest);

    public Task<SiloAddress> HostingSilo() => Task.FromResult(context.Address.SiloAddress!);
}
