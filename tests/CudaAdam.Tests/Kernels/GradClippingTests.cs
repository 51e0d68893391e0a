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
        using var backend = new DeviceBackend(_device, new DeviceBackendOptions { MaxGradNorm = maxNorm, ChunkSize = 256, BlockSize = 96 })
            { InvScale = invScale };
        using var opt = new Optimizer(Algorithm.AdamW, ps, null, backend);
        var grads = ps.Select(p => p.Grad!).ToArray();
        double reference = GradClipping.TotalNorm(grads, invScale);
        opt.Step();
        Assert.That(backend.LaunchesLastStep, Is.EqualTo(3), "grad_norm_partial + grad_clip_finalize + adamw_step");
        Assert.That(backend.LastGradNorm, Is.EqualTo(reference).Within(NormRtol * reference), "|ref - x| <= rtol |ref|");
        Assert.That(opt.LastGradNorm, Is.EqualTo(backend.LastGradNorm));
        Assert.That(backend.LastClipCoefficient, Is.EqualTo(GradClipping.Coefficient(backend.LastGradNorm, maxNorm)),
            "the coefficient is min(1, max / (norm + 1e-6)) of the device's own norm");
        if (maxNorm < reference) Assert.That(backend.LastClipCoefficient, Is.LessThan(1f));
        else Assert.That(backend.LastClipCoefficient, Is.EqualTo(1f));
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
        using var backend = new DeviceBackend(_device, new DeviceBackendOptions { MaxGradNorm = 1.0, ChunkSize = 512 }) { InvScale = 0.5f };
        var reference = new CheckedReferenceBackend { MaxGradNorm = 1.0, InvScale = 0.5f };
        using var opt = new Optimizer(algorithm, dev, hp, backend);
        using var refOpt = new Optimizer(algorithm, cpu, hp, reference);
        for (int step = 1; step <= 5; step++)
        {
            Grads(dev, step, step % 2 == 0 ? 0.01f : 2f);   // alternately unclipped and clipped
            Grads(cpu, step, step % 2 == 0 ? 0.01f : 2f);
            opt.Step();
            reference.FixedClipCoefficient = backend.LastClipCoefficient;
            refOpt.Step();
            Assert.That(reference.LastGradNorm, Is.EqualTo(backend.LastGradNorm).Within(NormRtol * reference.LastGradNorm), $"step {step} norm");
            Assert.That(backend.LastClipCoefficient, step % 2 == 0 ? Is.EqualTo(1f) : Is.LessThan(1f), $"step {step} coefficient");
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
        using var backend = new DeviceBackend(_device, new DeviceBackendOptions { MaxGradNorm = 0.25 });
        var reference = new CheckedReferenceBackend { MaxGradNorm = 0.25 };
        using var opt = new Optimizer(Algorithm.Adam, dev, null, backend);
        using var refOpt = new Optimizer(Algorithm.Adam, cpu, null, reference);
        Grads(dev, 1, 1f);
        Grads(cpu, 1, 1f);
        opt.Step();
        refOpt.Step();
        Assert.That(backend.LastClipCoefficient, Is.EqualTo(reference.LastClipCoefficient));
        for (int i = 0; i < dev.Length; i++) EmulatorTestSupport.AssertBitwiseEqual(cpu[i].Data, dev[i].Data, dev[i].Name);
    }

    [TestCase(float.NaN)]
    [TestCase(float.PositiveInfinity)]
    public void ANonFiniteNormSkipsTheStep(float bad)
    {
        var ps = Params(5, 100, 50);
        using var backend = new DeviceBackend(_device, new DeviceBackendOptions { MaxGradNorm = 1.0, CheckNonFinite = false });
        using var opt = new Optimizer(Algorithm.AdamW, ps, null, backend);
        Grads(ps, 1, 1f);
        opt.Step();
        var before = ps.Select(p => (float[])p.Data.Clone()).ToArray();
        var m = (float[])opt.State(ps[0])!.M!.Clone();
        Grads(ps, 2, 1f);
        ps[1].Grad![17] = bad;
        opt.Step();
        Assert.That(backend.LastStepSkipped, Is.True, "clipping implies the check, even with CheckNonFinite off");
        Assert.That(double.IsFinite(backend.LastGradNorm), Is.False);
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
            using var backend = new DeviceBackend(_device, new DeviceBackendOptions { MaxGradNorm = 1.0, ChunkSize = 1024 });
            using var opt = new Optimizer(Algorithm.Adam, ps, null, backend);
            opt.Step();
            return backend.LastGradNorm;
        }
        double first = Run();
        for (int r = 0; r < 3; r++)
            Assert.That(BitConverter.DoubleToInt64Bits(Run()), Is.EqualTo(BitConverter.DoubleToInt64Bits(first)));
    }

    [Test]
    public void CpuBackendClipsLikeTheCheckedReference()
    {
        var a = Params(2, 40, 9);
        var b = Params(2, 40, 9);
        using var cpu = new Optimizer(Algorithm.Adam, a, null) { MaxGradNorm = 0.1 };
        using var chk = new Optimizer(Algorithm.Adam, b, null, new CheckedReferenceBackend()) { MaxGradNorm = 0.1 };
        for (int step = 1; step <= 3; step++)
        {
            Grads(a, step, 1f);
            Grads(b, step, 1f);
            cpu.Step();
            chk.Step();
            Assert.That(cpu.LastGradNorm, Is.EqualTo(chk.LastGradNorm), "same routine, same order");
        }
        for (int i = 0; i < a.Length; i++) EmulatorTestSupport.AssertBitwiseEqual(b[i].Data, a[i].Data, a[i].Name);
        Assert.That(cpu.MaxGradNorm, Is.EqualTo(0.1));
    }

    [Test]
    public void InvalidThresholdsAreRejected()
    {
        using var opt = new Optimizer(Algorithm.Adam, Params(1, 3), null);
        Assert.That(() => opt.MaxGradNorm = -1, Throws.ArgumentException.With.Message.Contains("-1"));
        Assert.That(() => opt.MaxGradNorm = double.NaN, Throws.ArgumentException);
        Assert.Throws<ArgumentException>(() => new DeviceBackend(_device, new DeviceBackendOptions { MaxGradNorm = 0 }));
        opt.MaxGradNorm = null;
        Assert.That(opt.MaxGradNorm, Is.Null);
    }
}
