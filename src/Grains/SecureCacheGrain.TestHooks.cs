namespace OrleansSecureCache.Grains;

/// <summary>
/// Internal hooks for the attack tests, which stand in for someone with write access to silo memory or
/// storage. They are not part of <see cref="ISecureCacheGrain"/>: no client can reach them.
/// </summary>
public sealed partial class SecureCacheGrain
{
    internal (Guid VersionId, byte[] Header, byte[][] Chunks, DateTimeOffset ExpiresAt)? PeekEntryForTest() =>
        _entry is { } e ? (e.VersionId, e.Header, e.Chunks, e.ExpiresAt) : null;

    internal void ReplaceEntryForTest(Guid versionId, byte[] header, byte[][] chunks, DateTimeOffset expiresAt)
    {
        long bytes = 0;
        foreach (var chunk in chunks)
        {
            bytes += chunk.Length;
        }

        _entry = new CommittedEntry(versionId, _generation, header, chunks, bytes, expiresAt);
        Signal();
    }

    internal int WaitersForTest => _waiters;

    internal bool LeaseHeldForTest => _lease is not null;
}
