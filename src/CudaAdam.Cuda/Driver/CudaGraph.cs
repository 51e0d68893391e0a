#pragma warning disable CS1591 // CS1591 backlog (issue 13): 3 public members here have no XML doc yet; document them, then delete this line
using CudaAdam.Cuda.Interop;

namespace CudaAdam.Cuda.Driver;

/// <summary>
/// An instantiated CUDA graph (<c>CUgraphExec</c>) made by stream capture: the launches queued on a stream between
/// <c>cuStreamBeginCapture_v2</c> and <c>cuStreamEndCapture</c>, replayed with one <c>cuGraphLaunch</c>. Kernel
/// arguments are frozen at capture: pointers and scalars replay as captured (a step counter that must change per
/// replay has to live in device memory).
/// </summary>
public sealed class CudaGraph : IDisposable
{
    private nint _exec;

    private CudaGraph(nint exec) => _exec = exec;

    public nint Handle => _exec != 0 ? _exec : throw new ObjectDisposedException(nameof(CudaGraph));

    /// <summary>Captures what <paramref name="body"/> queues on <paramref name="stream"/> (thread-local capture mode:
    /// other threads may use CUDA meanwhile) and instantiates it. If <paramref name="body"/> throws, the capture is
    /// ended and discarded so the stream stays usable.</summary>
    public static CudaGraph Capture(CudaStream stream, Action body)
    {
        Cu.Check(DriverNative.cuStreamBeginCapture_v2(stream.Handle, StreamCaptureMode.ThreadLocal));
        nint graph;
        try
        {
            body();
        }
        catch
        {
            if (DriverNative.cuStreamEndCapture(stream.Handle, out var discarded) == CudaResult.Success && discarded != 0)
                DriverNative.cuGraphDestroy(discarded);
            throw;
        }
        Cu.Check(DriverNative.cuStreamEndCapture(stream.Handle, out graph));
        try
        {
            Cu.Check(DriverNative.cuGraphInstantiateWithFlags(out nint exec, graph, 0));
            return new CudaGraph(exec);
        }
        finally
        {
            Cu.Check(DriverNative.cuGraphDestroy(graph));
        }
    }

    /// <summary>Queues one replay of the graph on <paramref name="stream"/>.</summary>
    public void Launch(CudaStream stream) => Cu.Check(DriverNative.cuGraphLaunch(Handle, stream.Handle));

    public void Dispose()
    {
        var h = _exec;
        if (h == 0) return;
        _exec = 0;
        Cu.Check(DriverNative.cuGraphExecDestroy(h));
        GC.SuppressFinalize(this);
    }

    ~CudaGraph()
    {
        if (_exec != 0) LeakCounter.Report("CudaGraph");
    }
}
