namespace OrleansSecureCache.Format;

/// <summary>Why a stored entry was not accepted. Every reason is handled as a cache miss.</summary>
internal enum MissReason
{
    None,
    /// <summary>Wrong header length or magic, or the other format (encrypted vs plain) than the reader expects.</summary>
    Format,
    /// <summary>Unknown ECV1 algorithm suite.</summary>
    Suite,
    /// <summary>A flag bit this reader does not know.</summary>
    Flags,
    /// <summary>Segment size outside the allowed range.</summary>
    SegmentSize,
    /// <summary>A key id this reader may not use.</summary>
    KeyId,
    /// <summary>Expired, or expiring further ahead than the maximum expiration plus clock skew allows.</summary>
    Expired,
    /// <summary>The header's version id differs from the one the grain reported.</summary>
    Version,
    /// <summary>Chunk count, chunk lengths or entry size break the limits.</summary>
    Limits,
    /// <summary>ECV1 key commitment mismatch: wrong key, other id, or an edited header.</summary>
    Commitment,
    /// <summary>A GCM tag failed: a chunk was altered, moved, dropped, added or taken from another entry.</summary>
    Tag,
    /// <summary>Plain format checksum mismatch.</summary>
    Checksum,
    /// <summary>The zlib data is corrupt or inflates past the entry size limit.</summary>
    Decompress,
}
