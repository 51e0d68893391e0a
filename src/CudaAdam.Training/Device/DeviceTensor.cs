#pragma warning disable CS1591 // CS1591 backlog (issue 13): 6 public members here have no XML doc yet; document them, then delete this line
using CudaAdam.Cuda;

namespace CudaAdam.Training.Device;

/// <summary>
/// A row-major float32 matrix [rows, cols] in device memory: a slice of a <see cref="DeviceBuffer{T}"/> starting at
/// element <see cref="Offset"/>, contiguous (row stride = cols). Not owning: the buffer belongs to whoever made it
/// (a layer's scratch, the optimizer's parameter or gradient arena). The device twin of <see cref="Tensors.Tensor"/>.
/// </summary>
public sealed class DeviceTensor
{
    /// <exception cref="ArgumentException">The slice does not fit in <paramref name="buffer"/>, or a size is negative.</exception>
    public DeviceTensor(DeviceBuffer<float> buffer, long offset, int rows, int cols)
    {
        Buffer = buffer ?? throw new ArgumentNullException(nameof(buffer));
        if (offset < 0 || rows < 0 || cols < 0)
            throw new ArgumentException($"device tensor: negative offset {offset} or shape [{rows}, {cols}]");
        if (offset + (long)rows * cols > buffer.Length)
            throw new ArgumentException(
                $"device tensor [{rows}, {cols}] at element {offset} runs past its buffer of {buffer.Length} elements");
        Offset = offset;
        Rows = rows;
        Cols = cols;
    }

    public DeviceBuffer<float> Buffer { get; }
    /// <summary>Index of element [0, 0] in <see cref="Buffer"/>.</summary>
    public long Offset { get; }
    public int Rows { get; }
    public int Cols { get; }
    public long Length => (long)Rows * Cols;
    public IDevice Device => Buffer.Device;
    /// <summary>The device address of element [0, 0].</summary>
    public nint Pointer => Buffer.Pointer + (nint)(Offset * sizeof(float));

    /// <summary>A host copy of the values (tests, debugging; synchronizes).</summary>
    public float[] ToHost()
    {
        var a = new float[Length];
        if (a.Length > 0) Device.CopyToHost(Buffer, a.AsSpan(), Offset);
        return a;
    }

    /// <summary>Copies <paramref name="values"/> (row-major, <see cref="Length"/> elements) into this slice.</summary>
    public void Upload(ReadOnlySpan<float> values)
    {
        if (values.Length != Length)
            throw new ArgumentException($"device tensor [{Rows}, {Cols}] holds {Length} elements, got {values.Length}");
        if (values.Length > 0) Device.CopyToDevice(values, Buffer, Offset);
    }

    /// <summary>Throws unless this is [<paramref name="rows"/> (any when −1), <paramref name="cols"/>].</summary>
    public void CheckMatrix(int rows, int cols, string what)
    {
        if ((rows >= 0 && Rows != rows) || Cols != cols)
            throw new ArgumentException($"{what}: expected a [{(rows >= 0 ? rows.ToString() : "batch")}, {cols}] device tensor, got [{Rows}, {Cols}]");
    }

    public override string ToString() => $"DeviceTensor[{Rows}, {Cols}]";
}

/// <summary>A layer's reusable output buffer on the device: grows to the largest batch seen and hands out
/// [rows, cols] views of its front (training and evaluation batches of different sizes share it).</summary>
internal sealed class DeviceScratch(IDevice device) : IDisposable
{
    private DeviceBuffer<float>? _buffer;

    public DeviceTensor Get(int rows, int cols)
    {
        long need = Math.Max(1, (long)rows * cols);
        if (_buffer is null || _buffer.Length < need)
        {
            _buffer?.Dispose();
            _buffer = null;
            _buffer = device.Allocate<float>(need);
        }
        return new DeviceTensor(_buffer, 0, rows, cols);
    }

    public void Dispose()
    {
        _buffer?.Dispose();
        _buffer = null;
    }
}

/// <summary>Launch shapes for the element-wise training kernels.</summary>
internal static class Launches
{
    public const uint Block = 256;

    /// <summary>Blocks for a grid-stride loop over <paramref name="n"/> elements: one thread per element on a GPU
    /// (capped), a few blocks per emulator thread (the emulator pays per thread, not per element).</summary>
    public static uint Grid(IDevice device, long n)
    {
        long blocks = Math.Max(1, (n + Block - 1) / Block);
        long cap = device.Kind == DeviceKind.Emulator ? 64 : 65535;
        return (uint)Math.Min(blocks, cap);
    }
}
