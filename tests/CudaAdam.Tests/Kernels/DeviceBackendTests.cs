using CudaAdam.Cuda;
using CudaAdam.Device;

namespace CudaAdam.Tests.Kernels;

/// <summary>The behaviour of <see cref="DeviceBackend"/> beyond bitwise conformance: launches per step, when the
/// layout and chunk table are rebuilt, errors. On the host emulator.</summary>
public class DeviceBackendTests
{
    private IDevice _device = null!;

    [OneTimeSetUp]
    public void Open() => _device = KernelDevices.OpenOrIgnore("emulator");

    [OneTimeTearDown]
    public void Close() => _device?.Dispose();

    private static Parameter[] Params(params int[] lengths) =>
        lengths.Select((n, i) => new Parameter($"p{i}", Enumerable.Range(0, n).Select(j => (float)Math.Sin(i + j)).ToArray())).ToArray();

    private static void Grads(Parameter[] ps, int step)
    {
        foreach (var p in ps) p.Grad = Enumerable.Range(0, p.Data.Length).Select(j => (float)Math.Cos(step * 7 + j)).ToArray();
    }

    [Test]
    public void OneFusedLaunchPerStepForAnyNumberOfTensorsPlusOneCheck()
    {
        var ps = Params(Enumerable.Repeat(33, 300).ToArray());
        using var backend = new DeviceBackend(_device);
        using var opt = new Optimizer(Algorithm.AdamW, ps, null, backend);
        Grads(ps, 1);
        opt.Step();
        Assert.That(backend.LaunchesLastStep, Is.EqualTo(2), "grad_nonfinite_check + adam_step");
        Assert.That(backend.ChunkCount, Is.EqualTo(300));

        using var unchecked_ = new DeviceBackend(_device);
        var qs = Params(Enumerable.Repeat(33, 300).ToArray());
        using var opt2 = new Optimizer(Algorithm.AdamW, qs, null, unchecked_) { NonFinite = NonFinitePolicy.Propagate };
        Grads(qs, 1);
        opt2.Step();
        Assert.That(unchecked_.LaunchesLastStep, Is.EqualTo(1), "the fused step alone (non_finite = propagate checks nothing)");
        Assert.That(qs[0].Data, Is.EqualTo(ps[0].Data), "the check changes nothing when gradients are finite");
    }

    [Test]
    public void ChunkTableIsBuiltOncePerParameterSet()
    {
        var ps = Params(10, 20, 30);
        using var backend = new DeviceBackend(_device, new DeviceBackendOptions { ChunkSize = 8 });
        using var opt = new Optimizer(Algorithm.Adam, ps, null, backend);
        for (int step = 1; step <= 4; step++)
        {
            Grads(ps, step);
            if (step == 3) ps[1].Grad = null; // a skipped gradient does not change the set
            opt.Step();
        }
        Assert.That(backend.LayoutBuilds, Is.EqualTo(1));
        Assert.That(backend.ChunkCount, Is.EqualTo(2 + 3 + 4));
        Assert.That(opt.State(ps[1])!.Step, Is.EqualTo(3));
        Assert.That(opt.State(ps[0])!.Step, Is.EqualTo(4));
    }

    [Test]
    public void ANewParameterOrANewStateSlotRebuildsTheLayout()
    {
        var ps = Params(10, 20);
        using var backend = new DeviceBackend(_device);
        using var opt = new Optimizer(Algorithm.Adam, ps, null, backend);
        Grads(ps, 1);
        ps[1].Grad = null;          // p1 first seen at step 2
        opt.Step();
        Assert.That(backend.LayoutBuilds, Is.EqualTo(1));
        Grads(ps, 2);
        opt.Step();
        Assert.That(backend.LayoutBuilds, Is.EqualTo(2));
        Grads(ps, 3);
        opt.Step();
        Assert.That(backend.LayoutBuilds, Is.EqualTo(2));
    }

    [Test]
    public void SgdMomentumBufferIsCreatedByTheFirstStepOnTheDevice()
    {
        var hp = Hyperparameters.Defaults(Algorithm.Sgd) with { Momentum = 0.9, WeightDecay = 0.1 };
        var dev = Params(9);
        var cpu = Params(9);
        using var opt = new Optimizer(Algorithm.Sgd, dev, hp, new DeviceBackend(_device));
        using var refOpt = new Optimizer(Algorithm.Sgd, cpu, hp);
        for (int step = 1; step <= 3; step++)
        {
            Grads(dev, step);
            Grads(cpu, step);
            opt.Step();
            refOpt.Step();
            Assert.That(opt.State(dev[0])!.M, Is.EqualTo(refOpt.State(cpu[0])!.M), $"step {step}");
        }
        Assert.That(dev[0].Data, Is.EqualTo(cpu[0].Data));
    }

    [Test]
    public void EmptyStepAndZeroSizeTensorsLaunchNothing()
    {
        var ps = Params(0, 0);
        using var backend = new DeviceBackend(_device);
        using var opt = new Optimizer(Algorithm.Lion, ps, null, backend);
        opt.Step(); // no gradients at all
        Assert.That(backend.LaunchesLastStep, Is.EqualTo(0));
        Grads(ps, 1);
        opt.Step();
        Assert.That(backend.LaunchesLastStep, Is.EqualTo(0));
        Assert.That(opt.State(ps[0])!.Step, Is.EqualTo(1));
    }

    [Test]
    public void OneBackendServesOneAlgorithm()
    {
        using var backend = new DeviceBackend(_device);
        var p = Params(4);
        Grads(p, 1);
        using var adam = new Optimizer(Algorithm.Adam, p, null, backend);
        adam.Step();
        var q = Params(4);
        Grads(q, 1);
        var lion = new Optimizer(Algorithm.Lion, q, null, backend);
        var e = Assert.Throws<InvalidOperationException>(() => lion.Step());
        Assert.That(e!.Message, Does.Contain("adam").And.Contain("lion"));
    }

    [Test]
    public void BadOptionsAreRejectedWithTheValue()
    {
        var e = Assert.Throws<ArgumentException>(() => new DeviceBackend(_device, new DeviceBackendOptions { BlockSize = 100 }));
        Assert.That(e!.Message, Does.Contain("100"));
        Assert.Throws<ArgumentException>(() => new DeviceBackend(_device, new DeviceBackendOptions { ChunkSize = 0 }));
        Assert.Throws<ArgumentException>(() => new DeviceBackend(_device, new DeviceBackendOptions { Alignment = 0 }));
    }

    [Test]
    public void RegisteredInTheBackendRegistry()
    {
        using var b = Backends.Create("emulator");
        Assert.That(b.Name, Is.EqualTo("emulator"));
        Assert.That(Backends.Names, Does.Contain("cuda"));
    }
}
