using CudaAdam.Cuda;
using CudaAdam.Device;

namespace CudaAdam.Diagnostics;

/// <summary>
/// The device side of the diagnostics-enabled fused steps (<c>adam_step_diag</c>, <c>nadam_step_diag</c>,
/// <c>radam_step_diag</c> in <c>kernels/adam.cu</c>, <c>signadam_step_diag</c> in <c>kernels/sign.cu</c>; the record and
/// the loop are <c>kernels/diagnostics.cuh</c>): the histogram edges and the per-tensor stats record
/// (<see cref="DeviceSignDiagnostics.Stride"/> 64-bit slots per entry of the tensor table). Used by
/// <see cref="DeviceBackend"/> (host- and device-resident): zero the record, launch the step kernel with
/// <see cref="Edges"/> and <see cref="Stats"/> as its two extra arguments, read the record back.
/// </summary>
internal sealed class FusedSignDiagnostics : IDisposable
{
    private readonly IDevice _device;
    private readonly DeviceBuffer<float> _edges;
    private DeviceBuffer<ulong>? _stats;
    private int _tensors = -1;

    public FusedSignDiagnostics(IDevice device)
    {
        _device = device;
        _edges = device.Allocate<float>(SignHistogram.EdgeCount);
        device.CopyToDevice<float>(SignHistogram.Edges, _edges);
    }

    /// <summary>The diagnostics-enabled kernel of <paramref name="algorithm"/>, or null when it has none.</summary>
    public static (string Family, string Name)? KernelOf(Algorithm algorithm) => algorithm.Info().DiagnosticsKernel;

    /// <summary>The kernel, or an exception that says which algorithms have one.</summary>
    public static (string Family, string Name) RequireKernelOf(Algorithm algorithm) =>
        KernelOf(algorithm) ?? throw new NotSupportedException(
            $"{algorithm.Name()} has no diagnostics-enabled step: the sign diagnostics need Adam's moments m and v " +
            "(adam, adamw, amsgrad, signadam, nadam, radam); turn Diagnostics off for this optimizer");

    public DeviceBuffer<float> Edges => _edges;

    public DeviceBuffer<ulong> Stats => _stats ?? throw new InvalidOperationException("call Resize before the first launch");

    /// <summary>Makes room for <paramref name="tensors"/> tensor-table entries (reallocates only when the count changes).</summary>
    public void Resize(int tensors)
    {
        if (tensors == _tensors) return;
        _stats?.Dispose();
        _stats = _device.Allocate<ulong>((long)Math.Max(1, tensors) * DeviceSignDiagnostics.Stride);
        _tensors = tensors;
    }

    /// <summary>Zeroes the record (before every diagnostics-enabled launch; a memset, capturable in a CUDA graph).</summary>
    public void Zero() => _device.Zero(Stats);

    /// <summary>The whole record, read back (the caller synchronizes first where the device is asynchronous).</summary>
    public ulong[] Read()
    {
        var host = new ulong[Stats.Length];
        _device.CopyToHost(Stats, host.AsSpan());
        return host;
    }

    public void Dispose()
    {
        _edges.Dispose();
        _stats?.Dispose();
    }
}
