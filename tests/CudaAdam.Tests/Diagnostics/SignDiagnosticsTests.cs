using CudaAdam.Device;
using CudaAdam.Diagnostics;
using CudaAdam.Tests.Kernels;

namespace CudaAdam.Tests.Diagnostics;

/// <summary>
/// The sign-decomposition diagnostics: the histogram layout, the C# reference on hand-computed values, the paper's
/// bound max u ≤ R on real Adam runs, and <c>kernels/diagnostics.cu</c> on the host emulator against the reference.
/// Kernel comparison rule (DESIGN.md): max, counts and histogram exactly; the double sums (mean u, ‖g‖₁, ‖g‖₂, density)
/// with |ref − x| ≤ 1e−300 + 1e−12·|ref|: sums of ≤ 1e5 positive terms in another order differ by a few ulps × log n.
/// </summary>
public class SignDiagnosticsTests
{
    private const double SumRtol = 1e-12, SumAtol = 1e-300;

    [Test]
    public void HistogramLayoutIsEightLogBinsPerDecadeFrom1eMinus8To1e2()
    {
        var e = SignHistogram.Edges;
        Assert.That(e, Has.Length.EqualTo(81));
        Assert.That(SignHistogram.BinCount, Is.EqualTo(82));
        Assert.That(e[0], Is.EqualTo(1e-8f));
        Assert.That(e[8], Is.EqualTo(1e-7f));
        Assert.That(e[80], Is.EqualTo(1e2f));
        Assert.That(e, Is.Ordered.Ascending);
        Assert.Multiple(() =>
        {
            Assert.That(SignHistogram.Bin(0f), Is.EqualTo(0));
            Assert.That(SignHistogram.Bin(MathF.BitDecrement(e[0])), Is.EqualTo(0));
            Assert.That(SignHistogram.Bin(e[0]), Is.EqualTo(1), "an edge belongs to the bin above it");
            Assert.That(SignHistogram.Bin(MathF.BitDecrement(e[40])), Is.EqualTo(40));
            Assert.That(SignHistogram.Bin(e[40]), Is.EqualTo(41));
            Assert.That(SignHistogram.Bin(1e2f), Is.EqualTo(81));
            Assert.That(SignHistogram.Bin(float.PositiveInfinity), Is.EqualTo(81));
            Assert.That(SignHistogram.Bin(float.NaN), Is.EqualTo(81));
        });
    }

    [Test]
    public void QuantileInterpolatesGeometricallyInsideABinAndNeverExceedsTheMax()
    {
        var counts = new long[SignHistogram.BinCount];
        counts[57] = 10; // [E56, E57): 1e-1 .. 1e-1·10^(1/8)
        double lo = SignHistogram.Edges[56], hi = SignHistogram.Edges[57];
        Assert.That(SignHistogram.Quantile(counts, 0.5, 1.0), Is.EqualTo(lo * Math.Sqrt(hi / lo)).Within(1e-12));
        Assert.That(SignHistogram.Quantile(counts, 1.0, 0.12), Is.EqualTo(0.12), "clamped to the exact max");
        Assert.That(SignHistogram.Quantile(new long[SignHistogram.BinCount], 0.5, 0), Is.NaN);
    }

    [Test]
    public void ReferenceOnHandComputedValues()
    {
        var hp = Hyperparameters.Defaults(Algorithm.Adam);
        var t = new SignTensorInput("w", PreviousParams: [1, 1, 1, 1], Params: [0.5f, 1, 1, 3], Grad: [1, -1, 0, -2],
            M: [0.5f, -0.25f, 0, 0.75f], V: [0.25f, 0.0625f, 1, 0.5625f], Eps: 0, Bound: hp.SignBound);
        var s = SignDiagnostics.Compute([t]).Tensors[0];
        // u = |m|/sqrt(v) = 1, 1, 0, 1 (exact in float32); sign agreement: +/+, −/−, 0/0 yes, +/− no.
        Assert.Multiple(() =>
        {
            Assert.That(s.Count, Is.EqualTo(4));
            Assert.That(s.MaxU, Is.EqualTo(1.0));
            Assert.That(s.MeanU, Is.EqualTo(0.75));
            Assert.That(s.MaxUOverR, Is.EqualTo(1.0 / hp.SignBound));
            Assert.That(s.SignAgreements, Is.EqualTo(3));
            Assert.That(s.SignAgreement, Is.EqualTo(0.75));
            Assert.That(s.GradL1, Is.EqualTo(4.0));
            Assert.That(s.GradL2, Is.EqualTo(Math.Sqrt(6.0)));
            Assert.That(s.Density, Is.EqualTo(16.0 / (4 * 6.0)).Within(1e-15));
            Assert.That(s.UpdateMaxAbs, Is.EqualTo(2.0));
            Assert.That(s.Histogram[0], Is.EqualTo(1), "u = 0 in bin 0");
            Assert.That(s.Histogram[SignHistogram.Bin(1f)], Is.EqualTo(3));
            Assert.That(s.Histogram.Sum(), Is.EqualTo(4));
        });
    }

    [Test]
    public void MagnitudesAreWhatTheStatisticsSee()
    {
        var t = RandomTensor("w", 500, 12);
        var u = SignDiagnostics.Magnitudes(t.M, t.V, t.Eps);
        var s = SignDiagnostics.Compute([t]).Global;
        Assert.That((double)u.Max(), Is.EqualTo(s.MaxU));
        var hist = new long[SignHistogram.BinCount];
        foreach (var x in u) hist[SignHistogram.Bin(x)]++;
        Assert.That(hist, Is.EqualTo(s.Histogram));
        Assert.That(u.Select(x => (double)x).Sum() / u.Length, Is.EqualTo(s.MeanU).Within(1e-12 * s.MeanU));
    }

    [Test]
    public void MaximizeComparesSignsWithTheNegatedGradient()
    {
        var t = new SignTensorInput("w", [0, 0], [0, 0], Grad: [1, -1], M: [-1, 1], V: [1, 1], Eps: 1e-8f, Bound: 7, Maximize: true);
        Assert.That(SignDiagnostics.Compute([t]).Global.SignAgreement, Is.EqualTo(1.0));
        Assert.That(SignDiagnostics.Compute([t with { Maximize = false }]).Global.SignAgreement, Is.EqualTo(0.0));
    }

    [TestCase(0.9, 0.999)]
    [TestCase(0.5, 0.9)]
    [TestCase(0.95, 0.95)]
    public void AdamsUncorrectedMagnitudeStaysBelowR(double beta1, double beta2)
    {
        // arXiv 2507.05966, Lemma B.2: |m_t|/sqrt(v_t) ≤ R whenever β1 < sqrt(β2), for ANY gradient sequence. Heavy-tailed
        // and sign-flipping gradients push u towards the bound; it must hold at every step.
        var hp = Hyperparameters.Defaults(Algorithm.Adam) with { Beta1 = beta1, Beta2 = beta2, Lr = 1e-2 };
        var w = new Parameter("w", new float[64]);
        using var opt = new Optimizer(Algorithm.Adam, [w], hp);
        using var probe = new SignDiagnosticsProbe(opt);
        var rng = new Random(42);
        double worst = 0;
        for (int step = 1; step <= 300; step++)
        {
            w.Grad = Enumerable.Range(0, 64).Select(i =>
                (float)((step % 7 == 0 ? 1000 : 1) * (rng.NextDouble() - 0.3) / Math.Max(1e-3, rng.NextDouble()))).ToArray();
            probe.BeforeStep();
            opt.Step();
            var r = probe.AfterStep();
            worst = Math.Max(worst, r.Global.MaxUOverR);
            Assert.That(r.Global.MaxUOverR, Is.LessThanOrEqualTo(1.0), $"step {step}: max u = {r.Global.MaxU}, R = {hp.SignBound}");
        }
        Assert.That(worst, Is.GreaterThan(0.3), "the gradients did push u towards R (else the test proves nothing)");
    }

    private static SignTensorInput RandomTensor(string name, int n, int seed, bool maximize = false)
    {
        var rng = new Random(seed);
        float F(double scale) => (float)((rng.NextDouble() * 2 - 1) * scale);
        var prev = new float[n];
        var p = new float[n];
        var g = new float[n];
        var m = new float[n];
        var v = new float[n];
        for (int i = 0; i < n; i++)
        {
            double scale = Math.Pow(10, rng.Next(-6, 3)); // u spans many decades
            g[i] = i % 17 == 0 ? 0 : F(scale);
            m[i] = i % 13 == 0 ? 0 : F(scale);
            v[i] = (float)(scale * scale * rng.NextDouble());
            prev[i] = F(1);
            p[i] = prev[i] - F(1e-3);
        }
        return new SignTensorInput(name, prev, p, g, m, v, 1e-8f, Hyperparameters.Defaults(Algorithm.Adam).SignBound, maximize);
    }

    private static void AssertSameStats(SignStats kernel, SignStats reference)
    {
        string at = reference.Name + ": ";
        Assert.Multiple(() =>
        {
            Assert.That(kernel.Count, Is.EqualTo(reference.Count), at + "count");
            Assert.That(kernel.MaxU, Is.EqualTo(reference.MaxU), at + "max u (exact)");
            Assert.That(kernel.UpdateMaxAbs, Is.EqualTo(reference.UpdateMaxAbs), at + "‖Δx‖∞ (exact)");
            Assert.That(kernel.SignAgreements, Is.EqualTo(reference.SignAgreements), at + "sign agreements (exact)");
            Assert.That(kernel.Histogram, Is.EqualTo(reference.Histogram), at + "histogram (exact)");
            Assert.That(kernel.MaxUOverR, Is.EqualTo(reference.MaxUOverR), at + "max u / R (exact)");
            Assert.That(kernel.MedianU, Is.EqualTo(reference.MedianU), at + "median from the histogram");
            foreach (var (name, x, r) in new[] { ("mean u", kernel.MeanU, reference.MeanU), ("‖g‖₁", kernel.GradL1, reference.GradL1),
                         ("‖g‖₂", kernel.GradL2, reference.GradL2), ("density", kernel.Density, reference.Density) })
            {
                if (double.IsNaN(r)) Assert.That(x, Is.NaN, at + name);
                else Assert.That(Math.Abs(x - r), Is.LessThanOrEqualTo(SumAtol + SumRtol * Math.Abs(r)), $"{at}{name}: kernel {x:R}, reference {r:R}");
            }
        });
    }

    /// <summary>Block sizes: one warp (no cross-warp step), 4 warps, and the maximum 32 warps.</summary>
    [TestCase(32)]
    [TestCase(128)]
    [TestCase(1024)]
    public void KernelOnTheEmulatorMatchesTheReference(int blockSize) => KernelMatchesTheReference("emulator", blockSize);

    [Test, Category("Gpu")]
    public void KernelOnTheGpuMatchesTheReference([Values(32, 256, 1024)] int blockSize) => KernelMatchesTheReference("cuda", blockSize);

    private static void KernelMatchesTheReference(string backend, int blockSize)
    {
        using var device = KernelDevices.OpenOrIgnore(backend);
        // Several chunks per tensor (chunk 4096), a zero-size tensor, odd lengths, a tensor of one element, maximize.
        var inputs = new[]
        {
            RandomTensor("a", 10_001, 1), RandomTensor("empty", 0, 2), RandomTensor("one", 1, 3),
            RandomTensor("b", 20_000, 4, maximize: true),
        };
        using var diag = new DeviceSignDiagnostics(device, blockSize, chunkSize: 4096);
        var kernel = diag.Compute(inputs);
        var reference = SignDiagnostics.Compute(inputs);
        for (int k = 0; k < inputs.Length; k++) AssertSameStats(kernel.Tensors[k], reference.Tensors[k]);
        AssertSameStats(kernel.Global, reference.Global);
        Assert.That(reference.Global.Histogram.Count(c => c > 0), Is.GreaterThan(30), "u spread over many bins");
        Assert.That(kernel.Tensors[1].Count, Is.Zero);
        Assert.That(kernel.Tensors[1].MeanU, Is.NaN);
    }

    /// <summary>fused: the statistics come from signadam_step_diag; not fused: from the separate pass over the device copies.</summary>
    [Test]
    public void ProbeOnTheEmulatorBackendReadsTheDeviceCopiesAndMatchesTheCpuProbe([Values(false, true)] bool fused)
    {
        using var device = KernelDevices.OpenOrIgnore("emulator");
        var hp = Hyperparameters.Defaults(Algorithm.SignAdam) with { Lr = 1e-2, Beta1 = 0.8, Beta2 = 0.99 };
        Parameter[] Params() => [new("w", Enumerable.Range(0, 3000).Select(i => MathF.Sin(i)).ToArray()), new("b", new float[7]), new("frozen", new float[5])];
        var cpuParams = Params();
        var devParams = Params();
        var backend = new DeviceBackend(device, new DeviceBackendOptions { ChunkSize = 1024 });
        using var cpuOpt = new Optimizer(Algorithm.SignAdam, cpuParams, hp);
        using var devOpt = new Optimizer(Algorithm.SignAdam, devParams, hp, backend);
        using var cpuProbe = new SignDiagnosticsProbe(cpuOpt);
        using var devProbe = new SignDiagnosticsProbe(devOpt, backend, fused);
        Assert.That(devProbe.Engine, Is.EqualTo("emulator"));
        Assert.That(devProbe.Fused, Is.EqualTo(fused));
        var rng = new Random(9);
        for (int step = 0; step < 3; step++)
        {
            for (int k = 0; k < 2; k++)
            {
                var g = Enumerable.Range(0, cpuParams[k].Data.Length).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray();
                cpuParams[k].Grad = g;
                devParams[k].Grad = (float[])g.Clone();
            }
            cpuProbe.BeforeStep();
            devProbe.BeforeStep();
            cpuOpt.Step();
            devOpt.Step();
            var a = cpuProbe.AfterStep();
            var b = devProbe.AfterStep();
            Assert.That(b.Tensors.Select(t => t.Name), Is.EqualTo(new[] { "w", "b" }), "the parameter without a gradient is not measured");
            for (int k = 0; k < 2; k++) AssertSameStats(b.Tensors[k], a.Tensors[k]);
            AssertSameStats(b.Global, a.Global);
            Assert.That(backend.TryGetDeviceTensor(devParams[0], out var view) && view.Length == 3000 && view.M != 0, "the hook saw w");
            Assert.That(backend.TryGetDeviceTensor(devParams[2], out _), Is.False, "frozen took no step");
        }
    }

    [Test]
    public void ProbeSaysWhatIsWrong()
    {
        var w = new Parameter("w", new float[3]);
        using var sgd = new Optimizer(Algorithm.Sgd, [w]);
        Assert.That(Assert.Throws<ArgumentException>(() => new SignDiagnosticsProbe(sgd))!.Message, Does.Contain("moments"));
        using var adam = new Optimizer(Algorithm.Adam, [w]);
        using var probe = new SignDiagnosticsProbe(adam);
        Assert.That(Assert.Throws<InvalidOperationException>(() => probe.AfterStep())!.Message, Does.Contain("BeforeStep"));
        Assert.That(Assert.Throws<ArgumentException>(() => SignDiagnostics.Compute([new SignTensorInput("x", [1], [1, 2], [1, 2], [1, 2], [1, 2], 1e-8f, 7)]))!.Message,
            Does.Contain("'x'"));
    }
}
