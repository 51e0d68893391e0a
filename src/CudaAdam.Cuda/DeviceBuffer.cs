#pragma warning disable CS1591 // CS1591 backlog (issue 13): 6 public members here have no XML doc yet; document them, then delete this line
using System.Runtime.InteropServices;

namespace CudaAdam.Cuda;

/// <summary>
/// Device memory of <see cref="Length"/> elements of <typeparamref name="T"/>. Copies are explicit, through
/// <see cref="IDevice"/> (no implicit conversions from host arrays). Dispose frees it; a buffer that is garbage
/// collected without Dispose is counted as a leak and never freed from the finalizer (no CUDA call there).
/// </summary>
public sealed class DeviceBuffer<T> : IDisposable where T : unmanaged
{
    private readonly Action<nint>? _free;
    private nint _pointer;

    public DeviceBuffer(IDevice device, nint pointer, long length, Action<nint> free)
    {
        Device = device;
        _pointer = pointer;
        Length = length;
        _free = free;
    }

    public IDevice Device { get; }
    public long Length { get; }
    public long SizeInBytes => Length * Marshal.SizeOf<T>();
    /// <summary>The device address (a CUdeviceptr, or a host address on the emulator).</summary>
    public nint Pointer => _pointer != 0 || Length == 0 ? _pointer : throw new ObjectDisposedException(nameof(DeviceBuffer<T>));

    public void Dispose()
    {
        var p = Interlocked.Exchange(ref _pointer, 0);
        if (p != 0) _free?.Invoke(p);
        GC.SuppressFinalize(this);
    }

    ~DeviceBuffer()
    {
        if (_pointer != 0) LeakCounter.Report($"DeviceBuffer<{typeof(T).Name}>[{Length}]");
    }
}

/// <summary>Counts device resources that were garbage collected without Dispose (finalizers never call into CUDA).</summary>
public static class LeakCounter
{
    private static long _count;

    /// <summary>How many leaks were reported in this process.</summary>
    public static long Count => Interlocked.Read(ref _count);

    internal static void Report(string what)
    {
        Interlocked.Increment(ref _count);
        if (Environment.GetEnvironmentVariable("CUDAADAM_REPORT_LEAKS") == "1")
            Console.Error.WriteLine($"cudaadam: leaked {what} (not disposed); its device memory is freed only when the context is destroyed");
    }
}
