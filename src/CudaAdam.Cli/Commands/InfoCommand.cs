using CudaAdam.Cuda;
using CudaAdam.Cuda.Diagnostics;
using CudaAdam.Cuda.Interop;

namespace CudaAdam.Cli.Commands;

/// <summary><c>cudaadam info</c>: the CUDA libraries, devices, kernel cache and emulator this machine offers
/// (<see cref="CudaEnvironmentReport"/>).</summary>
public sealed class InfoCommand : ICommand
{
    public string Name => "info";
    public string Summary => "CUDA libraries (path, version), devices, kernel cache, host emulator, and what is missing";

    public string Usage =>
        "usage: cudaadam info [--check]\n\n" +
        "Lists libcuda, NVRTC and cuBLAS (where each loaded from and its version, or every path tried), the NVRTC\n" +
        "archs, the GPUs with their properties, the embedded kernel files, the kernel cache directory and size,\n" +
        "whether the host emulator library is built, and what is missing with how to get it.\n" +
        "Environment: CUDAADAM_LIBCUDA, CUDAADAM_NVRTC, CUDAADAM_CUBLAS (full paths), CUDA_PATH/CUDA_HOME,\n" +
        "CUDAADAM_CACHE_DIR (kernel cache).\n" +
        "  --check   also run end-to-end checks on GPU 0 (copies, launches, bitwise axpy, events, graph, every kernel\n" +
        "            module, SGEMM, GemmEx); exit code 1 if any fails or no GPU is usable\n";

    public int Run(IReadOnlyList<string> args, TextWriter stdout, TextWriter stderr)
    {
        var parsed = Arguments.Parse(args, [], ["check"]);
        var report = CudaEnvironmentReport.Collect();
        report.Write(stdout);
        if (parsed.Get("check") is not { } c || !Arguments.ParseBool(c, "--check")) return ExitCodes.Ok;

        if (report.Devices.Count == 0)
        {
            stderr.WriteLine("cudaadam info --check: no usable GPU (see 'devices' and 'missing' above)");
            return ExitCodes.Failure;
        }
        stdout.WriteLine("checks (GPU 0):");
        try
        {
            using var device = CudaDevice.Open(0);
            var results = CudaSelfTest.Run(device);
            CudaSelfTest.Write(results, stdout);
            return results.All(r => r.Passed) ? ExitCodes.Ok : ExitCodes.Failure;
        }
        catch (Exception e) when (e is CudaException or NativeLibraryNotFoundException or NotSupportedException)
        {
            stderr.WriteLine($"cudaadam info --check: could not open GPU 0: {e.Message}");
            return ExitCodes.Failure;
        }
    }
}
