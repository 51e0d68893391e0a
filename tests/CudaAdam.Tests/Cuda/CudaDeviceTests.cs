using CudaAdam.Cuda;
using CudaAdam.Cuda.Compilation;
using CudaAdam.Cuda.Driver;
using CudaAdam.Cuda.Interop;

namespace CudaAdam.Tests.Cuda;

/// <summary>The CUDA device end to end. Needs libcuda.so.1 and a GPU; skipped, saying so, elsewhere.</summary>
[TestFixture]
[Category("Gpu")]
[NonParallelizable]
public class CudaDeviceTests
{
    private string _dir = "";
    private CudaDevice _device = null!;

    [OneTimeSetUp]
    public void Open()
    {
        _dir = Requirements.TempDirectory();
        _device = Requirements.Device(_dir);
        TestContext.Progress.WriteLine($"CudaDeviceTests on {_device.Name}, kernels for {_device.Target}, NVRTC {NvrtcCompiler.Version}");
    }

    [OneTimeTearDown]
    public void Close()
    {
        _device?.Dispose();
        if (Directory.Exists(_dir)) Directory.Delete(_dir, true);
    }

    private static float[] Random(int n, int seed, float scale = 1f)
    {
        var rng = new System.Random(seed);
        var a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float)(rng.NextDouble() * 2 - 1) * scale;
        return a;
    }

    private static uint Blocks(long n, uint block) => (uint)Math.Min((n + block - 1) / block, 65535);

    [Test]
    public void PropertiesAreRead()
    {
        var p = _device.Properties;
        Assert.That(p.Name, Is.Not.Empty);
        Assert.That(p.ComputeMajor, Is.GreaterThanOrEqualTo(5));
        Assert.That(p.MultiprocessorCount, Is.GreaterThan(0));
        Assert.That(p.TotalMemoryBytes, Is.GreaterThan(1L << 30));
        Assert.That(p.WarpSize, Is.EqualTo(32));
        var (free, total) = _device.Context.MemoryInfo();
        Assert.That(free, Is.InRange(1L, total));
        Assert.That(CudaDriver.Version.Major, Is.GreaterThanOrEqualTo(11));
    }

    [Test]
    public void CopyRoundTripWithOffsetAndZero()
    {
        var host = Random(1000, seed: 1);
        using var buffer = _device.Allocate<float>(1200);
        _device.Zero(buffer);
        _device.CopyToDevice<float>(host, buffer, offset: 100);
        var back = new float[1200];
        _device.CopyToHost<float>(buffer, back);
        Assert.That(back[..100], Is.All.EqualTo(0f));
        Assert.That(back[100..1100], Is.EqualTo(host));
        Assert.That(back[1100..], Is.All.EqualTo(0f));

        var part = new float[10];
        _device.CopyToHost<float>(buffer, part, offset: 105);
        Assert.That(part, Is.EqualTo(host[5..15]));
        Assert.Throws<ArgumentOutOfRangeException>(() => _device.CopyToDevice<float>(host, buffer, offset: 201));
    }

    [Test]
    public void EmptyBufferNeedsNoMemory()
    {
        using var empty = _device.Allocate<double>(0);
        Assert.That(empty.Length, Is.EqualTo(0));
        _device.Zero(empty);
        _device.CopyToDevice<double>(ReadOnlySpan<double>.Empty, empty);
    }

    [Test]
    public void DisposeFreesAndCounts()
    {
        long before = _device.LiveBuffers;
        var b = _device.Allocate<int>(1 << 20);
        Assert.That(_device.LiveBuffers, Is.EqualTo(before + 1));
        b.Dispose();
        b.Dispose();
        Assert.That(_device.LiveBuffers, Is.EqualTo(before));
        Assert.Throws<ObjectDisposedException>(() => _ = b.Pointer);
    }

    [Test]
    public void TrivialKernelLaunch()
    {
        const int n = 100_003;
        var host = Random(n, seed: 2);
        using var x = _device.Allocate<float>(n);
        _device.CopyToDevice<float>(host, x);
        var kernel = _device.GetKernel(ProbeKernels.Source, "probe_add_scalar");
        using var args = new KernelArgs();
        _device.Launch(kernel, Blocks(n, 256), 256, args.Add(x).Add(1.5f).Add((long)n));
        _device.Synchronize();
        var back = new float[n];
        _device.CopyToHost<float>(x, back);
        for (int i = 0; i < n; i++)
            if (back[i] != host[i] + 1.5f) Assert.Fail($"element {i}: {back[i]} != {host[i] + 1.5f}");
    }

    [Test]
    public void AxpyIsBitwiseEqualToTheCpu()
    {
        // --fmad=false: a*x + y rounds the product, as C# does; an fma would differ in the last bit somewhere here.
        const int n = 1 << 16;
        const float a = 0.7310586f;
        var x = Random(n, seed: 3);
        var y = Random(n, seed: 4);
        using var dx = _device.Allocate<float>(n);
        using var dy = _device.Allocate<float>(n);
        _device.CopyToDevice<float>(x, dx);
        _device.CopyToDevice<float>(y, dy);
        using var args = new KernelArgs();
        _device.Launch(_device.GetKernel(ProbeKernels.Source, "probe_axpy"), Blocks(n, 128), 128, args.Add(a).Add(dx).Add(dy).Add((long)n));
        var back = new float[n];
        _device.CopyToHost<float>(dy, back);
        int mismatches = 0;
        for (int i = 0; i < n; i++)
        {
            float product = a * x[i];
            float expected = product + y[i];
            if (BitConverter.SingleToInt32Bits(back[i]) != BitConverter.SingleToInt32Bits(expected)) mismatches++;
        }
        Assert.That(mismatches, Is.Zero);
    }

    [TestCase(1024)]
    [TestCase(20_000)] // 80 000 bytes: above the default 48 KiB, needs the opt-in attribute
    public void DynamicSharedMemoryLaunch(int n)
    {
        if (n * sizeof(float) > _device.Properties.MaxSharedMemoryPerBlockOptin)
            Assert.Ignore($"{_device.Name} allows {_device.Properties.MaxSharedMemoryPerBlockOptin} bytes of shared memory per block");
        var x = Random(n, seed: 8);
        using var dx = _device.Allocate<float>(n);
        using var dy = _device.Allocate<float>(n);
        _device.CopyToDevice<float>(x, dx);
        using var args = new KernelArgs();
        _device.Launch(_device.GetKernel(ProbeKernels.Source, "probe_reverse_shared"), 1, 256, args.Add(dx).Add(dy).Add(n), sharedBytes: n * sizeof(float));
        var back = new float[n];
        _device.CopyToHost<float>(dy, back);
        Assert.That(back, Is.EqualTo(x.Reverse().ToArray()));
    }

    [Test]
    public void TooMuchSharedMemoryIsRefusedBeforeTheLaunch()
    {
        var kernel = _device.GetKernel(ProbeKernels.Source, "probe_reverse_shared");
        using var args = new KernelArgs();
        var e = Assert.Throws<ArgumentException>(() =>
            _device.Launch(kernel, 1, 32, args.Add(0L).Add(0L).Add(0), sharedBytes: _device.Properties.MaxSharedMemoryPerBlockOptin + 1))!;
        Assert.That(e.Message, Does.Contain("dynamic shared memory"));
    }

    [Test]
    public void KernelsAreCompiledOnceAndReused()
    {
        var source = KernelSource.WithEmbeddedHeaders("reuse.cu", ProbeKernels.Text + "\n// reuse test\n");
        int compiles = _device.Cache.Statistics.Compiles;
        var k1 = _device.GetKernel(source, "probe_add_scalar");
        var k2 = _device.GetKernel(source, "probe_add_scalar");
        var k3 = _device.GetKernel(source, "probe_axpy");
        Assert.That(k2, Is.SameAs(k1));
        Assert.That(k3.Handle, Is.Not.EqualTo(k1.Handle));
        Assert.That(_device.Cache.Statistics.Compiles, Is.EqualTo(compiles + 1));
    }

    [Test]
    public void UnknownKernelNameSaysSo()
    {
        var e = Assert.Throws<CudaException>(() => _device.GetKernel(ProbeKernels.Source, "no_such_kernel"))!;
        Assert.That(e.Result, Is.EqualTo(CudaResult.NotFound));
        Assert.That(e.Message, Does.Contain("no_such_kernel"));
    }

    [Test]
    public void BadPtxCarriesTheJitErrorLog()
    {
        var ptx = System.Text.Encoding.ASCII.GetBytes(".version 7.0\n.target sm_75\n.address_size 64\nthis is not ptx;\n");
        _device.Context.MakeCurrent();
        var e = Assert.Throws<CudaException>(() => CudaModule.Load(ptx, "bad.ptx"))!;
        Assert.That(e.Result, Is.EqualTo(CudaResult.InvalidPtx));
        Assert.That(e.Message, Does.Contain("JIT error log"));
    }

    [Test]
    public void EveryEmbeddedKernelFileLoads()
    {
        if (KernelSources.KernelFiles.Count == 0) Assert.Ignore("no kernels/*.cu embedded yet");
        foreach (var file in KernelSources.KernelFiles)
        {
            var image = _device.Cache.GetOrCompile(KernelSources.ForFamily(file), _device.Target);
            _device.Context.MakeCurrent();
            using var module = CudaModule.Load(image.Image, file);
            Assert.That(module.Handle, Is.Not.EqualTo(0), file);
        }
    }

    [Test]
    public void EventsTimeALaunch()
    {
        const int n = 1 << 22;
        using var x = _device.Allocate<float>(n);
        _device.Zero(x);
        using var start = _device.CreateEvent();
        using var end = _device.CreateEvent();
        using var args = new KernelArgs();
        var kernel = _device.GetKernel(ProbeKernels.Source, "probe_add_scalar");
        _device.Record(start);
        for (int i = 0; i < 10; i++) _device.Launch(kernel, Blocks(n, 256), 256, args.Clear().Add(x).Add(1f).Add((long)n));
        _device.Record(end);
        end.Synchronize();
        float ms = CudaEvent.ElapsedMilliseconds(start, end);
        Assert.That(ms, Is.GreaterThan(0f).And.LessThan(10_000f));
        var back = new float[n];
        _device.CopyToHost<float>(x, back);
        Assert.That(back, Is.All.EqualTo(10f));
    }

    [Test]
    public void GraphCaptureAndReplay()
    {
        const int n = 4097;
        using var x = _device.Allocate<float>(n);
        _device.Zero(x);
        var kernel = _device.GetKernel(ProbeKernels.Source, "probe_add_scalar");
        using var args = new KernelArgs();
        using var graph = _device.CaptureGraph(() =>
        {
            _device.Launch(kernel, Blocks(n, 256), 256, args.Clear().Add(x).Add(1f).Add((long)n));
            _device.Launch(kernel, Blocks(n, 256), 256, args.Clear().Add(x).Add(0.5f).Add((long)n));
        });
        var back = new float[n];
        _device.CopyToHost<float>(x, back);
        Assert.That(back, Is.All.EqualTo(0f), "capturing does not run the work");

        for (int i = 0; i < 3; i++) _device.Launch(graph);
        _device.Synchronize();
        _device.CopyToHost<float>(x, back);
        Assert.That(back, Is.All.EqualTo(4.5f));
    }

    [Test]
    public void FailedCaptureLeavesTheStreamUsable()
    {
        Assert.Throws<InvalidOperationException>(() => _device.CaptureGraph(() => throw new InvalidOperationException("planted")));
        using var x = _device.Allocate<float>(8);
        _device.Zero(x);
        _device.Synchronize();
    }

    [Test]
    public void UsableFromAnotherThread()
    {
        using var x = _device.Allocate<float>(256);
        _device.Zero(x);
        Task.Run(() =>
        {
            using var args = new KernelArgs();
            _device.Launch(_device.GetKernel(ProbeKernels.Source, "probe_add_scalar"), 1, 256, args.Add(x).Add(2f).Add(256L));
            _device.Synchronize();
        }).Wait();
        var back = new float[256];
        _device.CopyToHost<float>(x, back);
        Assert.That(back, Is.All.EqualTo(2f));
    }

    [Test]
    public void SgemmMatchesACpuProduct()
    {
        // Row-major C (m x n) = A (m x k) B (k x n), computed by column-major cuBLAS as C^T = B^T A^T.
        const int m = 37, k = 53, n = 29;
        var a = Random(m * k, seed: 5);
        var b = Random(k * n, seed: 6);
        using var da = _device.Allocate<float>(a.Length);
        using var db = _device.Allocate<float>(b.Length);
        using var dc = _device.Allocate<float>(m * n);
        _device.CopyToDevice<float>(a, da);
        _device.CopyToDevice<float>(b, db);
        _device.Blas.Sgemm(CublasOperation.N, CublasOperation.N, n, m, k, 1f, db, n, da, k, 0f, dc, n);
        var c = new float[m * n];
        _device.CopyToHost<float>(dc, c);
        for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++)
        {
            double sum = 0, abs = 0;
            for (int p = 0; p < k; p++)
            {
                sum += (double)a[i * k + p] * b[p * n + j];
                abs += Math.Abs((double)a[i * k + p] * b[p * n + j]);
            }
            // fp32 accumulation over k terms: |error| <= k * eps32 * sum|a b| (a loose, standard bound).
            Assert.That(c[i * n + j], Is.EqualTo(sum).Within(k * 1.2e-7 * abs + 1e-6), $"C[{i},{j}]");
        }
        Assert.That(_device.Blas.Version, Is.GreaterThan(10000));
    }

    [TestCase(CudaDataType.R16F)]
    [TestCase(CudaDataType.R16BF)]
    public void GemmExHalfInputsAccumulateInFp32(CudaDataType type)
    {
        // Small integers are exact in fp16 and bf16, and their products and sums (< 2^24) exact in fp32: exact result.
        const int m = 16, k = 64, n = 8;
        var rng = new System.Random(7);
        var a = Enumerable.Range(0, m * k).Select(_ => (float)rng.Next(-3, 4)).ToArray();
        var b = Enumerable.Range(0, k * n).Select(_ => (float)rng.Next(-3, 4)).ToArray();
        ushort Encode(float f) => type == CudaDataType.R16F
            ? BitConverter.HalfToUInt16Bits((Half)f)
            : (ushort)(BitConverter.SingleToUInt32Bits(f) >> 16); // exact for these values
        using var da = _device.Allocate<ushort>(a.Length);
        using var db = _device.Allocate<ushort>(b.Length);
        using var dc = _device.Allocate<float>(m * n);
        _device.CopyToDevice<ushort>(a.Select(Encode).ToArray(), da);
        _device.CopyToDevice<ushort>(b.Select(Encode).ToArray(), db);
        _device.Blas.GemmEx(CublasOperation.N, CublasOperation.N, n, m, k, 1f, db, type, n, da, type, k, 0f, dc, CudaDataType.R32F, n);
        var c = new float[m * n];
        _device.CopyToHost<float>(dc, c);
        for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++)
        {
            float expected = 0;
            for (int p = 0; p < k; p++) expected += a[i * k + p] * b[p * n + j];
            Assert.That(c[i * n + j], Is.EqualTo(expected), $"C[{i},{j}]");
        }
    }
}
