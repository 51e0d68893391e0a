#pragma warning disable CS1591 // CS1591 backlog (issue 13): 22 public members here have no XML doc yet; document them, then delete this line
using System.Runtime.InteropServices;

namespace CudaAdam.Cuda.Interop;

/// <summary>
/// Raw CUDA driver API imports (cuda.h), named exactly like the C symbols, versioned entry points where cuda.h
/// #defines the plain name to a <c>_v2</c>. No checking here: see <see cref="Cu"/> for the checked layer.
/// CUdevice is <c>int</c>, CUdeviceptr is <c>ulong</c>, every other handle is <c>nint</c>.
/// </summary>
internal static unsafe partial class DriverNative
{
    private const string Lib = "cuda";

    static DriverNative() => NativeLibraries.Register();

    [LibraryImport(Lib)] public static partial CudaResult cuInit(uint flags);
    [LibraryImport(Lib)] public static partial CudaResult cuDriverGetVersion(out int version);
    [LibraryImport(Lib)] public static partial CudaResult cuGetErrorName(CudaResult error, out nint name);
    [LibraryImport(Lib)] public static partial CudaResult cuGetErrorString(CudaResult error, out nint text);

    [LibraryImport(Lib)] public static partial CudaResult cuDeviceGetCount(out int count);
    [LibraryImport(Lib)] public static partial CudaResult cuDeviceGet(out int device, int ordinal);
    [LibraryImport(Lib)] public static partial CudaResult cuDeviceGetName(byte* name, int length, int device);
    [LibraryImport(Lib)] public static partial CudaResult cuDeviceTotalMem_v2(out nuint bytes, int device);
    [LibraryImport(Lib)] public static partial CudaResult cuDeviceGetAttribute(out int value, DeviceAttribute attribute, int device);

    [LibraryImport(Lib)] public static partial CudaResult cuDevicePrimaryCtxRetain(out nint context, int device);
    [LibraryImport(Lib)] public static partial CudaResult cuDevicePrimaryCtxRelease_v2(int device);
    [LibraryImport(Lib)] public static partial CudaResult cuCtxSetCurrent(nint context);
    [LibraryImport(Lib)] public static partial CudaResult cuCtxGetCurrent(out nint context);

    [LibraryImport(Lib)] public static partial CudaResult cuMemGetInfo_v2(out nuint free, out nuint total);
    [LibraryImport(Lib)] public static partial CudaResult cuMemAlloc_v2(out ulong pointer, nuint bytes);
    [LibraryImport(Lib)] public static partial CudaResult cuMemFree_v2(ulong pointer);
    [LibraryImport(Lib)] public static partial CudaResult cuMemcpyHtoDAsync_v2(ulong destination, void* source, nuint bytes, nint stream);
    [LibraryImport(Lib)] public static partial CudaResult cuMemcpyDtoHAsync_v2(void* destination, ulong source, nuint bytes, nint stream);
    [LibraryImport(Lib)] public static partial CudaResult cuMemcpyDtoDAsync_v2(ulong destination, ulong source, nuint bytes, nint stream);
    [LibraryImport(Lib)] public static partial CudaResult cuMemsetD8Async(ulong destination, byte value, nuint count, nint stream);

    [LibraryImport(Lib)] public static partial CudaResult cuStreamCreate(out nint stream, uint flags);
    [LibraryImport(Lib)] public static partial CudaResult cuStreamDestroy_v2(nint stream);
    [LibraryImport(Lib)] public static partial CudaResult cuStreamSynchronize(nint stream);

    [LibraryImport(Lib)] public static partial CudaResult cuEventCreate(out nint evt, uint flags);
    [LibraryImport(Lib)] public static partial CudaResult cuEventDestroy_v2(nint evt);
    [LibraryImport(Lib)] public static partial CudaResult cuEventRecord(nint evt, nint stream);
    [LibraryImport(Lib)] public static partial CudaResult cuEventSynchronize(nint evt);
    [LibraryImport(Lib)] public static partial CudaResult cuEventElapsedTime(out float milliseconds, nint start, nint end);

    [LibraryImport(Lib)] public static partial CudaResult cuModuleLoadDataEx(out nint module, void* image, uint numOptions, JitOption* options, void** optionValues);
    [LibraryImport(Lib)] public static partial CudaResult cuModuleUnload(nint module);
    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)]
    public static partial CudaResult cuModuleGetFunction(out nint function, nint module, string name);

    /// <summary>CUfunction_attribute 8 = CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES (opt in above 48 KiB).</summary>
    [LibraryImport(Lib)] public static partial CudaResult cuFuncSetAttribute(nint function, int attribute, int value);
    /// <summary>CUfunction_attribute 0 = CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK (what the driver allows this kernel:
    /// its registers, shared memory and __launch_bounds__), 4 = CU_FUNC_ATTRIBUTE_NUM_REGS.</summary>
    [LibraryImport(Lib)] public static partial CudaResult cuFuncGetAttribute(out int value, int attribute, nint function);

    [LibraryImport(Lib)]
    public static partial CudaResult cuLaunchKernel(nint function, uint gridX, uint gridY, uint gridZ, uint blockX, uint blockY, uint blockZ,
        uint sharedMemBytes, nint stream, void** kernelParams, void** extra);

    [LibraryImport(Lib)] public static partial CudaResult cuStreamBeginCapture_v2(nint stream, StreamCaptureMode mode);
    [LibraryImport(Lib)] public static partial CudaResult cuStreamEndCapture(nint stream, out nint graph);
    [LibraryImport(Lib)] public static partial CudaResult cuGraphInstantiateWithFlags(out nint graphExec, nint graph, ulong flags);
    [LibraryImport(Lib)] public static partial CudaResult cuGraphLaunch(nint graphExec, nint stream);
    [LibraryImport(Lib)] public static partial CudaResult cuGraphExecDestroy(nint graphExec);
    [LibraryImport(Lib)] public static partial CudaResult cuGraphDestroy(nint graph);
}

/// <summary><c>CUdevice_attribute</c> values used here (cuda.h).</summary>
public enum DeviceAttribute
{
    MaxThreadsPerBlock = 1,
    MaxBlockDimX = 2,
    MaxBlockDimY = 3,
    MaxBlockDimZ = 4,
    MaxGridDimX = 5,
    MaxGridDimY = 6,
    MaxGridDimZ = 7,
    MaxSharedMemoryPerBlock = 8,
    WarpSize = 10,
    MultiprocessorCount = 16,
    GlobalMemoryBusWidth = 37,
    L2CacheSize = 38,
    ComputeCapabilityMajor = 75,
    ComputeCapabilityMinor = 76,
    MaxSharedMemoryPerBlockOptin = 97,
}

/// <summary><c>CUjit_option</c> values used here (cuda.h).</summary>
public enum JitOption
{
    InfoLogBuffer = 3,
    InfoLogBufferSizeBytes = 4,
    ErrorLogBuffer = 5,
    ErrorLogBufferSizeBytes = 6,
}

/// <summary><c>CUstreamCaptureMode</c>.</summary>
public enum StreamCaptureMode
{
    Global = 0,
    ThreadLocal = 1,
    Relaxed = 2,
}
