using System.Collections.Concurrent;

namespace OrleansSecureCache;

/// <summary>
/// Concurrent calls for one key in one process share one piece of work (one trip to the grain, at most
/// one factory run). The shared work is cancelled only when every caller that joined it has cancelled;
/// each caller stops waiting on its own token.
/// </summary>
internal sealed class SingleFlight
{
    private readonly ConcurrentDictionary<(string Key, Type Type, bool Force), Flight> _flights = new();

    public int InFlight => _flights.Count;

    public async Task<TResult> RunAsync<TResult>(string key, bool force, Func<CancellationToken, Task<TResult>> work, CancellationToken cancellationToken)
    {
        var id = (key, typeof(TResult), force);
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (_flights.TryGetValue(id, out var flight))
            {
                if (!flight.TryJoin(cancellationToken, out var joined))
                {
                    // Everyone in it had cancelled: retire it and start afresh.
                    _flights.TryRemove(new KeyValuePair<(string, Type, bool), Flight>(id, flight));
                    continue;
                }

                using (joined)
                {
                    await flight.Started.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
                    return await ((Task<TResult>)flight.Work).WaitAsync(cancellationToken).ConfigureAwait(false);
                }
            }

            flight = new Flight();
            if (!_flights.TryAdd(id, flight))
            {
                continue;
            }

            flight.TryJoin(cancellationToken, out var own);
            using (own)
            {
                var task = RunFlightAsync(id, flight, work);
                flight.Work = task;
                flight.Started.SetResult();
                return await task.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private async Task<TResult> RunFlightAsync<TResult>((string, Type, bool) id, Flight flight, Func<CancellationToken, Task<TResult>> work)
    {
        await flight.Started.Task.ConfigureAwait(false);
        try
        {
            return await work(flight.Token).ConfigureAwait(false);
        }
        finally
        {
            _flights.TryRemove(new KeyValuePair<(string, Type, bool), Flight>(id, flight));
            flight.Dispose();
        }
    }

    private sealed class Flight : IDisposable
    {
        private readonly CancellationTokenSource _cts = new();
        private readonly Lock _lock = new();
        private int _participants;
        private bool _closed;

        public TaskCompletionSource Started { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task Work { get; set; } = Task.CompletedTask;

        public CancellationToken Token => _cts.Token;

        /// <summary>
        /// Joins the flight; false when it was already abandoned or finished. The registration (disposed by
        /// the caller once it stops waiting) takes the caller out again if its token is cancelled; a caller
        /// whose token cannot be cancelled never leaves, so the work runs to its end.
        /// </summary>
        public bool TryJoin(CancellationToken cancellationToken, out Participation participation)
        {
            participation = default;
            lock (_lock)
            {
                if (_closed)
                {
                    return false;
                }

                _participants++;
            }

            participation = new Participation(this, cancellationToken, cancellationToken.Register(Leave));
            return true;
        }

        public void Leave()
        {
            lock (_lock)
            {
                if (--_participants > 0 || _closed)
                {
                    return;
                }

                _closed = true;
                _cts.Cancel();
            }
        }

        public void Dispose()
        {
            lock (_lock)
            {
                _closed = true;
                _cts.Dispose();
            }
        }
    }

    /// <summary>
    /// One caller's place in a flight. Cancellation callbacks run last-registered first, so the caller's own
    /// wait may end (and dispose this) before <see cref="Flight.Leave"/> ran: leave here in that case.
    /// </summary>
    private readonly struct Participation(Flight flight, CancellationToken token, CancellationTokenRegistration registration) : IDisposable
    {
        public void Dispose()
        {
            if (flight is not null && registration.Unregister() && token.IsCancellationRequested)
            {
                flight.Leave();
            }
        }
    }
}
