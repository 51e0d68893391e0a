using CudaAdam.IO;

namespace CudaAdam.Tests.IO;

/// <summary>Our .npy files against NumPy's own reader and writer (Debian's python3-numpy under /usr/bin/python3).</summary>
public class NpyNumpyInteropTests
{
    private TempDirectory _dir = null!;

    [SetUp]
    public void SetUp()
    {
        PythonOracle.RequireModules("numpy");
        _dir = new TempDirectory();
    }

    [TearDown] public void TearDown() => _dir?.Dispose();

    [Test]
    public void NumpyReadsWhatWeWrite()
    {
        float[] data = Enumerable.Range(0, 12).Select(i => i * 0.25f - 1f).ToArray();
        string path = _dir.File("ours.npy");
        Npy.Write(path, data, 3, 4);
        var (code, stdout, stderr) = PythonOracle.Run(["-c",
            "import numpy as np, sys; a = np.load(sys.argv[1]); " +
            "print(a.dtype, a.shape, a.flags['C_CONTIGUOUS'], float(a.sum()), float(a[2, 3]))", path], TimeSpan.FromSeconds(60));
        Assert.That(code, Is.EqualTo(0), stderr);
        Assert.That(stdout.Trim(), Is.EqualTo($"float32 (3, 4) True {data.Sum():0.0} {data[11]}"));
    }

    [TestCase("(1, 0)")]
    [TestCase("(2, 0)")]
    [TestCase("(3, 0)")]
    public void WeReadWhatNumpyWrites(string version)
    {
        string path = _dir.File("theirs.npy");
        var (code, _, stderr) = PythonOracle.Run(["-c",
            "import numpy as np, sys\n" +
            "a = (np.arange(10, dtype=np.float32).reshape(2, 5) - 3.5) / 7\n" +
            $"with open(sys.argv[1], 'wb') as f: np.lib.format.write_array(f, a, version={version})", path], TimeSpan.FromSeconds(60));
        Assert.That(code, Is.EqualTo(0), stderr);
        var back = Npy.Read(path);
        Assert.That(back.Shape, Is.EqualTo(new[] { 2, 5 }));
        Assert.That(back.Data, Is.EqualTo(Enumerable.Range(0, 10).Select(i => (i - 3.5f) / 7f).ToArray()));
    }

    [TestCase("np.zeros(3)", "float64")]
    [TestCase("np.asfortranarray(np.zeros((2, 3), np.float32))", "fortran_order is True")]
    [TestCase("np.zeros(3, '>f4')", "big-endian")]
    [TestCase("np.zeros((2, 2, 2), np.float32)", "1-D and 2-D arrays only")]
    public void NumpyFilesWeRejectSayWhy(string expr, string expected)
    {
        string path = _dir.File("bad.npy");
        var (code, _, stderr) = PythonOracle.Run(["-c", $"import numpy as np, sys; np.save(sys.argv[1], {expr})", path],
            TimeSpan.FromSeconds(60));
        Assert.That(code, Is.EqualTo(0), stderr);
        Assert.That(Assert.Throws<NpyFormatException>(() => Npy.Read(path))!.Message, Does.Contain(expected));
    }
}
