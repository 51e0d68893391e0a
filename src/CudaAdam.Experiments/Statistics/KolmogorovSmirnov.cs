using MathNet.Numerics.Distributions;

namespace CudaAdam.Experiments.Statistics;

/// <summary>How a Kolmogorov–Smirnov p-value is computed (SciPy's <c>method=</c> argument).</summary>
public enum KsMethod
{
    /// <summary>
    /// SciPy's 'auto': one sample, <see cref="Exact"/> (falling back to <see cref="Asymptotic"/> only where the exact
    /// matrix algorithm would be too large, see <see cref="KolmogorovDistribution.ExactIsFeasible"/>; SciPy would use
    /// its Pelz–Good approximation there); two samples, <see cref="Exact"/> when max(n1, n2) ≤ 10000, else asymptotic.
    /// </summary>
    Auto,
    /// <summary>SciPy's 'exact': the exact null distribution (one sample: <c>kstwo.sf(D, n)</c>; two samples: lattice paths).</summary>
    Exact,
    /// <summary>
    /// SciPy's 'asymp': one sample, Kolmogorov's limit <c>kstwobign.sf(D·sqrt(n))</c>; two samples,
    /// <c>kstwo.sf(D, round(n1·n2/(n1+n2)))</c> (SciPy's choice, the one-sample exact law at the effective size; for
    /// effective sizes where that is out of reach, see <see cref="KolmogorovDistribution.ExactIsFeasible"/>, Kolmogorov's limit).
    /// </summary>
    Asymptotic,
}

/// <summary>The result of a two-sided Kolmogorov–Smirnov test.</summary>
/// <param name="Statistic">D: the largest absolute difference between the two distribution functions compared.</param>
/// <param name="PValue">P(D' ≥ D) under the null hypothesis (same distribution), by <paramref name="Method"/>.</param>
/// <param name="Method">The method that computed <paramref name="PValue"/> (never <see cref="KsMethod.Auto"/>).</param>
/// <param name="Location">Where |ΔF| reaches D: the sample value (SciPy 1.10's <c>statistic_location</c>).</param>
/// <param name="Sign">+1 when the (first) empirical distribution lies above the other at <paramref name="Location"/>, −1 below (<c>statistic_sign</c>).</param>
public sealed record KsResult(double Statistic, double PValue, KsMethod Method, double Location, int Sign)
{
    /// <summary>Whether the null hypothesis is rejected at level <paramref name="alpha"/> (p &lt; α).</summary>
    public bool Rejects(double alpha = 0.05) => PValue < alpha;
}

/// <summary>
/// Two-sided Kolmogorov–Smirnov tests, matching SciPy 1.10's <c>scipy.stats.kstest</c>/<c>ks_1samp</c> and
/// <c>ks_2samp</c> (alternative='two-sided') in statistic and p-value for method 'exact' and 'asymp'.
/// </summary>
/// <remarks>
/// Checked against SciPy in tests/CudaAdam.Tests/Experiments/KolmogorovSmirnovTests.cs on golden values from
/// tests/oracle/make_scipy_golden.py: statistics to 1e-12, p-values to 1e-9 relative (+1e-12 absolute). The only known
/// difference is documented in <see cref="KolmogorovDistribution"/> (exact where SciPy approximates, for n &gt; 140).
/// Ties: the statistic is right with ties, but the p-values assume continuous distributions (as SciPy's do).
/// </remarks>
public static class KolmogorovSmirnov
{
    /// <summary>Two samples: <see cref="KsMethod.Auto"/> uses the exact p-value up to this many values per sample (SciPy's MAX_AUTO_N).</summary>
    public const int MaxAutoExactTwoSample = 10_000;

    /// <summary>
    /// One-sample test of H0 "<paramref name="sample"/> comes from the continuous distribution <paramref name="cdf"/>":
    /// with x₍₁₎ ≤ … ≤ x₍ₙ₎ sorted, D⁺ = max_i (i/n − F(x₍ᵢ₎)), D⁻ = max_i (F(x₍ᵢ₎) − (i−1)/n), D = max(D⁺, D⁻)
    /// (SciPy: <c>scipy.stats.ks_1samp(sample, cdf, method=...)</c>).
    /// </summary>
    /// <exception cref="ArgumentException">An empty sample, a NaN in it, or a cdf value outside [0, 1].</exception>
    public static KsResult OneSample(IReadOnlyList<double> sample, Func<double, double> cdf, KsMethod method = KsMethod.Auto)
    {
        ArgumentNullException.ThrowIfNull(sample);
        ArgumentNullException.ThrowIfNull(cdf);
        var x = SortedCopy(sample, nameof(sample));
        int n = x.Length;
        double dPlus = double.NegativeInfinity, dMinus = double.NegativeInfinity, locPlus = x[0], locMinus = x[0];
        for (int i = 0; i < n; i++)
        {
            double f = cdf(x[i]);
            if (!(f >= 0 && f <= 1))
                throw new ArgumentException($"the cdf returned {f} at x = {x[i]}: a distribution function takes values in [0, 1]", nameof(cdf));
            double plus = (i + 1.0) / n - f, minus = f - (double)i / n;
            if (plus > dPlus) (dPlus, locPlus) = (plus, x[i]);
            if (minus > dMinus) (dMinus, locMinus) = (minus, x[i]);
        }
        bool plusWins = dPlus > dMinus; // SciPy: Dplus > Dminus → +1, a tie goes to D⁻
        double d = plusWins ? dPlus : dMinus;
        if (method == KsMethod.Auto)
            method = KolmogorovDistribution.ExactIsFeasible(n, d) ? KsMethod.Exact : KsMethod.Asymptotic;
        double p = method == KsMethod.Exact
            ? KolmogorovDistribution.TwoSidedSf(n, d)
            : KolmogorovDistribution.AsymptoticSf(d * Math.Sqrt(n));
        return new KsResult(d, p, method, plusWins ? locPlus : locMinus, plusWins ? 1 : -1);
    }

    /// <summary>One-sample test against a MathNet distribution (e.g. <c>new Normal(0, 1)</c>), see the other overload.</summary>
    public static KsResult OneSample(IReadOnlyList<double> sample, IContinuousDistribution distribution, KsMethod method = KsMethod.Auto)
    {
        ArgumentNullException.ThrowIfNull(distribution);
        return OneSample(sample, distribution.CumulativeDistribution, method);
    }

    /// <summary>
    /// Two-sample test of H0 "both samples come from the same continuous distribution":
    /// D = max over the pooled values z of |F₁(z) − F₂(z)|, the empirical distribution functions counting values ≤ z
    /// (SciPy: <c>scipy.stats.ks_2samp(a, b, method=...)</c>). Exact p-value: the probability that a uniformly random
    /// monotone lattice path from (0, 0) to (n1, n2) reaches |i·n2 − j·n1| ≥ h·gcd(n1, n2), h = round(D·lcm(n1, n2)),
    /// accumulated as the mass that leaves the band (no 1 − x cancellation), O(n1·n2) time.
    /// </summary>
    /// <exception cref="ArgumentException">An empty sample or a NaN.</exception>
    public static KsResult TwoSample(IReadOnlyList<double> a, IReadOnlyList<double> b, KsMethod method = KsMethod.Auto)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        var x = SortedCopy(a, nameof(a));
        var y = SortedCopy(b, nameof(b));
        int n1 = x.Length, n2 = y.Length;
        // Walk the pooled values in order; after all values equal to z, F1 = i/n1 and F2 = j/n2.
        int i = 0, j = 0;
        double d = 0, location = Math.Min(x[0], y[0]);
        int sign = 1;
        while (i < n1 || j < n2)
        {
            double z = Math.Min(i < n1 ? x[i] : double.PositiveInfinity, j < n2 ? y[j] : double.PositiveInfinity);
            while (i < n1 && x[i] == z) i++;
            while (j < n2 && y[j] == z) j++;
            double diff = (double)i / n1 - (double)j / n2;
            if (Math.Abs(diff) > d)
            {
                d = Math.Abs(diff);
                location = z;
                sign = diff > 0 ? 1 : -1;
            }
        }
        if (method == KsMethod.Auto) method = Math.Max(n1, n2) <= MaxAutoExactTwoSample ? KsMethod.Exact : KsMethod.Asymptotic;
        double p;
        if (method == KsMethod.Exact)
        {
            long g = Gcd(n1, n2), lcm = n1 / g * n2;
            long h = (long)Math.Round(d * lcm);
            d = (double)h / lcm; // SciPy reports the statistic on the lattice, h/lcm
            p = h == 0 ? 1.0 : ExitProbability(n1, n2, h * g);
        }
        else
        {
            double big = Math.Max(n1, n2), small = Math.Min(n1, n2);
            int en = Math.Max(1, (int)Math.Round(big * small / (big + small))); // round half to even, as numpy
            // Where the exact law at en is out of reach SciPy uses its Pelz–Good series; we use Kolmogorov's limit,
            // whose error is O(1/sqrt(en)) (en > 10⁴ there).
            p = KolmogorovDistribution.ExactIsFeasible(en, d)
                ? KolmogorovDistribution.TwoSidedSf(en, d)
                : KolmogorovDistribution.AsymptoticSf(d * Math.Sqrt(en));
        }
        return new KsResult(d, p, method, location, sign);
    }

    /// <summary>P(a uniform monotone path (0,0)→(n1,n2) touches |i·n2 − j·n1| ≥ bound).</summary>
    private static double ExitProbability(int n1, int n2, long bound)
    {
        var row = new double[n2 + 1];
        var next = new double[n2 + 1];
        row[0] = 1;
        double exit = 0;
        for (int i = 0; i <= n1; i++)
        {
            Array.Clear(next);
            for (int j = 0; j <= n2; j++)
            {
                double q = row[j];
                if (q == 0) continue;
                if (Math.Abs((long)i * n2 - (long)j * n1) >= bound)
                {
                    exit += q;
                    continue;
                }
                double rem = (n1 - i) + (n2 - j);
                if (rem == 0) continue;
                if (i < n1) next[j] += q * ((n1 - i) / rem);
                if (j < n2) row[j + 1] += q * ((n2 - j) / rem);
            }
            (row, next) = (next, row);
        }
        return Math.Clamp(exit, 0.0, 1.0);
    }

    private static long Gcd(long a, long b)
    {
        while (b != 0) (a, b) = (b, a % b);
        return a;
    }

    private static double[] SortedCopy(IReadOnlyList<double> sample, string name)
    {
        if (sample.Count == 0) throw new ArgumentException("the sample is empty: a Kolmogorov–Smirnov test needs at least one value", name);
        var x = sample.ToArray();
        for (int k = 0; k < x.Length; k++)
            if (double.IsNaN(x[k])) throw new ArgumentException($"the sample holds NaN at index {k}: drop or fix non-finite values first", name);
        Array.Sort(x);
        return x;
    }
}
