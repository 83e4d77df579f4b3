using System.IO.Compression;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Loggers;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using OrleansSecureCache.Format;

namespace OrleansSecureCache.Bench;

/// <summary>Key hashing: the plain escaped key and the HMAC-SHA256 digest an encrypted call uses.</summary>
public class KeyBenchmarks
{
    private static readonly byte[] KeyMaterial = Scenarios.RandomBytes(32, 3);
    private static readonly CacheKey Key = CacheKey.FromParts("reviewboard", "diffset", "4711", "2026-12");

    [Benchmark]
    public string PlainKey() => CacheKeys.MakeCacheKey(Key, ["example.com", "/"]);

    [Benchmark]
    public string EncryptedKey() => CacheKeys.MakeCacheKey(Key, ["example.com", "/"], useEncryption: true, KeyMaterial);
}

/// <summary>Sealing (encoding) and opening (decoding and verifying) one whole entry, compression off.</summary>
public class EntryBenchmarks
{
    private const string GrainId = "0f3c5b2a9e8d7c6b5a4938271605f4e3d2c1b0a99887766554433221100ffeed";
    private static readonly byte[] KeyMaterial = Scenarios.RandomBytes(32, 5);
    private readonly Guid _version = Guid.NewGuid();
    private byte[] _value = [];
    private byte[] _encHeader = [];
    private byte[][] _encChunks = [];
    private byte[] _plainHeader = [];
    private byte[][] _plainChunks = [];

    [Params(1024, 1024 * 1024)]
    public int Size { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _value = Scenarios.RandomBytes(Size, 11);
        (_encHeader, _encChunks) = Seal(KeyMaterial);
        (_plainHeader, _plainChunks) = Seal(ReadOnlyMemory<byte>.Empty);
    }

    [Benchmark]
    public int SealEncrypted() => Seal(KeyMaterial).Chunks.Length;

    [Benchmark]
    public int OpenEncrypted() => Open(_encHeader, _encChunks, KeyMaterial);

    [Benchmark]
    public int SealPlain() => Seal(ReadOnlyMemory<byte>.Empty).Chunks.Length;

    [Benchmark]
    public int OpenPlain() => Open(_plainHeader, _plainChunks, ReadOnlyMemory<byte>.Empty);

    private (byte[] Header, byte[][] Chunks) Seal(ReadOnlyMemory<byte> key)
    {
        using var encoder = EntryEncoder.Create(new EntryParams(GrainId, _version, DateTimeOffset.UtcNow.AddDays(1).ToUnixTimeSeconds(), SecureCacheOptions.MaxChunkSize, false, key));
        encoder.Write(_value);
        var header = encoder.Complete();
        var chunks = new List<byte[]>();
        while (encoder.TryTakeChunk(out var chunk))
        {
            chunks.Add(chunk);
        }

        return (header, chunks.ToArray());
    }

    private int Open(byte[] header, byte[][] chunks, ReadOnlyMemory<byte> key)
    {
        var result = EntryDecoder.Open(header, chunks, GrainId, _version, key.Span, new DecodeLimits(512L * 1024 * 1024, TimeSpan.FromDays(365), TimeSpan.FromMinutes(5)), DateTimeOffset.UtcNow);
        return result.Ok ? result.Plaintext!.Length : throw new InvalidOperationException(result.Miss.ToString());
    }
}

/// <summary>zlib at the level the cache writes with, on 1 MiB of JSON-like text and of random bytes.</summary>
public class CompressionBenchmarks
{
    private byte[] _input = [];
    private byte[] _compressed = [];

    [Params("json", "random")]
    public string Data { get; set; } = "json";

    [GlobalSetup]
    public void Setup()
    {
        _input = Data == "json" ? Scenarios.JsonLike(1024 * 1024, 13) : Scenarios.RandomBytes(1024 * 1024, 13);
        _compressed = Compress();
    }

    [Benchmark]
    public byte[] Compress()
    {
        using var output = new MemoryStream();
        using (var zlib = new ZLibStream(output, EntryFormat.WriteCompression, leaveOpen: true))
        {
            zlib.Write(_input);
        }

        return output.ToArray();
    }

    [Benchmark]
    public int Decompress()
    {
        using var zlib = new ZLibStream(new MemoryStream(_compressed), CompressionMode.Decompress);
        var buffer = new byte[81920];
        var total = 0;
        int read;
        while ((read = zlib.Read(buffer)) > 0)
        {
            total += read;
        }

        return total;
    }
}

internal static class CpuScenario
{
    public static Table Run(bool quick, TextWriter log)
    {
        var table = new Table("cpu", "CPU-only parts (BenchmarkDotNet, in-process)",
            quick ? "Dry job (one cold invocation each): the figures only show that it runs."
                  : "ShortRun job (3 warm-ups, 3 iterations), in-process toolchain. Entries are sealed and opened whole, compression off; the 1 MiB entry is one chunk.",
            "benchmark", "params", "mean", "allocated/op", "MB/s");
        var job = (quick ? Job.Dry : Job.ShortRun).WithToolchain(InProcessEmitToolchain.Instance);
        var config = ManualConfig.CreateEmpty()
            .AddJob(job)
            .AddDiagnoser(MemoryDiagnoser.Default)
            .AddColumnProvider(DefaultColumnProviders.Instance)
            .AddLogger(NullLogger.Instance)
            .WithArtifactsPath(Path.Combine(Path.GetTempPath(), "osc-bench-bdn"))
            .WithOptions(ConfigOptions.DisableOptimizationsValidator | ConfigOptions.JoinSummary | ConfigOptions.DisableLogFile);
        log.WriteLine("cpu: BenchmarkDotNet " + (quick ? "dry" : "short") + " run ...");
        var summaries = BenchmarkRunner.Run([typeof(KeyBenchmarks), typeof(EntryBenchmarks), typeof(CompressionBenchmarks)], config);
        foreach (var summary in summaries)
        {
            foreach (var report in summary.Reports)
            {
                var benchmark = report.BenchmarkCase;
                var parameters = benchmark.Parameters.PrintInfo;
                var mean = report.ResultStatistics?.Mean;
                var allocated = report.GcStats.GetBytesAllocatedPerOperation(benchmark);
                var bytes = benchmark.Parameters.Items.FirstOrDefault(p => p.Name == "Size")?.Value is int size ? size
                    : benchmark.Descriptor.Type == typeof(CompressionBenchmarks) ? 1024 * 1024 : 0;
                table.Row(benchmark.Descriptor.Type.Name.Replace("Benchmarks", "", StringComparison.Ordinal) + "." + benchmark.Descriptor.WorkloadMethod.Name,
                    parameters.Length == 0 ? "—" : parameters,
                    mean is { } ns ? FormatTime(ns) : "failed",
                    allocated is { } a ? Fmt.Bytes(a) : "—",
                    mean is { } m && bytes > 0 ? Fmt.Num(bytes / 1e6 / (m / 1e9)) : "—");
            }
        }

        return table;
    }

    private static string FormatTime(double ns) => ns switch
    {
        >= 1e6 => Fmt.Num(ns / 1e6) + " ms",
        >= 1e3 => Fmt.Num(ns / 1e3) + " µs",
        _ => Fmt.Num(ns) + " ns",
    };
}
