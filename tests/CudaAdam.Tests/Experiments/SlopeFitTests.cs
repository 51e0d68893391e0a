using CudaAdam.Experiments.Statistics;

namespace CudaAdam.Tests.Experiments;

/// <summary>Least-squares fits against scipy.stats.linregress and t.ppf (golden values); tolerance rtol 1e-10, atol 1e-13
/// (the same sums in another order), the interval's half-width and p-values rtol 1e-8 (MathNet's and SciPy's incomplete beta differ in the last digits).</summary>
public class SlopeFitTests
{
    [Test]
    public void LinearMatchesScipyLinregress()
    {
        foreach (var e in ScipyGolden.Section("linregress"))
        {
            var fit = SlopeFit.Linear(e.Doubles("x"), e.Doubles("y"), e.Double("confidence"));
            string at = $"seed {e.Int("seed")}: ";
            Assert.Multiple(() =>
            {
                ScipyGolden.AssertClose(fit.Slope, e.Double("slope"), 1e-10, 1e-13, at + "slope");
                ScipyGolden.AssertClose(fit.Intercept, e.Double("intercept"), 1e-10, 1e-13, at + "intercept");
                ScipyGolden.AssertClose(fit.RValue, e.Double("rvalue"), 1e-10, 1e-13, at + "rvalue");
                ScipyGolden.AssertClose(fit.SlopeStdErr, e.Double("stderr"), 1e-10, 1e-13, at + "stderr");
                ScipyGolden.AssertClose(fit.InterceptStdErr, e.Double("intercept_stderr"), 1e-10, 1e-13, at + "intercept_stderr");
                ScipyGolden.AssertClose(fit.PValue, e.Double("pvalue"), 1e-8, 1e-15, at + "pvalue");
                // MathNet's StudentT.InvCDF finds the quantile by root finding to about 1e-9 relative: the interval's
                // half-width is checked against t.ppf·stderr with that tolerance.
                double half = e.Double("t_ppf") * e.Double("stderr");
                ScipyGolden.AssertClose((fit.SlopeHigh - fit.SlopeLow) / 2, half, 1e-8, 1e-13, at + "t.ppf((1+c)/2, n-2)*stderr");
                ScipyGolden.AssertClose((fit.SlopeHigh + fit.SlopeLow) / 2, e.Double("slope"), 1e-10, 1e-13, at + "interval centre");
            });
        }
    }

    [Test]
    public void LogLogRecoversAPowerLawExactlyAndItsRateWithNoise()
    {
        var t = Enumerable.Range(0, 12).Select(i => Math.Pow(2, i + 4)).ToArray();
        var exact = SlopeFit.LogLog(t, t.Select(x => 3.0 * Math.Pow(x, -0.25)).ToArray());
        Assert.That(exact.Slope, Is.EqualTo(-0.25).Within(1e-13));
        Assert.That(Math.Exp(exact.Intercept), Is.EqualTo(3.0).Within(1e-12));
        Assert.That(exact.SlopeHigh - exact.SlopeLow, Is.LessThan(1e-10), "no noise, no width");

        var rng = new Random(3);
        var noisy = t.Select(x => Math.Pow(x, -0.25) * Math.Exp(0.05 * (rng.NextDouble() - 0.5))).ToArray();
        var fit = SlopeFit.LogLog(t, noisy);
        Assert.That(fit.IsConsistentWith(-0.25), $"95% CI [{fit.SlopeLow}, {fit.SlopeHigh}] holds the true −1/4");
        Assert.That(fit.IsConsistentWith(-0.5), Is.False, "and excludes −1/2");
    }

    [Test]
    public void BadInputsSayWhatIsWrong()
    {
        Assert.That(Assert.Throws<ArgumentException>(() => SlopeFit.LogLog([1, 2, 3], [1, 0, 2]))!.Message, Does.Contain("positive"));
        Assert.That(Assert.Throws<ArgumentException>(() => SlopeFit.Linear([1, 2], [1, 2]))!.Message, Does.Contain("at least 3"));
        Assert.That(Assert.Throws<ArgumentException>(() => SlopeFit.Linear([1, 1, 1], [1, 2, 3]))!.Message, Does.Contain("slope is undefined"));
    }
}
