using CudaAdam.Experiments.Conditions;
using CudaAdam.Experiments.Statistics;
using CudaAdam.Training;

namespace CudaAdam.Tests.Experiments;

/// <summary>The instruments of scripts/conditions.fsx: u samples, ℓ1/ℓ2 ratios, pairwise KS tests.</summary>
[TestFixture]
public class SignConditionsTests
{
    [Test]
    public void AfterOneStepTheCorrectedUIsAbsGOverAbsGPlusEps()
    {
        // t = 1 from zero state: m̂ = g, v̂ = g², so û = |g|/(|g| + ε); uncorrected: (1−β1)|g| / (√(1−β2)|g| + ε).
        var g = new float[] { 0.5f, -2f, 1e-9f, 0f };
        var p = new Parameter("w", new float[g.Length]) { Grad = (float[])g.Clone() };
        var hp = Hyperparameters.Defaults(Algorithm.Adam) with { Eps = 1e-8 };
        using var opt = new Optimizer(Algorithm.Adam, [p], hp);
        opt.Step();
        var s = opt.State(p)!;
        var corrected = SignConditions.Magnitudes(s, hp);
        var raw = SignConditions.Magnitudes(s, hp, biasCorrected: false);
        for (int i = 0; i < g.Length; i++)
        {
            double a = Math.Abs((double)g[i]);
            // m and v are float32: (1−β1)·g and (1−β2)·g² are rounded once each, hence the relative tolerance.
            Assert.That(corrected[i], Is.EqualTo(a / (a + 1e-8)).Within(1e-6 * (a / (a + 1e-8)) + 1e-300), $"corrected u[{i}]");
            double expectRaw = 0.1 * a / (Math.Sqrt(0.001) * a + 1e-8);
            Assert.That(raw[i], Is.EqualTo(expectRaw).Within(1e-6 * expectRaw + 1e-300), $"uncorrected u[{i}]");
        }
        Assert.That(corrected[3], Is.EqualTo(0.0), "a zero gradient gives m = 0 and u = 0");
        Assert.That(corrected[2], Is.LessThan(0.1), "|g| = 1e-9 < ε: u is well below 1");
    }

    [Test]
    public void MagnitudesRefuseAStateWithoutMomentsOrSteps()
    {
        var hp = Hyperparameters.Defaults(Algorithm.Adam);
        var fresh = ParamState.Create(Algorithm.Adam, hp, 3);
        Assert.That(() => SignConditions.Magnitudes(fresh, hp), Throws.ArgumentException.With.Message.Contains("no step yet"));
        var sgd = ParamState.Create(Algorithm.Sgd, Hyperparameters.Defaults(Algorithm.Sgd), 3);
        sgd.Step = 1;
        Assert.That(() => SignConditions.Magnitudes(sgd, hp), Throws.ArgumentException.With.Message.Contains("no Adam moments"));
    }

    [Test]
    public void SubsampleDrawsWithoutReplacementAndIsSeeded()
    {
        var values = Enumerable.Range(0, 1000).Select(i => (double)i).ToArray();
        var a = SignConditions.Subsample(values, 300, new Rng(7));
        var b = SignConditions.Subsample(values, 300, new Rng(7));
        var c = SignConditions.Subsample(values, 300, new Rng(8));
        Assert.That(a, Has.Length.EqualTo(300));
        Assert.That(a.Distinct().Count(), Is.EqualTo(300), "without replacement: no value twice");
        Assert.That(a, Is.EqualTo(b), "same seed, same sample");
        Assert.That(a, Is.Not.EqualTo(c), "another seed, another sample");
        Assert.That(SignConditions.Subsample(values, 5000, new Rng(1)).Order(), Is.EqualTo(values), "n ≥ length: every value once");
        // A uniform subsample of 0..999 against U(0, 1000): the seeded draw must not look biased.
        var ks = KolmogorovSmirnov.OneSample(a, x => Math.Clamp(x / 1000.0, 0, 1));
        Assert.That(ks.PValue, Is.GreaterThan(0.01), $"subsample looks non-uniform: D = {ks.Statistic}");
    }

    [Test]
    public void SampleCoversEveryAdamTensorWithSummariesOfAllCoordinates()
    {
        var rng = new Random(3);
        var big = new Parameter("big", new float[500]);
        var small = new Parameter("small", new float[4]);
        using var opt = new Optimizer(Algorithm.Adam, [big, small], Hyperparameters.Defaults(Algorithm.Adam));
        for (int t = 0; t < 5; t++)
        {
            big.Grad = Enumerable.Range(0, 500).Select(i => i < 100 ? 0f : (float)(rng.NextDouble() - 0.5)).ToArray();
            small.Grad = [1f, 2f, 3f, 4f];
            opt.Step();
        }
        var all = SignConditions.Sample(opt, 50, new Rng(1));
        Assert.That(all.Select(s => s.Tensor), Is.EqualTo(new[] { "big", "small" }));
        Assert.That(all[0].Sample, Has.Length.EqualTo(50));
        Assert.That(all[1].Sample, Has.Length.EqualTo(4), "a tensor smaller than n gives all its values");
        Assert.That(all[0].Step, Is.EqualTo(5));
        Assert.That(all[0].FractionZero, Is.EqualTo(0.2), "the 100 coordinates whose gradient was always 0 have u = 0");
        Assert.That(all[0].FractionEpsDominated, Is.EqualTo(0.2), "v = 0 there: √v̂ < ε");
        Assert.That(all[1].FractionEpsDominated, Is.EqualTo(0.0));
        var u = SignConditions.Magnitudes(opt.State(big)!, opt.Groups[0].Hyperparameters);
        Assert.That(all[0].Mean, Is.EqualTo(u.Average()).Within(1e-15));
        Assert.That(all[0].Sample, Is.SubsetOf(u));
        // Constant gradients: m̂ = v̂^½ exactly up to float32 rounding, so u ≈ 1 for every coordinate.
        Assert.That(all[1].Sample, Has.All.EqualTo(1.0).Within(1e-5));
        Assert.That(SignConditions.Sample(opt, 50, new Rng(1), minCount: 10).Select(s => s.Tensor), Is.EqualTo(new[] { "big" }));
    }

    [Test]
    public void DensityIsOneForEqualMagnitudesAndOneOverDForOneSpike()
    {
        var equal = SignConditions.Norms("a", new float[] { 1, -1, 1, -1 });
        Assert.That(equal.Density, Is.EqualTo(1.0).Within(1e-15));
        Assert.That(equal.Ratio, Is.EqualTo(2.0).Within(1e-15), "‖g‖₁/‖g‖₂ = √d for equal magnitudes");
        var spike = SignConditions.Norms("b", new float[] { 0, 0, 3, 0, 0, 0, 0, 0 });
        Assert.That(spike.Density, Is.EqualTo(1.0 / 8).Within(1e-15));
        Assert.That(spike.Ratio, Is.EqualTo(1.0));
        Assert.That(SignConditions.Norms("z", new float[3]).Density, Is.NaN, "g = 0 has no density");
        var global = SignConditions.Global([equal, spike]);
        Assert.That(global.Count, Is.EqualTo(12));
        Assert.That(global.L1, Is.EqualTo(7.0));
        Assert.That(global.L2, Is.EqualTo(Math.Sqrt(13.0)).Within(1e-15));
        Assert.That(global.Density, Is.EqualTo(49.0 / (12 * 13.0)).Within(1e-15));
    }

    [Test]
    public void GaussianDensityIsNearTwoOverPi()
    {
        var rng = new Rng(11);
        var g = new float[200_000];
        for (int i = 0; i < g.Length; i++) g[i] = (float)rng.NextNormal();
        // E|z| = √(2/π), E z² = 1: φ → 2/π; the sampling error at d = 2·10⁵ is ~0.002.
        Assert.That(SignConditions.Norms("g", g).Density, Is.EqualTo(2 / Math.PI).Within(0.01));
    }

    [Test]
    public void PairwiseRunsTheTwoSampleTestOnEveryPair()
    {
        var rng = new Rng(5);
        double[] Draw(double shift) => Enumerable.Range(0, 400).Select(_ => rng.NextNormal() + shift).ToArray();
        var a = Draw(0);
        var b = Draw(0);
        var c = Draw(1);
        var pairs = SignConditions.Pairwise([("a", a), ("b", b), ("c", c)]);
        Assert.That(pairs.Select(p => p.A + p.B), Is.EqualTo(new[] { "ab", "ac", "bc" }));
        var ac = KolmogorovSmirnov.TwoSample(a, c);
        Assert.That(pairs[1].Statistic, Is.EqualTo(ac.Statistic));
        Assert.That(pairs[1].PValue, Is.EqualTo(ac.PValue));
        Assert.That(pairs[1].PValue, Is.LessThan(1e-6), "a shift of one standard deviation at n = 400 is rejected");
        Assert.That(pairs[0].PValue, Is.GreaterThan(0.01), "two draws of one distribution are not rejected (seeded)");
        Assert.That(pairs[0].SizeA, Is.EqualTo(400));
    }
}
