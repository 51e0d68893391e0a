using MathNet.Numerics.Statistics;

namespace CudaAdam.Experiments.Statistics;

/// <summary>A bootstrap estimate with its percentile confidence interval.</summary>
/// <param name="Estimate">The statistic on the original items (not the bootstrap mean).</param>
/// <param name="Low">The (1 − c)/2 quantile of the bootstrap distribution.</param>
/// <param name="High">The (1 + c)/2 quantile of the bootstrap distribution.</param>
/// <param name="StandardError">The standard deviation (n − 1 denominator) of the bootstrap replicates.</param>
/// <param name="Confidence">c, e.g. 0.95.</param>
/// <param name="Resamples">B, the number of bootstrap replicates.</param>
/// <param name="Seed">The seed of the resampling; the same inputs and seed give the same interval.</param>
public sealed record BootstrapResult(double Estimate, double Low, double High, double StandardError, double Confidence, int Resamples, int Seed);

/// <summary>
/// The nonparametric bootstrap over independent items, typically seeds: each replicate draws n items with replacement
/// and recomputes the statistic (e.g. a per-seed slope's mean, or a log-log slope refitted to resampled whole runs).
/// The interval is the percentile interval, the (1 ∓ c)/2 quantiles of the replicates with linear interpolation
/// (numpy's default percentile, Hyndman–Fan type 7, MathNet's <see cref="QuantileDefinition.R7"/>), as SciPy's
/// <c>scipy.stats.bootstrap(..., method='percentile')</c>. Replicates cannot match SciPy's draw for draw (a different
/// generator); resampling uses <see cref="Random"/> seeded with <c>seed</c>, whose seeded sequence .NET keeps stable.
/// </summary>
public static class Bootstrap
{
    /// <summary>
    /// Percentile bootstrap of <paramref name="statistic"/> over <paramref name="items"/> (e.g. one run per seed).
    /// </summary>
    /// <exception cref="ArgumentException">Fewer than 2 items, fewer than 100 resamples, confidence outside (0, 1), or a non-finite replicate.</exception>
    public static BootstrapResult Percentile<T>(IReadOnlyList<T> items, Func<IReadOnlyList<T>, double> statistic,
        int resamples = 10_000, double confidence = 0.95, int seed = 0)
    {
        ArgumentNullException.ThrowIfNull(items);
        ArgumentNullException.ThrowIfNull(statistic);
        if (items.Count < 2) throw new ArgumentException($"{items.Count} item(s): the bootstrap needs at least 2 (better 10 or more seeds)", nameof(items));
        if (resamples < 100) throw new ArgumentOutOfRangeException(nameof(resamples), resamples, "use at least 100 resamples (1000+ for a 95% interval)");
        if (!(confidence > 0 && confidence < 1)) throw new ArgumentOutOfRangeException(nameof(confidence), confidence, "the confidence level must be in (0, 1), e.g. 0.95");
        double estimate = statistic(items);
        var replicates = Replicates(items, statistic, resamples, seed);
        Array.Sort(replicates);
        double low = Quantile(replicates, (1 - confidence) / 2), high = Quantile(replicates, (1 + confidence) / 2);
        return new BootstrapResult(estimate, low, high, ArrayStatistics.StandardDeviation(replicates), confidence, resamples, seed);
    }

    /// <summary>B replicates of the statistic on resamples of n items drawn with replacement (<see cref="Random"/>(seed)), unsorted.</summary>
    /// <exception cref="ArgumentException">A replicate is not finite.</exception>
    internal static double[] Replicates<T>(IReadOnlyList<T> items, Func<IReadOnlyList<T>, double> statistic, int resamples, int seed)
    {
        var rng = new Random(seed);
        var draw = new T[items.Count];
        var replicates = new double[resamples];
        for (int r = 0; r < resamples; r++)
        {
            for (int i = 0; i < draw.Length; i++) draw[i] = items[rng.Next(items.Count)];
            double v = statistic(draw);
            if (!double.IsFinite(v))
                throw new ArgumentException($"the statistic returned {v} on bootstrap replicate {r} (seed {seed}): it must be finite on any resample", nameof(statistic));
            replicates[r] = v;
        }
        return replicates;
    }

    /// <summary>Percentile bootstrap of the mean of <paramref name="values"/> (e.g. one final loss per seed).</summary>
    public static BootstrapResult Mean(IReadOnlyList<double> values, int resamples = 10_000, double confidence = 0.95, int seed = 0) =>
        Percentile(values, v => v.Average(), resamples, confidence, seed);

    /// <summary>
    /// The p-quantile of sorted values with linear interpolation between order statistics, h = (n − 1)·p
    /// (numpy's <c>np.percentile(x, 100·p)</c> default, MathNet's <see cref="QuantileDefinition.R7"/>).
    /// </summary>
    public static double Quantile(double[] sortedAscending, double p)
    {
        ArgumentNullException.ThrowIfNull(sortedAscending);
        if (sortedAscending.Length == 0) throw new ArgumentException("no values", nameof(sortedAscending));
        if (!(p >= 0 && p <= 1)) throw new ArgumentOutOfRangeException(nameof(p), p, "a quantile's level is in [0, 1]");
        return SortedArrayStatistics.QuantileCustom(sortedAscending, p, QuantileDefinition.R7);
    }
}
