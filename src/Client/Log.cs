using Microsoft.Extensions.Logging;
using OrleansSecureCache.Format;

namespace OrleansSecureCache;

/// <summary>
/// Every log message of the client. Keys are logged as <c>KeyForLog</c>: a prefix of the digest when
/// encryption is on, never the plaintext key, a value or key material.
/// </summary>
internal static partial class Log
{
    [LoggerMessage(100, LogLevel.Warning, "Cache cluster fault for {Key}; the factory's value is used")]
    public static partial void ClusterFault(ILogger logger, Exception exception, string key);

    [LoggerMessage(101, LogLevel.Debug, "Circuit open: {Key} computed without the cache")]
    public static partial void CircuitOpenFallback(ILogger logger, string key);

    [LoggerMessage(102, LogLevel.Warning, "Cache circuit opened after repeated faults; calls compute directly for {BreakDuration}")]
    public static partial void CircuitOpened(ILogger logger, TimeSpan breakDuration);

    [LoggerMessage(103, LogLevel.Information, "Cache circuit closed: the cluster answers again")]
    public static partial void CircuitClosed(ILogger logger);

    [LoggerMessage(104, LogLevel.Debug, "Waiting for another caller to build {Key}")]
    public static partial void Waiting(ILogger logger, string key);

    [LoggerMessage(105, LogLevel.Warning, "Waited {WaitTimeout} for another builder of {Key}; computing here without storing")]
    public static partial void WaitTimedOut(ILogger logger, string key, TimeSpan waitTimeout);

    [LoggerMessage(106, LogLevel.Information, "Cached entry {Key} could not be read ({Reason}); treating it as a miss")]
    public static partial void Unreadable(ILogger logger, string key, MissReason reason);

    [LoggerMessage(107, LogLevel.Warning, "Value for {Key} is larger than MaxEntryBytes ({MaxEntryBytes}); returned but not cached")]
    public static partial void ValueTooLarge(ILogger logger, string key, long maxEntryBytes);

    [LoggerMessage(108, LogLevel.Warning, "Storing {Key} failed; the value was returned but not cached")]
    public static partial void StoreFailed(ILogger logger, Exception exception, string key);

    [LoggerMessage(109, LogLevel.Debug, "Releasing the lease of {Key} failed; its deadline frees it")]
    public static partial void ReleaseFailed(ILogger logger, Exception exception, string key);

    [LoggerMessage(110, LogLevel.Debug, "Heartbeat for {Key} failed")]
    public static partial void HeartbeatFailed(ILogger logger, Exception exception, string key);

    [LoggerMessage(111, LogLevel.Information, "Write of {Key} was not stored: {Reason}")]
    public static partial void WriteSuperseded(ILogger logger, string key, string reason);

    [LoggerMessage(112, LogLevel.Warning, "The grain refused the write of {Key}: {Reason}")]
    public static partial void WriteRejected(ILogger logger, string key, string reason);

    // Serializer exceptions are logged by type only: their messages may quote the value.
    [LoggerMessage(113, LogLevel.Warning, "Serializing a {Type} for {Key} failed ({Error}); the value was returned but not cached")]
    public static partial void SerializeFailed(ILogger logger, string key, string type, string error);

    [LoggerMessage(114, LogLevel.Information, "The cached value of {Key} could not be deserialized ({Error}); treating it as a miss")]
    public static partial void DeserializeFailed(ILogger logger, string key, string error);

    [LoggerMessage(115, LogLevel.Debug, "A joined caller could not copy the shared value of {Key} ({Error}); running its own factory")]
    public static partial void JoinedCopyFailed(ILogger logger, string key, string error);

    [LoggerMessage(116, LogLevel.Information, "A call opted out of forced encryption; its value is stored unencrypted")]
    public static partial void EncryptionOptOut(ILogger logger);
}
