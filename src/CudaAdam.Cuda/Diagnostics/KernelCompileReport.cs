#pragma warning disable CS1591 // CS1591 backlog (issue 13): 1 public members here have no XML doc yet; document them, then delete this line
using System.Diagnostics;
using System.Text.RegularExpressions;
using CudaAdam.Cuda.Compilation;

namespace CudaAdam.Cuda.Diagnostics;

/// <summary>One file of <see cref="KernelCompileReport"/>.</summary>
public sealed record KernelFileResult(string File, string Arch, bool IsCubin, CacheOutcome Outcome, TimeSpan Elapsed, int ImageBytes,
    IReadOnlyList<string> Kernels, string? Error);

/// <summary>Compiles every embedded <c>kernels/*.cu</c> (<c>cudaadam kernels --compile</c>): time and image size per file.</summary>
public static partial class KernelCompileReport
{
    /// <summary>Compiles each file through <paramref name="cache"/> (a memory-only cache always compiles); a file
    /// that fails is reported with its error and the others still compile.</summary>
    public static IReadOnlyList<KernelFileResult> CompileAll(CompileTarget target, KernelCache cache)
    {
        target.CheckSupported(NvrtcCompiler.SupportedArchs);
        var results = new List<KernelFileResult>();
        foreach (var file in KernelSources.KernelFiles)
        {
            var source = KernelSources.ForFamily(file);
            var clock = Stopwatch.StartNew();
            try
            {
                var image = cache.GetOrCompile(source, target);
                results.Add(new(file, target.Arch, image.IsCubin, image.Outcome, clock.Elapsed, image.Image.Length, KernelNames(source.Text), null));
            }
            catch (NvrtcCompileException e)
            {
                results.Add(new(file, target.Arch, target.IsCubin, CacheOutcome.Compiled, clock.Elapsed, 0, KernelNames(source.Text), e.Message));
            }
        }
        return results;
    }

    /// <summary>The <c>extern "C" __global__</c> function names of a source (a textual scan, for listings).</summary>
    public static IReadOnlyList<string> KernelNames(string source) =>
        GlobalFunction().Matches(source).Select(m => m.Groups[1].Value).Distinct().ToList();

    public static void Write(IReadOnlyList<KernelFileResult> results, TextWriter w)
    {
        var inv = System.Globalization.CultureInfo.InvariantCulture;
        w.WriteLine($"{"file",-16} {"arch",-12} {"kind",-6} {"source",-9} {"ms",9} {"bytes",10}  kernels");
        foreach (var r in results)
        {
            w.WriteLine(string.Create(inv,
                $"{r.File,-16} {r.Arch,-12} {(r.IsCubin ? "cubin" : "PTX"),-6} {(r.Error is null ? r.Outcome.ToString().ToLowerInvariant() : "FAILED"),-9} {r.Elapsed.TotalMilliseconds,9:F1} {r.ImageBytes,10}  {r.Kernels.Count}"));
            if (r.Error is not null) w.WriteLine(r.Error);
        }
        w.WriteLine(string.Create(inv, $"{results.Count} files, {results.Sum(r => r.Elapsed.TotalMilliseconds):F0} ms, {results.Sum(r => (long)r.ImageBytes)} bytes, {results.Count(r => r.Error is not null)} failed"));
    }

    [GeneratedRegex(@"extern\s+""C""\s+__global__\s+(?:__launch_bounds__\([^)]*\)\s+)?void\s+([A-Za-z_][A-Za-z0-9_]*)\s*\(")]
    private static partial Regex GlobalFunction();
}
