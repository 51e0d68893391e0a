using System.Buffers.Binary;
using System.Text;
using CudaAdam.IO;

namespace CudaAdam.Tests.IO;

public class NpyTests
{
    private TempDirectory _dir = null!;

    [SetUp] public void SetUp() => _dir = new TempDirectory();
    [TearDown] public void TearDown() => _dir.Dispose();

    private static float[] Random(int n, int seed)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 2 - 1) * 1e3f).ToArray();
    }

    private static int[] Bits(float[] a) => a.Select(BitConverter.SingleToInt32Bits).ToArray();

    /// <summary>A .npy file with an arbitrary header dict and data bytes (format 1.0 unless told).</summary>
    private static byte[] Raw(string dict, int dataBytes, byte major = 1, byte minor = 0)
    {
        int lenBytes = major == 1 ? 2 : 4;
        int total = 6 + 2 + lenBytes + dict.Length + 1;
        string header = dict + new string(' ', (64 - total % 64) % 64) + "\n";
        var ms = new MemoryStream();
        ms.Write([0x93, .. "NUMPY"u8]);
        ms.WriteByte(major);
        ms.WriteByte(minor);
        var len = new byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(len, (uint)header.Length);
        ms.Write(len, 0, lenBytes);
        ms.Write(Encoding.ASCII.GetBytes(header));
        ms.Write(new byte[dataBytes]);
        return ms.ToArray();
    }

    private string WriteRaw(byte[] bytes, string name = "bad.npy")
    {
        string path = _dir.File(name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private static string ErrorOf(string path, int? rank = null) =>
        Assert.Throws<NpyFormatException>(() => Npy.Read(path, rank))!.Message;

    [Test]
    public void RoundTrip1D()
    {
        float[] data = [.. Random(37, 1), float.NaN, float.PositiveInfinity, -0f, float.Epsilon];
        string path = _dir.File("a.npy");
        Npy.Write(path, data);
        var back = Npy.Read(path);
        Assert.That(back.Shape, Is.EqualTo(new[] { data.Length }));
        Assert.That(Bits(back.Data), Is.EqualTo(Bits(data)), "bit-exact, NaN and -0 included");
    }

    [Test]
    public void RoundTrip2D()
    {
        float[] data = Random(5 * 7, 2);
        string path = _dir.File("b.npy");
        Npy.Write(path, data, 5, 7);
        var back = Npy.Read(path, rank: 2);
        Assert.That(back.Shape, Is.EqualTo(new[] { 5, 7 }));
        Assert.That(Bits(back.Data), Is.EqualTo(Bits(data)));
        Assert.That(back.Row(3).ToArray(), Is.EqualTo(data.Skip(21).Take(7).ToArray()));
    }

    [TestCase(new[] { 0 })]
    [TestCase(new[] { 0, 5 })]
    [TestCase(new[] { 3, 0 })]
    public void RoundTripEmpty(int[] shape)
    {
        string path = _dir.File("e.npy");
        Npy.Write(path, [], shape);
        var back = Npy.Read(path);
        Assert.That(back.Shape, Is.EqualTo(shape));
        Assert.That(back.Data, Is.Empty);
    }

    [Test]
    public void WrittenHeaderIsVersion1AlignedTo64AndEndsWithNewline()
    {
        string path = _dir.File("h.npy");
        Npy.Write(path, [1f, 2f, 3f]);
        byte[] bytes = File.ReadAllBytes(path);
        Assert.That(bytes[6], Is.EqualTo(1), "major version");
        Assert.That(bytes[7], Is.EqualTo(0), "minor version");
        int headerLen = BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(8));
        Assert.That((10 + headerLen) % 64, Is.EqualTo(0), "data offset aligned to 64");
        string header = Encoding.ASCII.GetString(bytes, 10, headerLen);
        Assert.That(header, Does.StartWith("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }"));
        Assert.That(header, Does.EndWith("\n"));
        Assert.That(bytes.Length, Is.EqualTo(10 + headerLen + 12));
    }

    [TestCase((byte)2)]
    [TestCase((byte)3)]
    public void ReadsVersion2And3Headers(byte major)
    {
        float[] data = Random(6, 3);
        var ms = new MemoryStream();
        Npy.Write(ms, data, [2, 3], version: 2);
        byte[] bytes = ms.ToArray();
        bytes[6] = major; // 3.0 differs from 2.0 only in the header's encoding (UTF-8), which ASCII satisfies
        var back = Npy.Read(WriteRaw(bytes, "v.npy"));
        Assert.That(back.Shape, Is.EqualTo(new[] { 2, 3 }));
        Assert.That(Bits(back.Data), Is.EqualTo(Bits(data)));
        Assert.That((12 + BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(8))) % 64, Is.EqualTo(0), "v2 data offset aligned to 64");
    }

    [Test]
    public void ReadsHeaderKeysInAnyOrderWithoutTrailingComma()
    {
        string path = WriteRaw(Raw("{'shape': (2,), 'fortran_order': False, 'descr': '<f4'}", 8));
        Assert.That(Npy.Read(path).Shape, Is.EqualTo(new[] { 2 }));
    }

    [Test]
    public void NotAnNpyFile()
    {
        string path = WriteRaw("x,y\n1,2\n"u8.ToArray(), "data.csv");
        Assert.That(ErrorOf(path), Does.Contain("is not an .npy file").And.Contain("numpy.save"));
    }

    [Test]
    public void EmptyFileIsNotAnNpyFile() => Assert.That(ErrorOf(WriteRaw([])), Does.Contain("is not an .npy file"));

    [TestCase((byte)4, (byte)0)]
    [TestCase((byte)1, (byte)1)]
    [TestCase((byte)0, (byte)0)]
    public void UnsupportedVersion(byte major, byte minor)
    {
        string path = WriteRaw(Raw("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", 4, major: 1, minor: minor));
        byte[] b = File.ReadAllBytes(path);
        b[6] = major;
        File.WriteAllBytes(path, b);
        Assert.That(ErrorOf(path), Does.Contain($"unsupported .npy format version {major}.{minor}"));
    }

    [TestCase("<f8", "float64")]
    [TestCase("<f2", "float16")]
    [TestCase("<i4", "int32")]
    [TestCase("<i8", "int64")]
    [TestCase("|u1", "uint8")]
    [TestCase("|b1", "bool")]
    public void OtherDtypesAreNamedWithTheConversion(string descr, string name)
    {
        string path = WriteRaw(Raw($"{{'descr': '{descr}', 'fortran_order': False, 'shape': (2,), }}", 16));
        Assert.That(ErrorOf(path), Does.Contain($"dtype '{descr}' is {name}").And.Contain("arr.astype(np.float32)"));
    }

    [Test]
    public void BigEndianFloat32()
    {
        string path = WriteRaw(Raw("{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", 8));
        Assert.That(ErrorOf(path), Does.Contain("big-endian").And.Contain("astype('<f4')"));
    }

    [Test]
    public void FortranOrder()
    {
        string path = WriteRaw(Raw("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", 16));
        Assert.That(ErrorOf(path), Does.Contain("fortran_order is True").And.Contain("np.ascontiguousarray"));
    }

    [TestCase("{'descr': '<f4', 'fortran_order': False, }", "missing key 'shape'")]
    [TestCase("{'descr': '<f4', 'fortran_order': Maybe, 'shape': (2,), }", "expected True or False")]
    [TestCase("{'descr': '<f4', 'fortran_order': False, 'shape': (2, x), }", "expected a non-negative dimension")]
    [TestCase("{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }", "expected a non-negative dimension")]
    [TestCase("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'extra': 1}", "unexpected key 'extra'")]
    [TestCase("['descr', '<f4']", "expected '{'")]
    [TestCase("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }", "structured dtypes")]
    public void MalformedHeader(string dict, string what)
    {
        string path = WriteRaw(Raw(dict, 8));
        Assert.That(ErrorOf(path), Does.Contain("malformed .npy header").And.Contain(what));
    }

    [Test]
    public void TruncatedHeader()
    {
        byte[] full = Raw("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", 8);
        Assert.That(ErrorOf(WriteRaw(full[..30])), Does.Contain("truncated .npy header"));
    }

    [Test]
    public void TruncatedDataSaysExpectedAndActualBytes()
    {
        byte[] full = Raw("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }", 48);
        string message = ErrorOf(WriteRaw(full[..^5]));
        Assert.That(message, Does.Contain("truncated data").And.Contain("needs 48 bytes").And.Contain("has 43"));
    }

    [Test]
    public void TrailingBytesAreAnError()
    {
        byte[] full = Raw("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", 12);
        Assert.That(ErrorOf(WriteRaw(full)), Does.Contain("longer than shape (2,)"));
    }

    [TestCase("()", 0)]
    [TestCase("(2, 2, 2)", 32)]
    public void UnsupportedRank(string shape, int bytes)
    {
        string path = WriteRaw(Raw($"{{'descr': '<f4', 'fortran_order': False, 'shape': {shape}, }}", bytes == 0 ? 4 : bytes));
        Assert.That(ErrorOf(path), Does.Contain("reads 1-D and 2-D arrays only"));
    }

    [Test]
    public void WrongRankForTheCaller()
    {
        string path = _dir.File("m.npy");
        Npy.Write(path, new float[6], 2, 3);
        Assert.That(ErrorOf(path, rank: 1), Does.Contain("expected a 1-D array, got shape (2, 3)"));
        string v = _dir.File("v.npy");
        Npy.Write(v, new float[6]);
        Assert.That(ErrorOf(v, rank: 2), Does.Contain("expected a 2-D array, got shape (6,)"));
    }

    [Test]
    public void MissingFileIsFileNotFound() =>
        Assert.Throws<FileNotFoundException>(() => Npy.Read(_dir.File("nope.npy")));

    [Test]
    public void WriteRejectsShapeThatDoesNotMatchTheData() =>
        Assert.Throws<ArgumentException>(() => Npy.Write(_dir.File("x.npy"), new float[5], 2, 3));

    /// <summary>More than 2^29 − 1 floats (over int.MaxValue bytes): written and read back through the 64-bit path.
    /// 2 GiB on disk and about twice that in memory, some 35 s: it runs in CI too, where nothing but GPU tests may skip.</summary>
    [Test, Category("Large")]
    public void MoreThan2To29FloatsRoundTrip()
    {
        using var dir = new TempDirectory();
        int n = (1 << 29) + 17;
        var data = new float[n];
        data[0] = 1; data[n / 2] = 2; data[^1] = 3;
        Npy.Write(dir.File("big.npy"), data);
        Assert.That(new FileInfo(dir.File("big.npy")).Length, Is.EqualTo(128 + 4L * n));
        data = null!;
        GC.Collect();
        var back = Npy.Read1D(dir.File("big.npy"));
        Assert.That(back, Has.Length.EqualTo(n));
        Assert.That((back[0], back[n / 2], back[^1]), Is.EqualTo((1f, 2f, 3f)));
    }
}
