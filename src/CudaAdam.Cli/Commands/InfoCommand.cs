using CudaAdam.Cuda.Diagnostics;

namespace CudaAdam.Cli.Commands;

/// <summary><c>cudaadam info</c>: the CUDA libraries, devices, kernel cache and emulator this machine offers
/// (<see cref="CudaEnvironmentReport"/>).</summary>
public sealed class InfoCommand : ICommand
{
    public string Name => "info";
    public string Summary => "CUDA libraries (path, version), devices, kernel cache, host emulator, and what is missing";

    public string Usage =>
        "usage: cudaadam info\n\n" +
        "Lists libcuda, NVRTC and cuBLAS (where each loaded from and its version, or every path tried), the NVRTC\n" +
        "archs, the GPUs with their properties, the embedded kernel files, the kernel cache directory and size,\n" +
        "whether the host emulator library is built, and what is missing with how to get it.\n" +
        "Environment: CUDAADAM_LIBCUDA, CUDAADAM_NVRTC, CUDAADAM_CUBLAS (full paths), CUDA_PATH/CUDA_HOME,\n" +
        "CUDAADAM_CACHE_DIR (kernel cache).\n";

    public int Run(IReadOnlyList<string> args, TextWriter stdout, TextWriter stderr)
    {
        Arguments.Parse(args, [], []);
        CudaEnvironmentReport.Collect().Write(stdout);
        return ExitCodes.Ok;
    }
}
