#pragma warning disable CS1591 // CS1591 backlog (issue 13): 12 public members here have no XML doc yet; document them, then delete this line
using System.Runtime.CompilerServices;
using CudaAdam.Cuda.Blas;
using CudaAdam.Cuda.Compilation;
using CudaAdam.Cuda.Driver;
using CudaAdam.Cuda.Interop;

namespace CudaAdam.Cuda;

/// <summary>
/// A CUDA GPU as an <see cref="IDevice"/>: the device's primary context (made current on the calling thread by every
/// method, so any thread may use it), one non-blocking stream on which all copies, launches, events, graphs and
/// cuBLAS calls are queued, kernels compiled by NVRTC through a <see cref="KernelCache"/> and loaded once per context.
/// Host-device copies are synchronous with respect to the caller (the span may be reused when they return).
/// Not meant for concurrent use from several threads at once: calls are serialized by a lock.
/// </summary>
public sealed class CudaDevice : IDevice
{
    private readonly object _gate = new();
    private readonly KernelCache _cache;
    private readonly Dictionary<string, CudaModule> _modules = new(StringComparer.Ordinal);
    private readonly Dictionary<(string File, string Name), (KernelSource Source, Kernel Kernel)> _kernels = new();
    private CublasHandle? _blas;
    private bool _disposed;
    private long _liveBuffers;

    private CudaDevice(int ordinal, KernelCache cache, CompileTarget? target)
    {
        Properties = CudaDriver.GetProperties(ordinal);
        // Before the context is retained: a missing NVRTC or an unsupported arch then leaks nothing.
        Target = target ?? CompileTarget.ForDevice(Properties, NvrtcCompiler.SupportedArchs);
        Context = new CudaContext(ordinal);
        try
        {
            Stream = new CudaStream();
        }
        catch
        {
            Context.Dispose();
            throw;
        }
        _cache = cache;
    }

    /// <summary>Opens device <paramref name="ordinal"/>. <paramref name="target"/> overrides the arch chosen from the
    /// device and NVRTC (<see cref="CompileTarget.ForDevice"/>); <paramref name="cache"/> defaults to
    /// <see cref="KernelCache.Shared"/>.</summary>
    /// <exception cref="NativeLibraryNotFoundException">libcuda.so.1 (or NVRTC) cannot be loaded.</exception>
    /// <exception cref="CudaException">No such device, or the driver fails.</exception>
    public static CudaDevice Open(int ordinal = 0, KernelCache? cache = null, CompileTarget? target = null) =>
        new(ordinal, cache ?? KernelCache.Shared, target);

    public DeviceKind Kind => DeviceKind.Cuda;
    public string Name => $"{Properties.Name} ({Properties.Arch})";
    public DeviceProperties Properties { get; }
    /// <summary>The arch kernels are compiled for.</summary>
    public CompileTarget Target { get; }
    public CudaContext Context { get; }
    public CudaStream Stream { get; }
    public KernelCache Cache => _cache;
    /// <summary>Buffers allocated and not yet disposed.</summary>
    public long LiveBuffers => Interlocked.Read(ref _liveBuffers);

    /// <summary>The cuBLAS handle of this device, on <see cref="Stream"/>, pointer mode host; created on first use.</summary>
    public CublasHandle Blas
    {
        get
        {
            lock (_gate)
            {
                Enter();
                return _blas ??= new CublasHandle(Context, Stream);
            }
        }
    }

    public DeviceBuffer<T> Allocate<T>(long length) where T : unmanaged
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        long bytes = checked(length * Unsafe.SizeOf<T>());
        lock (_gate)
        {
            Enter();
            if (bytes == 0) return new DeviceBuffer<T>(this, 0, 0, _ => { });
            var r = DriverNative.cuMemAlloc_v2(out ulong pointer, (nuint)bytes);
            if (r == CudaResult.OutOfMemory)
            {
                var (free, total) = Context.MemoryInfo();
                throw Cu.Error(r, $"cuMemAlloc_v2({bytes} bytes for {length} x {typeof(T).Name}; {free >> 20} MiB free of {total >> 20} MiB)");
            }
            Cu.Check(r, $"cuMemAlloc_v2({bytes} bytes)");
            Interlocked.Increment(ref _liveBuffers);
            return new DeviceBuffer<T>(this, (nint)pointer, length, Free);
        }
    }

    private void Free(nint pointer)
    {
        lock (_gate)
        {
            Interlocked.Decrement(ref _liveBuffers);
            if (_disposed) return; // the context's memory went with it
            Enter();
            Cu.Check(DriverNative.cuMemFree_v2((ulong)pointer));
        }
    }

    public unsafe void CopyToDevice<T>(ReadOnlySpan<T> source, DeviceBuffer<T> destination, long offset = 0) where T : unmanaged
    {
        CheckRange(destination, offset, source.Length, "destination");
        if (source.Length == 0) return;
        lock (_gate)
        {
            Enter();
            fixed (T* p = source)
            {
                Cu.Check(DriverNative.cuMemcpyHtoDAsync_v2(Address(destination, offset), p, (nuint)((long)source.Length * sizeof(T)), Stream.Handle));
                Stream.Synchronize();
            }
        }
    }

    public unsafe void CopyToHost<T>(DeviceBuffer<T> source, Span<T> destination, long offset = 0) where T : unmanaged
    {
        CheckRange(source, offset, destination.Length, "source");
        if (destination.Length == 0) return;
        lock (_gate)
        {
            Enter();
            fixed (T* p = destination)
            {
                Cu.Check(DriverNative.cuMemcpyDtoHAsync_v2(p, Address(source, offset), (nuint)((long)destination.Length * sizeof(T)), Stream.Handle));
                Stream.Synchronize();
            }
        }
    }

    /// <summary>Queues a device-to-device copy of <paramref name="source"/> into <paramref name="destination"/> (same length).</summary>
    public void Copy<T>(DeviceBuffer<T> source, DeviceBuffer<T> destination) where T : unmanaged
    {
        if (source.Length != destination.Length)
            throw new ArgumentException($"device copy of {source.Length} elements into a buffer of {destination.Length}");
        if (source.Length == 0) return;
        lock (_gate)
        {
            Enter();
            Cu.Check(DriverNative.cuMemcpyDtoDAsync_v2((ulong)destination.Pointer, (ulong)source.Pointer, (nuint)source.SizeInBytes, Stream.Handle));
        }
    }

    /// <summary>Queues <c>cuMemsetD8Async</c> of zero over the buffer.</summary>
    public void Zero<T>(DeviceBuffer<T> buffer) where T : unmanaged
    {
        CheckOwned(buffer);
        if (buffer.Length == 0) return;
        lock (_gate)
        {
            Enter();
            Cu.Check(DriverNative.cuMemsetD8Async((ulong)buffer.Pointer, 0, (nuint)buffer.SizeInBytes, Stream.Handle));
        }
    }

    public Kernel GetKernel(string family, string name) => GetKernel(KernelSources.ForFamily(family), name);

    /// <summary>The kernel <paramref name="name"/> of any source (tests, probes), compiled through the cache.</summary>
    public Kernel GetKernel(KernelSource source, string name)
    {
        lock (_gate)
        {
            Enter();
            if (_kernels.TryGetValue((source.FileName, name), out var known) && SameSource(known.Source, source)) return known.Kernel;
            var image = _cache.GetOrCompile(source, Target);
            if (!_modules.TryGetValue(image.Key, out var module))
            {
                module = CudaModule.Load(image.Image, $"{source.FileName} ({image.Arch} {(image.IsCubin ? "cubin" : "PTX")})");
                _modules[image.Key] = module;
            }
            var function = module.GetFunction(name);
            const int maxThreadsPerBlock = 0; // CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK
            Cu.Check(DriverNative.cuFuncGetAttribute(out int maxThreads, maxThreadsPerBlock, function),
                $"cuFuncGetAttribute({source.FileName}:{name}, MAX_THREADS_PER_BLOCK)");
            var kernel = new Kernel(Path.GetFileNameWithoutExtension(source.FileName), name, function, maxThreads);
            _kernels[(source.FileName, name)] = (source, kernel);
            return kernel;
        }
    }

    public unsafe void Launch(Kernel kernel, Dim3 grid, Dim3 block, KernelArgs args, int sharedBytes = 0)
    {
        KernelLimits.CheckLaunch(kernel.ToString(), grid, block, Properties.Limits, kernel.MaxThreadsPerBlock);
        ArgumentOutOfRangeException.ThrowIfNegative(sharedBytes);
        if (sharedBytes > Properties.MaxSharedMemoryPerBlockOptin)
            throw new ArgumentException($"launch of {kernel}: {sharedBytes} bytes of dynamic shared memory, the device allows {Properties.MaxSharedMemoryPerBlockOptin}");
        lock (_gate)
        {
            Enter();
            if (sharedBytes > Properties.MaxSharedMemoryPerBlock)
            {
                const int maxDynamicSharedSizeBytes = 8; // CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES
                Cu.Check(DriverNative.cuFuncSetAttribute(kernel.Handle, maxDynamicSharedSizeBytes, sharedBytes),
                    $"cuFuncSetAttribute({kernel}, MAX_DYNAMIC_SHARED_SIZE_BYTES, {sharedBytes})");
            }
            var r = DriverNative.cuLaunchKernel(kernel.Handle, grid.X, grid.Y, grid.Z, block.X, block.Y, block.Z,
                (uint)sharedBytes, Stream.Handle, (void**)args.Pointers, null);
            Cu.Check(r, $"cuLaunchKernel({kernel}, grid {grid}, block {block}, {args.Count} args, {sharedBytes} B shared)");
        }
    }

    public void Synchronize()
    {
        lock (_gate)
        {
            Enter();
            Stream.Synchronize();
        }
    }

    /// <summary>A new timing event of this device's context.</summary>
    public CudaEvent CreateEvent()
    {
        lock (_gate)
        {
            Enter();
            return new CudaEvent();
        }
    }

    /// <summary>Records <paramref name="evt"/> on this device's stream.</summary>
    public void Record(CudaEvent evt)
    {
        lock (_gate)
        {
            Enter();
            evt.Record(Stream);
        }
    }

    /// <summary>Captures the launches <paramref name="body"/> makes on this device into a CUDA graph. Only queued
    /// work may happen in <paramref name="body"/>: no host copies (they synchronize) and no allocation.</summary>
    public CudaGraph CaptureGraph(Action body)
    {
        Monitor.Enter(_gate);
        try
        {
            Enter();
            return CudaGraph.Capture(Stream, body); // body re-enters the (reentrant) lock on this thread
        }
        finally
        {
            Monitor.Exit(_gate);
        }
    }

    /// <summary>Queues one replay of <paramref name="graph"/> on this device's stream.</summary>
    public void Launch(CudaGraph graph)
    {
        lock (_gate)
        {
            Enter();
            graph.Launch(Stream);
        }
    }

    /// <summary>Waits for queued work, frees the modules, cuBLAS handle and stream, and releases the primary context.
    /// Every step runs even if an earlier one fails (after a sticky error such as an illegal address every call
    /// fails); the first failure is rethrown at the end. Buffers still alive are freed with the context.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed) return;
            _disposed = true;
            Exception? first = null;
            void Try(Action step)
            {
                try
                {
                    step();
                }
                catch (Exception e) when (e is CudaException or CublasException)
                {
                    first ??= e;
                }
            }

            Try(Context.MakeCurrent);
            Try(Stream.Synchronize);
            if (_blas is not null) Try(_blas.Dispose);
            foreach (var m in _modules.Values) Try(m.Dispose);
            _modules.Clear();
            _kernels.Clear();
            Try(Stream.Dispose);
            Try(Context.Dispose);
            if (first is not null) throw first;
        }
    }

    private static bool SameSource(KernelSource a, KernelSource b) =>
        ReferenceEquals(a, b) || (a.Text == b.Text && (ReferenceEquals(a.Headers, b.Headers) ||
            (a.Headers.Count == b.Headers.Count && a.Headers.All(h => b.Headers.TryGetValue(h.Key, out var t) && t == h.Value))));

    private void Enter()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        Context.MakeCurrent();
    }

    private void CheckOwned<T>(DeviceBuffer<T> buffer) where T : unmanaged
    {
        if (!ReferenceEquals(buffer.Device, this))
            throw new ArgumentException($"the buffer belongs to {buffer.Device.Name}, not to {Name}");
    }

    private void CheckRange<T>(DeviceBuffer<T> buffer, long offset, int count, string what) where T : unmanaged
    {
        CheckOwned(buffer);
        if (offset < 0 || offset + count > buffer.Length)
            throw new ArgumentOutOfRangeException(nameof(offset),
                $"copy of {count} elements at offset {offset} does not fit the {what} buffer of {buffer.Length} elements");
    }

    private static unsafe ulong Address<T>(DeviceBuffer<T> buffer, long offset) where T : unmanaged =>
        (ulong)buffer.Pointer + (ulong)(offset * sizeof(T));
}
