using System.Text.RegularExpressions;
using CudaAdam.Cuda;
using CudaAdam.Cuda.Compilation;
using CudaAdam.Device;
using CudaAdam.Diagnostics;
using CudaAdam.Tests.Cuda;
using CudaAdam.Tests.Kernels;

namespace CudaAdam.Tests.Diagnostics;

/// <summary>
/// The sign diagnostics fused into the step (issue 6; <c>kernels/diagnostics.cuh</c>, <c>*_step_diag</c>): on the host
/// emulator (and the GPU when there is one), the diagnostics-enabled step must (1) leave params and state bitwise equal
/// to the plain kernel's and (2) produce the reference statistics (<see cref="SignDiagnostics"/>): counts, max bits and
/// histogram exactly, the double sums with |ref − x| ≤ 1e−300 + 1e−12·|ref| (order-dependent sums of ≤ 1e5 terms).
/// The shared binning is checked value by value at every edge and its float neighbours (a histogram off-by-one fails).
/// </summary>
public class FusedSignDiagnosticsTests
{
    private const double SumRtol = 1e-12, SumAtol = 1e-300;

    // ---- the binning shared by the separate pass and the fused steps ------------------------------------------------

    [Test]
    public void BinningKernelEqualsTheReferenceAtEveryEdgeItsNeighboursAndSpecialValues() => Binning("emulator");

    [Test, Category("Gpu")]
    public void BinningKernelOnTheGpuEqualsTheReference() => Binning("cuda");

    private static void Binning(string backend)
    {
        using var device = KernelDevices.OpenOrIgnore(backend);
        var values = new List<float> { 0f, -0f, float.Epsilon, 1e-38f, 1e-30f, 1e-9f, 0.5f, 1f, 7.3f, 99.99f, 1e3f, 1e30f,
            float.MaxValue, float.PositiveInfinity, float.NaN, -1f, float.NegativeInfinity };
        foreach (var e in SignHistogram.Edges)
            values.AddRange([e, MathF.BitDecrement(e), MathF.BitIncrement(e), MathF.BitDecrement(MathF.BitDecrement(e))]);
        var rng = new Random(5);
        for (int i = 0; i < 20_000; i++) values.Add((float)Math.Pow(10, -10 + 13 * rng.NextDouble()));   // log-uniform 1e-10 .. 1e3
        var u = values.ToArray();
        using var edges = device.Allocate<float>(SignHistogram.EdgeCount);
        using var input = device.Allocate<float>(u.Length);
        using var output = device.Allocate<int>(u.Length);
        device.CopyToDevice<float>(SignHistogram.Edges, edges);
        device.CopyToDevice<float>(u, input);
        using var args = new KernelArgs();
        args.Add(input).Add((long)u.Length).Add(edges).Add(output);
        device.Launch(device.GetKernel("diagnostics", "sign_diagnostics_bin"), 64, 128, args);
        device.Synchronize();
        var bins = new int[u.Length];
        device.CopyToHost(output, bins.AsSpan());
        var wrong = Enumerable.Range(0, u.Length).Where(i => bins[i] != SignHistogram.Bin(u[i]))
            .Select(i => $"u = {u[i]:R} (0x{BitConverter.SingleToUInt32Bits(u[i]):x8}): kernel bin {bins[i]}, reference {SignHistogram.Bin(u[i])}")
            .Take(10).ToList();
        Assert.That(wrong, Is.Empty);
        Assert.That(bins.Distinct().Count(), Is.EqualTo(SignHistogram.BinCount), "every bin was hit");
    }

    // ---- the plain kernels carry no diagnostics code (NVRTC, the PTX of each entry) ----------------------------------

    [TestCase("adam.cu", "adam_step", "adam_step_diag")]
    [TestCase("adam.cu", "nadam_step", "nadam_step_diag")]
    [TestCase("adam.cu", "radam_step", "radam_step_diag")]
    [TestCase("sign.cu", "signadam_step", "signadam_step_diag")]
    public void ThePlainKernelHasNoDiagnosticsCodeAndTheFusedOneHasNoExtraGlobalLoads(string file, string plain, string fused)
    {
        Requirements.Nvrtc();
        var ptx = System.Text.Encoding.UTF8.GetString(
            NvrtcCompiler.Compile(KernelSources.ForFamily(file), NvrtcCompiler.Options(CompileTarget.Default), cubin: false).Image);
        string Entry(string name) => Regex.Match(ptx, @"\.entry " + name + @"\(.*?\n}\n", RegexOptions.Singleline) is { Success: true } m
            ? m.Value : throw new AssertionException($"{file}: no .entry {name} in the PTX");
        string p = Entry(plain), f = Entry(fused);
        Assert.Multiple(() =>
        {
            foreach (var op in new[] { "match.any", "shfl.sync", "bar.sync", "atom." })
                Assert.That(p, Does.Not.Contain(op), $"{plain}: '{op}' belongs to the diagnostics, not to the plain step");
            Assert.That(f, Does.Contain("match.any.sync"), $"{fused}: the warp-aggregated histogram");
            Assert.That(Regex.Matches(f, @"bar\.sync").Count, Is.EqualTo(2), $"{fused}: two barriers per block (edges in, one flush)");
            // The diagnostics read registers only: the fused kernel loads from global memory what the plain one does,
            // plus the 81 edges (ld.global.f32) and nothing else; stores are the step's plus the record's atomics.
            Assert.That(Regex.Matches(f, @"ld\.global\.v4\.f32").Count, Is.EqualTo(Regex.Matches(p, @"ld\.global\.v4\.f32").Count), "float4 loads");
            Assert.That(Regex.Matches(f, @"st\.global").Count, Is.EqualTo(Regex.Matches(p, @"st\.global").Count), "stores");
            Assert.That(f, Does.Not.Contain("fma.rn.f32"));
        });
    }

    // ---- DeviceBackend: the fused step against the plain step and the reference --------------------------------------

    public static IEnumerable<TestCaseData> Cases()
    {
        var adam = Hyperparameters.Defaults(Algorithm.Adam);
        yield return new TestCaseData(Algorithm.Adam, adam, false).SetName("Adam, aligned (float4 path)");
        yield return new TestCaseData(Algorithm.Adam, adam, true).SetName("Adam, misaligned (scalar path)");
        yield return new TestCaseData(Algorithm.Adam, adam with { Amsgrad = true, WeightDecay = 0.1, Maximize = true }, false)
            .SetName("AMSGrad, coupled decay, maximize");
        yield return new TestCaseData(Algorithm.AdamW, Hyperparameters.Defaults(Algorithm.AdamW) with { Beta1 = 0.5, Beta2 = 0.9 }, true)
            .SetName("AdamW, misaligned");
        yield return new TestCaseData(Algorithm.SignAdam, Hyperparameters.Defaults(Algorithm.SignAdam), false).SetName("SignAdam, aligned");
        yield return new TestCaseData(Algorithm.SignAdam, Hyperparameters.Defaults(Algorithm.SignAdam) with { Maximize = true }, true)
            .SetName("SignAdam, misaligned, maximize");
        yield return new TestCaseData(Algorithm.NAdam, Hyperparameters.Defaults(Algorithm.NAdam), false).SetName("NAdam");
        yield return new TestCaseData(Algorithm.RAdam, Hyperparameters.Defaults(Algorithm.RAdam) with { WeightDecay = 0.01 }, true)
            .SetName("RAdam, misaligned");
    }

    [TestCaseSource(nameof(Cases))]
    public void FusedStepIsBitwiseThePlainStepAndItsStatisticsAreTheReferences(Algorithm algorithm, Hyperparameters hp, bool misaligned) =>
        FusedAgainstPlainAndReference("emulator", algorithm, hp, misaligned, blockSize: 64);

    [Test]
    public void OneWarpAndThirtyTwoWarpsPerBlock(
        [Values(32, 1024)] int blockSize) =>
        FusedAgainstPlainAndReference("emulator", Algorithm.Adam, Hyperparameters.Defaults(Algorithm.Adam), misaligned: false, blockSize);

    [Test, Category("Gpu")]
    public void OnTheGpu([Values(Algorithm.Adam, Algorithm.SignAdam)] Algorithm algorithm, [Values(false, true)] bool misaligned,
        [Values(32, 256, 1024)] int blockSize) =>
        FusedAgainstPlainAndReference("cuda", algorithm, Hyperparameters.Defaults(algorithm), misaligned, blockSize);

    /// <summary>Lengths: several chunks with a ragged end, zero-size, one element, odd, a multiple of 4 plus 1, and a
    /// parameter without a gradient (not measured).</summary>
    private static readonly int[] Lengths = [5_003, 0, 1, 777, 4_097, 64];

    private static Parameter[] MakeParams()
    {
        var rng = new Random(3);
        return Lengths.Select((n, k) => new Parameter($"t{k}", Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray())).ToArray();
    }

    /// <summary>Gradients over 10 decades with exact zeros, so u spreads over many bins and sign(m) = sign(g) fails often.</summary>
    private static void SetGrads(Parameter[] ps, Random rng)
    {
        for (int k = 0; k < ps.Length - 1; k++)
            ps[k].Grad = Enumerable.Range(0, ps[k].Data.Length)
                .Select(i => i % 19 == 0 ? 0f : (float)((rng.NextDouble() - 0.5) * Math.Pow(10, -9 + 10 * rng.NextDouble()))).ToArray();
        ps[^1].Grad = null;
    }

    private static DeviceBackendOptions Options(bool misaligned, int blockSize, bool diagnostics) => new()
    {
        BlockSize = blockSize, ChunkSize = 1000, Alignment = misaligned ? 1 : 64, BaseOffset = misaligned ? 1 : 0, Diagnostics = diagnostics,
    };

    private static void FusedAgainstPlainAndReference(string backendName, Algorithm algorithm, Hyperparameters hp, bool misaligned, int blockSize)
    {
        using var device = KernelDevices.OpenOrIgnore(backendName);
        var plainParams = MakeParams();
        var diagParams = MakeParams();
        var plain = new DeviceBackend(device, Options(misaligned, blockSize, diagnostics: false));
        var diag = new DeviceBackend(device, Options(misaligned, blockSize, diagnostics: true));
        using var plainOpt = new Optimizer(algorithm, plainParams, hp, plain);
        using var diagOpt = new Optimizer(algorithm, diagParams, hp, diag);
        var rng = new Random(17);
        var globalBins = new HashSet<int>();
        for (int step = 1; step <= 4; step++)
        {
            SetGrads(plainParams, rng);
            for (int k = 0; k < diagParams.Length; k++) diagParams[k].Grad = (float[]?)plainParams[k].Grad?.Clone();
            if (step == 3) PlantExtremeState(diagOpt, plainOpt, diagParams, plainParams);
            var before = diagParams.Select(p => (float[])p.Data.Clone()).ToArray();
            plainOpt.Step();
            diagOpt.Step();
            Assert.That(plain.LastDiagnostics, Is.Null, "diagnostics off: no report");

            for (int k = 0; k < diagParams.Length; k++)
            {
                string at = $"step {step}, tensor {diagParams[k].Name}";
                Assert.That(Bits(diagParams[k].Data), Is.EqualTo(Bits(plainParams[k].Data)), at + ": params bitwise the plain kernel's");
                var a = diagOpt.State(diagParams[k]);
                var b = plainOpt.State(plainParams[k]);
                if (b is null) { Assert.That(a, Is.Null, at); continue; }
                Assert.That(Bits(a!.M), Is.EqualTo(Bits(b.M)), at + ": m");
                Assert.That(Bits(a.V), Is.EqualTo(Bits(b.V)), at + ": v");
                Assert.That(Bits(a.VMax), Is.EqualTo(Bits(b.VMax)), at + ": vmax");
            }

            var inputs = new List<SignTensorInput>();
            for (int k = 0; k < diagParams.Length - 1; k++)
            {
                var s = diagOpt.State(diagParams[k])!;
                inputs.Add(new SignTensorInput(diagParams[k].Name, before[k], diagParams[k].Data, diagParams[k].Grad!, s.M!, s.V!, (float)hp.Eps,
                    hp.SignBound, hp.Maximize));
            }
            var reference = SignDiagnostics.Compute(inputs);
            var fused = diag.LastDiagnostics ?? throw new AssertionException($"step {step}: no fused report");
            Assert.That(fused.Tensors.Select(t => t.Name), Is.EqualTo(inputs.Select(i => i.Name)), "the stepped tensors, in order; the frozen one is absent");
            for (int k = 0; k < inputs.Count; k++) AssertSameStats(fused.Tensors[k], reference.Tensors[k], $"step {step}: ");
            AssertSameStats(fused.Global, reference.Global, $"step {step}: ");
            for (int b = 0; b < SignHistogram.BinCount; b++)
                if (reference.Global.Histogram[b] > 0) globalBins.Add(b);
            if (step == 3)
            {
                bool coupledDecay = hp.WeightDecay != 0 && algorithm != Algorithm.AdamW && !hp.DecoupledWeightDecay;   // g = λx ≠ 0: no u = 0
                if (!coupledDecay) Assert.That(reference.Global.Histogram[0], Is.GreaterThan(0), "the planted u = 0 lands in bin 0");
                Assert.That(reference.Global.Histogram[^1], Is.GreaterThan(0), "the planted huge u lands in the last bin");
            }
        }
        Assert.That(globalBins.Count, Is.GreaterThan(25), "u covered many bins over the run (else the histogram comparison proves little)");
    }

    /// <summary>Before step 3: m = 1, v = 0 where g = 0 (u = β1/ε ≥ 1e2: the last bin) and m = v = 0 (u = 0: bin 0), in both
    /// optimizers' host state (uploaded by the backend at the step).</summary>
    private static void PlantExtremeState(Optimizer a, Optimizer b, Parameter[] pa, Parameter[] pb)
    {
        foreach (var (opt, ps) in new[] { (a, pa), (b, pb) })
        {
            var s = opt.State(ps[0])!;
            for (int i = 0; i < 40; i++)
            {
                ps[0].Grad![i] = 0f;
                (s.M![i], s.V![i]) = i < 20 ? (1f, 0f) : (0f, 0f);
                if (s.VMax is { } vmax) vmax[i] = 0f;
            }
        }
    }

    private static uint[] Bits(float[]? a) => a is null ? [] : a.Select(BitConverter.SingleToUInt32Bits).ToArray();

    private static void AssertSameStats(SignStats kernel, SignStats reference, string prefix)
    {
        string at = prefix + reference.Name + ": ";
        Assert.Multiple(() =>
        {
            Assert.That(kernel.Count, Is.EqualTo(reference.Count), at + "count");
            Assert.That(kernel.MaxU, Is.EqualTo(reference.MaxU), at + "max u (exact)");
            Assert.That(kernel.UpdateMaxAbs, Is.EqualTo(reference.UpdateMaxAbs), at + "‖Δx‖∞ (exact)");
            Assert.That(kernel.SignAgreements, Is.EqualTo(reference.SignAgreements), at + "sign agreements (exact)");
            Assert.That(kernel.Histogram, Is.EqualTo(reference.Histogram), at + "histogram (exact)");
            Assert.That(kernel.MaxUOverR, Is.EqualTo(reference.MaxUOverR), at + "max u / R (exact)");
            Assert.That(kernel.MedianU, Is.EqualTo(reference.MedianU), at + "median from the histogram");
            Assert.That(kernel.U99, Is.EqualTo(reference.U99), at + "0.99-quantile from the histogram");
            foreach (var (name, x, r) in new[] { ("mean u", kernel.MeanU, reference.MeanU), ("‖g‖₁", kernel.GradL1, reference.GradL1),
                         ("‖g‖₂", kernel.GradL2, reference.GradL2), ("density", kernel.Density, reference.Density) })
            {
                if (double.IsNaN(r)) Assert.That(x, Is.NaN, at + name);
                else Assert.That(Math.Abs(x - r), Is.LessThanOrEqualTo(SumAtol + SumRtol * Math.Abs(r)), $"{at}{name}: kernel {x:R}, reference {r:R}");
            }
        });
    }

    // ---- what the fused g is, skipped steps, errors ---------------------------------------------------------------

    [Test]
    public void WithLossScalingAndClippingTheStatisticsSeeTheGradientTheMomentsSaw()
    {
        using var device = KernelDevices.OpenOrIgnore("emulator");
        var hp = Hyperparameters.Defaults(Algorithm.Adam);
        var w = new Parameter("w", Enumerable.Range(0, 3001).Select(i => MathF.Cos(i)).ToArray());
        var backend = new DeviceBackend(device, new DeviceBackendOptions { Diagnostics = true, ChunkSize = 512 });
        using var opt = new Optimizer(Algorithm.Adam, [w], hp, backend) { MaxGradNorm = 1.0, InvScale = 0.5f };
        var g = Enumerable.Range(0, 3001).Select(i => MathF.Sin(i * 0.37f) * 3f).ToArray();
        w.Grad = g;
        var before = (float[])w.Data.Clone();
        float coef = opt.Step().ClipCoefficient;
        Assert.That(coef, Is.LessThan(0.5f), "the gradient was clipped (else the test proves nothing)");
        var seen = g.Select(x => x * 0.5f * coef).ToArray();   // ca_load: (g * inv_scale) * coef, float32
        var s = opt.State(w)!;
        var reference = SignDiagnostics.Compute([new SignTensorInput("w", before, w.Data, seen, s.M!, s.V!, (float)hp.Eps, hp.SignBound)]);
        AssertSameStats(backend.LastDiagnostics!.Global, reference.Global, "");
    }

    [Test]
    public void ASkippedStepHasNoReportAndChangesNothing()
    {
        using var device = KernelDevices.OpenOrIgnore("emulator");
        var w = new Parameter("w", [1f, 2f, 3f, 4f, 5f]);
        var backend = new DeviceBackend(device, new DeviceBackendOptions { Diagnostics = true });
        using var opt = new Optimizer(Algorithm.SignAdam, [w], null, backend);
        w.Grad = [1f, -1f, 0.5f, 0f, 2f];
        opt.Step();
        Assert.That(backend.LastDiagnostics!.Global.Count, Is.EqualTo(5));
        var data = (float[])w.Data.Clone();
        w.Grad = [1f, float.NaN, 0.5f, 0f, 2f];
        Assert.That(opt.Step().Skipped, Is.True);
        Assert.That(backend.LastDiagnostics, Is.Null, "a skipped step measures nothing");
        Assert.That(w.Data, Is.EqualTo(data));
        w.Grad = [1f, 1f, 0.5f, 0f, 2f];
        opt.Step();
        Assert.That(backend.LastDiagnostics!.Global.Count, Is.EqualTo(5), "the next good step is measured again");
    }

    [Test]
    public void AnAlgorithmWithoutMomentsRefusesDiagnosticsBeforeChangingAnything()
    {
        using var device = KernelDevices.OpenOrIgnore("emulator");
        var w = new Parameter("w", [1f, 2f]) { Grad = [1f, 1f] };
        var backend = new DeviceBackend(device, new DeviceBackendOptions { Diagnostics = true });
        using var opt = new Optimizer(Algorithm.Lion, [w], null, backend);
        var e = Assert.Throws<NotSupportedException>(() => opt.Step())!;
        Assert.That(e.Message, Does.Contain("lion").And.Contain("Diagnostics off"));
        Assert.That(w.Data, Is.EqualTo(new[] { 1f, 2f }));
        backend.Diagnostics = false;
        opt.Step();
        Assert.That(w.Data, Is.Not.EqualTo(new[] { 1f, 2f }), "with diagnostics off it steps");
        Assert.Throws<NotSupportedException>(() => new Optimizer(Algorithm.Lion, [new Parameter("x", [1f])], null,
            new DeviceBackend(device, new DeviceBackendOptions { Diagnostics = true, Residency = Residency.Device })));
    }

    [Test]
    public void ProbeOnADeviceBackendUsesTheFusedPathAndLeavesTheBackendAsItWas()
    {
        using var device = KernelDevices.OpenOrIgnore("emulator");
        var hp = Hyperparameters.Defaults(Algorithm.Adam) with { Lr = 1e-2 };
        var cpuW = new Parameter("w", Enumerable.Range(0, 999).Select(i => MathF.Sin(i)).ToArray());
        var devW = new Parameter("w", (float[])cpuW.Data.Clone());
        var backend = new DeviceBackend(device);
        using var cpuOpt = new Optimizer(Algorithm.Adam, [cpuW], hp);
        using var devOpt = new Optimizer(Algorithm.Adam, [devW], hp, backend);
        using var cpuProbe = new SignDiagnosticsProbe(cpuOpt);
        using var devProbe = new SignDiagnosticsProbe(devOpt, backend);
        Assert.That(devProbe.Fused, Is.True);
        Assert.That(cpuProbe.Fused, Is.False);
        for (int step = 0; step < 2; step++)
        {
            cpuW.Grad = Enumerable.Range(0, 999).Select(i => MathF.Cos(i * (step + 1))).ToArray();
            devW.Grad = (float[])cpuW.Grad.Clone();
            cpuProbe.BeforeStep();
            devProbe.BeforeStep();
            Assert.That(backend.Diagnostics, Is.True, "on for the measured step");
            cpuOpt.Step();
            devOpt.Step();
            var a = cpuProbe.AfterStep();
            var b = devProbe.AfterStep();
            Assert.That(backend.Diagnostics, Is.False, "back off after it");
            AssertSameStats(b.Global, a.Global, $"step {step}: ");
        }
        devW.Grad = (float[])cpuW.Grad!.Clone();
        devOpt.Step();
        Assert.That(backend.LastDiagnostics, Is.Null, "an unmeasured step pays nothing");
    }

    // ---- the device-resident engine (Residency.Device, graph-capturable) --------------------------------------------

    [TestCase(false)]
    [TestCase(true)]
    public void DeviceOptimizerWithDiagnosticsStepsBitwiseAsWithoutAndReadsTheReference(bool captureGraph)
    {
        using var device = KernelDevices.OpenOrIgnore("emulator");
        DeviceOptimizerMatches(device, captureGraph);
    }

    [Test, Category("Gpu")]
    public void DeviceOptimizerOnTheGpuCapturedOrNot([Values(false, true)] bool captureGraph)
    {
        using var device = KernelDevices.OpenOrIgnore("cuda");
        DeviceOptimizerMatches(device, captureGraph);
    }

    private static void DeviceOptimizerMatches(IDevice device, bool captureGraph)
    {
        var hp = Hyperparameters.Defaults(Algorithm.AdamW) with { Lr = 1e-2 };
        Parameter[] Make() => [new("a", Enumerable.Range(0, 3333).Select(i => MathF.Sin(i)).ToArray()), new("e", []), new("b", Enumerable.Range(0, 65).Select(i => MathF.Cos(i)).ToArray())];
        var ps = Make();
        var qs = Make();
        var o = new DeviceBackendOptions { ChunkSize = 1000, CaptureGraph = captureGraph, Residency = Residency.Device };
        var plainBackend = new DeviceBackend(device, o);
        var diagBackend = new DeviceBackend(device, o with { Diagnostics = true });
        using var plain = new Optimizer(Algorithm.AdamW, ps, hp, plainBackend);
        using var diag = new Optimizer(Algorithm.AdamW, qs, hp, diagBackend);
        Assert.That(diagBackend.LastDiagnostics, Is.Null, "no step yet");
        var rng = new Random(8);
        for (int step = 1; step <= 3; step++)
        {
            var before = qs.Select(p => (float[])p.Data.Clone()).ToArray();
            for (int k = 0; k < ps.Length; k++)
            {
                ps[k].Grad = Enumerable.Range(0, ps[k].Data.Length).Select(_ => (float)((rng.NextDouble() - 0.5) * Math.Pow(10, -6 * rng.NextDouble()))).ToArray();
                qs[k].Grad = (float[])ps[k].Grad!.Clone();
            }
            plain.Step();
            diag.Step();
            Assert.That(plainBackend.LastDiagnostics, Is.Null, "diagnostics off: no record");
            var report = diagBackend.LastDiagnostics!;
            plain.DownloadParameters();
            diag.DownloadParameters();
            var inputs = new List<SignTensorInput>();
            for (int k = 0; k < ps.Length; k++)
            {
                Assert.That(Bits(qs[k].Data), Is.EqualTo(Bits(ps[k].Data)), $"step {step} {qs[k].Name}: params");
                var sp = plain.State(ps[k])!;
                var sq = diag.State(qs[k])!;
                Assert.That(Bits(sq.M), Is.EqualTo(Bits(sp.M)));
                Assert.That(Bits(sq.V), Is.EqualTo(Bits(sp.V)));
                inputs.Add(new SignTensorInput(qs[k].Name, before[k], qs[k].Data, qs[k].Grad!, sq.M!, sq.V!, (float)hp.Eps, hp.SignBound));
            }
            var reference = SignDiagnostics.Compute(inputs);
            for (int k = 0; k < inputs.Count; k++) AssertSameStats(report.Tensors[k], reference.Tensors[k], $"step {step}: ");
            AssertSameStats(report.Global, reference.Global, $"step {step}: ");
        }
        qs[0].Grad![5] = float.PositiveInfinity;
        Assert.That(diag.Step().Skipped, Is.True);
        Assert.That(diagBackend.LastDiagnostics, Is.Null, "a skipped step has no report");
    }
}
