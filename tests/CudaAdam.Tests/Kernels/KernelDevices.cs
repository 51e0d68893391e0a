using CudaAdam.Cuda;
using CudaAdam.Device;

namespace CudaAdam.Tests.Kernels;

/// <summary>Opens the device of a backend for the kernel tests, or skips the test saying what is missing.</summary>
internal static class KernelDevices
{
    public static IDevice OpenOrIgnore(string backend)
    {
        if (DeviceBackends.Unavailable(backend) is { } reason)
        {
            if (backend == "emulator") Prerequisite.Missing($"the host emulator library is missing: {reason} (run ./build.sh setup, which needs g++)");
            Assert.Ignore($"no CUDA device here (GPU tests run on the GPU machine: scripts/device/run-on-gpu.sh): {reason}");
        }
        return DeviceBackends.OpenDevice(backend);
    }
}
