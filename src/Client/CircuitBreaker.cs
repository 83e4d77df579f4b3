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
    private bool _probing;

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

            if (_probing || time.GetUtcNow() < _openUntil)
            {
                return false;
            }

            _probing = true; // half-open: exactly one probe at a time
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
            _probing = false;
            return wasOpen;
        }
    }

    /// <summary>Returns true when this failure opened the circuit.</summary>
    public bool RecordFailure()
    {
        lock (_lock)
        {
            _probing = false;
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
