#pragma warning disable CS1591 // CS1591 backlog (issue 13): 5 public members here have no XML doc yet; document them, then delete this line
using CudaAdam.Cuda.Interop;

namespace CudaAdam.Cuda.Driver;

/// <summary>A CUDA event for timing (<c>CU_EVENT_DEFAULT</c>: records timestamps).</summary>
public sealed class CudaEvent : IDisposable
{
    private nint _handle;

    public CudaEvent()
    {
        Cu.Check(DriverNative.cuEventCreate(out _handle, 0));
    }

    public nint Handle => _handle != 0 ? _handle : throw new ObjectDisposedException(nameof(CudaEvent));

    /// <summary>Records the event on <paramref name="stream"/>: it completes when the work queued before it does.</summary>
    public void Record(CudaStream stream) => Cu.Check(DriverNative.cuEventRecord(Handle, stream.Handle));

    public void Synchronize() => Cu.Check(DriverNative.cuEventSynchronize(Handle));

    /// <summary>Milliseconds from <paramref name="start"/> to <paramref name="end"/> (resolution about 0.5 us);
    /// both must be recorded and <paramref name="end"/> complete (call <see cref="Synchronize"/> first).</summary>
    public static float ElapsedMilliseconds(CudaEvent start, CudaEvent end)
    {
        Cu.Check(DriverNative.cuEventElapsedTime(out float ms, start.Handle, end.Handle));
        return ms;
    }

    public void Dispose()
    {
        var h = _handle;
        if (h == 0) return;
        _handle = 0;
        Cu.Check(DriverNative.cuEventDestroy_v2(h));
        GC.SuppressFinalize(this);
    }

    ~CudaEvent()
    {
        if (_handle != 0) LeakCounter.Report("CudaEvent");
    }
}
