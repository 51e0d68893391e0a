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
        "                        [--write-scalar-header FILE] [--write-cases FILE] [--write-algorithm-enum FILE]\n" +
        "       cudaadam kernels --resources [--arch sm_XX]\n\n" +
        "Without options: the embedded kernels/*.cu files and their extern \"C\" __global__ kernels.\n" +
        "  --compile     compile every file with NVRTC; per file: time, image kind and size, where it came from\n" +
        "                (compiled, or the disk cache at $CUDAADAM_CACHE_DIR / ~/.cache/cudaadam/kernels)\n" +
        "  --fresh       with --compile: bypass the cache (always compile, write nothing)\n" +
        "  --arch ARCH   sm_XX (cubin) or compute_XX (PTX); default compute_80\n" +
        "  --bench-cache median time per file: cold (compile + write), disk (read + verify), memory; temp dir\n" +
        "  --rounds N    rounds of --bench-cache (default 3)\n" +
        "  --resources   compile every file to a cubin (--arch sm_XX, default sm_90) and print each kernel's registers,\n" +
        "                __launch_bounds__, largest launchable block, static shared memory and stack (from the cubin's\n" +
        "                .nv.info); exit 1 when a kernel launched with BlockSize cannot launch at the validators' maximum\n" +
        "  --write-scalar-header FILE  regenerate kernels/scalars.gen.cuh (the CA_S_* slots) from the algorithm descriptors\n" +
        "  --write-cases FILE          regenerate tests/oracle/cases.json (the registry's sets that make_golden.py runs torch on)\n" +
        "  --write-algorithm-enum FILE regenerate src/CudaAdam/Algorithm.gen.cs (the Algorithm enum, documented from the descriptors)\n";

    public int Run(IReadOnlyList<string> args, TextWriter stdout, TextWriter stderr)
    {
        var parsed = Arguments.Parse(args, ["arch", "rounds", "write-scalar-header", "write-cases", "write-algorithm-enum"], ["compile", "fresh", "bench-cache", "resources"]);
        // The files generated from the algorithm descriptors (./build.sh gen writes both).
        var generated = new (string Option, string Example, Func<string> Text)[]
        {
            ("write-scalar-header", "kernels/scalars.gen.cuh", CudaAdam.Device.KernelScalarHeader.Generate),
            ("write-cases", "tests/oracle/cases.json", CudaAdam.Device.Conformance.ExportTorchCases),
            ("write-algorithm-enum", AlgorithmEnumSource.RepositoryPath, AlgorithmEnumSource.Generate),
        };
        bool wrote = false;
        foreach (var (option, example, text) in generated)
        {
            if (parsed.Get(option) is not { } file) continue;
            if (string.IsNullOrWhiteSpace(file)) throw new UsageException($"--{option}: give a file name ({example})");
            try { CudaAdam.IO.AtomicFile.WriteAllText(file, text()); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new UsageException($"--{option} '{file}': cannot write it: {e.Message}", e);
            }
            stdout.WriteLine($"wrote {file}");
            wrote = true;
        }
        if (wrote) return ExitCodes.Ok;
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
        if (Flag(parsed, "resources"))
        {
            if (parsed.Get("arch") is null) target = CompileTarget.Parse("sm_90");
            if (!target.IsCubin) throw new UsageException($"--resources reads a cubin: --arch must be sm_XX, not {target.Arch}");
            try
            {
                return Resources(target, stdout);
            }
            catch (Exception e) when (e is NativeLibraryNotFoundException or NotSupportedException or NvrtcException)
            {
                stderr.WriteLine($"cudaadam kernels: {e.Message}");
                return ExitCodes.Failure;
            }
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

    private static int Resources(CompileTarget target, TextWriter stdout)
    {
        target.CheckSupported(NvrtcCompiler.SupportedArchs);
        var (major, minor) = NvrtcCompiler.Version;
        stdout.WriteLine($"kernel resources, NVRTC {major}.{minor}, {target.Arch} cubins; BlockSize kernels must launch at {KernelLimits.MaxBlockSize} threads");
        stdout.WriteLine($"{"kernel",-36} {"regs",5} {"bound",6} {"max threads",12} {"shared B",9} {"stack B",8}  ok");
        int bad = 0, count = 0;
        foreach (var file in KernelSources.KernelFiles)
        {
            var image = NvrtcCompiler.Compile(KernelSources.ForFamily(file), NvrtcCompiler.Options(target), cubin: true);
            foreach (var r in CubinResources.Read(image.Image).Values.OrderBy(r => r.Name, StringComparer.Ordinal))
            {
                count++;
                bool ok = !KernelLimits.IsLaunchedWithBlockSize(r.Name) || r.MaxThreadsPerBlock >= KernelLimits.MaxBlockSize;
                if (!ok) bad++;
                stdout.WriteLine($"{Path.GetFileNameWithoutExtension(file) + ":" + r.Name,-36} {r.Registers,5} {(r.LaunchBound > 0 ? r.LaunchBound.ToString() : "-"),6} {r.MaxThreadsPerBlock,12} {r.StaticSharedBytes,9} {r.StackBytes,8}  {(ok ? "yes" : "NO")}");
            }
        }
        stdout.WriteLine(bad == 0
            ? $"resources: PASS ({count} kernels; every BlockSize kernel launches at {KernelLimits.MaxBlockSize} threads)"
            : $"resources: FAIL ({bad} BlockSize kernels cannot launch at {KernelLimits.MaxBlockSize} threads)");
        return bad == 0 ? ExitCodes.Ok : ExitCodes.Failure;
    }

    private static bool Flag(Arguments parsed, string name) =>
        parsed.Get(name) is { } v && Arguments.ParseBool(v, "--" + name);
}
