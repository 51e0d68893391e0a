using CudaAdam.Cuda.Blas;
using CudaAdam.Cuda.Compilation;
using CudaAdam.Cuda.Driver;
using CudaAdam.Cuda.Interop;

namespace CudaAdam.Tests.Cuda;

[TestFixture]
public class CompileTargetTests
{
    private static DeviceProperties Gpu(int major, int minor) =>
        new(0, "test GPU", major, minor, 80L << 30, 132, 1024, 49152, 32, 50 << 20, 5120);

    [Test]
    public void ParsesRealAndVirtualArchs()
    {
        Assert.That(CompileTarget.Parse("sm_90").IsCubin, Is.True);
        Assert.That(CompileTarget.Parse(" SM_90 ").Arch, Is.EqualTo("sm_90"));
        Assert.That(CompileTarget.Parse("compute_80").IsCubin, Is.False);
        Assert.That(CompileTarget.Parse("compute_100").Number, Is.EqualTo(100));
        Assert.That(CompileTarget.Default.Option, Is.EqualTo("--gpu-architecture=compute_80"));
    }

    [TestCase("90")]
    [TestCase("sm90")]
    [TestCase("sm_9")]
    [TestCase("sm_90a")]
    [TestCase("compute_")]
    public void RejectsOtherSpellings(string arch)
    {
        var e = Assert.Throws<ArgumentException>(() => CompileTarget.Parse(arch))!;
        Assert.That(e.Message, Does.Contain("sm_XX"));
    }

    [Test]
    public void DeviceArchSupportedGivesCubin() =>
        Assert.That(CompileTarget.ForDevice(Gpu(9, 0), [75, 80, 86, 89, 90, 100, 120]).Arch, Is.EqualTo("sm_90"));

    [Test]
    public void DeviceNewerThanNvrtcGivesPtxOfTheNewestArchBelow() =>
        Assert.That(CompileTarget.ForDevice(Gpu(12, 0), [75, 80, 86, 89, 90]).Arch, Is.EqualTo("compute_90"));

    [Test]
    public void DeviceOlderThanEveryArchIsRefused()
    {
        var e = Assert.Throws<NotSupportedException>(() => CompileTarget.ForDevice(Gpu(7, 0), [75, 80, 90]))!;
        Assert.That(e.Message, Does.Contain("sm_70"));
    }

    [Test]
    public void GemmShapesAreChecked()
    {
        // 2x3 times 3x4 column-major: A needs 6, B 12, C 8 elements.
        Assert.DoesNotThrow(() => CublasHandle.CheckShapes(CublasOperation.N, CublasOperation.N, 2, 4, 3, 6, 2, 12, 3, 8, 2));
        Assert.DoesNotThrow(() => CublasHandle.CheckShapes(CublasOperation.T, CublasOperation.T, 2, 4, 3, 6, 3, 12, 4, 8, 2));
        var e = Assert.Throws<ArgumentException>(() => CublasHandle.CheckShapes(CublasOperation.N, CublasOperation.N, 2, 4, 3, 5, 2, 12, 3, 8, 2))!;
        Assert.That(e.Message, Does.Contain("A is 2x3 with leading dimension 2: needs 6 elements, the buffer has 5"));
        e = Assert.Throws<ArgumentException>(() => CublasHandle.CheckShapes(CublasOperation.N, CublasOperation.N, 2, 4, 3, 6, 1, 12, 3, 8, 2))!;
        Assert.That(e.Message, Does.Contain("leading dimension of A is 1, must be at least 2"));
    }
}
