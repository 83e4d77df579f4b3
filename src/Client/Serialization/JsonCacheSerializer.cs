using System.Buffers;
using System.Text;
using System.Text.Json;

namespace OrleansSecureCache.Serialization;

/// <summary>
/// System.Text.Json for values, with <c>byte[]</c> and <c>string</c> stored as their raw bytes (no base64,
/// no quotes). STJ never reads type names unless a type opts into polymorphism with attributes.
/// </summary>
public sealed class JsonCacheSerializer(JsonSerializerOptions? options = null) : ICacheSerializer
{
    private readonly JsonSerializerOptions _options = options ?? JsonSerializerOptions.Default;

    public void Serialize<T>(T value, IBufferWriter<byte> destination)
    {
        ArgumentNullException.ThrowIfNull(destination);
        if (value is null && (typeof(T) == typeof(byte[]) || typeof(T) == typeof(string)))
        {
            // Raw bytes have no way to say null, and "null" must not come back as four bytes of text.
            throw new ArgumentNullException(nameof(value), "A null byte[] or string is not cached.");
        }

        switch (value)
        {
            case byte[] bytes when typeof(T) == typeof(byte[]):
                destination.Write(bytes);
                return;
            case string text when typeof(T) == typeof(string):
                var span = destination.GetSpan(Encoding.UTF8.GetByteCount(text));
                destination.Advance(Encoding.UTF8.GetBytes(text, span));
                return;
            default:
                using (var writer = new Utf8JsonWriter(destination))
                {
                    JsonSerializer.Serialize(writer, value, _options);
                }

                return;
        }
    }

    public T Deserialize<T>(ReadOnlySpan<byte> source)
    {
        if (typeof(T) == typeof(byte[]))
        {
            return (T)(object)source.ToArray();
        }

        if (typeof(T) == typeof(string))
        {
            return (T)(object)Encoding.UTF8.GetString(source);
        }

        return JsonSerializer.Deserialize<T>(source, _options)!;
    }
}
