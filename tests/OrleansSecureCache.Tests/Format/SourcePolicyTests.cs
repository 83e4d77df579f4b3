using System.Text.RegularExpressions;
using Xunit;

namespace OrleansSecureCache.Tests.Format;

/// <summary>B16: the format code compares secrets only in constant time.</summary>
public class SourcePolicyTests
{
    private static string FormatSourceDirectory()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "OrleansSecureCache.sln")))
        {
            dir = dir.Parent;
        }
        Assert.NotNull(dir);
        return Path.Combine(dir.FullName, "src", "Client", "Format");
    }

    [Fact]
    public void FormatCode_NeverUsesSequenceEqual()
    {
        foreach (var file in Directory.GetFiles(FormatSourceDirectory(), "*.cs"))
        {
            Assert.DoesNotContain("SequenceEqual", File.ReadAllText(file));
        }
    }

    [Fact]
    public void FormatCode_ChecksCommitmentAndChecksumWithFixedTimeEquals()
    {
        var decoder = File.ReadAllText(Path.Combine(FormatSourceDirectory(), "EntryDecoder.cs"));

        Assert.Matches(new Regex(@"FixedTimeEquals\(commitment, header\.Commitment\)"), decoder);
        Assert.Matches(new Regex(@"FixedTimeEquals\(checksum, header\.Checksum\)"), decoder);
        Assert.DoesNotMatch(new Regex(@"(commitment|Commitment|segmentKey|checksum)\s*[!=]="), decoder);
    }
}
