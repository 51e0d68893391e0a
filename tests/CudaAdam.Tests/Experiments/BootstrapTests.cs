using CudaAdam.Experiments.Statistics;

namespace CudaAdam.Tests.Experiments;

public class BootstrapTests
{
    [Test]
    public void QuantileIsNumpysLinearPercentile()
    {
        var e = ScipyGolden.Object("percentile");
        var x = e.Doubles("x");
        Array.Sort(x);
        var p = e.Doubles("p");
        var q = e.Doubles("q");
        for (int i = 0; i < p.Length; i++)
            ScipyGolden.AssertClose(Bootstrap.Quantile(x, p[i]), q[i], 1e-14, 1e-15, $"np.percentile(x, {100 * p[i]})");
    }

    [Test]
    public void SameSeedSameIntervalOtherSeedOtherInterval()
    {
        var v = Enumerable.Range(0, 12).Select(i => Math.Sin(i) + 0.1 * i).ToArray();
        var a = Bootstrap.Mean(v, 2000, 0.9, seed: 7);
        var b = Bootstrap.Mean(v, 2000, 0.9, seed: 7);
        var c = Bootstrap.Mean(v, 2000, 0.9, seed: 8);
        Assert.That(b, Is.EqualTo(a));
        Assert.That(c.Low, Is.Not.EqualTo(a.Low));
        Assert.That(a.Estimate, Is.EqualTo(v.Average()));
        Assert.That(a.Low, Is.LessThan(a.Estimate));
        Assert.That(a.High, Is.GreaterThan(a.Estimate));
    }

    [Test]
    public void PercentileIntervalOfTheMeanHasTheNormalTheoryWidth()
    {
        // n = 400 standard-normal-ish values: the mean's 95% interval is about ±1.96·s/√n (bootstrap uses s with 1/n,
        // a 0.1% difference); 4000 resamples put each endpoint within a few percent of the half-width.
        var rng = new Random(1);
        var v = Enumerable.Range(0, 400).Select(_ => MathNet.Numerics.Distributions.Normal.Sample(rng, 0, 1)).ToArray();
        double s = MathNet.Numerics.Statistics.ArrayStatistics.StandardDeviation(v), half = 1.96 * s / Math.Sqrt(v.Length);
        var r = Bootstrap.Mean(v, 4000, 0.95, seed: 2);
        Assert.That((r.High - r.Low) / 2, Is.EqualTo(half).Within(0.08 * half));
        Assert.That(r.StandardError, Is.EqualTo(s / Math.Sqrt(v.Length)).Within(0.08 * s / Math.Sqrt(v.Length)));
    }

    [Test]
    public void ResamplesWholeRunsForARefittedSlope()
    {
        // Eight "seeds", each a loss curve ∝ T^(−0.25 + small per-seed offset): the interval of the pooled slope holds −1/4.
        var t = new[] { 10.0, 100, 1000, 10000 };
        var runs = Enumerable.Range(0, 8).Select(s => t.Select(x => Math.Pow(x, -0.25 + 0.01 * (s - 3.5))).ToArray()).ToArray();
        var r = Bootstrap.Percentile(runs, sample =>
            SlopeFit.LogLog(sample.SelectMany(_ => t).ToArray(), sample.SelectMany(run => run).ToArray()).Slope, 500, 0.95, seed: 1);
        Assert.That(r.Estimate, Is.EqualTo(-0.25).Within(1e-12));
        Assert.That(r.Low, Is.LessThan(-0.25));
        Assert.That(r.High, Is.GreaterThan(-0.25));
    }

    [Test]
    public void BadInputsSayWhatIsWrong()
    {
        Assert.That(Assert.Throws<ArgumentException>(() => Bootstrap.Mean([1.0]))!.Message, Does.Contain("at least 2"));
        Assert.Throws<ArgumentOutOfRangeException>(() => Bootstrap.Mean([1.0, 2.0], resamples: 10));
        Assert.Throws<ArgumentOutOfRangeException>(() => Bootstrap.Mean([1.0, 2.0], confidence: 1.0));
    }
}
