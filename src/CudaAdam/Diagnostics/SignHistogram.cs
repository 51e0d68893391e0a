namespace CudaAdam.Diagnostics;

/// <summary>
/// The log-spaced histogram of the sign-decomposition magnitude u = |m|/(sqrt(v)+ε), shared by the C# reference and
/// <c>kernels/diagnostics.cu</c>.
/// </summary>
/// <remarks>
/// <para>Layout: <see cref="EdgeCount"/> = 81 edges E_j = float32(10^−8 · 10^(j/8)), j = 0..80, i.e. 8 bins per decade
/// from 1e−8 to 1e2 (each bin spans a factor 10^(1/8) ≈ 1.334). A value u falls into bin b(u) = #{ j : E_j ≤ u }, so
/// <see cref="BinCount"/> = 82 bins: bin 0 holds u &lt; 1e−8 (exact zeros included), bin k (1 ≤ k ≤ 80) holds
/// E_{k−1} ≤ u &lt; E_k, bin 81 holds u ≥ 1e2 and NaN. The edges are rounded to float32 once, here, and handed to the
/// kernel, which compares float32 with float32: the counts are the same on every backend, exactly.</para>
/// <para>The range covers Adam's bound R = (1−β1)/(sqrt(1−β2)·sqrt(1−β1²/β2)) for every usual setting
/// (R ≈ 7.3 for β = (0.9, 0.999)); u ≥ 100 only happens with β1 ≥ sqrt(β2) or a broken state.</para>
/// </remarks>
public static class SignHistogram
{
    /// <summary>Bins per decade.</summary>
    public const int BinsPerDecade = 8;
    /// <summary>The first edge, 1e−8.</summary>
    public const double Lowest = 1e-8;
    /// <summary>Number of edges (10 decades × 8 + 1).</summary>
    public const int EdgeCount = 81;
    /// <summary>Number of bins (edges + 1).</summary>
    public const int BinCount = EdgeCount + 1;

    private static readonly float[] EdgeValues = Enumerable.Range(0, EdgeCount)
        .Select(j => (float)(Lowest * Math.Pow(10.0, j / (double)BinsPerDecade))).ToArray();

    /// <summary>The float32 edges E_0 &lt; … &lt; E_80 (a copy).</summary>
    public static float[] Edges => (float[])EdgeValues.Clone();

    /// <summary>The bin of <paramref name="u"/>: #{ j : E_j ≤ u }, NaN → the last bin (the kernel's binary search).</summary>
    public static int Bin(float u)
    {
        if (float.IsNaN(u)) return BinCount - 1;
        int lo = 0, hi = EdgeCount;
        while (lo < hi)
        {
            int mid = (lo + hi) >> 1;
            if (EdgeValues[mid] <= u) lo = mid + 1; else hi = mid;
        }
        return lo;
    }

    /// <summary>The lower edge of bin <paramref name="bin"/> (0 for bin 0).</summary>
    public static double LowerEdge(int bin) => bin <= 0 ? 0.0 : EdgeValues[Math.Min(bin, EdgeCount) - 1];

    /// <summary>
    /// The q-quantile of u estimated from <paramref name="counts"/>: the bin where the cumulative count first reaches
    /// q·N, interpolated geometrically inside it (linearly in bin 0, [0, 1e−8)); inside the top bin, and never above,
    /// the exact <paramref name="max"/>. Its error is at most one bin width, a factor 1.334.
    /// </summary>
    /// <returns>NaN when the histogram is empty.</returns>
    public static double Quantile(IReadOnlyList<long> counts, double q, double max)
    {
        ArgumentNullException.ThrowIfNull(counts);
        if (counts.Count != BinCount) throw new ArgumentException($"a u histogram has {BinCount} bins, not {counts.Count}", nameof(counts));
        if (!(q >= 0 && q <= 1)) throw new ArgumentOutOfRangeException(nameof(q), q, "a quantile's level is in [0, 1]");
        long total = counts.Sum();
        if (total == 0) return double.NaN;
        double target = q * total, cumulative = 0;
        for (int b = 0; b < BinCount; b++)
        {
            if (counts[b] == 0) continue;
            if (cumulative + counts[b] >= target)
            {
                double frac = Math.Clamp((target - cumulative) / counts[b], 0.0, 1.0);
                double value;
                if (b == 0) value = frac * EdgeValues[0];
                else if (b == BinCount - 1) value = max;
                else
                {
                    double lo = EdgeValues[b - 1], hi = EdgeValues[b];
                    value = lo * Math.Pow(hi / lo, frac);
                }
                return double.IsNaN(max) ? value : Math.Min(value, max);
            }
            cumulative += counts[b];
        }
        return max;
    }
}
