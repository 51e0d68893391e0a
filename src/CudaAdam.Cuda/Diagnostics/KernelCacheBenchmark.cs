#pragma warning disable CS1591 // CS1591 backlog (issue 13): 2 public members here have no XML doc yet; document them, then delete this line
using System.Diagnostics;
using CudaAdam.Cuda.Compilation;

namespace CudaAdam.Cuda.Diagnostics;

/// <summary>Median times, in milliseconds, to obtain one kernel file's image from each level of the cache.</summary>
public sealed record CacheBenchmarkRow(string File, int ImageBytes, double ColdMs, double DiskMs, double MemoryMs);

/// <summary>
/// Cold versus warm load time of the kernel cache, per kernel file (the embedded ones plus the probe):
/// <b>cold</b> = NVRTC compile plus the atomic file write (an empty cache directory), <b>disk</b> = read and
/// SHA-256 verification of the file by a new cache instance (a new process, in effect), <b>memory</b> = a repeated
/// request to the same instance (key hashing plus a dictionary lookup). Medians over <c>rounds</c>. Uses a temporary
/// directory, never the user's cache.
/// </summary>
public static class KernelCacheBenchmark
{
    /// <summary>The files measured by default: every embedded kernel file, then the probe.</summary>
    public static IReadOnlyList<KernelSource> Sources() =>
        KernelSources.KernelFiles.Select(KernelSources.ForFamily).Append(ProbeKernels.Source).ToList();

    public static IReadOnlyList<CacheBenchmarkRow> Run(CompileTarget target, int rounds = 3, IReadOnlyList<KernelSource>? sources = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(rounds, 1);
        sources ??= Sources();
        var rows = new List<CacheBenchmarkRow>();
        foreach (var source in sources)
        {
            var cold = new List<double>();
            var disk = new List<double>();
            var memory = new List<double>();
            int bytes = 0;
            for (int r = 0; r < rounds; r++)
            {
                var dir = Path.Combine(Path.GetTempPath(), "cudaadam-cache-bench", Guid.NewGuid().ToString("N"));
                try
                {
                    var first = new KernelCache(dir);
                    cold.Add(Time(() => bytes = Expect(first.GetOrCompile(source, target), CacheOutcome.Compiled).Image.Length));
                    var second = new KernelCache(dir);
                    disk.Add(Time(() => Expect(second.GetOrCompile(source, target), CacheOutcome.Disk)));
                    memory.Add(Time(() => Expect(second.GetOrCompile(source, target), CacheOutcome.Memory)));
                }
                finally
                {
                    if (Directory.Exists(dir)) Directory.Delete(dir, true);
                }
            }
            rows.Add(new(source.FileName, bytes, Median(cold), Median(disk), Median(memory)));
        }
        return rows;
    }

    public static void Write(IReadOnlyList<CacheBenchmarkRow> rows, CompileTarget target, int rounds, TextWriter w)
    {
        var inv = System.Globalization.CultureInfo.InvariantCulture;
        w.WriteLine($"kernel cache, {target} ({target.ImageKind}), NVRTC {NvrtcCompiler.Version.Major}.{NvrtcCompiler.Version.Minor}, median of {rounds}");
        w.WriteLine($"{"file",-16} {"bytes",10} {"cold ms",10} {"disk ms",10} {"memory ms",10} {"cold/disk",10}");
        foreach (var r in rows)
            w.WriteLine(string.Create(inv, $"{r.File,-16} {r.ImageBytes,10} {r.ColdMs,10:F2} {r.DiskMs,10:F3} {r.MemoryMs,10:F4} {r.ColdMs / r.DiskMs,10:F0}x"));
    }

    private static KernelImage Expect(KernelImage image, CacheOutcome outcome) =>
        image.Outcome == outcome ? image : throw new InvalidOperationException($"cache benchmark: expected {outcome}, got {image.Outcome} for {image.FileName}");

    private static double Time(Action action)
    {
        var clock = Stopwatch.StartNew();
        action();
        return clock.Elapsed.TotalMilliseconds;
    }

    private static double Median(List<double> values)
    {
        values.Sort();
        int n = values.Count;
        return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
    }
}
