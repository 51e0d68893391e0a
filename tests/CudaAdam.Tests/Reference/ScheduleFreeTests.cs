using System.Text.Json;
using CudaAdam.Tests.Emulator;
using CudaAdam.Reference;

namespace CudaAdam.Tests.Reference;

/// <summary>
/// Schedule-Free AdamW and SGD (Defazio et al. 2024): against the independent NumPy oracle of the paper's explicit
/// three-sequence form (tests/oracle/schedulefree_oracle.py), the reductions to the base methods with the averaging
/// off, the train()/eval() switch, and checkpoints in either mode.
/// </summary>
/// <remarks>
/// Oracle tolerance: the oracle runs in float64 and forms x explicitly; we run float32 and never form x (y is updated
/// in place, x recovered by eval()). Over 30 steps the float32 roundings of v, the denominator, the lerp and the two
/// recurrences accumulate to a few 1e-7 relative; |ours − oracle| ≤ 1e-5 + 1e-4·|oracle| leaves room for that and is
/// still 100 times smaller than what a wrong convention moves (ε inside the sqrt, weight decay at z or x, no bias
/// correction, c computed from the current lr instead of lr_max, a β1-momentum on g: each ≥ 1e-3 here; the test
/// <see cref="TheToleranceSeparatesAWrongConvention"/> checks one of them).
/// </remarks>
public class ScheduleFreeTests
{
    private const double Atol = 1e-5, Rtol = 1e-4;

    public static IEnumerable<TestCaseData> OracleCases()
    {
        var adamw = Hyperparameters.Defaults(Algorithm.AdamWScheduleFree);
        var sgd = Hyperparameters.Defaults(Algorithm.SgdScheduleFree);
        yield return new TestCaseData(Algorithm.AdamWScheduleFree, adamw with { Lr = 0.05 }).SetName("adamwschedulefree/default-lr0.05");
        yield return new TestCaseData(Algorithm.AdamWScheduleFree, adamw with { Lr = 0.05, WarmupSteps = 10, WeightDecay = 0.1, Beta1 = 0.8, Beta2 = 0.99 })
            .SetName("adamwschedulefree/warmup-wd-betas");
        yield return new TestCaseData(Algorithm.AdamWScheduleFree, adamw with { Lr = 0.02, WarmupSteps = 5, R = 1, WeightLrPower = 1, Maximize = true, Eps = 1e-3 })
            .SetName("adamwschedulefree/r1-power1-maximize");
        yield return new TestCaseData(Algorithm.SgdScheduleFree, sgd with { Lr = 0.05 }).SetName("sgdschedulefree/lr0.05");
        yield return new TestCaseData(Algorithm.SgdScheduleFree, sgd with { Lr = 0.05, WarmupSteps = 8, WeightDecay = 0.05, Momentum = 0.5 })
            .SetName("sgdschedulefree/warmup-wd-momentum0.5");
    }

    [TestCaseSource(nameof(OracleCases))]
    public void TheTrajectoryAndTheEvalPointMatchTheNumPyOracleOfThePapersForm(Algorithm algorithm, Hyperparameters hp)
    {
        PythonOracle.RequireModules("numpy");
        var (ys, x, z, oracle) = RunAgainstOracle(algorithm, hp);
        for (int t = 0; t < ys.Count; t++)
            AssertClose(ys[t], oracle.GetProperty("y")[t], $"y after step {t + 1}");
        AssertClose(x, oracle.GetProperty("x"), "x (eval point)");
        AssertClose(z, oracle.GetProperty("z"), "z");
    }

    [Test]
    public void TheToleranceSeparatesAWrongConvention()
    {
        PythonOracle.RequireModules("numpy");
        // The same run with ε inside the sqrt's argument scaled away (eps 1e-3 against the oracle's 1e-8) must fail.
        var hp = Hyperparameters.Defaults(Algorithm.AdamWScheduleFree) with { Lr = 0.05 };
        var (ys, _, _, oracle) = RunAgainstOracle(Algorithm.AdamWScheduleFree, hp with { Eps = 1e-3 }, oracleHp: hp);
        double worst = 0;
        var last = oracle.GetProperty("y")[ys.Count - 1];
        for (int i = 0; i < ys[^1].Length; i++)
        {
            double r = last[i].GetDouble();
            worst = Math.Max(worst, Math.Abs(ys[^1][i] - r) / (Atol + Rtol * Math.Abs(r)));
        }
        Assert.That(worst, Is.GreaterThan(10), "a changed eps must be far outside the oracle tolerance");
    }

    private static (List<float[]> Ys, float[] X, float[] Z, JsonElement Oracle) RunAgainstOracle(Algorithm algorithm, Hyperparameters hp,
        Hyperparameters? oracleHp = null)
    {
        const int n = 23, steps = 30;
        var rng = new Random(1234);
        var x0 = Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        var grads = new List<float[]>();
        var p = new Parameter("w", (float[])x0.Clone());
        using var opt = new Optimizer(algorithm, [p], hp);
        var ys = new List<float[]>();
        for (int t = 0; t < steps; t++)
        {
            // A gradient of a quadratic at the current y plus noise: the trajectory depends on every step.
            var g = p.Data.Select((v, i) => (float)((i % 5 + 1) * 0.3 * v + 0.1 * (rng.NextDouble() - 0.5))).ToArray();
            grads.Add(g);
            p.Grad = g;
            opt.Step();
            ys.Add((float[])p.Data.Clone());
        }
        var z = (float[])opt.State(p)!.M!.Clone();
        opt.Eval();
        var x = (float[])p.Data.Clone();
        using var dir = new TempDirectory();
        string input = Path.Combine(dir.Path, "in.json");
        var h = oracleHp ?? hp;
        File.WriteAllText(input, JsonSerializer.Serialize(new
        {
            algorithm = algorithm.Name(),
            hp = new { h.Lr, h.Beta1, h.Beta2, h.Eps, h.WeightDecay, h.Momentum, h.WarmupSteps, h.R, h.WeightLrPower, h.Maximize },
            x0, grads,
        }));
        var (code, stdout, err) = PythonOracle.Run([Path.Combine(PythonOracle.RepoRoot, "tests", "oracle", "schedulefree_oracle.py"), input], TimeSpan.FromMinutes(2));
        Assert.That(code, Is.EqualTo(0), err);
        return (ys, x, z, JsonDocument.Parse(stdout).RootElement);
    }

    private static void AssertClose(float[] ours, JsonElement oracle, string what)
    {
        Assert.That(oracle.GetArrayLength(), Is.EqualTo(ours.Length), what);
        for (int i = 0; i < ours.Length; i++)
        {
            double r = oracle[i].GetDouble();
            Assert.That(Math.Abs(ours[i] - r), Is.LessThanOrEqualTo(Atol + Rtol * Math.Abs(r)), $"{what}[{i}]: ours {ours[i]:R}, oracle {r:R}");
        }
    }

    // ---- averaging off: the base methods --------------------------------------------------------------------

    /// <summary>Schedule-Free SGD with momentum 0 has y = z (c-weighted lerp of equal values) and the y step −γ·u:
    /// SGD's step x + (−γ)·g bit for bit, weight decay included.</summary>
    [TestCase(0.0)]
    [TestCase(0.1)]
    public void SgdWithMomentumZeroIsSgdBitwise(double wd)
    {
        var (a, b) = Pair(37, 3);
        using var sf = new Optimizer(Algorithm.SgdScheduleFree, [a], Hyperparameters.Defaults(Algorithm.SgdScheduleFree) with { Momentum = 0, Lr = 0.05, WeightDecay = wd });
        using var sgd = new Optimizer(Algorithm.Sgd, [b], Hyperparameters.Defaults(Algorithm.Sgd) with { Lr = 0.05, WeightDecay = wd });
        for (int t = 1; t <= 25; t++)
        {
            var g = EmulatorTestSupport.RandomFloats(100 + t, 37);
            (a.Grad, b.Grad) = (g, (float[])g.Clone());
            sf.Step();
            sgd.Step();
            Assert.That(a.Data, Is.EqualTo(b.Data), $"step {t}");
            Assert.That(sf.State(a)!.M, Is.EqualTo(a.Data), "z = y");
        }
    }

    /// <summary>Schedule-Free AdamW with β1 = 0 is Adam with β1 = 0 (RMSProp with bias correction) at y = z: the same
    /// v bitwise; the parameters within float32 rounding (the reference divides v by 1 − β2^t before the sqrt, Adam
    /// divides sqrt(v) by sqrt(1 − β2^t): a few ulp per step, 1e-5 relative after 40 steps).</summary>
    [Test]
    public void AdamWWithBeta1ZeroIsAdamWithBeta1Zero()
    {
        var (a, b) = Pair(41, 4);
        var x0 = (float[])a.Data.Clone();
        using var sf = new Optimizer(Algorithm.AdamWScheduleFree, [a], Hyperparameters.Defaults(Algorithm.AdamWScheduleFree) with { Beta1 = 0, Lr = 0.01 });
        using var adam = new Optimizer(Algorithm.Adam, [b], Hyperparameters.Defaults(Algorithm.Adam) with { Beta1 = 0, Lr = 0.01 });
        for (int t = 1; t <= 40; t++)
        {
            var g = EmulatorTestSupport.RandomFloats(200 + t, 41);
            (a.Grad, b.Grad) = (g, (float[])g.Clone());
            sf.Step();
            adam.Step();
        }
        Assert.That(sf.State(a)!.V, Is.EqualTo(adam.State(b)!.V), "v is Adam's v");
        Assert.That(sf.State(a)!.M, Is.EqualTo(a.Data), "z = y");
        for (int i = 0; i < a.Data.Length; i++)
            Assert.That(a.Data[i], Is.EqualTo(b.Data[i]).Within(1e-5 * Math.Abs(b.Data[i]) + 1e-7), $"x[{i}]");
        Assert.That(a.Data, Is.Not.EqualTo(x0), "it moved");
    }

    // ---- train()/eval() -----------------------------------------------------------------------------------

    [Test]
    public void EvalPutsTheAverageInTheParametersAndTrainPutsYBack()
    {
        var (p, _) = Pair(29, 5);
        var hp = Hyperparameters.Defaults(Algorithm.AdamWScheduleFree) with { Lr = 0.02, WarmupSteps = 3 };
        using var opt = new Optimizer(Algorithm.AdamWScheduleFree, [p], hp);
        // x by its definition, in double: x_1 = x_0, x_{t+1} = (1 − c) x_t + c z_{t+1}.
        var x = p.Data.Select(v => (double)v).ToArray();
        for (int t = 1; t <= 12; t++)
        {
            p.Grad = EmulatorTestSupport.RandomFloats(300 + t, 29);
            var s = opt.State(p);
            double sum = s?.WeightSum ?? 0, lrMax = s?.LrMax ?? 0;
            opt.Step();
            s = opt.State(p)!;
            double c = (s.WeightSum - sum) / s.WeightSum;
            for (int i = 0; i < x.Length; i++) x[i] = (1 - c) * x[i] + c * s.M![i];
            Assert.That(s.LrMax, Is.EqualTo(Math.Max(lrMax, 0.02 * Math.Min(1, t / 3.0))).Within(1e-15));
        }
        var y = (float[])p.Data.Clone();
        opt.Eval();
        Assert.That(opt.EvalMode, Is.True);
        for (int i = 0; i < x.Length; i++) Assert.That(p.Data[i], Is.EqualTo(x[i]).Within(1e-5 * Math.Abs(x[i]) + 1e-6), $"x[{i}]");
        Assert.That(p.Data, Is.Not.EqualTo(y), "x differs from y");
        opt.Eval();   // idempotent
        Assert.That(p.Data[0], Is.EqualTo(x[0]).Within(1e-5 * Math.Abs(x[0]) + 1e-6));
        Assert.That(() => opt.Step(), Throws.InvalidOperationException.With.Message.Contains("call Train() before Step()"));
        opt.Train();
        for (int i = 0; i < y.Length; i++) Assert.That(p.Data[i], Is.EqualTo(y[i]).Within(1e-6 * Math.Abs(y[i]) + 1e-7), $"y[{i}] back");
    }

    [Test]
    public void OtherAlgorithmsHaveNoModes()
    {
        var (p, _) = Pair(5, 6);
        using var opt = new Optimizer(Algorithm.AdamW, [p]);
        p.Grad = EmulatorTestSupport.RandomFloats(7, 5);
        opt.Step();
        var before = (float[])p.Data.Clone();
        opt.Eval();
        Assert.That(opt.EvalMode, Is.False);
        Assert.That(p.Data, Is.EqualTo(before));
        Assert.That(() => opt.Step(), Throws.Nothing);
    }

    [Test]
    public void EvalWithBetaZeroIsRefused()
    {
        var (p, _) = Pair(5, 7);
        using var opt = new Optimizer(Algorithm.SgdScheduleFree, [p], Hyperparameters.Defaults(Algorithm.SgdScheduleFree) with { Momentum = 0 });
        p.Grad = EmulatorTestSupport.RandomFloats(8, 5);
        opt.Step();
        Assert.That(() => opt.Eval(), Throws.InvalidOperationException.With.Message.Contains("beta > 0"));
        Assert.That(opt.EvalMode, Is.False);
    }

    /// <summary>A state dict taken in eval mode (with the parameters holding x) and one taken in train mode both resume
    /// the run bit for bit: the mode travels with the dict.</summary>
    [TestCase(true)]
    [TestCase(false)]
    public void ACheckpointInEitherModeResumesBitwise(bool inEval)
    {
        var hp = Hyperparameters.Defaults(Algorithm.AdamWScheduleFree) with { Lr = 0.01, WarmupSteps = 4, WeightDecay = 0.01 };
        var (p, _) = Pair(33, 8);
        using var opt = new Optimizer(Algorithm.AdamWScheduleFree, [p], hp);
        float[] G(int t) => EmulatorTestSupport.RandomFloats(400 + t, 33);
        for (int t = 1; t <= 6; t++) { p.Grad = G(t); opt.Step(); }
        if (inEval) opt.Eval();
        using var ms = new MemoryStream();
        using (var w = new BinaryWriter(ms, System.Text.Encoding.UTF8, leaveOpen: true)) opt.StateDict().Write(w);
        var saved = (float[])p.Data.Clone();

        var q = new Parameter("w", saved);
        using var resumed = new Optimizer(Algorithm.AdamWScheduleFree, [q], hp);
        resumed.LoadStateDict(OptimizerStateDict.Read(ms.ToArray()));
        Assert.That(resumed.EvalMode, Is.EqualTo(inEval));
        foreach (var o in new[] { opt, resumed }) o.Train();
        for (int t = 7; t <= 10; t++)
        {
            (p.Grad, q.Grad) = (G(t), G(t));
            opt.Step();
            resumed.Step();
        }
        Assert.That(q.Data, Is.EqualTo(p.Data));
        Assert.That(resumed.State(q)!.M, Is.EqualTo(opt.State(p)!.M));
        Assert.That(resumed.State(q)!.WeightSum, Is.EqualTo(opt.State(p)!.WeightSum));
    }

    /// <summary>On the device-resident engine (the emulator; the device clock advances lr_max and weight_sum) the
    /// steps and the train()/eval() switches are bitwise the CPU path's.</summary>
    [Test]
    public void TheDeviceResidentEngineStepsAndSwitchesBitwiseAsTheCpu()
    {
        var device = CudaAdam.Tests.Kernels.KernelDevices.OpenOrIgnore("emulator");
        var hp = Hyperparameters.Defaults(Algorithm.AdamWScheduleFree) with { Lr = 0.01, WarmupSteps = 3, WeightDecay = 0.01 };
        var (a, b) = Pair(70, 9);
        using var cpu = new Optimizer(Algorithm.AdamWScheduleFree, [a], hp);
        using var dev = new Optimizer(Algorithm.AdamWScheduleFree, [b], hp,
            new CudaAdam.Device.DeviceBackend(device, new CudaAdam.Device.DeviceBackendOptions { Residency = CudaAdam.Device.Residency.Device }));
        for (int t = 1; t <= 8; t++)
        {
            var g = EmulatorTestSupport.RandomFloats(500 + t, 70);
            (a.Grad, b.Grad) = (g, (float[])g.Clone());
            cpu.Step();
            dev.Step();
            if (t % 3 != 0) continue;
            cpu.Eval();
            dev.Eval();
            dev.DownloadParameters();
            Assert.That(b.Data, Is.EqualTo(a.Data), $"x at step {t}");
            cpu.Train();
            dev.Train();
        }
        dev.DownloadParameters();
        Assert.That(b.Data, Is.EqualTo(a.Data));
        var (sa, sb) = (cpu.State(a)!, dev.State(b)!);
        Assert.That((sb.M, sb.V, sb.LrMax, sb.WeightSum), Is.EqualTo((sa.M, sa.V, sa.LrMax, sa.WeightSum)));
    }

    [Test]
    public void AWeightThatNeedsPowHasNoDeviceClock()
    {
        var device = CudaAdam.Tests.Kernels.KernelDevices.OpenOrIgnore("emulator");
        var hp = Hyperparameters.Defaults(Algorithm.SgdScheduleFree) with { R = 0.5 };
        var p = new Parameter("w", new float[3]);
        Assert.That(() => new Optimizer(Algorithm.SgdScheduleFree, [p], hp,
                new CudaAdam.Device.DeviceBackend(device, new CudaAdam.Device.DeviceBackendOptions { Residency = CudaAdam.Device.Residency.Device })),
            Throws.InstanceOf<NotSupportedException>().With.Message.Contains("r = 0.5, weight_lr_power = 2 needs pow"));
    }

    [Test]
    public void TorchLerpIsExactAtBothEnds()
    {
        Assert.That(ScheduleFreeReference.Lerp(1.5f, -2.25f, 0f), Is.EqualTo(1.5f));
        Assert.That(ScheduleFreeReference.Lerp(1.5f, -2.25f, 1f), Is.EqualTo(-2.25f));
        Assert.That(ScheduleFreeReference.Lerp(1f, 3f, 0.25f), Is.EqualTo(1.5f));
        Assert.That(ScheduleFreeReference.Lerp(1f, 3f, 0.75f), Is.EqualTo(2.5f));
    }

    private static (Parameter, Parameter) Pair(int n, int seed)
    {
        var x = EmulatorTestSupport.RandomFloats(seed, n);
        return (new Parameter("w", x), new Parameter("w", (float[])x.Clone()));
    }
}
