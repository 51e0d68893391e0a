using CudaAdam.Experiments.Statistics;
using MathNet.Numerics.Distributions;

namespace CudaAdam.Tests.Experiments;

/// <summary>
/// The Kolmogorov–Smirnov tests and distributions against SciPy 1.10 (golden values, see <see cref="ScipyGolden"/>).
/// Tolerances: statistics 1e-12 (the same few operations); p-values rtol 1e-9, atol 1e-12 where both sides compute
/// the same exact quantity (different formulas, so not bit for bit: MTW's matrix power vs SciPy's Durbin/Pomeranz);
/// rtol 1e-4 where SciPy uses the Pelz–Good asymptotic series and we compute exactly.
/// </summary>
public class KolmogorovSmirnovTests
{
    private static IEnumerable<TestCaseData> Kstwo() => ScipyGolden.Section("kstwo")
        .Select(e => new TestCaseData(e.Int("n"), e.Double("d"), e.Double("sf"), e.Str("method")).SetName($"Kstwo_n{e.Int("n")}_d{e.Double("d")}"));

    [TestCaseSource(nameof(Kstwo))]
    public void TwoSidedSfMatchesScipyKstwo(int n, double d, double sf, string scipyMethod)
    {
        double rtol = scipyMethod == "pelz-good" ? 1e-4 : 1e-9;
        ScipyGolden.AssertClose(KolmogorovDistribution.TwoSidedSf(n, d), sf, rtol, 1e-12, $"kstwo.sf({d}, {n}) [{scipyMethod}]");
    }

    [Test]
    public void KstwobignMatchesScipy()
    {
        foreach (var e in ScipyGolden.Section("kstwobign"))
            ScipyGolden.AssertClose(KolmogorovDistribution.AsymptoticSf(e.Double("z")), e.Double("sf"), 1e-12, 1e-15, $"kstwobign.sf({e.Double("z")})");
    }

    [Test]
    public void SmirnovMatchesScipy()
    {
        // Birnbaum–Tingey in log space: lgamma's relative error grows with n, hence 1e-10 rather than 1e-13.
        foreach (var e in ScipyGolden.Section("smirnov"))
            ScipyGolden.AssertClose(KolmogorovDistribution.SmirnovSf(e.Int("n"), e.Double("d")), e.Double("sf"), 1e-10, 1e-15,
                $"smirnov({e.Int("n")}, {e.Double("d")})");
    }

    private static IEnumerable<TestCaseData> OneSampleCases() => ScipyGolden.Section("ks_1samp")
        .Select(e => new TestCaseData(e.Int("seed"), e.Str("method")).SetName($"Ks1samp_seed{e.Int("seed")}_{e.Str("method")}"));

    [TestCaseSource(nameof(OneSampleCases))]
    public void OneSampleMatchesScipyKs1samp(int seed, string method)
    {
        var e = ScipyGolden.Section("ks_1samp").Single(c => c.Int("seed") == seed && c.Str("method") == method);
        var normal = new Normal(e.Double("loc"), e.Double("scale"));
        var result = KolmogorovSmirnov.OneSample(e.Doubles("x"), normal, method == "exact" ? KsMethod.Exact : KsMethod.Asymptotic);
        int n = e.Doubles("x").Length;
        // SciPy's Pelz–Good region (n > 140) is approximate: a looser p tolerance there.
        double rtol = method == "exact" && n > 140 ? 1e-4 : 1e-9;
        Assert.Multiple(() =>
        {
            ScipyGolden.AssertClose(result.Statistic, e.Double("statistic"), 1e-12, 1e-14, "statistic");
            ScipyGolden.AssertClose(result.PValue, e.Double("pvalue"), rtol, 1e-12, "p-value");
            Assert.That(result.Location, Is.EqualTo(e.Double("location")), "statistic_location");
            Assert.That(result.Sign, Is.EqualTo(e.Int("sign")), "statistic_sign");
        });
    }

    private static IEnumerable<TestCaseData> TwoSampleCases() => ScipyGolden.Section("ks_2samp")
        .Select(e => new TestCaseData(e.Int("seed"), e.Str("method")).SetName($"Ks2samp_seed{e.Int("seed")}_{e.Str("method")}"));

    [TestCaseSource(nameof(TwoSampleCases))]
    public void TwoSampleMatchesScipyKs2samp(int seed, string method)
    {
        var e = ScipyGolden.Section("ks_2samp").Single(c => c.Int("seed") == seed && c.Str("method") == method);
        var result = KolmogorovSmirnov.TwoSample(e.Doubles("a"), e.Doubles("b"), method == "exact" ? KsMethod.Exact : KsMethod.Asymptotic);
        Assert.Multiple(() =>
        {
            ScipyGolden.AssertClose(result.Statistic, e.Double("statistic"), 1e-12, 1e-14, "statistic");
            ScipyGolden.AssertClose(result.PValue, e.Double("pvalue"), 1e-9, 1e-12, "p-value");
        });
    }

    [Test]
    public void TwoSampleIsSymmetricAndOneSampleAgreesWithItsOwnSampleAsReference()
    {
        var rng = new Random(5);
        var a = Enumerable.Range(0, 40).Select(_ => rng.NextDouble()).ToArray();
        var b = Enumerable.Range(0, 25).Select(_ => rng.NextDouble() * 1.3).ToArray();
        var ab = KolmogorovSmirnov.TwoSample(a, b);
        var ba = KolmogorovSmirnov.TwoSample(b, a);
        Assert.That(ba.Statistic, Is.EqualTo(ab.Statistic));
        Assert.That(ba.PValue, Is.EqualTo(ab.PValue).Within(1e-12));
        Assert.That(ba.Sign, Is.EqualTo(-ab.Sign));
        var same = KolmogorovSmirnov.TwoSample(a, a);
        Assert.That(same.Statistic, Is.Zero);
        Assert.That(same.PValue, Is.EqualTo(1.0));
    }

    [Test]
    public void UniformPValuesUnderTheNullAndPowerAgainstAShift()
    {
        // Under H0 the exact p-value is (super-)uniform: about 5% of 400 tests reject at 0.05 (binomial sd ≈ 4.4).
        var rng = new Random(11);
        var normal = new Normal(0, 1, new Random(12));
        int rejections = 0;
        for (int r = 0; r < 400; r++)
        {
            var x = normal.Samples().Take(30).ToArray();
            if (KolmogorovSmirnov.OneSample(x, new Normal(0, 1)).Rejects(0.05)) rejections++;
        }
        Assert.That(rejections, Is.InRange(6, 36), "rejections at 5% among 400 null samples");
        var shifted = Enumerable.Range(0, 200).Select(_ => Normal.Sample(rng, 0.5, 1)).ToArray();
        Assert.That(KolmogorovSmirnov.OneSample(shifted, new Normal(0, 1)).PValue, Is.LessThan(1e-4), "a 0.5σ shift with n = 200");
    }

    [Test]
    public void AutoFallsBackToAsymptoticForHugeSamplesAndExactRefusesClearly()
    {
        // A uniform sample of 200 000: D ≈ 0.87/sqrt(n) ≈ 0.002, so k = ⌊nD⌋ + 1 ≈ 400, a matrix of ~800 rows.
        var rng = new Random(8);
        var x = Enumerable.Range(0, 200_000).Select(_ => rng.NextDouble()).ToArray();
        var auto = KolmogorovSmirnov.OneSample(x, z => Math.Clamp(z, 0, 1));
        Assert.That(KolmogorovDistribution.ExactIsFeasible(x.Length, auto.Statistic), Is.False, $"D = {auto.Statistic}");
        Assert.That(auto.Method, Is.EqualTo(KsMethod.Asymptotic));
        Assert.That(auto.PValue, Is.EqualTo(KolmogorovDistribution.AsymptoticSf(auto.Statistic * Math.Sqrt(x.Length))));
        var ex = Assert.Throws<NotSupportedException>(() => KolmogorovDistribution.TwoSidedSf(200_000, 0.003))!;
        Assert.That(ex.Message, Does.Contain("KsMethod.Asymptotic"));
    }

    [Test]
    public void LargeTwoSampleAutoIsAsymptoticAndFinishes()
    {
        // 30 000 values each: Auto picks the asymptotic p-value; the effective size 15 000 is beyond the exact matrix
        // near the centre, so Kolmogorov's limit is used. A 0.05σ shift is found; the same distribution is not rejected.
        var rng = new Random(4);
        var a = Enumerable.Range(0, 30_000).Select(_ => Normal.Sample(rng, 0, 1)).ToArray();
        var b = Enumerable.Range(0, 30_000).Select(_ => Normal.Sample(rng, 0, 1)).ToArray();
        var c = Enumerable.Range(0, 30_000).Select(_ => Normal.Sample(rng, 0.05, 1)).ToArray();
        var same = KolmogorovSmirnov.TwoSample(a, b);
        var shifted = KolmogorovSmirnov.TwoSample(a, c);
        Assert.That(same.Method, Is.EqualTo(KsMethod.Asymptotic));
        Assert.That(same.PValue, Is.GreaterThan(0.001));
        Assert.That(shifted.PValue, Is.LessThan(1e-4));
    }

    [Test]
    public void BadInputsSayWhatIsWrong()
    {
        Assert.That(Assert.Throws<ArgumentException>(() => KolmogorovSmirnov.OneSample([], new Normal()))!.Message, Does.Contain("empty"));
        Assert.That(Assert.Throws<ArgumentException>(() => KolmogorovSmirnov.TwoSample([1, double.NaN], [1.0]))!.Message, Does.Contain("NaN at index 1"));
        Assert.That(Assert.Throws<ArgumentException>(() => KolmogorovSmirnov.OneSample([0.5], _ => 2.0))!.Message, Does.Contain("[0, 1]"));
    }
}
