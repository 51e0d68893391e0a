using CudaAdam.Device;
using CudaAdam.Tests.Emulator;
using CudaAdam.Tests.Kernels;

namespace CudaAdam.Tests.Api;

/// <summary>
/// The step contract (<see cref="StepContract"/>): unscale, clipping and the non-finite policy, honoured the same way
/// by the reference and the emulator, with the <see cref="StepResult"/> saying what happened.
/// </summary>
public class StepContractTests
{
    private static IStepBackend Open(string backend) => backend == "cpu"
        ? new CpuReferenceBackend()
        : new DeviceBackend(KernelDevices.OpenOrIgnore("emulator"), ownsDevice: true);

    /// <summary>The example: Adam, x = [1, 2, 3], a NaN gradient at step 2 of 3. One answer per policy, on
    /// both backends, bit for bit, and the result says what happened.</summary>
    [TestCase(NonFinitePolicy.Skip)]
    [TestCase(NonFinitePolicy.Propagate)]
    [TestCase(NonFinitePolicy.Error)]
    public void ANaNGradientGivesOneAnswerOnEveryBackend(NonFinitePolicy policy)
    {
        var answers = new List<(float[] X, long Step, long Skipped, string Log)>();
        foreach (var backend in new[] { "cpu", "emulator" })
        {
            var x = new Parameter("x", [1f, 2f, 3f]);
            using var opt = new Optimizer(Algorithm.Adam, [x], null, Open(backend)) { NonFinite = policy };
            var log = new List<string>();
            for (int step = 1; step <= 3; step++)
            {
                x.Grad = step == 2 ? [float.NaN, 1f, 1f] : [1f, 1f, 1f];
                try { log.Add(opt.Step().ToString()); }
                catch (NonFiniteGradientException e) { log.Add("error: " + e.Message); }
            }
            answers.Add((x.Data, opt.State(x)!.Step, opt.SkippedSteps, string.Join(" | ", log)));
        }
        var (cpu, emu) = (answers[0], answers[1]);
        EmulatorTestSupport.AssertBitwiseEqual(cpu.X, emu.X, $"{policy}: x");
        Assert.That(emu.Log, Is.EqualTo(cpu.Log), "the same step results, word for word");
        Assert.That((emu.Step, emu.Skipped), Is.EqualTo((cpu.Step, cpu.Skipped)));
        switch (policy)
        {
            case NonFinitePolicy.Skip:
                Assert.That((cpu.Step, cpu.Skipped), Is.EqualTo((2L, 1L)));
                Assert.That(cpu.Log, Does.Contain("step 2 skipped: non-finite gradient: x[0] = NaN"));
                Assert.That(cpu.X.All(float.IsFinite), Is.True);
                break;
            case NonFinitePolicy.Propagate:
                Assert.That((cpu.Step, cpu.Skipped), Is.EqualTo((3L, 0L)));
                Assert.That(float.IsNaN(cpu.X[0]), Is.True, "torch.optim's behaviour: the NaN went through");
                Assert.That(float.IsFinite(cpu.X[1]), Is.True);
                break;
            case NonFinitePolicy.Error:
                Assert.That((cpu.Step, cpu.Skipped), Is.EqualTo((2L, 0L)));
                Assert.That(cpu.Log, Does.Contain("error: step 2: non-finite gradient: x[0] = NaN; nothing was changed"));
                break;
        }
    }

    [TestCase("cpu")]
    [TestCase("emulator")]
    public void NonFiniteGradientAnywhereSkipsTheWholeStepAndRollsBackCounters(string backend)
    {
        var a = new Parameter("a", [1f, 2f, 3f]);
        var b = new Parameter("b", [4f, 5f]);
        using var opt = new Optimizer(Algorithm.Adam, [a, b], Hyperparameters.Defaults(Algorithm.Adam), Open(backend));
        a.Grad = [0.1f, -0.2f, 0.3f];
        b.Grad = [1f, 1f];
        Assert.That(opt.Step(), Is.EqualTo(new StepResult(1, false, null, double.NaN, 1f, 2)));
        var aData = (float[])a.Data.Clone();
        var bData = (float[])b.Data.Clone();
        var aState = opt.State(a)!.Clone();
        b.Grad = [1f, float.PositiveInfinity];  // only b is bad: a must not move either
        var r = opt.Step();
        Assert.That(r.Skipped, Is.True);
        Assert.That(r.Reason, Is.EqualTo("non-finite gradient: b[1] = +inf"));
        Assert.That(r.Step, Is.EqualTo(1), "a skipped step does not count");
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
        Assert.That(opt.Step().Skipped, Is.False);
        Assert.That(opt.State(a)!.Step, Is.EqualTo(2));
        Assert.That(opt.StepCount, Is.EqualTo(2));
    }

    [Test]
    public void UnscaleMultipliesInFloat32BeforeTheStep()
    {
        var hp = Hyperparameters.Defaults(Algorithm.Sgd) with { Lr = 0.5 };
        var p = new Parameter("p", [1f]) { Grad = [3f] };
        using var opt = new Optimizer(Algorithm.Sgd, [p], hp) { InvScale = 0.3f };
        opt.Step();
        float g = 3f * 0.3f;
        Assert.That(p.Data[0], Is.EqualTo(1f + (float)-0.5 * g));
        Assert.That(p.Grad, Is.EqualTo(new[] { 3f }), "the caller's gradient is not rewritten");
    }

    [TestCase("cpu")]
    [TestCase("emulator")]
    public void UnscaleOverflowToInfinityIsNonFinite(string backend)
    {
        var p = new Parameter("p", [1f]) { Grad = [MathF.Pow(2, 127)] };
        using var opt = new Optimizer(Algorithm.Sgd, [p], Hyperparameters.Defaults(Algorithm.Sgd), Open(backend)) { InvScale = 4f };
        var r = opt.Step();
        Assert.That(r.Skipped, Is.True);
        Assert.That(r.Reason, Is.EqualTo("non-finite gradient: p[0] = +inf (1.7014118E+38 times inv_scale 4)"));
        Assert.That(p.Data[0], Is.EqualTo(1f));
        Assert.That(opt.State(p), Is.Null, "a skipped first step creates no state (as if step() had not been called)");
    }

    [Test]
    public void InvalidContractValuesAreRefusedWithTheirName()
    {
        using var opt = new Optimizer(Algorithm.Adam, [new Parameter("p", [1f])]);
        Assert.That(() => opt.InvScale = 0f, Throws.ArgumentException.With.Message.Contains("inv_scale"));
        Assert.That(() => opt.InvScale = float.NaN, Throws.ArgumentException.With.Message.Contains("inv_scale"));
        Assert.That(() => NonFinitePolicies.Parse("ignore"), Throws.ArgumentException.With.Message.Contains("skip (default), propagate or error"));
        Assert.That(NonFinitePolicies.Parse("Propagate"), Is.EqualTo(NonFinitePolicy.Propagate));
    }
}
