using MathNet.Numerics.Distributions;

namespace CudaAdam.Experiments.Statistics;

/// <summary>
/// An ordinary least-squares line y ≈ Intercept + Slope·x with its standard errors and a two-sided confidence interval
/// for the slope (for a log-log fit: x = ln T, y = ln loss, Slope = the rate exponent).
/// </summary>
/// <param name="Slope">b = Sxy / Sxx.</param>
/// <param name="Intercept">a = ȳ − b·x̄.</param>
/// <param name="SlopeStdErr">se(b) = s / sqrt(Sxx), s² = Σ residual² / (n − 2) (SciPy: <c>linregress(...).stderr</c>).</param>
/// <param name="InterceptStdErr">se(a) = s · sqrt(1/n + x̄²/Sxx) (SciPy: <c>intercept_stderr</c>).</param>
/// <param name="RValue">Pearson's r (SciPy: <c>rvalue</c>).</param>
/// <param name="PValue">Two-sided p-value of H0 "slope = 0" from t = b/se(b) with n − 2 degrees of freedom (SciPy: <c>pvalue</c>).</param>
/// <param name="Confidence">The level of <paramref name="SlopeLow"/>..<paramref name="SlopeHigh"/>, e.g. 0.95.</param>
/// <param name="SlopeLow">b − t_{(1+c)/2, n−2} · se(b), the t quantile from MathNet's <c>StudentT.InvCDF</c> (SciPy: <c>t.ppf</c>).</param>
/// <param name="SlopeHigh">b + t_{(1+c)/2, n−2} · se(b).</param>
/// <param name="Count">n, the number of points.</param>
public sealed record SlopeFit(
    double Slope, double Intercept, double SlopeStdErr, double InterceptStdErr, double RValue, double PValue,
    double Confidence, double SlopeLow, double SlopeHigh, int Count)
{
    /// <summary>Whether <paramref name="slope"/> lies in the confidence interval (e.g. the −1/4 of an O(T^−1/4) rate).</summary>
    public bool IsConsistentWith(double slope) => SlopeLow <= slope && slope <= SlopeHigh;

    /// <summary>
    /// Fits y = a + b·x by ordinary least squares (SciPy: <c>scipy.stats.linregress(x, y)</c>, plus the slope's
    /// confidence interval <c>slope ± t.ppf((1+confidence)/2, n−2)·stderr</c>). Sums accumulate in double about the means.
    /// </summary>
    /// <exception cref="ArgumentException">Fewer than 3 points, lengths differ, a non-finite value, all x equal, or confidence outside (0, 1).</exception>
    public static SlopeFit Linear(IReadOnlyList<double> x, IReadOnlyList<double> y, double confidence = 0.95)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(y);
        if (x.Count != y.Count) throw new ArgumentException($"x has {x.Count} values and y has {y.Count}: give one y per x", nameof(y));
        int n = x.Count;
        if (n < 3) throw new ArgumentException($"{n} points: a fit with a confidence interval needs at least 3 (n − 2 degrees of freedom)", nameof(x));
        if (!(confidence > 0 && confidence < 1)) throw new ArgumentOutOfRangeException(nameof(confidence), confidence, "the confidence level must be in (0, 1), e.g. 0.95");
        for (int i = 0; i < n; i++)
            if (!double.IsFinite(x[i]) || !double.IsFinite(y[i]))
                throw new ArgumentException($"point {i} is ({x[i]}, {y[i]}): every value must be finite", nameof(x));
        double mx = 0, my = 0;
        for (int i = 0; i < n; i++) { mx += x[i]; my += y[i]; }
        mx /= n;
        my /= n;
        double sxx = 0, sxy = 0, syy = 0;
        for (int i = 0; i < n; i++)
        {
            double dx = x[i] - mx, dy = y[i] - my;
            sxx += dx * dx;
            sxy += dx * dy;
            syy += dy * dy;
        }
        if (sxx == 0) throw new ArgumentException($"all {n} x values equal {x[0]}: the slope is undefined", nameof(x));
        double b = sxy / sxx, a = my - b * mx;
        double r = syy == 0 ? 0 : Math.Clamp(sxy / Math.Sqrt(sxx * syy), -1.0, 1.0);
        int df = n - 2;
        double sse = Math.Max(0.0, syy - b * sxy);
        double s2 = sse / df;
        double seB = Math.Sqrt(s2 / sxx);
        double seA = Math.Sqrt(s2 * (1.0 / n + mx * mx / sxx));
        double p;
        if (seB == 0) p = b == 0 ? 1.0 : 0.0;
        else
        {
            p = 2 * StudentT.CDF(0, 1, df, -Math.Abs(b / seB)); // the lower tail keeps its digits where 1 − cdf would not
        }
        double q = StudentT.InvCDF(0, 1, df, (1 + confidence) / 2);
        return new SlopeFit(b, a, seB, seA, r, Math.Clamp(p, 0.0, 1.0), confidence, b - q * seB, b + q * seB, n);
    }

    /// <summary>
    /// Fits ln y = a + b·ln x, i.e. y ≈ e^a · x^b: the exponent b of a power law such as loss ∝ T^b, with its
    /// confidence interval (see <see cref="Linear"/>; natural logarithms, the slope does not depend on the base).
    /// </summary>
    /// <exception cref="ArgumentException">A value that is not finite and positive, or see <see cref="Linear"/>.</exception>
    public static SlopeFit LogLog(IReadOnlyList<double> x, IReadOnlyList<double> y, double confidence = 0.95)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(y);
        if (x.Count != y.Count) throw new ArgumentException($"x has {x.Count} values and y has {y.Count}: give one y per x", nameof(y));
        var lx = new double[x.Count];
        var ly = new double[y.Count];
        for (int i = 0; i < x.Count; i++)
        {
            if (!(x[i] > 0 && y[i] > 0) || !double.IsFinite(x[i]) || !double.IsFinite(y[i]))
                throw new ArgumentException($"point {i} is ({x[i]}, {y[i]}): a log-log fit needs finite positive x and y " +
                                            "(drop zero losses or fit the gap to the optimum instead)", nameof(x));
            lx[i] = Math.Log(x[i]);
            ly[i] = Math.Log(y[i]);
        }
        return Linear(lx, ly, confidence);
    }
}
