using System.Buffers.Binary;
using System.IO.Compression;

namespace CudaAdam.Training.Data;

/// <summary>
/// Reads IDX files (LeCun's MNIST format, also Fashion-MNIST's), gzip-compressed or not: a big-endian header
/// <c>0x00 0x00 type ndim</c>, ndim big-endian int32 dimensions, then the data. Only unsigned bytes (type 0x08) are
/// supported, which is what (Fashion-)MNIST uses.
/// </summary>
public static class Idx
{
    /// <summary>The dimensions and the raw bytes of an IDX stream.</summary>
    /// <exception cref="InvalidDataException">Bad magic, unsupported type, or fewer bytes than the header promises;
    /// the message names <paramref name="what"/>.</exception>
    public static (int[] Dims, byte[] Data) Read(Stream stream, string what)
    {
        using var ms = new MemoryStream();
        if (!stream.CanSeek)
        {
            // Peeking at the magic needs a seekable stream.
            var copy = new MemoryStream();
            stream.CopyTo(copy);
            copy.Position = 0;
            stream = copy;
        }
        Stream s = stream;
        var head = new byte[2];
        // gzip magic 1f 8b: decompress; IDX starts with 00 00.
        int got = stream.ReadAtLeast(head, 2, throwOnEndOfStream: false);
        stream.Seek(-got, SeekOrigin.Current);
        if (got == 2 && head[0] == 0x1f && head[1] == 0x8b) s = new GZipStream(stream, CompressionMode.Decompress, leaveOpen: true);
        try { s.CopyTo(ms); }
        catch (InvalidDataException e) { throw new InvalidDataException($"{what}: not a valid gzip stream ({e.Message})", e); }
        finally { if (!ReferenceEquals(s, stream)) s.Dispose(); }
        var bytes = ms.GetBuffer().AsSpan(0, (int)ms.Length);
        if (bytes.Length < 4 || bytes[0] != 0 || bytes[1] != 0)
            throw new InvalidDataException($"{what}: not an IDX file (the first two bytes must be zero)");
        if (bytes[2] != 0x08)
            throw new InvalidDataException($"{what}: IDX data type 0x{bytes[2]:x2} is not supported (only 0x08, unsigned bytes)");
        int ndim = bytes[3];
        if (bytes.Length < 4 + 4 * ndim) throw new InvalidDataException($"{what}: truncated IDX header");
        var dims = new int[ndim];
        long count = 1;
        for (int i = 0; i < ndim; i++)
        {
            dims[i] = BinaryPrimitives.ReadInt32BigEndian(bytes.Slice(4 + 4 * i));
            if (dims[i] < 0) throw new InvalidDataException($"{what}: negative IDX dimension {dims[i]}");
            count *= dims[i];
        }
        int offset = 4 + 4 * ndim;
        if (bytes.Length - offset < count)
            throw new InvalidDataException($"{what}: truncated IDX data: the header promises {count} bytes, the file has {bytes.Length - offset}");
        return (dims, bytes.Slice(offset, (int)count).ToArray());
    }

    /// <summary><see cref="Read(Stream, string)"/> on a file.</summary>
    public static (int[] Dims, byte[] Data) ReadFile(string path)
    {
        using var f = CudaAdam.IO.SafeFile.OpenRead(path);   // a regular file, never a FIFO or a device
        return Read(f, path);
    }
}
