namespace CudaAdam.Tests.Api;

/// <summary>A step that fails leaves every parameter and its state as they were, so it can be retried.</summary>
public class OptimizerAtomicityTests
{
    private sealed class FailingBackend : IStepBackend
    {
        public string Name => "failing";
        public BackendStepOutcome Step(Algorithm algorithm, IReadOnlyList<StepItem> items, StepContract contract) =>
            throw new InvalidOperationException("device lost");
        public void Dispose() { }
    }

    [Test]
    public void AWrongGradientLaterInTheListAdvancesNoEarlierState()
    {
        var a = new Parameter("a", [1f, 2f]) { Grad = [0.1f, 0.2f] };
        var b = new Parameter("b", [3f]) { Grad = [0.3f] };
        using var opt = new Optimizer(Algorithm.Adam, [a, b]);
        opt.Step();
        var before = opt.State(a)!.Clone();
        float[] aBefore = (float[])a.Data.Clone();

        b.Grad = [0.3f, 0.4f]; // wrong length
        var ex = Assert.Throws<ArgumentException>(() => opt.Step());
        Assert.That(ex!.Message, Does.Contain("'b'"));

        var after = opt.State(a)!;
        Assert.That(after.Step, Is.EqualTo(before.Step));
        Assert.That(after.Beta1Power, Is.EqualTo(before.Beta1Power));
        Assert.That(after.M, Is.EqualTo(before.M));
        Assert.That(a.Data, Is.EqualTo(aBefore));
    }

    [Test]
    public void ABackendFailureRestoresStepCountersAndCreatesNoState()
    {
        var a = new Parameter("a", [1f, 2f]) { Grad = [0.1f, 0.2f] };
        using var opt = new Optimizer(Algorithm.NAdam, [a], backend: new FailingBackend());
        Assert.Throws<InvalidOperationException>(() => opt.Step());
        Assert.That(opt.State(a), Is.Null, "a failed first step must not leave a half-made state behind");
    }

    [Test]
    public void ABackendFailureAfterTheFirstStepRestoresTheRunningProducts()
    {
        var a = new Parameter("a", [1f, 2f]) { Grad = [0.1f, 0.2f] };
        var cpu = new Optimizer(Algorithm.NAdam, [a]);
        cpu.Step();
        var state = cpu.State(a)!;
        using var failing = new Optimizer(Algorithm.NAdam, [a], backend: new FailingBackend());
        failing.SetState(a, state);
        var (step, b1, b2, mu) = (state.Step, state.Beta1Power, state.Beta2Power, state.MuProduct);
        Assert.Throws<InvalidOperationException>(() => failing.Step());
        Assert.That((state.Step, state.Beta1Power, state.Beta2Power, state.MuProduct), Is.EqualTo((step, b1, b2, mu)));
    }
}
