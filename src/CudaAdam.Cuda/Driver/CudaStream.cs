#pragma warning disable CS1591 // CS1591 backlog (issue 13): 4 public members here have no XML doc yet; document them, then delete this line
using CudaAdam.Cuda.Interop;

namespace CudaAdam.Cuda.Driver;

/// <summary>A non-blocking stream (<c>CU_STREAM_NON_BLOCKING</c>: no implicit ordering with the legacy default
/// stream) of the context current at creation.</summary>
public sealed class CudaStream : IDisposable
{
    private const uint NonBlocking = 1;
    private nint _handle;

    public CudaStream()
    {
        Cu.Check(DriverNative.cuStreamCreate(out _handle, NonBlocking));
    }

    public nint Handle => _handle != 0 ? _handle : throw new ObjectDisposedException(nameof(CudaStream));

    /// <summary>Waits for all work on the stream; an asynchronous failure of earlier work surfaces here.</summary>
    public void Synchronize() => Cu.Check(DriverNative.cuStreamSynchronize(Handle));

    public void Dispose()
    {
        var h = _handle;
        if (h == 0) return;
        _handle = 0;
        Cu.Check(DriverNative.cuStreamDestroy_v2(h));
        GC.SuppressFinalize(this);
    }

    ~CudaStream()
    {
        if (_handle != 0) LeakCounter.Report("CudaStream");
    }
}
