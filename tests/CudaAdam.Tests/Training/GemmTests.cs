using System.Runtime.InteropServices;
using CudaAdam.Training;
using CudaAdam.Training.Layers;
using CudaAdam.Training.Models;
using CudaAdam.Training.Tensors;

namespace CudaAdam.Tests.Training;

public class GemmTests
{
    /// <summary>C = alpha op(A) op(B) + beta C in double, the oracle for both GEMMs.</summary>
    private static double[] Naive(bool ta, bool tb, int m, int n, int k, float alpha, float[] a, int lda, float[] b, int ldb, float beta, float[] c, int ldc)
    {
        var r = new double[m * n];
        for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++)
        {
            double s = 0;
            for (int p = 0; p < k; p++)
                s += (double)(ta ? a[p * lda + i] : a[i * lda + p]) * (tb ? b[j * ldb + p] : b[p * ldb + j]);
            r[i * n + j] = alpha * s + (beta == 0 ? 0 : beta * (double)c[i * ldc + j]);
        }
        return r;
    }

    private static float[] Random(int n, Rng rng)
    {
        var x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float)(2 * rng.NextDouble() - 1);
        return x;
    }

    private static IEnumerable<IGemm> Gemms()
    {
        yield return new ManagedGemm();
        if (OpenBlasGemm.IsAvailable) yield return new OpenBlasGemm();
    }

    // Tolerance: float accumulation of k products of values in [-1, 1] (|sum| <= k); rounding error
    // <= k * 2^-24 * sum|a||b| ~ 1e-5 for k = 37..300; we allow 1e-4 absolute, 1e-5 relative.
    [TestCase(false, false, 7, 5, 3)]
    [TestCase(false, true, 13, 9, 37)]
    [TestCase(true, false, 9, 17, 11)]
    [TestCase(true, true, 4, 6, 8)]
    [TestCase(false, true, 64, 300, 200)] // large enough for the managed GEMM's parallel path
    [TestCase(true, false, 150, 80, 128)]
    public void Sgemm_MatchesDoubleOracle_ForEveryTransposeAndBothImplementations(bool ta, bool tb, int m, int n, int k)
    {
        var rng = new Rng(42);
        int lda = (ta ? m : k) + 2, ldb = (tb ? k : n) + 1, ldc = n + 3; // padded leading dimensions
        var a = Random((ta ? k : m) * lda, rng);
        var b = Random((tb ? n : k) * ldb, rng);
        var c0 = Random(m * ldc, rng);
        var want = Naive(ta, tb, m, n, k, 0.5f, a, lda, b, ldb, 2f, c0, ldc);
        foreach (var g in Gemms())
        {
            var c = (float[])c0.Clone();
            g.Sgemm(ta, tb, m, n, k, 0.5f, a, lda, b, ldb, 2f, c, ldc);
            for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
                Assert.That(c[i * ldc + j], Is.EqualTo(want[i * n + j]).Within(1e-4 + 1e-5 * Math.Abs(want[i * n + j])), $"{g.Name} C[{i},{j}]");
            // The padding between rows is not touched.
            for (int i = 0; i < m; i++)
            for (int j = n; j < ldc; j++)
                Assert.That(c[i * ldc + j], Is.EqualTo(c0[i * ldc + j]), $"{g.Name} wrote into the padding at [{i},{j}]");
        }
    }

    [Test]
    public void Sgemm_WithBetaZero_IgnoresNaNInC()
    {
        foreach (var g in Gemms())
        {
            var c = new[] { float.NaN, float.NaN, float.NaN, float.NaN };
            g.Sgemm(false, false, 2, 2, 1, 1f, [1f, 2f], 1, [3f, 4f], 2, 0f, c, 2);
            Assert.That(c, Is.EqualTo(new[] { 3f, 4f, 6f, 8f }), g.Name);
        }
    }

    [Test]
    public void Sgemm_WithKZero_ScalesC()
    {
        foreach (var g in Gemms())
        {
            var c = new[] { 1f, 2f };
            g.Sgemm(false, false, 1, 2, 0, 1f, [], 1, [], 2, 3f, c, 2);
            Assert.That(c, Is.EqualTo(new[] { 3f, 6f }), g.Name);
        }
    }

    [Test]
    public void Sgemm_RejectsShortBuffersAndSmallLeadingDimensions()
    {
        foreach (var g in Gemms())
        {
            var e = Assert.Throws<ArgumentException>(() => g.Sgemm(false, false, 2, 2, 2, 1f, new float[3], 2, new float[4], 2, 0f, new float[4], 2));
            Assert.That(e!.Message, Does.Contain("A (2x2, ld 2) needs 4 elements, the buffer has 3"));
            e = Assert.Throws<ArgumentException>(() => g.Sgemm(false, true, 2, 3, 2, 1f, new float[4], 2, new float[6], 1, 0f, new float[6], 3));
            Assert.That(e!.Message, Does.Contain("leading dimension of B is 1, less than its 2 columns"));
        }
    }

    [Test]
    public void Mlp_WithManagedGemm_MatchesOpenBlas_ForwardAndBackward()
    {
        if (!OpenBlasGemm.IsAvailable)
            Prerequisite.Missing("libopenblas.so.0 is absent: apt-get install libopenblas0-pthread (./build.sh setup installs it)");
        var (train, _) = CudaAdam.Training.Data.FashionMnist.LoadEmbedded();
        var x = new Tensor(train.Inputs.AsSpan(0, 64 * 784).ToArray(), 64, 784);
        var labels = train.Labels.AsSpan(0, 64).ToArray();
        var results = new List<(float[] Logits, float[][] Grads)>();
        foreach (IGemm gemm in new IGemm[] { new ManagedGemm(), new OpenBlasGemm() })
        {
            var model = ModelZoo.Mlp(784, [128, 64], 10, 0, 0, new Rng(11), new Rng(12), gemm);
            var logits = model.Forward(x, training: true);
            var g = Tensor.Zeros(64, 10);
            SoftmaxCrossEntropy.Compute(logits, labels, g);
            model.Backward(g);
            results.Add(((float[])logits.Data.Clone(), model.Parameters.Select(p => (float[])p.Grad!.Clone()).ToArray()));
        }
        // Sums of up to 784 float products in different orders: relative differences ~1e-6; allow 1e-5 of the
        // tensor's largest magnitude.
        Compare(results[0].Logits, results[1].Logits, "logits");
        for (int i = 0; i < results[0].Grads.Length; i++) Compare(results[0].Grads[i], results[1].Grads[i], $"gradient {i}");

        static void Compare(float[] a, float[] b, string what)
        {
            float scale = a.Max(Math.Abs);
            Assert.That(scale, Is.GreaterThan(0), what);
            for (int i = 0; i < a.Length; i++) Assert.That(b[i], Is.EqualTo(a[i]).Within(1e-5 * scale), $"{what}[{i}]");
        }
    }

    [Test]
    public void OpenBlas_IsInstalledBySetup()
    {
        if (!OpenBlasGemm.IsAvailable)
            Prerequisite.Missing("libopenblas.so.0 is absent: apt-get install libopenblas0-pthread (./build.sh setup installs it); the managed GEMM is used");
        Assert.That(Gemm.Default.Name, Is.EqualTo("openblas"));
    }

    [Test]
    public void OpenBlas_RunsOnTheCpuStepsThreadCount_AndSleepsWhenIdle()
    {
        if (!OpenBlasGemm.IsAvailable)
            Prerequisite.Missing("libopenblas.so.0 is absent: apt-get install libopenblas0-pthread (./build.sh setup installs it); the managed GEMM is used");
        if (Environment.GetEnvironmentVariable("OPENBLAS_NUM_THREADS") is null)
            Assert.That(OpenBlasGemm.Threads, Is.EqualTo(CudaAdam.Cpu.SimdStepper.DefaultThreads));
        // Set in the native environment before the library loaded (the managed view of the environment does not see it).
        Assert.That(Marshal.PtrToStringUTF8(getenv("OPENBLAS_THREAD_TIMEOUT")),
            Is.EqualTo(Environment.GetEnvironmentVariable("OPENBLAS_THREAD_TIMEOUT") ?? OpenBlasGemm.ThreadTimeout));
    }

    [DllImport("libc.so.6")]
    private static extern IntPtr getenv(string name);
}
