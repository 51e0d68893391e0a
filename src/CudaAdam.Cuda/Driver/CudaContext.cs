#pragma warning disable CS1591 // CS1591 backlog (issue 13): 5 public members here have no XML doc yet; document them, then delete this line
using CudaAdam.Cuda.Interop;

namespace CudaAdam.Cuda.Driver;

/// <summary>
/// The primary context of one device (<c>cuDevicePrimaryCtxRetain</c>), the one the CUDA runtime and cuBLAS also
/// use. A context is current per thread: call <see cref="MakeCurrent"/> on every thread before other calls
/// (<see cref="CudaDevice"/> does it on each of its methods). Dispose releases the retain.
/// </summary>
public sealed class CudaContext : IDisposable
{
    private nint _handle;

    public CudaContext(int ordinal)
    {
        CudaDriver.Initialize();
        Cu.Check(DriverNative.cuDeviceGet(out int device, ordinal));
        Cu.Check(DriverNative.cuDevicePrimaryCtxRetain(out _handle, device));
        Device = device;
        Ordinal = ordinal;
        MakeCurrent();
    }

    public int Ordinal { get; }
    /// <summary>The CUdevice.</summary>
    public int Device { get; }
    public nint Handle => _handle != 0 ? _handle : throw new ObjectDisposedException(nameof(CudaContext));

    /// <summary>Makes this context current on the calling thread (<c>cuCtxSetCurrent</c>).</summary>
    public void MakeCurrent() => Cu.Check(DriverNative.cuCtxSetCurrent(Handle));

    /// <summary>Free and total device memory in bytes (<c>cuMemGetInfo_v2</c>).</summary>
    public (long Free, long Total) MemoryInfo()
    {
        MakeCurrent();
        Cu.Check(DriverNative.cuMemGetInfo_v2(out nuint free, out nuint total));
        return ((long)free, (long)total);
    }

    public void Dispose()
    {
        if (_handle == 0) return;
        _handle = 0;
        Cu.Check(DriverNative.cuDevicePrimaryCtxRelease_v2(Device));
        GC.SuppressFinalize(this);
    }

    ~CudaContext()
    {
        if (_handle != 0) LeakCounter.Report($"CudaContext(device {Ordinal})");
    }
}
