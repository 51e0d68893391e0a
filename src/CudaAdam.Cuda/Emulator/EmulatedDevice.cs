#pragma warning disable CS1591 // CS1591 backlog (issue 13): 9 public members here have no XML doc yet; document them, then delete this line
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace CudaAdam.Cuda.Emulator;

/// <summary>
/// The host emulator as an <see cref="IDevice"/>: runs the very same <c>kernels/*.cu</c>, compiled by g++ into
/// <c>libcudaadam_emu.so</c> (native/emu), on the CPU. "Device" memory is host memory from
/// <see cref="NativeMemory.AlignedAlloc"/>, 256-byte aligned like cudaMalloc; copies are memcpy. Launches run to
/// completion before <see cref="Launch"/> returns (one stream, synchronous), so <see cref="Synchronize"/> has
/// nothing to wait for. Blocks run in parallel on a pool of OS threads (CUDAADAM_EMU_THREADS, default: the number
/// of cores); the threads of a block run as fibers (see native/emu/emu_runtime.cpp).
/// Numerics: g++ -ffp-contract=off gives the bits of NVRTC --fmad=false for IEEE add/mul/div/sqrt (DESIGN.md).
/// </summary>
public sealed unsafe class EmulatedDevice : IDevice
{
    /// <summary>Alignment of every allocation, as cudaMalloc guarantees.</summary>
    public const int Alignment = 256;
    /// <summary>Most threads per block, as on every CUDA GPU.</summary>
    public const int MaxThreadsPerBlock = 1024;

    private readonly Dictionary<(string Family, string Name), Kernel> _kernels = new();
    private readonly HashSet<nint> _kernelHandles = new();
    private long _liveBytes;
    private long _liveBuffers;
    private bool _disposed;

    /// <summary>Loads the emulator library.</summary>
    /// <param name="threads">OS threads that run blocks; 0 keeps the current setting (CUDAADAM_EMU_THREADS or the
    /// number of cores). The setting is process-wide.</param>
    /// <exception cref="EmulatorNotAvailableException">The library is missing: run ./build.sh setup (needs g++).</exception>
    public EmulatedDevice(int threads = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(threads);
        EmulatorLibrary.Load();
        if (threads > 0) EmulatorApi.SetThreads(threads);
    }

    /// <summary>True when the emulator library loads; otherwise false, and <paramref name="reason"/> says why and
    /// how to build it. For tests (Assert.Ignore(reason)) and <c>cudaadam info</c>.</summary>
    public static bool IsAvailable(out string reason) => EmulatorLibrary.TryLoad(out reason);

    public DeviceKind Kind => DeviceKind.Emulator;
    public string Name => $"host emulator ({Threads} threads)";

    /// <summary>OS threads that run blocks (process-wide).</summary>
    public int Threads => EmulatorApi.GetThreads();

    /// <summary>Every kernel compiled into the library, as "family.cu:name".</summary>
    public static IReadOnlyList<string> KernelNames =>
        EmulatorApi.ListKernels().Split(", ", StringSplitOptions.RemoveEmptyEntries).Where(s => !s.StartsWith('(')).ToList();

    /// <summary>Bytes and buffers allocated and not yet disposed.</summary>
    public long LiveBytes => Interlocked.Read(ref _liveBytes);
    public long LiveBuffers => Interlocked.Read(ref _liveBuffers);

    public DeviceBuffer<T> Allocate<T>(long length) where T : unmanaged
    {
        ThrowIfDisposed();
        if (length < 0) throw new ArgumentOutOfRangeException(nameof(length), length, $"Allocate<{typeof(T).Name}>: the length must be >= 0");
        if (length > long.MaxValue / sizeof(T))
            throw new ArgumentOutOfRangeException(nameof(length), length, $"Allocate<{typeof(T).Name}>: {length} elements overflow the byte count");
        if (length == 0) return new DeviceBuffer<T>(this, 0, 0, static _ => { });
        long bytes = length * sizeof(T);
        void* p;
        try
        {
            p = NativeMemory.AlignedAlloc((nuint)bytes, Alignment);
        }
        catch (OutOfMemoryException)
        {
            throw new OutOfMemoryException($"Allocate<{typeof(T).Name}>({length}): the host emulator could not allocate {bytes} bytes");
        }
        Interlocked.Add(ref _liveBytes, bytes);
        Interlocked.Increment(ref _liveBuffers);
        return new DeviceBuffer<T>(this, (nint)p, length, q =>
        {
            NativeMemory.AlignedFree((void*)q);
            Interlocked.Add(ref _liveBytes, -bytes);
            Interlocked.Decrement(ref _liveBuffers);
        });
    }

    public void CopyToDevice<T>(ReadOnlySpan<T> source, DeviceBuffer<T> destination, long offset = 0) where T : unmanaged
    {
        CheckRange(nameof(CopyToDevice), destination, offset, source.Length);
        if (source.Length == 0) return;
        source.CopyTo(new Span<T>((T*)destination.Pointer + offset, source.Length));
    }

    public void CopyToHost<T>(DeviceBuffer<T> source, Span<T> destination, long offset = 0) where T : unmanaged
    {
        CheckRange(nameof(CopyToHost), source, offset, destination.Length);
        if (destination.Length == 0) return;
        new ReadOnlySpan<T>((T*)source.Pointer + offset, destination.Length).CopyTo(destination);
    }

    public void Zero<T>(DeviceBuffer<T> buffer) where T : unmanaged
    {
        CheckOwned(nameof(Zero), buffer);
        if (buffer.Length == 0) return;
        NativeMemory.Clear((void*)buffer.Pointer, (nuint)buffer.SizeInBytes);
    }

    public Kernel GetKernel(string family, string name)
    {
        ThrowIfDisposed();
        ArgumentException.ThrowIfNullOrWhiteSpace(family);
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        lock (_kernels)
        {
            if (_kernels.TryGetValue((family, name), out var known)) return known;
            var kernel = new Kernel(family, name, EmulatorApi.FindKernel(family, name));
            _kernels[(family, name)] = kernel;
            _kernelHandles.Add(kernel.Handle);
            return kernel;
        }
    }

    /// <summary>Number of parameters of <paramref name="kernel"/> (deduced from its C signature).</summary>
    public int ParameterCount(Kernel kernel)
    {
        CheckKernel("ParameterCount", kernel);
        return EmulatorApi.KernelArity(kernel.Handle);
    }

    public void Launch(Kernel kernel, Dim3 grid, Dim3 block, KernelArgs args, int sharedBytes = 0)
    {
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(kernel);
        ArgumentNullException.ThrowIfNull(args);
        string call = $"Launch({kernel}, grid ({grid.X},{grid.Y},{grid.Z}), block ({block.X},{block.Y},{block.Z}), shared {sharedBytes} B)";
        CheckKernel(call, kernel);
        if (grid.X == 0 || grid.Y == 0 || grid.Z == 0)
            throw new ArgumentException($"{call}: every grid dimension must be at least 1", nameof(grid));
        if (block.X == 0 || block.Y == 0 || block.Z == 0)
            throw new ArgumentException($"{call}: every block dimension must be at least 1", nameof(block));
        if (block.Count > MaxThreadsPerBlock)
            throw new ArgumentException($"{call}: a block has at most {MaxThreadsPerBlock} threads, this one {block.Count}", nameof(block));
        KernelLimits.CheckLaunch(kernel.ToString(), grid, block, KernelLimits.Standard, 0); // per-axis limits, as a GPU
        if (sharedBytes < 0)
            throw new ArgumentOutOfRangeException(nameof(sharedBytes), sharedBytes, $"{call}: dynamic shared memory must be >= 0 bytes");
        EmulatorApi.Launch(call, kernel.Handle, grid, block, (uint)sharedBytes, args.Pointers, args.Count);
    }

    /// <summary>Launches are synchronous on the emulator: nothing is pending, and errors were thrown by <see cref="Launch"/>.</summary>
    public void Synchronize() => ThrowIfDisposed();

    /// <summary>Marks the device unusable. Buffers still alive stay valid host memory until they are disposed.</summary>
    public void Dispose() => _disposed = true;

    private void ThrowIfDisposed([CallerMemberName] string call = "")
    {
        if (_disposed) throw new ObjectDisposedException(nameof(EmulatedDevice), $"{call} on a disposed EmulatedDevice");
    }

    private void CheckKernel(string call, Kernel kernel)
    {
        lock (_kernels)
            if (!_kernelHandles.Contains(kernel.Handle))
                throw new ArgumentException($"{call}: kernel {kernel} was not obtained from this device's GetKernel", nameof(kernel));
    }

    private void CheckOwned<T>(string call, DeviceBuffer<T> buffer) where T : unmanaged
    {
        ThrowIfDisposed(call);
        ArgumentNullException.ThrowIfNull(buffer);
        if (!ReferenceEquals(buffer.Device, this))
            throw new ArgumentException($"{call}: the buffer belongs to another device ({buffer.Device.Name})", nameof(buffer));
    }

    private void CheckRange<T>(string call, DeviceBuffer<T> buffer, long offset, int count) where T : unmanaged
    {
        CheckOwned(call, buffer);
        if (offset < 0 || offset > buffer.Length || count > buffer.Length - offset)
            throw new ArgumentOutOfRangeException(nameof(offset),
                $"{call}<{typeof(T).Name}>: {count} elements at offset {offset} do not fit in a buffer of {buffer.Length}");
    }
}
