using System.Globalization;
using System.Text;

namespace OrleansSecureCache.Bench;

/// <summary>One Markdown table: a title, an explanation, a header and rows.</summary>
internal sealed class Table(string scenario, string title, string explanation, params string[] columns)
{
    private readonly List<string[]> _rows = [];

    public string Scenario => scenario;

    public int RowCount => _rows.Count;

    public void Row(params string[] cells) => _rows.Add(cells);

    public string ToMarkdown(RunInfo info)
    {
        var sb = new StringBuilder();
        sb.AppendLine(CultureInfo.InvariantCulture, $"### {scenario}: {title}");
        sb.AppendLine();
        sb.AppendLine(CultureInfo.InvariantCulture, $"{info.Describe()}");
        sb.AppendLine();
        if (explanation.Length > 0)
        {
            sb.AppendLine(explanation);
            sb.AppendLine();
        }

        sb.AppendLine("| " + string.Join(" | ", columns) + " |");
        sb.AppendLine("|" + string.Concat(columns.Select((c, i) => i < 2 ? " --- |" : " ---: |")));
        foreach (var row in _rows)
        {
            sb.AppendLine("| " + string.Join(" | ", row) + " |");
        }

        return sb.ToString();
    }
}

internal sealed record RunInfo(string Commit, int Cores, DateTimeOffset Started, bool Quick, int Rounds)
{
    public string Describe() =>
        $"commit `{Commit}`, {Cores} cores, {System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription}, " +
        $"{System.Runtime.InteropServices.RuntimeInformation.OSDescription.Trim()}, {Started:yyyy-MM-dd HH:mm} UTC, " +
        $"{(Quick ? "--quick (tiny sizes, figures not meaningful)" : "full run")}, {Rounds} round(s) alternating systems";
}

internal static class Fmt
{
    private static readonly CultureInfo C = CultureInfo.InvariantCulture;

    public static string Num(double value) => value switch
    {
        >= 100 => value.ToString("N0", C),
        >= 10 => value.ToString("N1", C),
        _ => value.ToString("N2", C),
    };

    public static string Micros(TimeSpan t) => Num(t.TotalMicroseconds);

    public static string Millis(TimeSpan t) => Num(t.TotalMilliseconds);

    public static string Bytes(double bytes) => bytes switch
    {
        >= 10 * 1024 * 1024 => (bytes / 1024 / 1024).ToString("N1", C) + " MiB",
        >= 10 * 1024 => (bytes / 1024).ToString("N1", C) + " KiB",
        _ => bytes.ToString("N0", C) + " B",
    };

    public static string Ratio(double value, double baseline) =>
        baseline > 0 && value > 0 ? (value / baseline).ToString("0.00", C) + "×" : "—";

    public static string Size(long bytes) => bytes >= 1024 * 1024 ? $"{bytes / 1024 / 1024} MiB" : $"{bytes / 1024} KiB";
}
