using MathNet.Numerics.Distributions;
using MathNet.Numerics.Statistics;

namespace CudaAdam.Experiments.Statistics;

/// <summary>
/// The bootstrap distribution of a statistic over independent items (seeds), kept whole so that intervals at any level
/// and one-sided p-values against a margin come from the same replicates. Resampling: <see cref="Random"/> seeded with
/// <c>seed</c> (its seeded sequence is stable across .NET versions), n draws with replacement per replicate.
/// <para>
/// Intervals are percentile intervals (numpy's linear quantile, <see cref="Bootstrap.Quantile"/>), by default
/// <b>expanded</b> for small n (Hesterberg 2015, "What teachers should know about the bootstrap", §6.5): the percentile
/// interval of the mean covers too rarely for few seeds (at n = 5 its 95% interval is the t-interval's 0.63 width,
/// because it uses z instead of t and the plug-in s·√((n−1)/n)); the expanded interval takes the quantiles at
/// Φ(±√(n/(n−1))·t_{n−1, c}) instead of (1 ± c)/2, which for the mean of normal data gives the t-interval's width.
/// One-sided p-values use the same map: p = T_{n−1}(Φ⁻¹(q)·√((n−1)/n)) with q = (1 + #{θ* on the null side})/(B + 1),
/// so "p ≤ α" and "the margin lies outside the expanded one-sided (1 − α) interval" agree.
/// </para>
/// </summary>
public sealed class BootstrapDistribution
{
    private readonly double[] _sorted;

    private BootstrapDistribution(double estimate, int items, double[] sorted, int seed)
    {
        Estimate = estimate;
        Items = items;
        _sorted = sorted;
        Seed = seed;
        StandardError = ArrayStatistics.StandardDeviation(sorted);
    }

    /// <summary>The statistic on the original items.</summary>
    public double Estimate { get; }
    /// <summary>n, the number of items (seeds) resampled.</summary>
    public int Items { get; }
    /// <summary>B, the number of replicates.</summary>
    public int Resamples => _sorted.Length;
    /// <summary>The resampling seed.</summary>
    public int Seed { get; }
    /// <summary>The standard deviation (n − 1 denominator) of the replicates: the bootstrap standard error.</summary>
    public double StandardError { get; }
    /// <summary>The replicates, ascending.</summary>
    public IReadOnlyList<double> Replicates => _sorted;

    /// <summary>Bootstraps <paramref name="statistic"/> over <paramref name="items"/>.</summary>
    /// <exception cref="ArgumentException">Fewer than 2 items, fewer than 1000 resamples, or a non-finite statistic.</exception>
    public static BootstrapDistribution Of<T>(IReadOnlyList<T> items, Func<IReadOnlyList<T>, double> statistic, int resamples = 20_000, int seed = 0)
    {
        ArgumentNullException.ThrowIfNull(items);
        ArgumentNullException.ThrowIfNull(statistic);
        if (items.Count < 2) throw new ArgumentException($"{items.Count} item(s): a bootstrap over seeds needs at least 2 (5 or more to decide anything)", nameof(items));
        if (resamples < 1000) throw new ArgumentOutOfRangeException(nameof(resamples), resamples, "use at least 1000 resamples (the expanded tails sit near the 0.1% quantile at n = 5)");
        double estimate = statistic(items);
        if (!double.IsFinite(estimate)) throw new ArgumentException($"the statistic is {estimate} on the original items: it must be finite", nameof(statistic));
        var reps = Bootstrap.Replicates(items, statistic, resamples, seed);
        Array.Sort(reps);
        return new BootstrapDistribution(estimate, items.Count, reps, seed);
    }

    /// <summary>Bootstraps the mean of one value per seed.</summary>
    public static BootstrapDistribution OfMean(IReadOnlyList<double> values, int resamples = 20_000, int seed = 0) =>
        Of(values, v => Mean(v), resamples, seed);

    /// <summary>The quantile level that the expanded percentile method uses for a nominal one-sided level a (a &lt; 1/2).</summary>
    public double ExpandedLevel(double a)
    {
        if (!(a > 0 && a < 0.5)) throw new ArgumentOutOfRangeException(nameof(a), a, "a one-sided level is in (0, 1/2)");
        int n = Items;
        double t = StudentT.InvCDF(0, 1, n - 1, 1 - a);
        return Normal.CDF(0, 1, -Math.Sqrt(n / (n - 1.0)) * t);
    }

    /// <summary>The two-sided interval at confidence <paramref name="confidence"/>; plain percentile when <paramref name="expanded"/> is false.</summary>
    public (double Low, double High) Interval(double confidence = 0.95, bool expanded = true)
    {
        if (!(confidence > 0 && confidence < 1)) throw new ArgumentOutOfRangeException(nameof(confidence), confidence, "the confidence level must be in (0, 1), e.g. 0.95");
        double a = (1 - confidence) / 2, q = expanded ? ExpandedLevel(a) : a;
        return (Bootstrap.Quantile(_sorted, q), Bootstrap.Quantile(_sorted, 1 - q));
    }

    /// <summary>
    /// One-sided p-value of H0: θ ≤ <paramref name="margin"/> against H1: θ &gt; margin. The bootstrap tail fraction q
    /// is the share of replicates on the null side; where fewer than <see cref="TailCount"/> replicates lie there (q
    /// below the resolution of B replicates), q is extrapolated by the normal tail Φ(−(θ̂ − margin)/se), so that
    /// an effect many standard errors from its margin (or one with no spread between seeds) gets the small p-value it
    /// deserves and Holm's correction across many criteria can still reject.
    /// </summary>
    public double PGreater(double margin, bool expanded = true) => P(_sorted.Count(v => v <= margin), Estimate - margin, expanded);

    /// <summary>One-sided p-value of H0: θ ≥ <paramref name="margin"/> against H1: θ &lt; margin (see <see cref="PGreater"/>).</summary>
    public double PLess(double margin, bool expanded = true) => P(_sorted.Count(v => v >= margin), margin - Estimate, expanded);

    /// <summary>Below this many replicates on the null side, the tail is extrapolated (see <see cref="PGreater"/>).</summary>
    public const int TailCount = 100;

    private double P(int nullSide, double distance, bool expanded)
    {
        double q = (1.0 + nullSide) / (_sorted.Length + 1.0);
        if (nullSide < TailCount && distance > 0)
            q = StandardError > 0 ? Normal.CDF(0, 1, -distance / StandardError) : 0;
        if (q >= 1) return 1;
        if (q <= 0) return 0;
        if (!expanded) return q;
        int n = Items;
        return StudentT.CDF(0, 1, n - 1, Normal.InvCDF(0, 1, q) * Math.Sqrt((n - 1.0) / n));
    }

    /// <summary>A resampling seed derived from a name (FNV-1a of its UTF-16 code units): stable across runs and machines.</summary>
    public static int SeedFor(string name)
    {
        uint h = 2166136261;
        foreach (char ch in name) { h ^= ch; h *= 16777619; }
        return (int)(h & 0x7fffffff);
    }

    /// <summary>The arithmetic mean (plain loop: the same sum in every run).</summary>
    public static double Mean(IReadOnlyList<double> v)
    {
        double s = 0;
        for (int i = 0; i < v.Count; i++) s += v[i];
        return s / v.Count;
    }
}

/// <summary>Holm's step-down correction (Holm 1979) for m tests of one family (the criteria of one script).</summary>
public static class Holm
{
    /// <summary>
    /// Adjusted p-values: sort ascending, p̃_(i) = max_{j ≤ i} min(1, (m − j + 1)·p_(j)), returned in input order.
    /// Rejecting where p̃ ≤ α controls the family-wise error at α. (statsmodels' <c>multipletests(method='holm')</c>.)
    /// </summary>
    public static double[] Adjust(IReadOnlyList<double> p)
    {
        ArgumentNullException.ThrowIfNull(p);
        foreach (var x in p)
            if (!(x >= 0 && x <= 1)) throw new ArgumentException($"p-value {x} is not in [0, 1]", nameof(p));
        int m = p.Count;
        var order = Enumerable.Range(0, m).OrderBy(i => p[i]).ThenBy(i => i).ToArray();
        var adj = new double[m];
        double running = 0;
        for (int k = 0; k < m; k++)
        {
            running = Math.Max(running, Math.Min(1, (m - k) * p[order[k]]));
            adj[order[k]] = running;
        }
        return adj;
    }
}

/// <summary>A one-sided or two-one-sided t-test result.</summary>
/// <param name="Mean">The sample mean.</param>
/// <param name="StandardError">s/√n.</param>
/// <param name="Dof">n − 1.</param>
/// <param name="PLow">p of H0: μ ≤ low vs μ &gt; low.</param>
/// <param name="PHigh">p of H0: μ ≥ high vs μ &lt; high.</param>
/// <param name="P">max(PLow, PHigh): equivalence (low &lt; μ &lt; high) is shown at level α when P ≤ α.</param>
public sealed record TostResult(double Mean, double StandardError, int Dof, double PLow, double PHigh, double P);

/// <summary>
/// Schuirmann's two one-sided tests (TOST) for equivalence of a mean to an interval, on per-seed values (for a paired
/// design, the per-seed differences). Each side is <c>scipy.stats.ttest_1samp(x, bound, alternative=...)</c>.
/// The criteria use the bootstrap version (<see cref="BootstrapDistribution.PGreater"/>, <see cref="BootstrapDistribution.PLess"/>);
/// this t-based one is the textbook reference it is checked against.
/// </summary>
public static class Tost
{
    /// <summary>TOST of low &lt; μ &lt; high on <paramref name="x"/> (n ≥ 2, not all equal).</summary>
    public static TostResult OneSample(IReadOnlyList<double> x, double low, double high)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (x.Count < 2) throw new ArgumentException("TOST needs at least 2 values", nameof(x));
        if (!(low < high)) throw new ArgumentException($"the equivalence interval [{low}, {high}] is empty: low must be below high");
        double mean = BootstrapDistribution.Mean(x), sd = ArrayStatistics.StandardDeviation(x.ToArray());
        if (!(sd > 0)) throw new ArgumentException("all values are equal: the t statistic is undefined", nameof(x));
        int dof = x.Count - 1;
        double se = sd / Math.Sqrt(x.Count);
        double pLow = 1 - StudentT.CDF(0, 1, dof, (mean - low) / se);
        double pHigh = StudentT.CDF(0, 1, dof, (mean - high) / se);
        return new TostResult(mean, se, dof, pLow, pHigh, Math.Max(pLow, pHigh));
    }
}
