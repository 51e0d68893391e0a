using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;

namespace CudaAdam.IO;

/// <summary>A float32 array read from or written to a .npy file: the values in C (row-major) order and the shape.</summary>
public sealed class NpyArray
{
    /// <summary>Wraps <paramref name="data"/> (not copied) with <paramref name="shape"/>, row-major.</summary>
    /// <exception cref="ArgumentException">A negative dimension, or a shape whose product is not the data's length.</exception>
    public NpyArray(float[] data, params int[] shape)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(shape);
        long count = 1;
        foreach (int d in shape)
        {
            if (d < 0) throw new ArgumentException($"shape ({string.Join(", ", shape)}) has a negative dimension");
            count *= d;
        }
        if (count != data.Length)
            throw new ArgumentException($"shape ({string.Join(", ", shape)}) holds {count} elements but the data has {data.Length}");
        Data = data;
        Shape = shape;
    }

    /// <summary>The values, row-major.</summary>
    public float[] Data { get; }
    /// <summary>The dimensions; length 1 or 2 for what <see cref="Npy"/> reads.</summary>
    public int[] Shape { get; }
    /// <summary>The number of dimensions.</summary>
    public int Rank => Shape.Length;
    /// <summary>Row <paramref name="i"/> of a 2-D array (a view, no copy).</summary>
    public Span<float> Row(int i)
    {
        if (Rank != 2) throw new InvalidOperationException($"Row() needs a 2-D array; this one has shape {Npy.FormatShape(Shape)}");
        return Data.AsSpan(checked(i * Shape[1]), Shape[1]);
    }

    /// <summary>The dtype and shape, e.g. <c>float32(3, 4)</c>.</summary>
    public override string ToString() => $"float32{Npy.FormatShape(Shape)}";
}

/// <summary>A .npy file that CudaAdam cannot read; the message says what is wrong and what to do.</summary>
public sealed class NpyFormatException(string message) : IOException(message);

/// <summary>
/// Our own reader and writer of NumPy's .npy format (numpy/lib/format.py, "NEP 1"), restricted to what CudaAdam
/// exchanges: dtype little-endian float32 (<c>'&lt;f4'</c>), C order, 1-D and 2-D shapes.
/// </summary>
/// <remarks>
/// Layout: the magic <c>\x93NUMPY</c>, major and minor version bytes, the header length (uint16 LE for version 1.0,
/// uint32 LE for 2.0 and 3.0), the header (a Python dict literal, ASCII; UTF-8 for 3.0) padded with spaces and a final
/// newline so that the data starts at a multiple of 64 bytes, then the raw data.
/// Reads versions 1.0, 2.0 and 3.0; writes 1.0, or 2.0 when the header does not fit in 65535 bytes.
/// </remarks>
public static class Npy
{
    private static readonly byte[] Magic = [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];
    private const int Alignment = 64;

    /// <summary>Reads a float32 .npy file of rank 1 or 2 (or exactly <paramref name="rank"/> when given).</summary>
    /// <exception cref="NpyFormatException">The file is not a float32 C-order .npy of the expected rank, or is truncated.</exception>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    /// <exception cref="PathRefusedException">Not a regular file (a FIFO, a device, a directory) or an empty path.</exception>
    public static NpyArray Read(string path, int? rank = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        // Regular files only, opened without blocking: a FIFO or a device is refused at once (SafeFile).
        using var fs = SafeFile.OpenRead(path);
        return Read(fs, path, rank);
    }

    /// <summary>Reads a 1-D float32 array.</summary>
    public static float[] Read1D(string path) => Read(path, rank: 1).Data;

    /// <summary>Reads a float32 .npy from <paramref name="stream"/>; <paramref name="name"/> names it in messages.</summary>
    public static NpyArray Read(Stream stream, string name, int? rank = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        var (major, headerLength) = ReadPreamble(stream, name);
        byte[] headerBytes = new byte[headerLength];
        int got = ReadFully(stream, headerBytes);
        if (got != headerLength)
            throw new NpyFormatException($"'{name}': truncated .npy header: expected {headerLength} bytes, the file has {got}");
        string header = major >= 3 ? Encoding.UTF8.GetString(headerBytes) : Encoding.Latin1.GetString(headerBytes);
        var (descr, fortran, shape) = ParseHeader(header, name);

        CheckDtype(descr, name);
        if (fortran)
            throw new NpyFormatException($"'{name}': fortran_order is True; CudaAdam reads C-order arrays only " +
                                         "(save np.ascontiguousarray(arr) instead)");
        if (shape.Length is < 1 or > 2)
            throw new NpyFormatException($"'{name}': shape {FormatShape(shape)} has rank {shape.Length}; CudaAdam reads 1-D and 2-D arrays only");
        if (rank is { } want && shape.Length != want)
            throw new NpyFormatException($"'{name}': expected a {want}-D array, got shape {FormatShape(shape)} " +
                                         (want == 1 ? "(pass a vector, e.g. arr.reshape(-1))" : "(pass a [T, n] matrix: one gradient row per step)"));
        long count = 1;
        foreach (int d in shape) count *= d;   // each d < 2^31 and rank <= 2: no overflow in 64 bits
        if (count > Array.MaxLength)
            throw new NpyFormatException($"'{name}': shape {FormatShape(shape)} has {count:N0} elements, more than one .NET array holds ({Array.MaxLength:N0})");
        long dataBytes = 4 * count;   // 64-bit: more than 2^29 - 1 floats is more than int.MaxValue bytes
        // The declared size against the file's length, before allocating anything.
        if (stream.CanSeek)
        {
            long left = stream.Length - stream.Position;
            if (left < dataBytes)
                throw new NpyFormatException($"'{name}': truncated data: shape {FormatShape(shape)} of float32 needs {dataBytes:N0} bytes, " +
                                             $"the file has {left:N0} (was it written completely?)");
            if (left > dataBytes)
                throw new NpyFormatException($"'{name}': the file is longer than shape {FormatShape(shape)} of float32 needs " +
                                             $"({dataBytes:N0} data bytes, the file has {left:N0}); it is corrupt or not what its header says");
        }
        MemoryBudget.Require(dataBytes, $"'{name}' (shape {FormatShape(shape)} of float32)");

        var data = new float[count];
        long read = 0;
        const int Chunk = 1 << 26;   // floats per read: spans of bytes are int-sized
        for (long off = 0; off < count; off += Chunk)
        {
            int n = (int)Math.Min(Chunk, count - off);
            var bytes = MemoryMarshal.AsBytes(data.AsSpan((int)off, n));
            int chunkRead = ReadFully(stream, bytes);
            read += chunkRead;
            if (chunkRead != bytes.Length)
                throw new NpyFormatException($"'{name}': truncated data: shape {FormatShape(shape)} of float32 needs {dataBytes:N0} bytes, " +
                                             $"the file has {read:N0} (was it written completely?)");
            if (!BitConverter.IsLittleEndian)
                for (int i = 0; i < n; i++)
                    data[off + i] = BinaryPrimitives.ReadSingleLittleEndian(bytes.Slice(4 * i, 4));
        }
        if (stream.ReadByte() != -1)
            throw new NpyFormatException($"'{name}': the file is longer than shape {FormatShape(shape)} of float32 needs " +
                                         $"({dataBytes:N0} data bytes); it is corrupt or not what its header says");
        return new NpyArray(data, shape);
    }

    /// <summary>Writes <paramref name="array"/> to <paramref name="path"/> atomically (<see cref="AtomicFile"/>).</summary>
    public static void Write(string path, NpyArray array) => AtomicFile.Write(path, s => Write(s, array.Data, array.Shape));

    /// <summary>Writes <paramref name="data"/> with <paramref name="shape"/> (default: 1-D) to <paramref name="path"/> atomically.</summary>
    public static void Write(string path, float[] data, params int[] shape) =>
        Write(path, new NpyArray(data, shape.Length == 0 ? [data.Length] : shape));

    /// <summary>Writes a float32 .npy (version 1.0, or 2.0 when the header needs it) to <paramref name="stream"/>.</summary>
    public static void Write(Stream stream, ReadOnlySpan<float> data, ReadOnlySpan<int> shape) => Write(stream, data, shape, version: null);

    /// <summary>As <see cref="Write(Stream, ReadOnlySpan{float}, ReadOnlySpan{int})"/>, with the format version forced to 1 or 2 (tests).</summary>
    internal static void Write(Stream stream, ReadOnlySpan<float> data, ReadOnlySpan<int> shape, byte? version)
    {
        long count = 1;
        foreach (int d in shape)
        {
            if (d < 0) throw new ArgumentException($"negative dimension in shape {FormatShape(shape.ToArray())}");
            count *= d;
        }
        if (count != data.Length)
            throw new ArgumentException($"shape {FormatShape(shape.ToArray())} holds {count} elements but the data has {data.Length}");
        byte major = version ?? 1;
        byte[] header = Header(shape.ToArray(), major);
        if (major == 1 && header.Length > ushort.MaxValue)
        {
            if (version == 1) throw new ArgumentException("the header does not fit in format version 1.0");
            major = 2;
            header = Header(shape.ToArray(), major);
        }
        stream.Write(Magic);
        stream.WriteByte(major);
        stream.WriteByte(0);
        Span<byte> len = stackalloc byte[4];
        if (major == 1)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(len, (ushort)header.Length);
            stream.Write(len[..2]);
        }
        else
        {
            BinaryPrimitives.WriteUInt32LittleEndian(len, (uint)header.Length);
            stream.Write(len);
        }
        stream.Write(header);
        if (BitConverter.IsLittleEndian)
        {
            const int Chunk = 1 << 26;   // floats per write: spans of bytes are int-sized (2^29 - 1 floats at most)
            for (int off = 0; off < data.Length; off += Chunk)
                stream.Write(MemoryMarshal.AsBytes(data.Slice(off, Math.Min(Chunk, data.Length - off))));
        }
        else
        {
            Span<byte> b = stackalloc byte[4];
            foreach (float f in data)
            {
                BinaryPrimitives.WriteSingleLittleEndian(b, f);
                stream.Write(b);
            }
        }
    }

    /// <summary>Python's tuple notation: <c>(3,)</c>, <c>(2, 3)</c>, <c>()</c>.</summary>
    public static string FormatShape(IReadOnlyList<int> shape) => shape.Count == 1
        ? $"({shape[0]},)"
        : $"({string.Join(", ", shape)})";

    /// <summary>
    /// The header dict padded with spaces and a newline so that the data starts at a multiple of 64 bytes, for format
    /// version <paramref name="major"/> (1: uint16 length, 2: uint32 length). <see cref="Write(Stream, ReadOnlySpan{float}, ReadOnlySpan{int})"/>
    /// uses 1 unless the header does not fit in 65535 bytes.
    /// </summary>
    internal static byte[] Header(int[] shape, byte major)
    {
        string dict = $"{{'descr': '<f4', 'fortran_order': False, 'shape': {FormatShape(shape)}, }}";
        int total = Magic.Length + 2 + (major == 1 ? 2 : 4) + dict.Length + 1;
        int padded = (total + Alignment - 1) / Alignment * Alignment;
        return Encoding.ASCII.GetBytes(dict + new string(' ', padded - total) + "\n");
    }

    private static (int Major, int HeaderLength) ReadPreamble(Stream s, string name)
    {
        Span<byte> pre = stackalloc byte[8];
        int got = ReadFully(s, pre);
        if (got < 6 || !pre[..6].SequenceEqual(Magic))
            throw new NpyFormatException($"'{name}' is not an .npy file (it does not start with the magic \\x93NUMPY); " +
                                         "write it with numpy.save (a .npz, .txt or .csv will not do)");
        if (got < 8)
            throw new NpyFormatException($"'{name}': truncated .npy preamble ({got} bytes)");
        int major = pre[6], minor = pre[7];
        if (major is < 1 or > 3 || minor != 0)
            throw new NpyFormatException($"'{name}': unsupported .npy format version {major}.{minor}; CudaAdam reads 1.0, 2.0 and 3.0 " +
                                         "(save with numpy.save, which writes 1.0)");
        Span<byte> len = stackalloc byte[4];
        int lenBytes = major == 1 ? 2 : 4;
        if (ReadFully(s, len[..lenBytes]) != lenBytes)
            throw new NpyFormatException($"'{name}': truncated .npy preamble (no header length)");
        long headerLength = major == 1 ? BinaryPrimitives.ReadUInt16LittleEndian(len) : BinaryPrimitives.ReadUInt32LittleEndian(len);
        if (headerLength > 1 << 24)
            throw new NpyFormatException($"'{name}': malformed .npy header: declared length {headerLength} bytes is absurd");
        return (major, (int)headerLength);
    }

    /// <summary>Checks the dtype and names any other one with the NumPy call that converts it.</summary>
    private static void CheckDtype(string descr, string name)
    {
        if (descr is "<f4") return;
        if (descr is ">f4")
            throw new NpyFormatException($"'{name}': dtype '>f4' is big-endian float32; CudaAdam reads little-endian only " +
                                         "(convert with arr.astype('<f4'))");
        string kind = descr.Length >= 3 ? descr[1..] : descr;
        string what = kind switch
        {
            "f8" => "float64", "f2" => "float16", "f16" => "float128", "i1" => "int8", "i2" => "int16", "i4" => "int32",
            "i8" => "int64", "u1" => "uint8", "u2" => "uint16", "u4" => "uint32", "u8" => "uint64", "b1" => "bool",
            "c8" => "complex64", "c16" => "complex128", _ => kind.StartsWith('O') ? "object" : $"'{descr}'",
        };
        string endian = descr.StartsWith('>') ? " (big-endian)" : "";
        throw new NpyFormatException($"'{name}': dtype '{descr}' is {what}{endian}; CudaAdam reads float32 ('<f4') only " +
                                     "(convert with arr.astype(np.float32))");
    }

    /// <summary>
    /// Parses the header dict <c>{'descr': ..., 'fortran_order': ..., 'shape': (...), }</c>: a small recursive-descent
    /// parser of the Python literals numpy writes (strings, True/False, tuples of ints), keys in any order.
    /// </summary>
    private static (string Descr, bool Fortran, int[] Shape) ParseHeader(string header, string name)
    {
        var p = new HeaderParser(header, name);
        string? descr = null;
        bool? fortran = null;
        int[]? shape = null;
        p.Skip();
        p.Expect('{');
        while (true)
        {
            p.Skip();
            if (p.TryTake('}')) break;
            string key = p.String();
            p.Skip();
            p.Expect(':');
            p.Skip();
            switch (key)
            {
                case "descr":
                    if (p.Peek is not ('\'' or '"'))
                        throw p.Error("'descr' is not a simple dtype string (structured dtypes are not supported; save a plain float32 array)");
                    descr = p.String();
                    break;
                case "fortran_order": fortran = p.Bool(); break;
                case "shape": shape = p.IntTuple(); break;
                default: throw p.Error($"unexpected key '{key}'");
            }
            p.Skip();
            if (p.TryTake(',')) continue;
            p.Skip();
            p.Expect('}');
            break;
        }
        if (descr is null || fortran is null || shape is null)
            throw p.Error($"missing key '{(descr is null ? "descr" : fortran is null ? "fortran_order" : "shape")}'");
        return (descr, fortran.Value, shape);
    }

    private sealed class HeaderParser(string text, string name)
    {
        private int _i;
        public char Peek => _i < text.Length ? text[_i] : '\0';

        public NpyFormatException Error(string what) =>
            new($"'{name}': malformed .npy header ({what}): {text.TrimEnd()}");

        public void Skip()
        {
            while (_i < text.Length && char.IsWhiteSpace(text[_i])) _i++;
        }

        public bool TryTake(char c)
        {
            if (Peek != c) return false;
            _i++;
            return true;
        }

        public void Expect(char c)
        {
            if (!TryTake(c)) throw Error($"expected '{c}' at offset {_i}");
        }

        public string String()
        {
            char q = Peek;
            if (q is not ('\'' or '"')) throw Error($"expected a quoted string at offset {_i}");
            int end = text.IndexOf(q, _i + 1);
            if (end < 0) throw Error("unterminated string");
            string s = text[(_i + 1)..end];
            _i = end + 1;
            return s;
        }

        public bool Bool()
        {
            if (text.AsSpan(_i).StartsWith("True")) { _i += 4; return true; }
            if (text.AsSpan(_i).StartsWith("False")) { _i += 5; return false; }
            throw Error($"expected True or False at offset {_i}");
        }

        public int[] IntTuple()
        {
            Expect('(');
            var dims = new List<int>();
            while (true)
            {
                Skip();
                if (TryTake(')')) break;
                int start = _i;
                while (_i < text.Length && char.IsAsciiDigit(text[_i])) _i++;
                // numpy writes Python ints; an 'L' suffix comes from Python 2.
                if (!int.TryParse(text.AsSpan(start, _i - start), NumberStyles.None, CultureInfo.InvariantCulture, out int d))
                    throw Error($"expected a non-negative dimension below 2^31 at offset {start}");
                TryTake('L');
                dims.Add(d);
                Skip();
                if (TryTake(',')) continue;
                Skip();
                Expect(')');
                break;
            }
            return dims.ToArray();
        }
    }

    private static int ReadFully(Stream s, Span<byte> buffer)
    {
        int total = 0;
        while (total < buffer.Length)
        {
            int n = s.Read(buffer[total..]);
            if (n == 0) break;
            total += n;
        }
        return total;
    }
}
