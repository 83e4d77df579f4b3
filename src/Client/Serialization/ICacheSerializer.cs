using System.Buffers;

namespace OrleansSecureCache.Serialization;

/// <summary>
/// Turns values into bytes and back. Implementations must not embed type names in the payload (a cache
/// writer must never choose what type gets instantiated): use a serializer bound to the static type.
/// </summary>
public interface ICacheSerializer
{
    void Serialize<T>(T value, IBufferWriter<byte> destination);

    T Deserialize<T>(ReadOnlySpan<byte> source);
}
