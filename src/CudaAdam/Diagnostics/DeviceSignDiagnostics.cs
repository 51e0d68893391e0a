using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using CudaAdam.Cuda;
using CudaAdam.Device;

namespace CudaAdam.Diagnostics;

/// <summary>The C# twin of <c>struct CaDiagTensor</c> in <c>kernels/diagnostics.cu</c> (56 bytes).</summary>
[StructLayout(LayoutKind.Sequential, Size = 56)]
internal struct CaDiagTensor
{
    public nint PPrev, P, G, M, V;
    public long N;
    public float Eps;
    public uint Flags;

    public const uint Maximize = 1;
}

/// <summary>
/// The sign-decomposition diagnostics computed by <c>kernels/diagnostics.cu:sign_diagnostics</c> on an
/// <see cref="IDevice"/> (GPU or host emulator): one launch over all tensors, one thread block per chunk, block
/// reductions (warp shuffles, shared memory) and one set of atomics per block into a per-tensor record, which this
/// class reads back and turns into the same <see cref="SignDiagnosticsReport"/> as the reference
/// (<see cref="SignDiagnostics.Compute"/>). Max, counts and the histogram equal the reference exactly; the double sums
/// differ by summation order only.
/// </summary>
public sealed class DeviceSignDiagnostics : IDisposable
{
    /// <summary>Slots per tensor in the stats record (<c>CA_DIAG_STRIDE</c>) and their indices.</summary>
    internal const int Stride = 96, SumU = 0, SumAbsG = 1, SumG2 = 2, MaxU = 3, MaxUpdate = 4, Agree = 5, Count = 6, Hist = 8;

    private readonly IDevice _device;
    private readonly int _blockSize;
    private readonly long _chunkSize;
    private readonly KernelArgs _args = new();
    private readonly DeviceBuffer<float> _edges;
    private bool _disposed;

    /// <param name="device">Where the kernel runs; not owned.</param>
    /// <param name="blockSize">Threads per block: a multiple of 32 in [32, 1024].</param>
    /// <param name="chunkSize">Elements per block.</param>
    public DeviceSignDiagnostics(IDevice device, int blockSize = 256, long chunkSize = 32768)
    {
        _device = device ?? throw new ArgumentNullException(nameof(device));
        if (blockSize is < 32 or > 1024 || blockSize % 32 != 0)
            throw new ArgumentOutOfRangeException(nameof(blockSize), blockSize, "the block size must be a multiple of 32 in [32, 1024]");
        ArgumentOutOfRangeException.ThrowIfLessThan(chunkSize, 1);
        if (Unsafe.SizeOf<CaDiagTensor>() != 56) throw new InvalidOperationException("CaDiagTensor must be 56 bytes (kernels/diagnostics.cu)");
        _blockSize = blockSize;
        _chunkSize = chunkSize;
        _edges = _device.Allocate<float>(SignHistogram.EdgeCount);
        _device.CopyToDevice<float>(SignHistogram.Edges, _edges);
    }

    /// <summary>Uploads every array of <paramref name="inputs"/> and computes the report on the device.</summary>
    public SignDiagnosticsReport Compute(IReadOnlyList<SignTensorInput> inputs) => Compute(inputs, new DeviceTensorView?[inputs.Count]);

    /// <summary>
    /// As <see cref="Compute(IReadOnlyList{SignTensorInput})"/>, but a tensor with a view reads x, g, m, v where the
    /// view points (a <see cref="DeviceBackend"/>'s copies after its step); only x_{t−1} is uploaded for it.
    /// </summary>
    internal SignDiagnosticsReport Compute(IReadOnlyList<SignTensorInput> inputs, IReadOnlyList<DeviceTensorView?> views)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentNullException.ThrowIfNull(inputs);
        var owned = new List<DeviceBuffer<float>>();
        try
        {
            var table = new CaDiagTensor[inputs.Count];
            var lengths = new long[inputs.Count];
            for (int k = 0; k < inputs.Count; k++)
            {
                var t = inputs[k];
                t.Check();
                int n = t.Params.Length;
                lengths[k] = n;
                table[k] = new CaDiagTensor { N = n, Eps = t.Eps, Flags = t.Maximize ? CaDiagTensor.Maximize : 0 };
                if (n == 0) continue;
                table[k].PPrev = Upload(t.PreviousParams);
                if (views[k] is { } view)
                {
                    if (view.Length != n || view.M == 0 || view.V == 0)
                        throw new ArgumentException($"tensor '{t.Name}': the device view has {view.Length} elements (m {(view.M == 0 ? "missing" : "present")}, " +
                                                    $"v {(view.V == 0 ? "missing" : "present")}); the tensor has {n}");
                    (table[k].P, table[k].G, table[k].M, table[k].V) = (view.P, view.G, view.M, view.V);
                }
                else
                {
                    (table[k].P, table[k].G, table[k].M, table[k].V) = (Upload(t.Params), Upload(t.Grad), Upload(t.M), Upload(t.V));
                }
            }
            var chunks = ChunkTable.Build(lengths, _chunkSize);
            var stats = new ulong[Math.Max(1, inputs.Count) * Stride];
            if (chunks.Length > 0)
            {
                using var tensorBuffer = _device.Allocate<CaDiagTensor>(table.Length);
                using var chunkBuffer = _device.Allocate<CaChunk>(chunks.Length);
                using var statsBuffer = _device.Allocate<ulong>(stats.Length);
                _device.CopyToDevice<CaDiagTensor>(table, tensorBuffer);
                _device.CopyToDevice<CaChunk>(chunks, chunkBuffer);
                _device.Zero(statsBuffer);
                var kernel = _device.GetKernel("diagnostics", "sign_diagnostics");
                _args.Clear().Add(tensorBuffer).Add(chunkBuffer).Add(_edges).Add(statsBuffer);
                _device.Launch(kernel, (uint)chunks.Length, (uint)_blockSize, _args);
                _device.Synchronize();
                _device.CopyToHost<ulong>(statsBuffer, stats);
            }
            var acc = new SignAccumulator[inputs.Count];
            for (int k = 0; k < inputs.Count; k++)
                acc[k] = Decode(stats, k, lengths[k], inputs[k].Name, "sign_diagnostics");
            return SignAccumulator.Report(inputs, acc);
        }
        finally
        {
            foreach (var b in owned) b.Dispose();
        }

        nint Upload(float[] host)
        {
            var b = _device.Allocate<float>(host.Length);
            owned.Add(b);
            _device.CopyToDevice<float>(host, b);
            return b.Pointer;
        }
    }

    /// <summary>
    /// Tensor <paramref name="tensor"/>'s record (<see cref="Stride"/> slots) of a stats buffer written by
    /// <c>sign_diagnostics</c> or a diagnostics-enabled step (<c>kernels/diagnostics.cuh</c>), checked: it must have
    /// visited exactly <paramref name="length"/> elements.
    /// </summary>
    internal static SignAccumulator Decode(ReadOnlySpan<ulong> stats, int tensor, long length, string name, string kernel)
    {
        var s = stats.Slice(tensor * Stride, Stride);
        var a = new SignAccumulator
        {
            SumU = BitConverter.UInt64BitsToDouble(s[SumU]),
            SumAbsG = BitConverter.UInt64BitsToDouble(s[SumAbsG]),
            SumG2 = BitConverter.UInt64BitsToDouble(s[SumG2]),
            MaxUBits = checked((uint)s[MaxU]),
            MaxUpdateBits = checked((uint)s[MaxUpdate]),
            Agreements = checked((long)s[Agree]),
            Count = checked((long)s[Count]),
        };
        for (int b = 0; b < SignHistogram.BinCount; b++) a.Histogram[b] = checked((long)s[Hist + b]);
        if (a.Count != length || a.Histogram.Sum() != length)
            throw new InvalidOperationException($"{kernel} counted {a.Count} elements (histogram: {a.Histogram.Sum()}) of the {length} " +
                                                $"of '{name}': a kernel or chunk-table bug");
        return a;
    }

    /// <summary>Frees the device buffers of the statistics.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _edges.Dispose();
        _args.Dispose();
    }
}
