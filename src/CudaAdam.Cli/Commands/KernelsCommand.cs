using CudaAdam.Cuda;
using CudaAdam.Cuda.Compilation;
using CudaAdam.Cuda.Diagnostics;
using CudaAdam.Cuda.Interop;

namespace CudaAdam.Cli.Commands;

/// <summary><c>cudaadam kernels</c>: lists the embedded kernel files; <c>--compile</c> compiles each with NVRTC
/// (<see cref="KernelCompileReport"/>); <c>--bench-cache</c> times the kernel cache cold vs warm
/// (<see cref="KernelCacheBenchmark"/>).</summary>
public sealed class KernelsCommand : ICommand
{
    public string Name => "kernels";
    public string Summary => "list the embedded kernels; --compile them with NVRTC; --bench-cache: cold vs warm cache load";

    public string Usage =>
        "usage: cudaadam kernels [--compile [--arch ARCH] [--fresh]] [--bench-cache [--arch ARCH] [--rounds N]]\n" +
        "                        [--write-scalar-header FILE]\n\n" +
        "Without options: the embedded kernels/*.cu files and their extern \"C\" __global__ kernels.\n" +
        "  --compile     compile every file with NVRTC; per file: time, image kind and size, where it came from\n" +
        "                (compiled, or the disk cache at $CUDAADAM_CACHE_DIR / ~/.cache/cudaadam/kernels)\n" +
        "  --fresh       with --compile: bypass the cache (always compile, write nothing)\n" +
        "  --arch ARCH   sm_XX (cubin) or compute_XX (PTX); default compute_80\n" +
        "  --bench-cache median time per file: cold (compile + write), disk (read + verify), memory; temp dir\n" +
        "  --rounds N    rounds of --bench-cache (default 3)\n" +
        "  --write-scalar-header FILE  regenerate kernels/scalars.gen.cuh (the CA_S_* slots) from the algorithm descriptors\n";

    public int Run(IReadOnlyList<string> args, TextWriter stdout, TextWriter stderr)
    {
        var parsed = Arguments.Parse(args, ["arch", "rounds", "write-scalar-header"], ["compile", "fresh", "bench-cache"]);
        if (parsed.Get("write-scalar-header") is { } header)
        {
            if (string.IsNullOrWhiteSpace(header)) throw new UsageException("--write-scalar-header: give a file name (kernels/scalars.gen.cuh)");
            try { CudaAdam.IO.AtomicFile.WriteAllText(header, CudaAdam.Device.KernelScalarHeader.Generate()); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new UsageException($"--write-scalar-header '{header}': cannot write it: {e.Message}", e);
            }
            stdout.WriteLine($"wrote {header}");
            return ExitCodes.Ok;
        }
        bool compile = Flag(parsed, "compile"), bench = Flag(parsed, "bench-cache"), fresh = Flag(parsed, "fresh");
        CompileTarget target;
        try
        {
            target = parsed.Get("arch") is { } a ? CompileTarget.Parse(a) : CompileTarget.Default;
        }
        catch (ArgumentException e)
        {
            throw new UsageException("--arch: " + e.Message, e);
        }
        int rounds = parsed.Get("rounds") is { } r ? (int)Math.Clamp(Arguments.ParseCount(r, "--rounds"), 1, 1000) : 3;

        if (!compile && !bench)
        {
            foreach (var file in KernelSources.KernelFiles)
                stdout.WriteLine($"{file}: {string.Join(" ", KernelCompileReport.KernelNames(KernelSources.Files[file]))}");
            stdout.WriteLine($"headers: {string.Join(" ", KernelSources.Headers.Keys.Order(StringComparer.Ordinal))}");
            return ExitCodes.Ok;
        }

        try
        {
            int rc = ExitCodes.Ok;
            if (compile)
            {
                var results = KernelCompileReport.CompileAll(target, fresh ? new KernelCache(null) : KernelCache.Shared);
                KernelCompileReport.Write(results, stdout);
                if (results.Any(x => x.Error is not null)) rc = ExitCodes.Failure;
            }
            if (bench)
                KernelCacheBenchmark.Write(KernelCacheBenchmark.Run(target, rounds), target, rounds, stdout);
            return rc;
        }
        catch (Exception e) when (e is NativeLibraryNotFoundException or NotSupportedException or NvrtcException)
        {
            stderr.WriteLine($"cudaadam kernels: {e.Message}");
            return ExitCodes.Failure;
        }
    }

    private static bool Flag(Arguments parsed, string name) =>
        parsed.Get(name) is { } v && Arguments.ParseBool(v, "--" + name);
}
