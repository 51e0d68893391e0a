using CudaAdam.Problems;

namespace CudaAdam.Tests.Cli;

/// <summary>
/// <c>cudaadam reddi</c> and <see cref="ReddiCounterexample"/>: Reddi, Kale &amp; Kumar (2018), Theorem 1 says Adam with
/// β1 = 0, β2 = 1/(1+C²) converges to the worst point x = +1 on f_t(x) = C·x (t mod 3 = 1), −x otherwise; AMSGrad,
/// SGD and AdaGrad reach x* = −1.
/// </summary>
public class ReddiTests
{
    private static readonly ReddiCounterexample Problem = new(10);

    private static ReddiCounterexample.Result RunSetup(string label, long steps)
    {
        var s = Problem.StandardSetups().Single(x => x.Label == label);
        return Problem.Run(s.Algorithm, s.Hyperparameters, steps, s.Schedule);
    }

    [TestCase("adam", 1.0)]
    [TestCase("adam+amsgrad", -1.0)]
    [TestCase("sgd", -1.0)]
    [TestCase("adagrad", -1.0)]
    public void FinalXIsWhatTheLiteratureSays(string label, double expected)
    {
        var r = RunSetup(label, 30_000);
        Assert.That(r.FinalX, Is.EqualTo(expected).Within(0.01), $"{label}: final x");
        // At +1 the regret per step tends to 2(C−2)/3 = 16/3; at −1 it tends to 0.
        if (expected > 0) Assert.That(r.AverageRegret, Is.EqualTo(16.0 / 3).Within(0.05));
        else Assert.That(r.AverageRegret, Is.LessThan(0.1));
    }

    [Test]
    public void AmsgradRegretKeepsFallingAndAdamsDoesNot()
    {
        // R_T/T → 0 is the definition of convergence in the online setting (Reddi et al., Section 2).
        double ams1 = RunSetup("adam+amsgrad", 3_000).AverageRegret, ams2 = RunSetup("adam+amsgrad", 30_000).AverageRegret;
        double adam1 = RunSetup("adam", 3_000).AverageRegret, adam2 = RunSetup("adam", 30_000).AverageRegret;
        Assert.That(ams2, Is.LessThan(ams1 / 2));
        Assert.That(adam2, Is.GreaterThan(5.0).And.GreaterThan(adam1 - 0.1));
    }

    [Test]
    public void RegretIsZeroWhenPlayingTheOptimum()
    {
        // lr = 0 from x0 = −1: the learner never moves, so it suffers exactly the optimum's loss.
        var hp = Hyperparameters.Defaults(Algorithm.Sgd) with { Lr = 0 };
        var r = Problem.Run(Algorithm.Sgd, hp, 300, ReddiCounterexample.Schedule.Constant, x0: -1);
        Assert.That(r.FinalX, Is.EqualTo(-1));
        Assert.That(r.Regret, Is.EqualTo(0));
        // And from +1 without moving, each block of three costs 2(C−2) = 16.
        var stuck = Problem.Run(Algorithm.Sgd, hp, 300, ReddiCounterexample.Schedule.Constant, x0: 1);
        Assert.That(stuck.Regret, Is.EqualTo(16 * 100).Within(1e-9));
    }

    [Test]
    public void StandardSetupsCoverEveryAlgorithmPlusAmsgrad()
    {
        var setups = Problem.StandardSetups();
        Assert.That(setups.Select(s => s.Algorithm).Distinct(), Is.EquivalentTo(AlgorithmNames.All));
        Assert.That(setups.Single(s => s.Label == "adam").Hyperparameters.Beta2, Is.EqualTo(1.0 / 101));
        Assert.That(setups.Single(s => s.Label == "adam+amsgrad").Hyperparameters.Amsgrad, Is.True);
    }

    [Test]
    public void RunCommandPrintsTheTableWithAdamAtPlusOneAndAmsgradAtMinusOne()
    {
        var r = CliRunner.Invoke("reddi", "--steps", "30000");
        Assert.That(r.Code, Is.EqualTo(0), r.ToString());
        var rows = r.Out.Split('\n').Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries)).Where(f => f.Length >= 3).ToList();
        double FinalX(string label) => double.Parse(rows.Single(f => f[0] == label)[1], System.Globalization.CultureInfo.InvariantCulture);
        Assert.That(FinalX("adam"), Is.EqualTo(1).Within(0.01));
        Assert.That(FinalX("adam+amsgrad"), Is.EqualTo(-1).Within(0.01));
        foreach (var a in AlgorithmNames.All)
            Assert.That(rows.Any(f => f[0] == a.Name()), $"a row for {a.Name()}");
        Assert.That(r.Out, Does.Contain("x0 = 1").And.Contain("alpha = 0.1"));
        Assert.That(r.Out, Does.Not.Contain("NO"), "every literature expectation holds");
        Assert.That(r.Err, Is.Empty);
    }

    [TestCase("--steps", "-5", "not a non-negative integer")]
    [TestCase("--c", "1", "must be a finite number > 2")]
    [TestCase("--backend", "tpu", "unknown backend 'tpu'")]
    public void RunBadInputExits2(string option, string value, string expected)
    {
        var r = CliRunner.Invoke("reddi", option, value);
        Assert.That(r.Code, Is.EqualTo(2));
        Assert.That(r.Err, Does.StartWith("cudaadam reddi: ").And.Contain(expected));
    }
}
