using CudaAdam.Device;

namespace CudaAdam.Tests.Kernels;

/// <summary>The reference side of the conformance suite: unscale and the whole-step skip on non-finite gradients,
/// and <see cref="Optimizer"/> rolling its counters back after a skipped step.</summary>
public class CheckedReferenceBackendTests
{
    [Test]
    public void NonFiniteGradientAnywhereSkipsTheWholeStepAndRollsBackCounters()
    {
        var a = new Parameter("a", [1f, 2f, 3f]);
        var b = new Parameter("b", [4f, 5f]);
        var backend = new CheckedReferenceBackend();
        using var opt = new Optimizer(Algorithm.Adam, [a, b], Hyperparameters.Defaults(Algorithm.Adam), backend);
        a.Grad = [0.1f, -0.2f, 0.3f];
        b.Grad = [1f, 1f];
        opt.Step();
        var aData = (float[])a.Data.Clone();
        var bData = (float[])b.Data.Clone();
        var aState = opt.State(a)!.Clone();
        b.Grad = [float.NaN, 1f];  // only b is bad: a must not move either
        opt.Step();
        Assert.That(backend.LastStepSkipped, Is.True);
        Assert.That(opt.SkippedSteps, Is.EqualTo(1));
        Assert.That(a.Data, Is.EqualTo(aData));
        Assert.That(b.Data, Is.EqualTo(bData));
        var s = opt.State(a)!;
        Assert.That(s.Step, Is.EqualTo(1));
        Assert.That(s.Beta1Power, Is.EqualTo(aState.Beta1Power));
        Assert.That(s.Beta2Power, Is.EqualTo(aState.Beta2Power));
        Assert.That(s.M, Is.EqualTo(aState.M));
        Assert.That(s.V, Is.EqualTo(aState.V));
        b.Grad = [0.5f, 0.5f];
        opt.Step();
        Assert.That(backend.LastStepSkipped, Is.False);
        Assert.That(opt.State(a)!.Step, Is.EqualTo(2));
    }

    [Test]
    public void UnscaleMultipliesInFloat32BeforeTheStep()
    {
        var hp = Hyperparameters.Defaults(Algorithm.Sgd) with { Lr = 0.5 };
        var p = new Parameter("p", [1f]) { Grad = [3f] };
        using var opt = new Optimizer(Algorithm.Sgd, [p], hp, new CheckedReferenceBackend { InvScale = 0.3f });
        opt.Step();
        float g = 3f * 0.3f;
        Assert.That(p.Data[0], Is.EqualTo(1f + (float)-0.5 * g));
    }

    [Test]
    public void UnscaleOverflowToInfinityIsNonFinite()
    {
        var p = new Parameter("p", [1f]) { Grad = [MathF.Pow(2, 127)] };
        var backend = new CheckedReferenceBackend { InvScale = 4f };
        using var opt = new Optimizer(Algorithm.Sgd, [p], Hyperparameters.Defaults(Algorithm.Sgd), backend);
        opt.Step();
        Assert.That(backend.LastStepSkipped, Is.True);
        Assert.That(p.Data[0], Is.EqualTo(1f));
        Assert.That(opt.State(p), Is.Null, "a skipped first step creates no state");
    }
}
