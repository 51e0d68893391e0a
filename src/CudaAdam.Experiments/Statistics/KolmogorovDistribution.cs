using System.Numerics;
using MathNet.Numerics;

namespace CudaAdam.Experiments.Statistics;

/// <summary>
/// Distributions of the Kolmogorov–Smirnov statistics under the null hypothesis: the exact two-sided distribution of
/// D_n = sup_x |F_n(x) − F(x)| (SciPy's <c>scipy.stats.kstwo</c>), its limit, Kolmogorov's distribution of
/// sqrt(n)·D_n (<c>scipy.stats.kstwobign</c>), and Smirnov's exact one-sided tail P(D_n⁺ ≥ d)
/// (<c>scipy.special.smirnov</c>).
/// </summary>
/// <remarks>
/// <see cref="TwoSidedSf"/> selects its method by the same regions as SciPy 1.10's <c>_kolmogn</c> (Ruben–Gambino's
/// closed forms at the ends, 2·smirnov where the two one-sided events cannot both happen or almost never do), with one
/// deliberate difference: where SciPy uses the Pelz–Good asymptotic series (n &gt; 140 and n·d^1.5 &gt; 1.4) this class
/// computes the exact value with the Marsaglia–Tsang–Wang matrix algorithm (J. Stat. Softw. 8(18), 2003), so it is the
/// more accurate of the two there (they agree to about 1e-5 relative). The matrix has 2k−1 rows, k = ⌊n·d⌋ + 1, and its
/// n-th power costs O(k³ log n); above <see cref="MaxExactMatrixOrder"/> rows it refuses rather than run for minutes.
/// </remarks>
public static class KolmogorovDistribution
{
    /// <summary>The largest matrix order 2k−1 the exact algorithm accepts (about a second of work).</summary>
    public const int MaxExactMatrixOrder = 401;

    /// <summary>
    /// Kolmogorov's survival function Q(z) = P(K &gt; z) = 2 Σ_{k≥1} (−1)^{k−1} exp(−2k²z²), the limit of
    /// P(sqrt(n)·D_n &gt; z) (SciPy: <c>scipy.stats.kstwobign.sf(z)</c>, <c>scipy.special.kolmogorov(z)</c>). For z &lt; 1
    /// it uses the dual series P(K ≤ z) = sqrt(2π)/z · Σ_{k≥1} exp(−(2k−1)²π²/(8z²)), which converges fast there.
    /// </summary>
    public static double AsymptoticSf(double z)
    {
        if (double.IsNaN(z)) return double.NaN;
        if (z <= 0) return 1.0;
        if (z < 1.0)
        {
            double cdf = 0, w = Math.PI * Math.PI / (8 * z * z);
            for (int k = 1; k < 100; k++)
            {
                double term = Math.Exp(-(2 * k - 1) * (2 * k - 1) * w);
                cdf += term;
                if (term < 1e-17 * cdf) break;
            }
            cdf *= Math.Sqrt(2 * Math.PI) / z;
            return Math.Clamp(1.0 - cdf, 0.0, 1.0);
        }
        double sf = 0;
        for (int k = 1; k < 100; k++)
        {
            double term = Math.Exp(-2.0 * k * k * z * z);
            sf += (k % 2 == 1) ? term : -term;
            if (term < 1e-17 * sf) break;
        }
        return Math.Clamp(2 * sf, 0.0, 1.0);
    }

    /// <summary>
    /// Smirnov's exact one-sided tail P(D_n⁺ ≥ d), D_n⁺ = sup_x (F_n(x) − F(x)), by the Birnbaum–Tingey sum
    /// d · Σ_{j=0}^{⌊n(1−d)⌋} C(n, j) (1 − d − j/n)^{n−j} (d + j/n)^{j−1} of positive terms, each in log space
    /// (SciPy: <c>scipy.special.smirnov(n, d)</c>).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="n"/> &lt; 1.</exception>
    public static double SmirnovSf(int n, double d)
    {
        if (n < 1) throw new ArgumentOutOfRangeException(nameof(n), n, "the sample size must be at least 1");
        if (double.IsNaN(d)) return double.NaN;
        if (d <= 0) return 1.0;
        if (d >= 1) return 0.0;
        int jmax = (int)Math.Floor(n * (1 - d));
        double lnFactN = SpecialFunctions.GammaLn(n + 1.0), sum = 0;
        for (int j = 0; j <= jmax; j++)
        {
            double a = 1 - d - (double)j / n, b = d + (double)j / n;
            if (a <= 0 && n - j > 0) continue; // the term is zero
            double log = lnFactN - SpecialFunctions.GammaLn(j + 1.0) - SpecialFunctions.GammaLn(n - j + 1.0)
                         + (n - j) * Math.Log(a) + (j - 1) * Math.Log(b);
            sum += Math.Exp(log);
        }
        return Math.Clamp(d * sum, 0.0, 1.0);
    }

    /// <summary>
    /// The exact survival function P(D_n ≥ d) of the two-sided one-sample statistic D_n for a continuous F
    /// (SciPy: <c>scipy.stats.kstwo.sf(d, n)</c>; see the class remarks for the methods).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="n"/> &lt; 1.</exception>
    /// <exception cref="NotSupportedException">The exact matrix would exceed <see cref="MaxExactMatrixOrder"/> rows.</exception>
    public static double TwoSidedSf(int n, double d)
    {
        if (n < 1) throw new ArgumentOutOfRangeException(nameof(n), n, "the sample size must be at least 1");
        if (double.IsNaN(d)) return double.NaN;
        if (d >= 1) return 0.0;
        double t = n * d;
        if (t <= 0.5) return 1.0;
        if (t <= 1.0)
        {
            // Ruben–Gambino: P(D_n ≤ d) = n! (2d − 1/n)^n for 1/(2n) ≤ d ≤ 1/n.
            double cdf = Math.Exp(SpecialFunctions.GammaLn(n + 1.0) + n * Math.Log(2 * d - 1.0 / n));
            return Math.Clamp(1 - cdf, 0.0, 1.0);
        }
        if (t >= n - 1) return Math.Clamp(2 * Math.Pow(1 - d, n), 0.0, 1.0); // Ruben–Gambino, 1 − 1/n ≤ d < 1
        if (d >= 0.5) return Math.Clamp(2 * SmirnovSf(n, d), 0.0, 1.0);     // D⁺ ≥ d and D⁻ ≥ d are disjoint
        double nx2 = t * d;
        if (n <= 140)
        {
            if (nx2 > 4) return Math.Clamp(2 * SmirnovSf(n, d), 0.0, 1.0);
        }
        else
        {
            if (nx2 >= 370) return 0.0;
            if (nx2 >= 2.2) return Math.Clamp(2 * SmirnovSf(n, d), 0.0, 1.0);
        }
        return Math.Clamp(1 - MarsagliaTsangWangCdf(n, d), 0.0, 1.0);
    }

    /// <summary>
    /// Whether <see cref="TwoSidedSf"/> can compute P(D_n ≥ d) exactly within <see cref="MaxExactMatrixOrder"/>.
    /// </summary>
    public static bool ExactIsFeasible(int n, double d)
    {
        if (n < 1 || double.IsNaN(d)) return false;
        double t = n * d, nx2 = t * d;
        if (d >= 0.5 || t <= 1 || t >= n - 1 || (n <= 140 ? nx2 > 4 : nx2 >= 2.2)) return true;
        return 2 * ((long)Math.Floor(t) + 1) - 1 <= MaxExactMatrixOrder;
    }

    /// <summary>
    /// P(D_n &lt; d) by Marsaglia, Tsang and Wang (2003): with k = ⌊nd⌋ + 1, m = 2k − 1, h = k − nd, the m×m matrix
    /// H[i][j] = 1/(i−j+1)! for i−j+1 ≥ 0 (else 0), with the first column and last row corrected by h^(i+1) and
    /// h^(m−j) and the corner by (2h−1)^m when 2h &gt; 1; then P = n!/n^n · (H^n)[k−1][k−1]. Powers keep a separate
    /// binary exponent so nothing overflows.
    /// </summary>
    internal static double MarsagliaTsangWangCdf(int n, double d)
    {
        int k = (int)Math.Floor(n * d) + 1, m = 2 * k - 1;
        if (m > MaxExactMatrixOrder)
            throw new NotSupportedException(
                $"the exact Kolmogorov–Smirnov distribution for n = {n}, D = {d:R} needs a {m}×{m} matrix power " +
                $"(limit {MaxExactMatrixOrder}); use KsMethod.Asymptotic for samples this large (its error is O(1/sqrt(n)))");
        double h = k - n * d;
        var H = new double[m * m];
        for (int i = 0; i < m; i++)
            for (int j = 0; j < m; j++)
                H[i * m + j] = i - j + 1 < 0 ? 0 : 1;
        for (int i = 0; i < m; i++)
        {
            H[i * m] -= Math.Pow(h, i + 1);
            H[(m - 1) * m + i] -= Math.Pow(h, m - i);
        }
        if (2 * h - 1 > 0) H[(m - 1) * m] += Math.Pow(2 * h - 1, m);
        for (int i = 0; i < m; i++)
            for (int j = 0; j < m; j++)
                for (int g = 1; g <= i - j + 1; g++)
                    H[i * m + j] /= g;
        var (Q, eQ) = MatrixPower(H, m, n);
        double s = Q[(k - 1) * m + k - 1];
        long e = eQ;
        for (int i = 1; i <= n; i++)
        {
            s = s * i / n;
            if (s != 0 && Math.Abs(s) < 1e-140)
            {
                s = Math.ScaleB(s, 465);
                e -= 465;
            }
        }
        return Math.Clamp(Math.ScaleB(s, (int)Math.Max(int.MinValue / 2, Math.Min(int.MaxValue / 2, e))), 0.0, 1.0);
    }

    /// <summary>A^p as (matrix, binary exponent): the value is matrix · 2^exponent.</summary>
    private static (double[] M, long Exp) MatrixPower(double[] a, int m, int p)
    {
        var result = new double[m * m];
        for (int i = 0; i < m; i++) result[i * m + i] = 1;
        long resultExp = 0;
        var baseM = (double[])a.Clone();
        long baseExp = 0;
        while (p > 0)
        {
            if ((p & 1) == 1)
            {
                result = Multiply(result, baseM, m);
                resultExp += baseExp + Renormalize(result);
            }
            p >>= 1;
            if (p > 0)
            {
                baseM = Multiply(baseM, baseM, m);
                baseExp = 2 * baseExp + Renormalize(baseM);
            }
        }
        return (result, resultExp);
    }

    /// <summary>Scales the matrix by a power of two so that its largest magnitude is near 1; returns the exponent removed.</summary>
    private static long Renormalize(double[] x)
    {
        double max = 0;
        foreach (double v in x) max = Math.Max(max, Math.Abs(v));
        if (max == 0 || !double.IsFinite(max)) return 0;
        int e = Math.ILogB(max);
        for (int i = 0; i < x.Length; i++) x[i] = Math.ScaleB(x[i], -e);
        return e;
    }

    /// <summary>C = A·B (row-major, m×m), the inner loop over columns in SIMD vectors (no FMA: rounding as written).</summary>
    private static double[] Multiply(double[] a, double[] b, int m)
    {
        var c = new double[m * m];
        int width = Vector<double>.Count, vecEnd = m - m % width;
        for (int i = 0; i < m; i++)
        {
            var ci = c.AsSpan(i * m, m);
            for (int l = 0; l < m; l++)
            {
                double ail = a[i * m + l];
                if (ail == 0) continue;
                var bl = b.AsSpan(l * m, m);
                var va = new Vector<double>(ail);
                int j = 0;
                for (; j < vecEnd; j += width)
                    (new Vector<double>(ci[j..]) + va * new Vector<double>(bl[j..])).CopyTo(ci[j..]);
                for (; j < m; j++) ci[j] += ail * bl[j];
            }
        }
        return c;
    }
}
