using CudaAdam.Problems;
using CudaAdam.Training;
using CudaAdam.Training.Jobs;

namespace CudaAdam.Tests.Training;

/// <summary>The stochastic problems (<see cref="IStochasticProblem"/>), <see cref="Trainer"/> over them and their
/// <c>cudaadam train</c> configs.</summary>
public class ProblemsTests
{
    public static IEnumerable<TestCaseData> Problems()
    {
        yield return new TestCaseData(new QuadraticDeep()).SetArgDisplayNames("quadratic_deep");
        yield return new TestCaseData(ReddiOnline.Cycle3(10)).SetArgDisplayNames("reddi-cycle3");
        yield return new TestCaseData(ReddiOnline.Online()).SetArgDisplayNames("reddi-online");
        yield return new TestCaseData(ReddiOnline.Stochastic()).SetArgDisplayNames("reddi-stochastic");
        yield return new TestCaseData(new ZhangFiniteSum(10)).SetArgDisplayNames("zhang");
        yield return new TestCaseData(new ZhangFiniteSum(10, a: 1.0 / 81)).SetArgDisplayNames("zhang-a-1/(n-1)^2");
        yield return new TestCaseData(new NoisyRosenbrock(6, sigma: 0.5)).SetArgDisplayNames("rosenbrock");
        yield return new TestCaseData(new PAffineQuadratic(8, condition: 50, sigma0: 0.1, sigma1: 0.5, p: 1.5)).SetArgDisplayNames("paffine-quadratic");
    }

    /// <summary>A point inside the feasible set, away from kinks (Zhang's −1), seeded.</summary>
    private static float[] TestPoint(IStochasticProblem p, ulong seed)
    {
        var rng = new Rng(seed);
        var x = new float[p.Dimension];
        for (int i = 0; i < x.Length; i++) x[i] = (float)(1.6 * rng.NextDouble() - 0.8); // [−0.8, 0.8]
        if (p is ZhangFiniteSum) x[0] = -1.5f;  // the quadratic piece (the linear one is checked by the slope test)
        return x;
    }

    [TestCaseSource(nameof(Problems))]
    public void Gradient_MatchesCentralFiniteDifferencesOfTheLoss(IStochasticProblem p)
    {
        var x = TestPoint(p, 11);
        var g = new double[p.Dimension];
        p.Gradient(x, g);
        // Central differences in double on a float32 point: step h = 1e-3 changes x exactly by a float-representable
        // amount only approximately, so evaluate the loss through a float copy and divide by the realized step.
        for (int i = 0; i < p.Dimension; i++)
        {
            var xp = (float[])x.Clone();
            var xm = (float[])x.Clone();
            xp[i] += 1e-3f;
            xm[i] -= 1e-3f;
            double fd = (p.Loss(xp) - p.Loss(xm)) / ((double)xp[i] - xm[i]);
            // Truncation error O(h²·F''') (Rosenbrock's cubic terms: ~1e-4 relative) and rounding of Loss (~1e-13·F/h).
            Assert.That(g[i], Is.EqualTo(fd).Within(2e-3 * Math.Max(1, Math.Abs(fd))), $"{p.Name}: ∂F/∂x_{i}");
        }
    }

    [TestCaseSource(nameof(Problems))]
    public void StochasticGradient_IsUnbiased(IStochasticProblem p)
    {
        // The mean of many stochastic gradients at a fixed x approaches ∇ of the expected loss. For a finite sum the
        // full pass over the data is exact: the train mean; quadratic_deep's Loss is the *test* loss, so compare its
        // train-set gradient with Q(θ − x̄_train) directly.
        var x = TestPoint(p, 12);
        var rng = new Rng(5);
        var mean = new double[p.Dimension];
        var grad = new float[p.Dimension];
        int draws;
        if (p.DataSize is int n)
        {
            var all = Enumerable.Range(0, n).ToArray();
            p.StochasticGradient(x, grad, new Minibatch(1, n, all), rng);
            for (int i = 0; i < p.Dimension; i++) mean[i] = grad[i];
            draws = 1;
        }
        else
        {
            draws = p is ReddiOnline { IsStochastic: true } ? 200_000 : 20_000;
            for (int k = 1; k <= draws; k++)
            {
                // Online sequences: whole periods (the deterministic cycles average exactly over 3 or 101 rounds).
                p.StochasticGradient(x, grad, new Minibatch(k, 1, default), rng);
                for (int i = 0; i < p.Dimension; i++) mean[i] += grad[i];
            }
            if (p is ReddiOnline { IsStochastic: false } r) draws = r.Name == "reddi-online" ? 101 * (draws / 101) : draws;
            for (int i = 0; i < p.Dimension; i++) mean[i] /= draws;
        }
        var exact = new double[p.Dimension];
        if (p is QuadraticDeep q)
        {
            var h = q.Hessian;
            int d = q.Dimension, m = q.DataSize!.Value;
            var xbar = new double[d];
            for (int s = 0; s < m; s++) for (int j = 0; j < d; j++) xbar[j] += q.Train[s * d + j] / (double)m;
            for (int i = 0; i < d; i++) for (int j = 0; j < d; j++) exact[i] += h[i * d + j] * (x[j] - xbar[j]);
        }
        else p.Gradient(x, exact);
        for (int i = 0; i < p.Dimension; i++)
        {
            // Float32 gradients summed in double; the noise's standard error: ≤ 4·sd/√draws with sd ≤ 100 (Reddi's
            // stochastic slopes: sd ≈ 102, mean 0.2) — a loose but failing-on-bias bound.
            double tol = p.DataSize is null ? (p is ReddiOnline { IsStochastic: true } ? 1.0 : 0.05 + 4 * 2.5 / Math.Sqrt(draws)) : 1e-4 * Math.Max(1, Math.Abs(exact[i]));
            if (p is ReddiOnline { IsStochastic: false }) tol = 0.2; // 20000 rounds of a 101-cycle: at most one partial period
            Assert.That(mean[i], Is.EqualTo(exact[i]).Within(tol), $"{p.Name}: coordinate {i}");
        }
    }

    [Test]
    public void QuadraticDeep_HasDeepObsSpectrumRotationAndData()
    {
        var q = new QuadraticDeep();
        int d = q.Dimension;
        Assert.That(d, Is.EqualTo(100));
        Assert.That(q.DataSize, Is.EqualTo(1000));
        Assert.That(q.Eigenvalues.Take(90), Has.All.InRange(0.0, 1.0), "90 eigenvalues in [0, 1]");
        Assert.That(q.Eigenvalues.Skip(90), Has.All.InRange(30.0, 60.0), "10 eigenvalues in [30, 60]");
        Assert.That(q.Eigenvalues.Take(90).Average(), Is.InRange(0.4, 0.6), "U(0, 1): mean 0.5");

        // R is a rotation: R·Rᵀ = I and det R = +1.
        var r = q.Rotation;
        for (int i = 0; i < d; i++)
        for (int j = 0; j < d; j++)
        {
            double dot = 0;
            for (int k = 0; k < d; k++) dot += r[i * d + k] * r[j * d + k];
            Assert.That(dot, Is.EqualTo(i == j ? 1.0 : 0.0).Within(1e-12), $"(R·Rᵀ)[{i},{j}]");
        }
        Assert.That(QuadraticDeep.Determinant(r, d), Is.EqualTo(1.0).Within(1e-9));

        // Q's eigenpairs are (λ_k, row k of R): Q·r_k = λ_k·r_k, so the spectrum of Q is exactly λ.
        var h = q.Hessian;
        for (int k = 0; k < d; k++)
        for (int i = 0; i < d; i++)
        {
            double qr = 0;
            for (int j = 0; j < d; j++) qr += h[i * d + j] * r[k * d + j];
            Assert.That(qr, Is.EqualTo(q.Eigenvalues[k] * r[k * d + i]).Within(1e-10), $"Q·r_{k}");
        }
        // Data: N(0, 0.6²): the sample variance of the 100,000 train values.
        double var = q.Train.Select(v => (double)v * v).Average();
        Assert.That(Math.Sqrt(var), Is.EqualTo(0.6).Within(0.01));

        // The test optimum is the test mean, F* = F(x̄) and F(θ0 = 1) above it by ½·1ᵀQ... (checked against the formula).
        var opt = q.Optimum!;
        var g = new double[d];
        q.Gradient(opt.Select(v => (float)v).ToArray(), g);
        Assert.That(g.Max(Math.Abs), Is.LessThan(1e-4), "∇F(x̄_test) ≈ 0 (x̄ rounded to float)");
        Assert.That(q.Loss(q.InitialPoint()), Is.GreaterThan(q.OptimalLoss!.Value + 100), "θ0 = 1 is far from the optimum");
    }

    [Test]
    public void QuadraticDeep_MinibatchLossAndGradientMatchTheSamplesDirectly()
    {
        var q = new QuadraticDeep();
        int d = q.Dimension;
        var x = TestPoint(q, 3);
        int[] idx = [5, 17, 999, 0];
        var grad = new float[d];
        double loss = q.StochasticGradient(x, grad, new Minibatch(1, idx.Length, idx), new Rng(1));
        var h = q.Hessian;
        double want = 0;
        var wantGrad = new double[d];
        foreach (int s in idx)
        {
            var diff = Enumerable.Range(0, d).Select(j => (double)x[j] - q.Train[s * d + j]).ToArray();
            for (int i = 0; i < d; i++)
            {
                double row = 0;
                for (int j = 0; j < d; j++) row += h[i * d + j] * diff[j];
                want += 0.5 * diff[i] * row / idx.Length;
                wantGrad[i] += row / idx.Length;
            }
        }
        Assert.That(loss, Is.EqualTo(want).Within(1e-9 * want));
        for (int i = 0; i < d; i++) Assert.That(grad[i], Is.EqualTo(wantGrad[i]).Within(1e-5 * Math.Max(1, Math.Abs(wantGrad[i]))));
    }

    [Test]
    public void QuadraticDeep_IsAFixedProblem_SameSeedSameNumbers()
    {
        var a = new QuadraticDeep();
        var b = new QuadraticDeep();
        Assert.That(b.Hessian, Is.EqualTo(a.Hessian));
        Assert.That(b.Test, Is.EqualTo(a.Test));
        Assert.That(new QuadraticDeep(seed: 43).Eigenvalues, Is.Not.EqualTo(a.Eigenvalues));
    }

    [Test]
    public void ReddiOnline_SlopesMeansAndProjection()
    {
        var c = ReddiOnline.Cycle3(10);
        Assert.That(new[] { c.Slope(1), c.Slope(2), c.Slope(3), c.Slope(4) }, Is.EqualTo(new[] { 10.0, -1, -1, 10 }));
        Assert.That(c.MeanSlope, Is.EqualTo(8.0 / 3));
        var o = ReddiOnline.Online();
        Assert.That(Enumerable.Range(1, 101).Sum(t => o.Slope(t)) / 101, Is.EqualTo(o.MeanSlope).Within(1e-12));
        Assert.That(ReddiOnline.Stochastic().MeanSlope, Is.EqualTo(0.2).Within(1e-12));
        Assert.That(() => ReddiOnline.Stochastic().Slope(1), Throws.ArgumentNullException);
        var x = new float[] { 3f };
        o.Project(x);
        Assert.That(x[0], Is.EqualTo(1f));
        Assert.That(o.OptimalLoss, Is.EqualTo(-o.MeanSlope));
        // A batch of B rounds averages rounds (t−1)B+1 … tB: step 1 of B = 101 sees one spike and 100 × −10.
        var g = new float[1];
        o.StochasticGradient([0f], g, new Minibatch(1, 101, default), new Rng(1));
        Assert.That(g[0], Is.EqualTo((float)(10.0 / 101)));
    }

    [TestCase(10, 1.0)]
    [TestCase(20, 1.0 / 361)]
    public void ZhangFiniteSum_ComponentsSumToTheThesisObjective_AndAreC1AtMinusOne(int n, double a)
    {
        var z = new ZhangFiniteSum(n, a);
        foreach (double x in new[] { -3.0, -2.0, -1.5, -1.0, 0.0, 2.5 })
        {
            double sum = Enumerable.Range(0, n).Sum(i => z.ComponentLoss(i, x));
            Assert.That(sum, Is.EqualTo(ZhangFiniteSum.Sum(x)).Within(1e-9), $"Σ f_i({x})");
            Assert.That(Enumerable.Range(0, n).Sum(i => z.ComponentGradient(i, x)), Is.EqualTo(x >= -1 ? 1 : x + 2).Within(1e-9), $"Σ f_i'({x})");
        }
        for (int i = 0; i < 2; i++)
        {
            Assert.That(z.ComponentLoss(i, -1 - 1e-9), Is.EqualTo(z.ComponentLoss(i, -1)).Within(1e-6), $"f_{i} continuous at -1");
            Assert.That(z.ComponentGradient(i, -1 - 1e-12), Is.EqualTo(z.ComponentGradient(i, -1)).Within(1e-9), $"f_{i}' continuous at -1");
        }
        Assert.That(z.ComponentGradient(0, 0), Is.EqualTo(1 + (n - 1) * a));
        Assert.That(z.ComponentGradient(1, 0), Is.EqualTo(-a));
        var e = new CudaAdam.Experiments.Problems.ZhangCounterexample(n, a);
        Assert.That(e.Gradient(0, -1.5), Is.EqualTo(z.ComponentGradient(0, -1.5)), "the experiments' runner uses the same functions");
        Assert.That(z.Loss([(float)ZhangFiniteSum.Minimizer]), Is.EqualTo(z.OptimalLoss));
    }

    [Test]
    public void PAffineQuadratic_NoiseHasTheStatedVariance()
    {
        var p = new PAffineQuadratic(3, condition: 4, sigma0: 0.2, sigma1: 0.5, p: 2);
        var x = new float[] { 1f, -0.5f, 0f };
        var exact = new double[3];
        p.Gradient(x, exact);
        var rng = new Rng(7);
        var g = new float[3];
        int n = 200_000;
        var sum = new double[3];
        var sq = new double[3];
        for (int k = 1; k <= n; k++)
        {
            p.StochasticGradient(x, g, new Minibatch(k, 1, default), rng);
            for (int j = 0; j < 3; j++) { sum[j] += g[j]; sq[j] += (g[j] - exact[j]) * (g[j] - exact[j]); }
        }
        for (int j = 0; j < 3; j++)
        {
            double want = 0.04 + 0.25 * exact[j] * exact[j];
            // The sample variance of 2·10⁵ normals has relative standard error √(2/n) ≈ 0.3%; 2% is > 6 se.
            Assert.That(sq[j] / n, Is.EqualTo(want).Within(0.02 * want), $"coordinate {j}: σ0² + σ1²|∇_j F|²");
        }
        // Batch B divides the variance by B.
        double s4 = 0;
        for (int k = 1; k <= n; k++) { p.StochasticGradient(x, g, new Minibatch(k, 4, default), rng); s4 += (g[2] - exact[2]) * (g[2] - exact[2]); }
        Assert.That(s4 / n, Is.EqualTo(0.04 / 4).Within(0.02 * 0.01));
    }

    [Test]
    public void ProblemRun_SameSeedSameRun_OtherSeedOtherRun_AndAdamDescends()
    {
        (double[] Losses, float[] X) Run(IStochasticProblem p, ulong seed, int batch, int? stepsPerEpoch)
        {
            var x = new Parameter("x", p.InitialPoint());
            using var opt = new Optimizer(Algorithm.Adam, [x], Hyperparameters.For(Algorithm.Adam, lr: 0.01));
            var t = new Trainer(p, opt, x, new TrainerOptions { Epochs = 5, BatchSize = batch, StepsPerEpoch = stepsPerEpoch }, new Rng(seed));
            var losses = new List<double>();
            t.Run(s => losses.Add(s.Loss));
            Assert.That(t.Step, Is.EqualTo(t.TotalSteps));
            return (losses.ToArray(), (float[])x.Data.Clone());
        }
        var q = new QuadraticDeep();
        var a = Run(q, 1, 128, null);
        Assert.That(a.Losses, Has.Length.EqualTo(5 * 7), "⌊1000/128⌋ = 7 steps per epoch, the remainder dropped");
        Assert.That(Run(q, 1, 128, null).X, Is.EqualTo(a.X), "same seed: bitwise the same run");
        Assert.That(Run(q, 2, 128, null).X, Is.Not.EqualTo(a.X), "another seed: another minibatch order");
        Assert.That(q.Loss(a.X), Is.LessThan(q.Loss(q.InitialPoint())), "Adam lowers the test loss");

        var r = new NoisyRosenbrock(4, sigma: 1);
        var b = Run(r, 1, 1, 20);
        Assert.That(Run(r, 1, 1, 20).Losses, Is.EqualTo(b.Losses));
        Assert.That(Run(r, 9, 1, 20).X, Is.Not.EqualTo(b.X));
    }

    [Test]
    public void ProblemRun_ProjectsReddiOntoTheInterval()
    {
        var p = ReddiOnline.Online();
        var x = new Parameter("x", p.InitialPoint());
        using var opt = new Optimizer(Algorithm.Sgd, [x], Hyperparameters.For(Algorithm.Sgd, lr: 1));
        var t = new Trainer(p, opt, x, new TrainerOptions { Epochs = 3, BatchSize = 1, StepsPerEpoch = 101 }, new Rng(1));
        t.Run(_ => Assert.That(x.Data[0], Is.InRange(-1f, 1f)));
        Assert.That(t.Step, Is.EqualTo(303));
    }

    [Test]
    public void ProblemRun_RejectsStepsPerEpochForAFiniteSumAndTheirAbsenceForAStream()
    {
        var z = new ZhangFiniteSum(10);
        var x = new Parameter("x", z.InitialPoint());
        using var opt = new Optimizer(Algorithm.Adam, [x], Hyperparameters.Defaults(Algorithm.Adam));
        Assert.That(() => new Trainer(z, opt, x, new TrainerOptions { StepsPerEpoch = 5 }, new Rng(1)),
            Throws.ArgumentException.With.Message.Contains("finite sum"));
        Assert.That(() => new Trainer(z, opt, x, new TrainerOptions { BatchSize = 11 }, new Rng(1)),
            Throws.ArgumentException.With.Message.Contains("exceeds"));
        var r = new NoisyRosenbrock(2);
        var y = new Parameter("y", r.InitialPoint());
        using var opt2 = new Optimizer(Algorithm.Adam, [y], Hyperparameters.Defaults(Algorithm.Adam));
        Assert.That(() => new Trainer(r, opt2, y, new TrainerOptions(), new Rng(1)),
            Throws.ArgumentException.With.Message.Contains("stream"));
    }

    private static TrainConfig Parse(string json)
    {
        using var s = new MemoryStream(System.Text.Encoding.UTF8.GetBytes(json));
        return TrainConfig.Load(s, "test config");
    }

    [Test]
    public void Config_RoundTripsWithEveryProblemSettingStated()
    {
        var c = Parse("""
            { "name": "pq", "model": { "kind": "paffine-quadratic" }, "problem": { "sigma1": 0.5, "steps_per_epoch": 7 },
              "training": { "batch_size": 1 }, "optimizers": [ { "name": "adam" } ] }
            """).Resolve();
        Assert.That(c.Model.IsProblem, Is.True);
        Assert.That((c.Problem!.Dimension, c.Problem.Condition, c.Problem.Sigma0, c.Problem.Sigma1, c.Problem.P, c.Problem.StepsPerEpoch),
            Is.EqualTo(((int?)100, (double?)100, (double?)0.1, (double?)0.5, (double?)2, (int?)7)));
        Assert.That(c.ToJson(), Does.Not.Contain("\"data\"").And.Not.Contain("dropout"), "a problem uses neither data nor dropout");
        var back = Parse(c.ToJson()).Resolve();
        Assert.That(back.ToJson(), Is.EqualTo(c.ToJson()));
        Assert.That(back.Problem!.Create(back.Model.Kind), Is.TypeOf<PAffineQuadratic>());
    }

    [TestCase("""{ "model": { "kind": "rosenbrock" }, "problem": { "n": 5 } }""", "problem.n: 'rosenbrock' does not use it")]
    [TestCase("""{ "model": { "kind": "quadratic_deep" }, "problem": { "dimension": 5 } }""", "its keys: none")]
    [TestCase("""{ "model": { "kind": "rosenbrock" }, "problem": { "bogus": 5 } }""", "bogus")]
    [TestCase("""{ "model": { "kind": "mlp" }, "problem": { "sigma": 1 } }""", "belongs to the problem kinds")]
    [TestCase("""{ "model": { "kind": "zhang" }, "training": { "batch_size": 128 } }""", "exceeds the 10 samples")]
    [TestCase("""{ "model": { "kind": "rosenbrock" }, "problem": { "sigma": -1 } }""", "sigma must be")]
    [TestCase("""{ "model": { "kind": "quadratic-deep" } }""", "problems: quadratic_deep")]
    public void Config_RejectsWhatAProblemDoesNotUse(string json, string message)
    {
        string full = json[..json.LastIndexOf('}')] + """, "optimizers": [ { "name": "adam" } ] }""";
        Assert.That(() => Parse(full).Resolve(), Throws.InstanceOf<ConfigException>().With.Message.Contains(message));
    }

    [TestCase("quadratic_deep", "", 128)]
    [TestCase("reddi-cycle3", """, "problem": { "steps_per_epoch": 30 }""", 1)]
    [TestCase("reddi-online", """, "problem": { "steps_per_epoch": 101 }""", 1)]
    [TestCase("reddi-stochastic", """, "problem": { "steps_per_epoch": 50 }""", 1)]
    [TestCase("zhang", """, "problem": { "n": 10 }""", 1)]
    [TestCase("rosenbrock", """, "problem": { "dimension": 4, "steps_per_epoch": 20 }""", 1)]
    [TestCase("paffine-quadratic", """, "problem": { "dimension": 10, "steps_per_epoch": 20 }""", 4)]
    public void Train_RunsEveryProblem_AndWritesCsvPlotsSummaryCheckpoints(string kind, string problem, int batch)
    {
        using var dir = new TempDirectory();
        var config = Parse($$"""
            { "name": "p", "model": { "kind": "{{kind}}" }{{problem}}, "training": { "epochs": 3, "batch_size": {{batch}}, "seed": 2 },
              "optimizers": [ { "name": "adam", "lr": 0.01 }, { "name": "sgd", "label": "sgd-momentum", "lr": 0.001, "momentum": 0.9 } ],
              "output": "{{dir.File("runs").Replace("\\", "\\\\")}}" }
            """);
        var log = new StringWriter();
        var result = TrainJob.Run(config, log);
        Assert.That(result.Interrupted, Is.False);
        Assert.That(result.Runs, Has.Count.EqualTo(2));
        foreach (var r in result.Runs)
        {
            Assert.That(r.Epochs.Select(e => e.Epoch), Is.EqualTo(new[] { 0, 1, 2, 3 }));
            Assert.That(r.Epochs.Select(e => e.TestLoss), Has.All.Matches<double>(double.IsFinite));
            Assert.That(r.Epochs[0].TestLoss, Is.EqualTo(config.Problem!.Create(kind).Loss(config.Problem.Create(kind).InitialPoint())));
        }
        foreach (var f in new[] { "config.json", "steps.csv", "epochs.csv", "loss_vs_step.png", "loss_vs_time.png", "objective.png", "summary.md",
                     "checkpoints/adam.ckpt", "checkpoints/sgd-momentum.ckpt" })
            Assert.That(File.Exists(Path.Combine(result.Folder, f)), f);
        Assert.That(File.ReadAllText(Path.Combine(result.Folder, "summary.md")), Does.Contain($"`{kind}`").And.Contain("| sgd-momentum |"));
        // Resuming a finished run takes no step and keeps the records (interrupted runs: ProblemResumeTests).
        string stepsCsv = File.ReadAllText(Path.Combine(result.Folder, "steps.csv"));
        var again = TrainJob.Resume(result.Folder, new StringWriter());
        Assert.That(again.Interrupted, Is.False);
        Assert.That(again.Runs.Select(r => r.Steps.Count), Is.EqualTo(result.Runs.Select(r => r.Steps.Count)));
        Assert.That(File.ReadAllText(Path.Combine(result.Folder, "steps.csv")), Is.EqualTo(stepsCsv));
    }

    [Test]
    public void Configs_InTheRepositoryResolve()
    {
        foreach (var name in new[] { "quadratic-deep.json", "rosenbrock.json" })
        {
            var c = TrainConfig.Load(TestPaths.InRepo("configs", name)).Resolve();
            Assert.That(c.Model.IsProblem, Is.True, name);
        }
        var q = TrainConfig.Load(TestPaths.InRepo("configs", "quadratic-deep.json")).Resolve();
        Assert.That((q.Training.BatchSize, q.Training.Epochs), Is.EqualTo((128, 100)), "DeepOBS's quadratic_deep setting");
    }
}
