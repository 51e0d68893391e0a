#pragma warning disable CS1591 // CS1591 backlog (issue 13): 8 public members here have no XML doc yet; document them, then delete this line
namespace CudaAdam.Cuda;

/// <summary>Which kind of device runs the kernels.</summary>
public enum DeviceKind
{
    /// <summary>A real GPU through the CUDA driver API; kernels compiled by NVRTC.</summary>
    Cuda,
    /// <summary>The host emulator: the same <c>kernels/*.cu</c> compiled by g++ into <c>libcudaadam_emu.so</c>.</summary>
    Emulator,
}

/// <summary>Grid or block dimensions of a launch.</summary>
public readonly record struct Dim3(uint X, uint Y = 1, uint Z = 1)
{
    public static implicit operator Dim3(uint x) => new(x);
    public ulong Count => (ulong)X * Y * Z;
    public override string ToString() => $"({X},{Y},{Z})";
}

/// <summary>
/// A device that runs <c>kernels/*.cu</c>: the CUDA device or the host emulator. Everything above it (optimizer
/// backends, chunk tables, training) is written against this interface and runs unchanged on either.
/// </summary>
public interface IDevice : IDisposable
{
    DeviceKind Kind { get; }
    /// <summary>For messages and reports, e.g. "NVIDIA H200 (sm_90)" or "host emulator (2 threads)".</summary>
    string Name { get; }

    /// <summary>Allocates <paramref name="length"/> elements of uninitialized device memory.</summary>
    DeviceBuffer<T> Allocate<T>(long length) where T : unmanaged;

    /// <summary>Copies <paramref name="source"/> to <paramref name="destination"/> starting at element <paramref name="offset"/>.</summary>
    void CopyToDevice<T>(ReadOnlySpan<T> source, DeviceBuffer<T> destination, long offset = 0) where T : unmanaged;

    /// <summary>Copies <c>destination.Length</c> elements starting at <paramref name="offset"/> of <paramref name="source"/> to the host.</summary>
    void CopyToHost<T>(DeviceBuffer<T> source, Span<T> destination, long offset = 0) where T : unmanaged;

    /// <summary>Sets every byte of <paramref name="buffer"/> to zero.</summary>
    void Zero<T>(DeviceBuffer<T> buffer) where T : unmanaged;

    /// <summary>The <c>extern "C" __global__</c> function <paramref name="name"/> of <c>kernels/&lt;family&gt;.cu</c>,
    /// compiled (and cached) on first use.</summary>
    Kernel GetKernel(string family, string name);

    /// <summary>Launches <paramref name="kernel"/> on the device's stream; <paramref name="args"/> are copied at the call.</summary>
    void Launch(Kernel kernel, Dim3 grid, Dim3 block, KernelArgs args, int sharedBytes = 0);

    /// <summary>Waits until all launched work has finished; reports a failure of any of it.</summary>
    void Synchronize();
}

/// <summary>A handle to a compiled kernel of one <see cref="IDevice"/>.</summary>
public sealed class Kernel
{
    public Kernel(string family, string name, nint handle, int maxThreadsPerBlock = 0)
    {
        Family = family;
        Name = name;
        Handle = handle;
        MaxThreadsPerBlock = maxThreadsPerBlock;
    }

    public string Family { get; }
    public string Name { get; }
    /// <summary>CUfunction on CUDA; the emulator's launcher entry on the emulator.</summary>
    public nint Handle { get; }
    /// <summary>The most threads per block this kernel launches with (CUDA: <c>CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK</c>,
    /// read when the kernel is loaded); 0 when the device has no per-kernel limit (the emulator).</summary>
    public int MaxThreadsPerBlock { get; }

    public override string ToString() => $"{Family}.cu:{Name}";
}
