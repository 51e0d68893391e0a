#pragma warning disable CS1591 // CS1591 backlog (issue 13): 5 public members here have no XML doc yet; document them, then delete this line
using System.Runtime.InteropServices;
using System.Text;
using CudaAdam.Cuda.Interop;

namespace CudaAdam.Cuda.Driver;

/// <summary>Properties of one CUDA device, read once through <c>cuDeviceGetAttribute</c>.</summary>
public sealed record DeviceProperties(
    int Ordinal, string Name, int ComputeMajor, int ComputeMinor, long TotalMemoryBytes, int MultiprocessorCount,
    int MaxThreadsPerBlock, int MaxSharedMemoryPerBlock, int WarpSize, int L2CacheBytes, int MemoryBusWidthBits)
{
    /// <summary>Dynamic shared memory a kernel may use after opting in (<c>MAX_SHARED_MEMORY_PER_BLOCK_OPTIN</c>);
    /// <see cref="MaxSharedMemoryPerBlock"/> when the driver does not report it.</summary>
    public int MaxSharedMemoryPerBlockOptin { get; init; } = MaxSharedMemoryPerBlock;

    /// <summary>Per-axis block and grid limits (<c>MAX_BLOCK_DIM_*</c>, <c>MAX_GRID_DIM_*</c>); those of every
    /// compute capability since 5.0 unless read from the driver.</summary>
    public LaunchLimits Limits { get; init; } = KernelLimits.Standard with { MaxThreadsPerBlock = MaxThreadsPerBlock };

    /// <summary>"sm_90" for compute capability 9.0.</summary>
    public string Arch => $"sm_{ComputeMajor}{ComputeMinor}";
    public int ComputeCapability => ComputeMajor * 10 + ComputeMinor;

    public override string ToString() =>
        $"#{Ordinal} {Name} ({Arch}, {TotalMemoryBytes / (1024.0 * 1024 * 1024):F1} GiB, {MultiprocessorCount} SMs)";
}

/// <summary>Driver-wide calls: initialization, version, device enumeration. Thread-safe.</summary>
public static class CudaDriver
{
    private static readonly object Gate = new();
    private static bool _initialized;

    /// <summary>Calls <c>cuInit(0)</c> once per process.</summary>
    /// <exception cref="NativeLibraryNotFoundException">libcuda.so.1 is absent.</exception>
    /// <exception cref="CudaException">The driver refused (e.g. CUDA_ERROR_NO_DEVICE).</exception>
    public static void Initialize()
    {
        lock (Gate)
        {
            if (_initialized) return;
            NativeLibraries.Load(NativeLibraries.Cuda);
            Cu.Check(DriverNative.cuInit(0));
            _initialized = true;
        }
    }

    /// <summary>The driver's CUDA version as (major, minor), e.g. (13, 0) for driver 580.</summary>
    public static (int Major, int Minor) Version
    {
        get
        {
            NativeLibraries.Load(NativeLibraries.Cuda);
            Cu.Check(DriverNative.cuDriverGetVersion(out int v));
            return (v / 1000, v % 1000 / 10);
        }
    }

    public static int DeviceCount
    {
        get
        {
            Initialize();
            Cu.Check(DriverNative.cuDeviceGetCount(out int n));
            return n;
        }
    }

    /// <summary>Why no <see cref="CudaDevice"/> can be used here (no libcuda.so.1, no device, no NVRTC to compile its
    /// kernels, or no cuBLAS for the training stack's GEMMs), or null when device 0 can be opened and used.</summary>
    public static string? Unavailable()
    {
        if (NativeLibraries.TryLoad(NativeLibraries.Cuda, out var error) is null) return error;
        try
        {
            Initialize();
            if (DeviceCount == 0) return "the CUDA driver reports no device";
        }
        catch (CudaException e)
        {
            return e.Message;
        }
        if (NativeLibraries.TryLoad(NativeLibraries.Nvrtc, out var nvrtcError) is null)
            return "a GPU is present but NVRTC is not, so kernels cannot be compiled: " + nvrtcError;
        return NativeLibraries.TryLoad(NativeLibraries.Cublas, out var cublasError) is null
            ? "a GPU and NVRTC are present but cuBLAS is not, so the training stack's GEMMs cannot run: " + cublasError
            : null;
    }

    public static unsafe DeviceProperties GetProperties(int ordinal)
    {
        Initialize();
        Cu.Check(DriverNative.cuDeviceGet(out int dev, ordinal));
        var name = new byte[256];
        fixed (byte* p = name) Cu.Check(DriverNative.cuDeviceGetName(p, name.Length, dev));
        int len = Array.IndexOf(name, (byte)0);
        Cu.Check(DriverNative.cuDeviceTotalMem_v2(out nuint total, dev));
        return new DeviceProperties(ordinal, Encoding.UTF8.GetString(name, 0, len < 0 ? name.Length : len),
            Attribute(dev, DeviceAttribute.ComputeCapabilityMajor), Attribute(dev, DeviceAttribute.ComputeCapabilityMinor),
            (long)total, Attribute(dev, DeviceAttribute.MultiprocessorCount), Attribute(dev, DeviceAttribute.MaxThreadsPerBlock),
            Attribute(dev, DeviceAttribute.MaxSharedMemoryPerBlock), Attribute(dev, DeviceAttribute.WarpSize),
            OptionalAttribute(dev, DeviceAttribute.L2CacheSize), OptionalAttribute(dev, DeviceAttribute.GlobalMemoryBusWidth))
        {
            MaxSharedMemoryPerBlockOptin = Math.Max(Attribute(dev, DeviceAttribute.MaxSharedMemoryPerBlock),
                OptionalAttribute(dev, DeviceAttribute.MaxSharedMemoryPerBlockOptin)),
            Limits = new LaunchLimits(Attribute(dev, DeviceAttribute.MaxThreadsPerBlock),
                Attribute(dev, DeviceAttribute.MaxBlockDimX), Attribute(dev, DeviceAttribute.MaxBlockDimY), Attribute(dev, DeviceAttribute.MaxBlockDimZ),
                Attribute(dev, DeviceAttribute.MaxGridDimX), Attribute(dev, DeviceAttribute.MaxGridDimY), Attribute(dev, DeviceAttribute.MaxGridDimZ)),
        };
    }

    public static IReadOnlyList<DeviceProperties> Devices()
    {
        int n = DeviceCount;
        var list = new List<DeviceProperties>(n);
        for (int i = 0; i < n; i++) list.Add(GetProperties(i));
        return list;
    }

    private static int Attribute(int device, DeviceAttribute attribute)
    {
        var r = DriverNative.cuDeviceGetAttribute(out int value, attribute, device);
        if (r != CudaResult.Success) throw Cu.Error(r, $"cuDeviceGetAttribute({attribute}, device {device})");
        return value;
    }

    /// <summary>An informational attribute: 0 when the driver does not report it (attributes come and go across
    /// CUDA versions), so a report never fails over it.</summary>
    private static int OptionalAttribute(int device, DeviceAttribute attribute) =>
        DriverNative.cuDeviceGetAttribute(out int value, attribute, device) == CudaResult.Success ? value : 0;

    internal static string PtrToString(nint p) => p == 0 ? "" : Marshal.PtrToStringUTF8(p) ?? "";
}
