using System.Reflection;
using OrleansSecureCache.Grains;

namespace OrleansSecureCache.Tests.Cluster;

public enum FaultMode
{
    Healthy,
    /// <summary>Every call fails at once, as when no gateway answers.</summary>
    Throw,
    /// <summary>Every call hangs, as when a silo is hung: only the client's own bound ends it.</summary>
    Hang,
}

/// <summary>
/// An <see cref="IGrainFactory"/> whose cache grains pass calls to the real cluster or fail on demand,
/// counting the calls that reached it.
/// </summary>
public class FaultInjectingGrainFactory : DispatchProxy
{
    private IGrainFactory _inner = null!;

    public FaultMode Mode { get; set; }

    public int Calls;

    public static (IGrainFactory Factory, FaultInjectingGrainFactory Control) Wrap(IGrainFactory inner)
    {
        var proxy = Create<IGrainFactory, FaultInjectingGrainFactory>();
        var control = (FaultInjectingGrainFactory)(object)proxy;
        control._inner = inner;
        return (proxy, control);
    }

    protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
    {
        if (targetMethod is { Name: nameof(IGrainFactory.GetGrain), IsGenericMethod: true } && targetMethod.GetGenericArguments()[0] == typeof(ISecureCacheGrain))
        {
            var real = _inner.GetGrain<ISecureCacheGrain>((string)args![0]!);
            return FaultyGrain.Create(real, this);
        }

        return targetMethod!.Invoke(_inner, args);
    }

    internal Task<T> Intercept<T>(Func<Task<T>> call)
    {
        Interlocked.Increment(ref Calls);
        return Mode switch
        {
            FaultMode.Throw => Task.FromException<T>(new SiloUnavailableException("injected: the cluster is unreachable")),
            FaultMode.Hang => new TaskCompletionSource<T>().Task,
            _ => call(),
        };
    }
}

public class FaultyGrain : DispatchProxy
{
    private ISecureCacheGrain _real = null!;
    private FaultInjectingGrainFactory _control = null!;

    public static ISecureCacheGrain Create(ISecureCacheGrain real, FaultInjectingGrainFactory control)
    {
        var proxy = Create<ISecureCacheGrain, FaultyGrain>();
        var self = (FaultyGrain)(object)proxy;
        self._real = real;
        self._control = control;
        return proxy;
    }

    protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
    {
        var returnType = targetMethod!.ReturnType;
        if (returnType == typeof(Task))
        {
            return _control.Intercept(async () =>
            {
                await (Task)targetMethod.Invoke(_real, args)!;
                return true;
            });
        }

        if (returnType.IsGenericType && returnType.GetGenericTypeDefinition() == typeof(Task<>))
        {
            var resultType = returnType.GetGenericArguments()[0];
            var intercept = typeof(FaultyGrain).GetMethod(nameof(InterceptTyped), BindingFlags.NonPublic | BindingFlags.Instance)!.MakeGenericMethod(resultType);
            return intercept.Invoke(this, [targetMethod, args]);
        }

        return targetMethod.Invoke(_real, args);
    }

    private Task<T> InterceptTyped<T>(MethodInfo method, object?[]? args) =>
        _control.Intercept(() => (Task<T>)method.Invoke(_real, args)!);
}
