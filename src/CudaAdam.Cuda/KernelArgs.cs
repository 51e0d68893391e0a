#pragma warning disable CS1591 // CS1591 backlog (issue 13): 4 public members here have no XML doc yet; document them, then delete this line
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace CudaAdam.Cuda;

/// <summary>
/// Typed kernel arguments without boxing, in the layout <c>cuLaunchKernel</c>'s <c>void** kernelParams</c> expects:
/// each value is stored in an aligned slot of a native block, and <see cref="Pointers"/> lists the slots' addresses.
/// The emulator's launcher reads the same array. Reuse one instance per call site and <see cref="Clear"/> it.
/// </summary>
public sealed unsafe class KernelArgs : IDisposable
{
    private const int Capacity = 4096;
    private const int MaxArgs = 64;
    private byte* _block = (byte*)NativeMemory.AlignedAlloc(Capacity, 16);
    private nint* _pointers = (nint*)NativeMemory.AlignedAlloc(MaxArgs * (nuint)sizeof(nint), 16);
    private int _used;

    public int Count { get; private set; }

    /// <summary>The <c>void**</c> array of argument addresses.</summary>
    public nint Pointers => (nint)_pointers;

    /// <summary>Appends a value argument (int, long, float, a struct, ...).</summary>
    public KernelArgs Add<T>(T value) where T : unmanaged
    {
        int size = sizeof(T), align = Math.Min(size, 16);
        int offset = (_used + align - 1) / align * align;
        if (offset + size > Capacity || Count == MaxArgs)
            throw new InvalidOperationException($"kernel arguments exceed {Capacity} bytes or {MaxArgs} arguments");
        Unsafe.Write(_block + offset, value);
        _pointers[Count++] = (nint)(_block + offset);
        _used = offset + size;
        return this;
    }

    /// <summary>Appends a device pointer argument (<c>T*</c> in the kernel).</summary>
    public KernelArgs Add<T>(DeviceBuffer<T> buffer) where T : unmanaged => Add(buffer.Pointer);

    public KernelArgs Clear()
    {
        _used = 0;
        Count = 0;
        return this;
    }

    public void Dispose()
    {
        if (_block != null) NativeMemory.AlignedFree(_block);
        if (_pointers != null) NativeMemory.AlignedFree(_pointers);
        _block = null;
        _pointers = null;
        GC.SuppressFinalize(this);
    }

    ~KernelArgs() => Dispose();
}
