namespace OrleansSecureCache;

/// <summary>
/// Keeps an unreachable cluster from costing every call a timeout. After a run of consecutive faults the
/// circuit opens and calls go straight to their factories; once the break has passed, one call probes the
/// cluster and its outcome closes or re-opens the circuit.
/// </summary>
internal sealed class CircuitBreaker(int failureThreshold, TimeSpan breakDuration, TimeProvider time)
{
    private readonly Lock _lock = new();
    private int _consecutiveFailures;
    private DateTimeOffset _openUntil = DateTimeOffset.MinValue;
    private DateTimeOffset _probeUntil = DateTimeOffset.MinValue;

    public bool IsOpen
    {
        get
        {
            lock (_lock)
            {
                return _consecutiveFailures >= failureThreshold;
            }
        }
    }

    /// <summary>True when a call may go to the cluster now.</summary>
    public bool TryEnter()
    {
        lock (_lock)
        {
            if (_consecutiveFailures < failureThreshold)
            {
                return true;
            }

            var now = time.GetUtcNow();
            if (now < _openUntil || now < _probeUntil)
            {
                return false;
            }

            // Half-open: one probe at a time. A probe that never reports (its caller cancelled) frees the slot
            // after another break, so the circuit cannot stay shut for good.
            _probeUntil = now + breakDuration;
            return true;
        }
    }

    /// <summary>Returns true when this success closed an open circuit.</summary>
    public bool RecordSuccess()
    {
        lock (_lock)
        {
            var wasOpen = _consecutiveFailures >= failureThreshold;
            _consecutiveFailures = 0;
            _probeUntil = DateTimeOffset.MinValue;
            return wasOpen;
        }
    }

    /// <summary>Returns true when this failure opened the circuit.</summary>
    public bool RecordFailure()
    {
        lock (_lock)
        {
            _probeUntil = DateTimeOffset.MinValue;
            _consecutiveFailures++;
            if (_consecutiveFailures >= failureThreshold)
            {
                _openUntil = time.GetUtcNow() + breakDuration;
                return _consecutiveFailures == failureThreshold;
            }

            return false;
        }
    }
}
