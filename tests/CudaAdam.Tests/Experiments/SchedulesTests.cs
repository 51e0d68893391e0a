using CudaAdam.Experiments;
using CudaAdam.Experiments.Statistics;

namespace CudaAdam.Tests.Experiments;

public class SchedulesTests
{
    [Test]
    public void LearningRateSchedulesAtTheirLandmarks()
    {
        Assert.Multiple(() =>
        {
            Assert.That(new LrSchedule.Constant(0.1).At(1000), Is.EqualTo(0.1));
            var wc = new LrSchedule.WarmupCosine(1.0, WarmupSteps: 10, TotalSteps: 110, MinLr: 0.1);
            Assert.That(wc.At(1), Is.EqualTo(0.1).Within(1e-15));
            Assert.That(wc.At(10), Is.EqualTo(1.0));
            Assert.That(wc.At(60), Is.EqualTo(0.55).Within(1e-15), "half way down the cosine: (1 + 0.1)/2");
            Assert.That(wc.At(110), Is.EqualTo(0.1));
            Assert.That(wc.At(500), Is.EqualTo(0.1));
            var lin = new LrSchedule.Linear(1.0, 0.0, 11);
            Assert.That(lin.At(1), Is.EqualTo(1.0));
            Assert.That(lin.At(6), Is.EqualTo(0.5).Within(1e-15));
            Assert.That(lin.At(11), Is.EqualTo(0.0));
            Assert.That(new LrSchedule.InverseSqrt(0.3).At(9), Is.EqualTo(0.1).Within(1e-15), "α/sqrt(t)");
            var isw = new LrSchedule.InverseSqrt(1.0, WarmupSteps: 100);
            Assert.That(isw.At(50), Is.EqualTo(0.5));
            Assert.That(isw.At(100), Is.EqualTo(1.0));
            Assert.That(isw.At(400), Is.EqualTo(0.5).Within(1e-15));
            var sd = new LrSchedule.StepDecay(1.0, Period: 10, Factor: 0.5);
            Assert.That(sd.At(10), Is.EqualTo(1.0));
            Assert.That(sd.At(11), Is.EqualTo(0.5));
            Assert.That(sd.At(31), Is.EqualTo(0.125));
        });
        Assert.Throws<ArgumentOutOfRangeException>(() => new LrSchedule.Constant(1).At(0));
        Assert.That(Assert.Throws<ArgumentException>(() => new LrSchedule.WarmupCosine(1, 10, 10).At(1))!.Message, Does.Contain("warmup"));
    }

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
        var run = new RunSchedule(new LrSchedule.InverseSqrt(0.1), new BetaSchedule.AdamNC(0.9));
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
        var run = new RunSchedule(new LrSchedule.InverseSqrt(0.2), BetaSchedule.ForHorizon(10_000));
        run.ApplyTo(opt, baseline, 4);
        Assert.That(opt.Groups.Select(g => g.Hyperparameters.Lr), Is.All.EqualTo(0.1));
        Assert.That(opt.Groups.Select(g => g.Hyperparameters.Beta1), Is.All.EqualTo(0.99).Within(1e-15));
        Assert.That(opt.Groups.Select(g => g.Hyperparameters.Eps), Is.All.EqualTo(baseline.Eps), "the rest stays");
    }
}
