using System.Globalization;
using System.Text.Json;
using CudaAdam.Experiments.Statistics;
using MathNet.Numerics.Distributions;

namespace CudaAdam.Tests.Experiments;

/// <summary>The statistics of issue 15's criteria: expanded bootstrap, its p-values, TOST, Holm.</summary>
public class InferenceTests
{
    private static double[] NormalSample(int n, int seed, double mean = 0, double sd = 1)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => Normal.Sample(rng, mean, sd)).ToArray();
    }

    [Test]
    public void HolmAdjustsAsTheStepDownFormula()
    {
        // Sorted 0.005, 0.01, 0.03, 0.04 -> 4·0.005 = 0.02, 3·0.01 = 0.03, 2·0.03 = 0.06, max(0.06, 1·0.04) = 0.06.
        var adj = Holm.Adjust([0.01, 0.04, 0.03, 0.005]);
        Assert.That(adj, Is.EqualTo(new[] { 0.03, 0.06, 0.06, 0.02 }).Within(1e-15));
        Assert.That(Holm.Adjust([0.5, 0.9]), Is.EqualTo(new[] { 1.0, 1.0 }).Within(1e-15), "2·0.5 = 1, then max(1, 0.9): monotone");
        Assert.That(Holm.Adjust([0.2, 0.001]), Is.EqualTo(new[] { 0.2, 0.002 }).Within(1e-15));
        Assert.Throws<ArgumentException>(() => Holm.Adjust([0.1, 1.5]));
    }

    [Test]
    public void BootstrapStandardErrorOfTheMeanIsThePlugInFormula()
    {
        // The bootstrap variance of the mean is exactly σ̂²/n with σ̂² = (1/n)Σ(x − x̄)²; 20 000 replicates: ~1% noise.
        foreach (int n in new[] { 5, 12, 40 })
        {
            var x = NormalSample(n, n);
            var d = BootstrapDistribution.OfMean(x, seed: 3);
            double mean = x.Average(), plugIn = Math.Sqrt(x.Sum(v => (v - mean) * (v - mean)) / n / n);
            Assert.That(d.StandardError, Is.EqualTo(plugIn).Within(0.03 * plugIn), $"n = {n}");
            Assert.That(d.Estimate, Is.EqualTo(mean).Within(1e-15));
        }
    }

    [Test]
    public void ExpandedIntervalHasTheTIntervalsWidthWherePlainPercentileIsTooNarrow()
    {
        // Hesterberg's expanded percentile interval of a mean: ≈ x̄ ± t_{n−1}·s/√n; the plain one ≈ ± z·s·√((n−1)/n)/√n.
        foreach (int n in new[] { 10, 40 })
        {
            var x = NormalSample(n, 100 + n);
            var d = BootstrapDistribution.OfMean(x, seed: 5);
            double s = MathNet.Numerics.Statistics.ArrayStatistics.StandardDeviation(x);
            double tHalf = StudentT.InvCDF(0, 1, n - 1, 0.975) * s / Math.Sqrt(n);
            var (lo, hi) = d.Interval(0.95);
            var (plo, phi) = d.Interval(0.95, expanded: false);
            Assert.That((hi - lo) / 2, Is.EqualTo(tHalf).Within(0.12 * tHalf), $"expanded, n = {n}");
            Assert.That((phi - plo) / 2, Is.LessThan((hi - lo) / 2), $"plain is narrower, n = {n}");
        }
        // At n = 5 the plain interval is far too narrow (≈ 0.63 of t's): the expanded one is ≥ 0.85 of it.
        var x5 = new[] { -1.1, -0.3, 0.2, 0.4, 1.3 };
        var d5 = BootstrapDistribution.OfMean(x5, seed: 1);
        double t5 = StudentT.InvCDF(0, 1, 4, 0.975) * MathNet.Numerics.Statistics.ArrayStatistics.StandardDeviation(x5) / Math.Sqrt(5);
        var (l5, h5) = d5.Interval(0.95);
        var (pl5, ph5) = d5.Interval(0.95, expanded: false);
        Assert.That((h5 - l5) / 2, Is.GreaterThan(0.85 * t5));
        Assert.That((ph5 - pl5) / 2, Is.LessThan(0.75 * t5));
    }

    [Test]
    public void ExtrapolatedTailGivesTheTTestsPValueFarFromTheMargin()
    {
        // Beyond the replicates' resolution the p-value is T_{n−1}(−(θ̂ − m)/se·√((n−1)/n)) with the plug-in se, i.e. the
        // one-sided t-test's p: check against the t distribution directly (SciPy equality is checked in the TOST test).
        var x = NormalSample(8, 9, mean: 2, sd: 1);
        var d = BootstrapDistribution.OfMean(x, seed: 2);
        double s = MathNet.Numerics.Statistics.ArrayStatistics.StandardDeviation(x), se = s / Math.Sqrt(8);
        double tp = 1 - StudentT.CDF(0, 1, 7, (x.Average() - 0) / se);
        Assert.That(d.PGreater(0), Is.EqualTo(tp).Within(0.1 * tp), "p(θ > 0) ≈ one-sided t-test");
        Assert.That(d.PLess(0), Is.GreaterThan(0.95), "the other side: p near 1");
        // No spread at all (a deterministic problem): any effect beyond its margin has p = 0, on its margin p = 1.
        var flat = BootstrapDistribution.OfMean([0.5, 0.5, 0.5, 0.5, 0.5], seed: 1);
        Assert.That(flat.PGreater(0.4), Is.EqualTo(0));
        Assert.That(flat.PGreater(0.5), Is.EqualTo(1));
        Assert.That(flat.PLess(0.6), Is.EqualTo(0));
    }

    [Test]
    public void BootstrapPValueInTheBulkIsCloseToTheTTests()
    {
        var x = NormalSample(30, 11, mean: 0.45, sd: 1);
        var d = BootstrapDistribution.OfMean(x, seed: 4);
        double se = MathNet.Numerics.Statistics.ArrayStatistics.StandardDeviation(x) / Math.Sqrt(30);
        double tp = 1 - StudentT.CDF(0, 1, 29, x.Average() / se);
        Assert.That(tp, Is.InRange(0.01, 0.5), "the case is in the bulk, not the tail");
        Assert.That(d.PGreater(0), Is.EqualTo(tp).Within(0.25 * tp + 0.005));
    }

    [Test]
    public void TostMatchesScipyTtest1sampOneSided()
    {
        PythonOracle.RequireModules("scipy", "numpy");
        var cases = new (double[] X, double Low, double High)[]
        {
            ([0.1, -0.2, 0.05, 0.3, -0.1, 0.0, 0.15], -0.5, 0.5),
            ([1.2, 0.9, 1.1, 1.4, 0.8], 0.5, 1.5),
            ([0.01, 0.02, -0.03, 0.04, 0.0, 0.05, -0.02, 0.01, 0.03, 0.02], -0.02, 0.02),
        };
        string Arr(double[] a) => "[" + string.Join(",", a.Select(v => v.ToString("R", CultureInfo.InvariantCulture))) + "]";
        var py = "import json, scipy.stats as st\nout = []\n" + string.Join("", cases.Select(c =>
            $"out.append([st.ttest_1samp({Arr(c.X)}, {c.Low.ToString("R", CultureInfo.InvariantCulture)}, alternative='greater').pvalue, " +
            $"st.ttest_1samp({Arr(c.X)}, {c.High.ToString("R", CultureInfo.InvariantCulture)}, alternative='less').pvalue])\n")) + "print(json.dumps(out))\n";
        var (code, stdout, stderr) = PythonOracle.Run(["-c", py], TimeSpan.FromSeconds(60));
        Assert.That(code, Is.EqualTo(0), stderr);
        var expected = JsonDocument.Parse(stdout).RootElement.EnumerateArray().Select(e => e.EnumerateArray().Select(v => v.GetDouble()).ToArray()).ToArray();
        for (int i = 0; i < cases.Length; i++)
        {
            var r = Tost.OneSample(cases[i].X, cases[i].Low, cases[i].High);
            ScipyGolden.AssertClose(r.PLow, expected[i][0], 1e-9, 1e-14, $"case {i} lower side");
            ScipyGolden.AssertClose(r.PHigh, expected[i][1], 1e-9, 1e-14, $"case {i} upper side");
            Assert.That(r.P, Is.EqualTo(Math.Max(r.PLow, r.PHigh)));
            // The bootstrap TOST of the same data agrees in its decision at α = 0.05 where SciPy's is clear-cut.
            var d = BootstrapDistribution.OfMean(cases[i].X, seed: 1);
            double pb = Math.Max(d.PGreater(cases[i].Low), d.PLess(cases[i].High));
            if (r.P < 0.01 || r.P > 0.2) Assert.That(pb < 0.05, Is.EqualTo(r.P < 0.05), $"case {i}: bootstrap p {pb}, t p {r.P}");
        }
        Assert.Throws<ArgumentException>(() => Tost.OneSample([1, 1, 1], 0, 2));
        Assert.Throws<ArgumentException>(() => Tost.OneSample([1, 2, 3], 2, 1));
    }

    [Test]
    public void SeedForIsStableAndDistinct()
    {
        Assert.That(BootstrapDistribution.SeedFor("cycle3-adam"), Is.EqualTo(BootstrapDistribution.SeedFor("cycle3-adam")));
        Assert.That(BootstrapDistribution.SeedFor("cycle3-adam"), Is.Not.EqualTo(BootstrapDistribution.SeedFor("cycle3-sgd")));
        // FNV-1a of "a" is 0xE40C292C; masked to 31 bits.
        Assert.That(BootstrapDistribution.SeedFor("a"), Is.EqualTo((int)(0xE40C292Cu & 0x7fffffff)));
    }
}
