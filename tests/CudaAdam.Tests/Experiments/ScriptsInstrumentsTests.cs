using CudaAdam.Experiments.Problems;
using CudaAdam.Experiments.Recording;

namespace CudaAdam.Tests.Experiments;

/// <summary>The instruments the experiment scripts stand on: problems, the reference stepper, CSV, options, reports.</summary>
[TestFixture]
public class ScriptsInstrumentsTests
{
    [TestCase(Algorithm.Adam, false)]
    [TestCase(Algorithm.Adam, true)]
    [TestCase(Algorithm.Sgd, false)]
    [TestCase(Algorithm.AdaGrad, false)]
    public void ReferenceStepperMatchesTheOptimizerBitForBit(Algorithm algorithm, bool amsgrad)
    {
        var hp = Hyperparameters.Defaults(algorithm) with { Lr = 0.05, Amsgrad = amsgrad };
        var rng = new Random(42);
        var a = new float[] { 0.5f, -1.5f, 2f };
        var b = (float[])a.Clone();
        var p = new Parameter("p", a);
        var group = new ParamGroup([p], hp);
        using var opt = new Optimizer(algorithm, [group]);
        var stepper = new ReferenceStepper(algorithm, hp, b.Length);
        for (int t = 1; t <= 300; t++)
        {
            var g = new float[] { (float)(rng.NextDouble() * 4 - 2), (float)(rng.NextDouble() - 0.5), t % 7 == 0 ? 0f : 3f };
            double lr = 0.05 / Math.Sqrt(t);
            group.Hyperparameters = hp with { Lr = lr };
            p.Grad = g;
            opt.Step();
            stepper.SetLr(lr);
            stepper.Step(b, g);
        }
        Assert.That(b, Is.EqualTo(a), "ReferenceStepper must run exactly the Optimizer's cpu math");
        Assert.That(stepper.State.Step, Is.EqualTo(300));
    }

    [Test]
    public void ReferenceStepperRejectsAMismatchedGradient()
    {
        var s = new ReferenceStepper(Algorithm.Adam, Hyperparameters.Defaults(Algorithm.Adam), 3);
        Assert.That(() => s.Step(new float[3], new float[2]), Throws.ArgumentException.With.Message.Contains("gradient (2)"));
        Assert.That(() => s.SetLr(double.NaN), Throws.InstanceOf<ArgumentOutOfRangeException>());
    }

    [TestCase(10, 1.0)]
    [TestCase(50, 1.0)]
    [TestCase(20, 1.0 / (19 * 19))]
    public void ZhangComponentsAreC1AndSumToTheLossGradient(int n, double a)
    {
        var z = new ZhangCounterexample(n, a);
        // Continuity of each component's gradient at the seam x = -1.
        for (int i = 0; i < n; i += n - 1)
            Assert.That(z.Gradient(i, -1 - 1e-12), Is.EqualTo(z.Gradient(i, -1)).Within(1e-9), $"f_{i}' jumps at -1");
        // Thesis Eq. (2.5): slopes 1 + (n-1)a and -a right of the seam.
        Assert.That(z.Gradient(0, 3.0), Is.EqualTo(1 + (n - 1) * a).Within(1e-12));
        Assert.That(z.Gradient(1, 3.0), Is.EqualTo(-a));
        // Σ_i f_i'(x) equals the derivative of f (central differences), on both sides of the seam.
        foreach (var x in new[] { -3.5, -2.0, -1.5, -0.5, 0.0, 4.0 })
        {
            double sum = Enumerable.Range(0, n).Sum(i => z.Gradient(i, x));
            const double h = 1e-6;
            double fd = (z.Loss(x + h) - z.Loss(x - h)) / (2 * h);
            Assert.That(sum, Is.EqualTo(fd).Within(1e-6), $"x = {x}");
        }
        Assert.That(z.Loss(ZhangCounterexample.Optimum), Is.EqualTo(-1.5));
        Assert.That(Enumerable.Range(0, n).Sum(i => z.Gradient(i, ZhangCounterexample.Optimum)), Is.EqualTo(0).Within(1e-12));
        Assert.That(() => new ZhangCounterexample(n, 0), Throws.InstanceOf<ArgumentOutOfRangeException>().With.Message.Contains("a must be"));
    }

    [TestCase(ZhangSampling.Uniform)]
    [TestCase(ZhangSampling.Reshuffle)]
    public void ZhangAdamDivergesWithSignLikeStepsAndApproachesTheOptimumWithLargeBeta2(ZhangSampling sampling)
    {
        var z = new ZhangCounterexample(10);
        var (half0, final0) = z.RunAdam(0, 0, 1.0, 4000, 0, seed: 3, sampling);
        Assert.That(final0, Is.GreaterThan(half0).And.GreaterThan(10), "beta2 = 0 is sign descent: it drifts right, away from -2");
        var (half1, final1) = z.RunAdam(0.9, 0.999, 1.0, 4000, 0, seed: 3, sampling);
        Assert.That(Math.Abs(final1 + 2), Is.LessThan(Math.Abs(half1 + 2)).Or.LessThan(0.5), "beta2 = 0.999 moves toward x* = -2");
    }

    [Test]
    public void ZhangSamplingUniformDrawsWithReplacementAndReshuffleVisitsEachComponentOncePerBlock()
    {
        // With beta1 = beta2 = 0 every step is x -= lr_k * sign(g_k): left (-) for f_0, right (+) for the others, and
        // with lr = 1e-3 x stays right of the seam. After n = 4 steps a run that picked f_0 exactly once, at step p,
        // sits at lr * (Σ_k 1/√k - 2/√p); reshuffling must land there for every seed, uniform draws must not always.
        var z = new ZhangCounterexample(4);
        const double lr = 1e-3;
        double sum = Enumerable.Range(1, 4).Sum(k => 1 / Math.Sqrt(k));
        var exactlyOnce = Enumerable.Range(1, 4).Select(p => lr * (sum - 2 / Math.Sqrt(p))).ToArray();
        bool OnePick(double x) => exactlyOnce.Any(e => Math.Abs(x - e) < 1e-8);
        int uniformOther = 0;
        for (int seed = 0; seed < 20; seed++)
        {
            var (_, r) = z.RunAdam(0, 0, lr, 4, 0, seed, ZhangSampling.Reshuffle);
            Assert.That(OnePick(r), Is.True, $"seed {seed}: reshuffling picked f_0 other than once in the first block (x = {r})");
            var (_, u) = z.RunAdam(0, 0, lr, 4, 0, seed, ZhangSampling.Uniform);
            if (!OnePick(u)) uniformOther++;
        }
        // P(exactly one f_0 in 4 uniform draws) = 4·(1/4)·(3/4)³ ≈ 0.42, so about 12 of 20 seeds pick it 0 or ≥ 2 times.
        Assert.That(uniformOther, Is.InRange(4, 19), "uniform sampling draws with replacement");
        Assert.That(() => z.RunAdam(0, 0, 1, 1, 0, 1), Throws.InstanceOf<ArgumentOutOfRangeException>());
    }

    [Test]
    public void OnlineLinearSlopesAndRegretFollowThePaper()
    {
        var cyc = OnlineLinear.Cycle3(10);
        Assert.That(new[] { cyc.Slope(1), cyc.Slope(2), cyc.Slope(3), cyc.Slope(4) }, Is.EqualTo(new[] { 10.0, -1, -1, 10 }));
        var online = OnlineLinear.Online();
        Assert.That(online.Slope(1), Is.EqualTo(1010));
        Assert.That(online.Slope(2), Is.EqualTo(-10));
        Assert.That(online.Slope(102), Is.EqualTo(1010));
        var st = OnlineLinear.Stochastic(5);
        int spikes = 0;
        for (int t = 1; t <= 100_000; t++) if (st.Slope(t) == 1010) spikes++;
        Assert.That(spikes, Is.InRange(900, 1100), "1010 with probability 0.01");
        // SGD with a zero learning rate stays at x0 = 0: every round costs 0 and the regret is |Σ s_t|.
        var tr = OnlineLinear.Cycle3(10).Run(Algorithm.Sgd, Hyperparameters.For(Algorithm.Sgd, lr: 0), 30, inverseSqrt: false, x0: 0);
        Assert.That(tr.AverageRegret[^1], Is.EqualTo(10 * 8.0 / 30).Within(1e-12), "Σ s over 30 rounds = 10·10 − 20 = 80");
        Assert.That(tr.TailMeanX, Is.EqualTo(0));
    }

    [Test]
    public void NoisyNonconvexNoiseHasTheStatedVariance()
    {
        var p = new NoisyNonconvex(4, sigma0: 0.5, sigma1: 0.5, p: 1, seed: 9);
        var x = new float[] { 0.3f, -1.2f, 2.0f, 0.0f };
        var exact = new double[4];
        p.Gradient(x, exact);
        Assert.That(exact[3], Is.EqualTo(0), "∇F(0) = 0");
        Assert.That(exact[0], Is.EqualTo(0.3f + 2 * Math.Sin(2 * 0.3f)).Within(1e-12));
        var g = new float[4];
        var sum = new double[4]; var sq = new double[4];
        const int n = 40_000;
        for (int k = 0; k < n; k++)
        {
            p.Sample(x, g);
            for (int j = 0; j < 4; j++) { double e = g[j] - exact[j]; sum[j] += e; sq[j] += e * e; }
        }
        for (int j = 0; j < 4; j++)
        {
            double want = 0.25 + 0.25 * Math.Abs(exact[j]);
            Assert.That(sum[j] / n, Is.EqualTo(0).Within(4 * Math.Sqrt(want / n)), $"noise mean, coordinate {j}");
            Assert.That(sq[j] / n, Is.EqualTo(want).Within(0.05 * want), $"noise variance, coordinate {j}");
        }
        Assert.That(p.Value(new float[4]), Is.EqualTo(p.MinValue));
    }

    [Test]
    public void NoisyNonconvexSkewedNoiseHasMeanZeroTheStatedVarianceAndSkewnessTwo()
    {
        var p = new NoisyNonconvex(1, sigma0: 2.0, seed: 3, skewed: true);
        var x = new float[] { 0.7f };
        var exact = new double[1];
        p.Gradient(x, exact);
        var g = new float[1];
        double s1 = 0, s2 = 0, s3 = 0;
        const int n = 200_000;
        for (int k = 0; k < n; k++)
        {
            p.Sample(x, g);
            double e = g[0] - exact[0];
            s1 += e; s2 += e * e; s3 += e * e * e;
        }
        double mean = s1 / n, variance = s2 / n - mean * mean;
        double skew = (s3 / n - 3 * mean * variance - mean * mean * mean) / Math.Pow(variance, 1.5);
        Assert.That(mean, Is.EqualTo(0).Within(4 * 2.0 / Math.Sqrt(n)), "noise mean");
        Assert.That(variance, Is.EqualTo(4.0).Within(0.03 * 4.0), "noise variance σ0²");
        Assert.That(skew, Is.EqualTo(2.0).Within(0.15), "Exp(1) − 1 has skewness 2 (Gaussian noise: 0)");
    }

    [Test]
    public void CsvTableQuotesAndChecksRowLength()
    {
        var t = new CsvTable("a", "b");
        t.Add(0.1, "x,y");
        t.Add(1e-300, "say \"hi\"");
        Assert.That(t.ToString(), Is.EqualTo("a,b\n0.1,\"x,y\"\n1E-300,\"say \"\"hi\"\"\"\n"));
        Assert.That(() => t.Add(1), Throws.ArgumentException.With.Message.Contains("has 1 cells but the header has 2"));
    }

    [Test]
    public void ScriptOptionsParseTheSharedFlags()
    {
        using var tmp = new TempDirectory();
        var o = ScriptOptions.Parse("x", tmp.Path, ["--full", "--seed", "7", "--out", tmp.File("o")]);
        Assert.That((o.Size, o.Seed, o.OutDir), Is.EqualTo((RunSize.Full, 7, tmp.File("o"))));
        Assert.That(Directory.Exists(tmp.File("o")), Is.True);
        Assert.That(o.Pick(1, 2, 3), Is.EqualTo(3));
        var d = ScriptOptions.Parse("x", tmp.Path, []);
        Assert.That(d.OutDir, Is.EqualTo(Path.Combine(tmp.Path, "runs", "x")));
        Assert.That(() => ScriptOptions.Parse("x", tmp.Path, ["--fast"]), Throws.ArgumentException.With.Message.Contains("unknown argument '--fast'"));
        Assert.That(() => ScriptOptions.Parse("x", tmp.Path, ["--seed"]), Throws.ArgumentException.With.Message.Contains("--seed needs a value"));
        Assert.That(() => ScriptOptions.Parse("x", tmp.Path, ["--seed", "a"]), Throws.ArgumentException.With.Message.Contains("integer"));
    }

    [Test]
    public void ReportVerdictIsHeldOnlyWhenEveryCriterionHeldAndSmokeRunsDecideNothing()
    {
        using var tmp = new TempDirectory();
        var full = new Report("t", ScriptOptions.Parse("x", tmp.Path, ["--out", tmp.Path]));
        full.Decide("c1", "t1", true, "e1");
        Assert.That(full.Verdict, Is.EqualTo(Outcome.Held));
        full.Decide("c2", "t2", false, "e2");
        Assert.That(full.Verdict, Is.EqualTo(Outcome.NotHeld));
        var text = full.Render(TimeSpan.FromSeconds(1));
        Assert.That(text, Does.Contain("**NOT held**").And.Contain("**Overall: NOT held.**").And.Contain("a finding, not a failure"));
        Assert.That(text.IndexOf("## Criteria", StringComparison.Ordinal), Is.LessThan(text.IndexOf("## Results", StringComparison.Ordinal)),
            "criteria are stated before the results");
        var smoke = new Report("t", ScriptOptions.Parse("x", tmp.Path, ["--smoke", "--out", tmp.Path]));
        smoke.Decide("c", "t", false, "e");
        Assert.That(smoke.Verdict, Is.EqualTo(Outcome.Undecided));
        Assert.That(smoke.Criteria[0].Evidence, Does.Contain("would be not held"));
    }
}
