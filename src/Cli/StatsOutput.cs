using System.Globalization;
using System.Text;
using System.Text.Json;
using OrleansSecureCache.Grains;

namespace OrleansSecureCache.Cli;

/// <summary>How <c>osc stats</c> prints the counters: a block per silo, then the cluster's totals.</summary>
internal static class StatsOutput
{
    public static SiloCacheStats Total(IReadOnlyList<SiloCacheStats> silos) => new(
        "total",
        silos.Sum(s => s.Entries),
        silos.Sum(s => s.Bytes),
        silos.Sum(s => s.ActiveEntries),
        silos.Sum(s => s.ActiveBytes),
        silos.Sum(s => s.ParkedEntries),
        silos.Sum(s => s.ParkedBytes),
        silos.Sum(s => s.BudgetBytes),
        silos.Sum(s => s.Evictions),
        silos.Sum(s => s.Expirations),
        silos.Sum(s => s.RefusedCommits));

    public static string Text(IReadOnlyList<SiloCacheStats> silos)
    {
        var sb = new StringBuilder();
        foreach (var stats in silos.Append(Total(silos)))
        {
            void Line(string name, long value) => sb.Append(name).Append(": ").Append(value.ToString(CultureInfo.InvariantCulture)).Append('\n');
            sb.Append("silo: ").Append(stats.Silo).Append('\n');
            Line("entries", stats.Entries);
            Line("bytes", stats.Bytes);
            Line("active entries", stats.ActiveEntries);
            Line("active bytes", stats.ActiveBytes);
            Line("parked entries", stats.ParkedEntries);
            Line("parked bytes", stats.ParkedBytes);
            Line("budget bytes", stats.BudgetBytes);
            Line("evictions", stats.Evictions);
            Line("expirations", stats.Expirations);
            Line("refused commits", stats.RefusedCommits);
            sb.Append('\n');
        }

        return sb.ToString();
    }

    public static string Json(IReadOnlyList<SiloCacheStats> silos)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            void Write(SiloCacheStats s)
            {
                json.WriteStartObject();
                json.WriteString("silo", s.Silo);
                json.WriteNumber("entries", s.Entries);
                json.WriteNumber("bytes", s.Bytes);
                json.WriteNumber("activeEntries", s.ActiveEntries);
                json.WriteNumber("activeBytes", s.ActiveBytes);
                json.WriteNumber("parkedEntries", s.ParkedEntries);
                json.WriteNumber("parkedBytes", s.ParkedBytes);
                json.WriteNumber("budgetBytes", s.BudgetBytes);
                json.WriteNumber("evictions", s.Evictions);
                json.WriteNumber("expirations", s.Expirations);
                json.WriteNumber("refusedCommits", s.RefusedCommits);
                json.WriteEndObject();
            }

            json.WriteStartObject();
            json.WritePropertyName("silos");
            json.WriteStartArray();
            foreach (var s in silos)
            {
                Write(s);
            }

            json.WriteEndArray();
            json.WritePropertyName("total");
            Write(Total(silos));
            json.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.ToArray()) + "\n";
    }
}
