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
            if (_flights.TryGetValue(id, out var existing))
            {
                if (existing.TryJoin(cancellationToken))
                {
                    await existing.Started.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
                    return await ((Task<TResult>)existing.Work).WaitAsync(cancellationToken).ConfigureAwait(false);
                }

                // Everyone in it had cancelled: retire it and start afresh.
                _flights.TryRemove(new KeyValuePair<(string, Type, bool), Flight>(id, existing));
                continue;
            }

            var flight = new Flight();
            if (!_flights.TryAdd(id, flight))
            {
                continue;
            }

            flight.TryJoin(cancellationToken);
            var task = RunFlightAsync(id, flight, work);
            flight.Work = task;
            flight.Started.SetResult();
            return await task.WaitAsync(cancellationToken).ConfigureAwait(false);
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
        private bool _abandoned;

        public TaskCompletionSource Started { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task Work { get; set; } = Task.CompletedTask;

        public CancellationToken Token => _cts.Token;

        public bool TryJoin(CancellationToken cancellationToken)
        {
            lock (_lock)
            {
                if (_abandoned)
                {
                    return false;
                }

                _participants++;
            }

            if (cancellationToken.CanBeCanceled)
            {
                cancellationToken.Register(Leave);
            }
            else
            {
                lock (_lock)
                {
                    // A caller that can never cancel keeps the work alive for good.
                    _participants += 1_000_000;
                }
            }

            return true;
        }

        private void Leave()
        {
            bool cancel;
            lock (_lock)
            {
                _participants--;
                cancel = _participants == 0 && !_abandoned;
                _abandoned |= cancel;
            }

            if (cancel)
            {
                try
                {
                    _cts.Cancel();
                }
                catch (ObjectDisposedException)
                {
                    // the work finished first
                }
            }
        }

        public void Dispose()
        {
            lock (_lock)
            {
                _abandoned = true;
            }

            _cts.Dispose();
        }
    }
}
