using CudaAdam.Cuda;
using CudaAdam.Cuda.Driver;
using CudaAdam.Cuda.Interop;

namespace CudaAdam.Tests.Cuda;

/// <summary>Skips a test, with the reason and how to get the missing piece, when NVRTC or a GPU is absent.</summary>
internal static class Requirements
{
    public static void Nvrtc()
    {
        if (NativeLibraries.TryLoad(NativeLibraries.Nvrtc, out var error) is null)
            Prerequisite.Missing("NVRTC is not installed: run ./build.sh setup (Debian non-free libnvrtc11.2) or set CUDAADAM_NVRTC. " + error);
    }

    public static CudaDevice Device(string cacheDirectory)
    {
        var reason = CudaDriver.Unavailable();
        if (reason is not null)
            Assert.Ignore("no CUDA device here (GPU tests run on the GPU machine): " + reason);
        Nvrtc();
        return CudaDevice.Open(0, new CudaAdam.Cuda.Compilation.KernelCache(cacheDirectory));
    }

    /// <summary>A fresh empty directory under the test run's temp folder.</summary>
    public static string TempDirectory()
    {
        var dir = Path.Combine(Path.GetTempPath(), "cudaadam-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        return dir;
    }
}
