using System.Reflection;
using System.Text;

namespace CudaAdam.Cuda.Compilation;

/// <summary>One CUDA C source file to compile, with the headers it may <c>#include "name"</c>.</summary>
public sealed record KernelSource(string FileName, string Text, IReadOnlyDictionary<string, string> Headers)
{
    /// <summary>A source with the embedded headers (<c>common.cuh</c>, ...).</summary>
    public static KernelSource WithEmbeddedHeaders(string fileName, string text) => new(fileName, text, KernelSources.Headers);
}

/// <summary>
/// The <c>kernels/*.cu</c> and <c>kernels/*.cuh</c> files embedded in this assembly (resource names
/// <c>kernels/&lt;file&gt;</c>, see CudaAdam.Cuda.csproj). Headers are handed to NVRTC by name, never read from disk.
/// </summary>
public static class KernelSources
{
    private const string Prefix = "kernels/";
    private static readonly Lazy<IReadOnlyDictionary<string, string>> All = new(Load);

    /// <summary>Every embedded file by name ("adam.cu", "common.cuh", ...).</summary>
    public static IReadOnlyDictionary<string, string> Files => All.Value;

    /// <summary>The embedded <c>.cu</c> file names, sorted.</summary>
    public static IReadOnlyList<string> KernelFiles =>
        Files.Keys.Where(f => f.EndsWith(".cu", StringComparison.Ordinal)).Order(StringComparer.Ordinal).ToList();

    /// <summary>The embedded <c>.cuh</c> headers by include name.</summary>
    public static IReadOnlyDictionary<string, string> Headers => LazyHeaders.Value;

    private static readonly Lazy<IReadOnlyDictionary<string, string>> LazyHeaders = new(() =>
        Files.Where(kv => kv.Key.EndsWith(".cuh", StringComparison.Ordinal)).ToDictionary(kv => kv.Key, kv => kv.Value));

    /// <summary>The source of <c>kernels/&lt;family&gt;.cu</c> (family "adam" or file name "adam.cu").</summary>
    public static KernelSource ForFamily(string family)
    {
        var file = family.EndsWith(".cu", StringComparison.Ordinal) ? family : family + ".cu";
        if (!Files.TryGetValue(file, out var text))
            throw new ArgumentException(
                $"no embedded kernel source kernels/{file}; embedded are: {string.Join(", ", KernelFiles)}. " +
                "Kernel files are embedded at build time from kernels/*.cu: add the file and rebuild.", nameof(family));
        return new KernelSource(file, text, Headers);
    }

    private static IReadOnlyDictionary<string, string> Load()
    {
        var asm = typeof(KernelSources).Assembly;
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var name in asm.GetManifestResourceNames())
        {
            if (!name.StartsWith(Prefix, StringComparison.Ordinal)) continue;
            using var stream = asm.GetManifestResourceStream(name)!;
            using var reader = new StreamReader(stream, Encoding.UTF8);
            map[name[Prefix.Length..]] = reader.ReadToEnd();
        }
        return map;
    }
}
