using CudaAdam.Cuda;
using CudaAdam.Device;
using CudaAdam.Tests.Emulator;

namespace CudaAdam.Tests.Kernels;

/// <summary>Global-norm gradient clipping fused ahead of the step (<see cref="GradClipping"/>), on the host emulator:
/// the device norm against the double reference (tolerance), the step bitwise given the same coefficient, skipping.</summary>
public class GradClippingTests
{
    // The device sums per thread, then per block by a tree, then over blocks: another order than the reference's
    // sequential double sum. Each of the ≤ 10^5 additions rounds by ≤ 2^-53 relative: 1e-11 is ample and still far
    // below float32 resolution (6e-8), so any mistake in the kernel (a lost chunk, float accumulation) fails it.
    private const double NormRtol = 1e-11;

    private IDevice _device = null!;

    [OneTimeSetUp]
    public void Open() => _device = KernelDevices.OpenOrIgnore("emulator");

    [OneTimeTearDown]
    public void Close() => _device?.Dispose();

    private static Parameter[] Params(int seed, params int[] lengths) =>
        lengths.Select((n, i) => new Parameter($"p{i}", EmulatorTestSupport.RandomFloats(seed + i, n))).ToArray();

    private static void Grads(Parameter[] ps, int step, float scale)
    {
        for (int i = 0; i < ps.Length; i++)
            ps[i].Grad = EmulatorTestSupport.RandomFloats(1000 * step + i, ps[i].Data.Length, -scale, scale);
    }

    [TestCase(0.5, 1f)]       // clipped: coefficient < 1
    [TestCase(1e6, 1f)]       // not clipped: coefficient 1
    [TestCase(2.0, 0.125f)]   // with a loss scale: the norm is of the unscaled gradient
    public void DeviceNormIsTheReferenceNormWithinTolerance(double maxNorm, float invScale)
    {
        var ps = Params(1, 1000, 33, 0, 4097, 7);
        Grads(ps, 1, 3f);
        using var backend = new DeviceBackend(_device, new DeviceBackendOptions { ChunkSize = 256, BlockSize = 96 });
        using var opt = new Optimizer(Algorithm.AdamW, ps, null, backend) { MaxGradNorm = maxNorm, InvScale = invScale };
        var grads = ps.Select(p => p.Grad!).ToArray();
        double reference = GradClipping.TotalNorm(grads, invScale);
        var r = opt.Step();
        Assert.That(backend.LaunchesLastStep, Is.EqualTo(3), "grad_norm_partial + grad_clip_finalize + adamw_step");
        Assert.That(r.GradNorm, Is.EqualTo(reference).Within(NormRtol * reference), "|ref - x| <= rtol |ref|");
        Assert.That(opt.LastGradNorm, Is.EqualTo(r.GradNorm));
        Assert.That(r.ClipCoefficient, Is.EqualTo(GradClipping.Coefficient(r.GradNorm, maxNorm)),
            "the coefficient is min(1, max / (norm + 1e-6)) of the device's own norm");
        if (maxNorm < reference) Assert.That(r.ClipCoefficient, Is.LessThan(1f));
        else Assert.That(r.ClipCoefficient, Is.EqualTo(1f));
    }

    [TestCase(Algorithm.AdamW, false)]
    [TestCase(Algorithm.Adam, true)]
    [TestCase(Algorithm.Lion, false)]
    [TestCase(Algorithm.Sgd, false)]
    [TestCase(Algorithm.RmsProp, false)]
    public void GivenTheSameCoefficientTheStepIsBitwiseTheReference(Algorithm algorithm, bool amsgrad)
    {
        var hp = Hyperparameters.Defaults(algorithm) with { Amsgrad = amsgrad, Momentum = algorithm is Algorithm.Sgd or Algorithm.RmsProp ? 0.9 : Hyperparameters.Defaults(algorithm).Momentum };
        int[] lengths = [513, 64, 1, 2000];
        var dev = Params(7, lengths);
        var cpu = Params(7, lengths);
        using var backend = new DeviceBackend(_device, new DeviceBackendOptions { ChunkSize = 512 });
        var reference = new CpuReferenceBackend();
        using var opt = new Optimizer(algorithm, dev, hp, backend) { MaxGradNorm = 1.0, InvScale = 0.5f };
        using var refOpt = new Optimizer(algorithm, cpu, hp, reference) { MaxGradNorm = 1.0, InvScale = 0.5f };
        for (int step = 1; step <= 5; step++)
        {
            Grads(dev, step, step % 2 == 0 ? 0.01f : 2f);   // alternately unclipped and clipped
            Grads(cpu, step, step % 2 == 0 ? 0.01f : 2f);
            var d = opt.Step();
            reference.FixedClipCoefficient = d.ClipCoefficient;
            var rr = refOpt.Step();
            Assert.That(rr.GradNorm, Is.EqualTo(d.GradNorm).Within(NormRtol * rr.GradNorm), $"step {step} norm");
            Assert.That(d.ClipCoefficient, step % 2 == 0 ? Is.EqualTo(1f) : Is.LessThan(1f), $"step {step} coefficient");
            for (int i = 0; i < dev.Length; i++)
            {
                EmulatorTestSupport.AssertBitwiseEqual(cpu[i].Data, dev[i].Data, $"step {step} {dev[i].Name}");
                var (s, r) = (opt.State(dev[i])!, refOpt.State(cpu[i])!);
                if (r.M is not null) EmulatorTestSupport.AssertBitwiseEqual(r.M, s.M!, $"step {step} {dev[i].Name}.M");
                if (r.V is not null) EmulatorTestSupport.AssertBitwiseEqual(r.V, s.V!, $"step {step} {dev[i].Name}.V");
                if (r.VMax is not null) EmulatorTestSupport.AssertBitwiseEqual(r.VMax, s.VMax!, $"step {step} {dev[i].Name}.VMax");
            }
        }
    }

    [Test]
    public void TheReferenceCoefficientAgreesWithTheDevicesOnOrdinaryInputs()
    {
        // Without forcing: the two norms differ by double rounding only, so the float coefficients agree.
        var dev = Params(3, 300, 5000);
        var cpu = Params(3, 300, 5000);
        using var backend = new DeviceBackend(_device);
        using var opt = new Optimizer(Algorithm.Adam, dev, null, backend) { MaxGradNorm = 0.25 };
        using var refOpt = new Optimizer(Algorithm.Adam, cpu, null, new CpuReferenceBackend()) { MaxGradNorm = 0.25 };
        Grads(dev, 1, 1f);
        Grads(cpu, 1, 1f);
        var d = opt.Step();
        var r = refOpt.Step();
        Assert.That(d.ClipCoefficient, Is.EqualTo(r.ClipCoefficient));
        for (int i = 0; i < dev.Length; i++) EmulatorTestSupport.AssertBitwiseEqual(cpu[i].Data, dev[i].Data, dev[i].Name);
    }

    [TestCase(float.NaN)]
    [TestCase(float.PositiveInfinity)]
    public void ANonFiniteNormSkipsTheStep(float bad)
    {
        var ps = Params(5, 100, 50);
        using var backend = new DeviceBackend(_device);
        using var opt = new Optimizer(Algorithm.AdamW, ps, null, backend) { MaxGradNorm = 1.0 };
        Grads(ps, 1, 1f);
        opt.Step();
        var before = ps.Select(p => (float[])p.Data.Clone()).ToArray();
        var m = (float[])opt.State(ps[0])!.M!.Clone();
        Grads(ps, 2, 1f);
        ps[1].Grad![17] = bad;
        var r = opt.Step();
        Assert.That(r.Skipped, Is.True);
        Assert.That(r.Reason, Does.StartWith("non-finite gradient: p1[17] = "));
        Assert.That(double.IsFinite(r.GradNorm), Is.False);
        Assert.That(opt.SkippedSteps, Is.EqualTo(1));
        Assert.That(opt.State(ps[0])!.Step, Is.EqualTo(1), "the step counter rolled back");
        for (int i = 0; i < ps.Length; i++) EmulatorTestSupport.AssertBitwiseEqual(before[i], ps[i].Data, ps[i].Name);
        EmulatorTestSupport.AssertBitwiseEqual(m, opt.State(ps[0])!.M!, "M");
    }

    [Test]
    public void TheNormIsReproducibleRunToRun()
    {
        double Run()
        {
            var ps = Params(9, 70000, 3, 999);
            Grads(ps, 1, 1f);
            using var backend = new DeviceBackend(_device, new DeviceBackendOptions { ChunkSize = 1024 });
            using var opt = new Optimizer(Algorithm.Adam, ps, null, backend) { MaxGradNorm = 1.0 };
            return opt.Step().GradNorm;
        }
        double first = Run();
        for (int r = 0; r < 3; r++)
            Assert.That(BitConverter.DoubleToInt64Bits(Run()), Is.EqualTo(BitConverter.DoubleToInt64Bits(first)));
    }

    [TestCase(float.NaN)]
    [TestCase(float.NegativeInfinity)]
    public void UnderPropagateANonFiniteNormLeavesTheGradientsUnclippedOnBothSides(float bad)
    {
        var dev = Params(5, 100, 50);
        var cpu = Params(5, 100, 50);
        using var opt = new Optimizer(Algorithm.AdamW, dev, null, new DeviceBackend(_device))
            { MaxGradNorm = 0.01, NonFinite = NonFinitePolicy.Propagate };
        using var refOpt = new Optimizer(Algorithm.AdamW, cpu, null) { MaxGradNorm = 0.01, NonFinite = NonFinitePolicy.Propagate };
        Grads(dev, 1, 1f);
        Grads(cpu, 1, 1f);
        dev[1].Grad![17] = cpu[1].Grad![17] = bad;
        var d = opt.Step();
        var r = refOpt.Step();
        Assert.That((d.Skipped, r.Skipped), Is.EqualTo((false, false)));
        Assert.That((d.ClipCoefficient, r.ClipCoefficient), Is.EqualTo((1f, 1f)), "a non-finite norm clips nothing");
        Assert.That(float.IsNaN(dev[1].Data[17]), Is.True, "the bad value went through");
        Assert.That(float.IsFinite(dev[0].Data[0]), Is.True, "the others were not spoiled by a NaN coefficient");
        for (int i = 0; i < dev.Length; i++) EmulatorTestSupport.AssertBitwiseEqual(cpu[i].Data, dev[i].Data, dev[i].Name);
    }

    [Test]
    public void InvalidThresholdsAreRejected()
    {
        using var opt = new Optimizer(Algorithm.Adam, Params(1, 3), null);
        Assert.That(() => opt.MaxGradNorm = -1, Throws.ArgumentException.With.Message.Contains("-1"));
        Assert.That(() => opt.MaxGradNorm = double.NaN, Throws.ArgumentException);
        Assert.That(() => opt.MaxGradNorm = 0, Throws.ArgumentException);
        opt.MaxGradNorm = null;
        Assert.That(opt.MaxGradNorm, Is.Null);
    }
}
