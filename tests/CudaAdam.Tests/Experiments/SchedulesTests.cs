using CudaAdam.Experiments;
using CudaAdam.Experiments.Statistics;

namespace CudaAdam.Tests.Experiments;

public class SchedulesTests
{
    [Test]
    public void TheoryBetasAndDimensionScaling()
    {
        Assert.Multiple(() =>
        {
            Assert.That(Schedules.Beta1ForHorizon(10_000), Is.EqualTo(0.99).Within(1e-15));
            Assert.That(Schedules.Beta2ForHorizon(10_000), Is.EqualTo(0.999).Within(1e-15));
            Assert.That(Schedules.Beta1ForHorizon(10_000, c: 5), Is.EqualTo(0.95).Within(1e-15));
            Assert.That(Schedules.LrForDimension(1.0, 400), Is.EqualTo(0.05));
            Assert.That(Schedules.AdamNCBeta2(1), Is.EqualTo(0.0));
            Assert.That(Schedules.AdamNCBeta2(4), Is.EqualTo(0.75));
        });
        Assert.Throws<ArgumentOutOfRangeException>(() => Schedules.Beta1ForHorizon(4, c: 3));
    }

    [Test]
    public void HorizonBetasSatisfyTheConditionAndRGrowsLikeTToTheOneEighth()
    {
        // β1 = 1 − 1/sqrt(T), β2 = 1 − 1/T^(3/4): β1 < sqrt(β2) for T ≥ 2 and R ≈ sqrt(1/2)·T^(1/8).
        var horizons = new long[] { 1_000, 10_000, 100_000, 1_000_000, 10_000_000, 100_000_000 };
        var bounds = new List<double>();
        foreach (var T in horizons)
        {
            var c = SignCondition.Of(Hyperparameters.For(Algorithm.Adam, beta1: Schedules.Beta1ForHorizon(T), beta2: Schedules.Beta2ForHorizon(T)));
            Assert.That(c.Beta1BelowSqrtBeta2, $"T = {T}: {c}");
            bounds.Add(c.Bound);
        }
        var fit = SlopeFit.LogLog(horizons.Select(t => (double)t).ToArray(), bounds);
        Assert.That(fit.Slope, Is.EqualTo(0.125).Within(0.01), "log R against log T");
        Assert.That(bounds[^1] / Math.Pow(1e8, 0.125), Is.EqualTo(Math.Sqrt(0.5)).Within(0.01));
    }

    [Test]
    public void AdamNCHasNoBoundForItsFirstSteps()
    {
        var run = new RunSchedule(LrScheduler.KindLambda("inv-sqrt-t", 100), new BetaSchedule.AdamNC(0.9));
        var (maxR, without, first) = run.SignConditionOver(Hyperparameters.Defaults(Algorithm.Adam), 100);
        // β1² = 0.81 ≥ 1 − 1/t  ⇔  t ≤ 1/0.19 = 5.26: steps 1..5 have R = ∞.
        Assert.That(first, Is.EqualTo(1));
        Assert.That(without, Is.EqualTo(5));
        Assert.That(maxR, Is.GreaterThan(0).And.LessThan(double.PositiveInfinity));
        Assert.That(SignCondition.Of(run.At(Hyperparameters.Defaults(Algorithm.Adam), 3)).ToString(), Does.Contain("R = inf"));
        // β1 = β2 = 0 is SignSGD: not β1 < sqrt(β2), yet |m|/sqrt(v) = 1, so R is 1, not inf.
        var sign = SignCondition.Of(Hyperparameters.For(Algorithm.Adam, beta1: 0, beta2: 0));
        Assert.That(sign.Beta1BelowSqrtBeta2, Is.False);
        Assert.That(sign.Bound, Is.EqualTo(1.0));
        Assert.That(sign.ToString(), Does.Contain("R = 1 (SignSGD)"));
    }

    [Test]
    public void ApplyToSetsEveryGroupBeforeAStep()
    {
        var baseline = Hyperparameters.Defaults(Algorithm.Adam);
        var a = new Parameter("a", new float[2]);
        var b = new Parameter("b", new float[2]);
        using var opt = new Optimizer(Algorithm.Adam, [new ParamGroup([a], baseline), new ParamGroup([b], baseline)]);
        var run = new RunSchedule(LrScheduler.KindLambda("inv-sqrt-t", 10_000), BetaSchedule.ForHorizon(10_000));
        run.ApplyTo(opt, baseline with { Lr = 0.2 }, 4);
        Assert.That(opt.Groups.Select(g => g.Hyperparameters.Lr), Is.All.EqualTo(0.1));
        Assert.That(opt.Groups.Select(g => g.Hyperparameters.Beta1), Is.All.EqualTo(0.99).Within(1e-15));
        Assert.That(opt.Groups.Select(g => g.Hyperparameters.Eps), Is.All.EqualTo(baseline.Eps), "the rest stays");
        Assert.Throws<ArgumentOutOfRangeException>(() => run.At(baseline, 0));
    }
}
