using CudaAdam.Experiments.Statistics;
using CudaAdam.Training;

namespace CudaAdam.Experiments.Conditions;

/// <summary>
/// A seeded subsample of the sign-like step magnitudes u of one parameter tensor at one step, with summaries computed
/// on ALL its coordinates (arXiv 2507.05966, Condition 2 is about the distribution of u's coordinates).
/// </summary>
/// <param name="Tensor">The parameter's name.</param>
/// <param name="Step">The optimizer's step count for this tensor (<see cref="ParamState.Step"/>).</param>
/// <param name="Count">d, the tensor's number of coordinates.</param>
/// <param name="Sample">min(d, n) values of u drawn without replacement, in draw order.</param>
/// <param name="Mean">(1/d) Σ u_i over all coordinates.</param>
/// <param name="Median">The median of u over all coordinates.</param>
/// <param name="FractionZero">#{u_i = 0} / d (m_i = 0: e.g. a weight whose input was zero at every step so far).</param>
/// <param name="FractionSmall">#{u_i &lt; 0.01} / d: coordinates that barely move (a reviewer's doubt: u may be tiny).</param>
/// <param name="FractionEpsDominated">#{√v̂_i &lt; ε} / d: coordinates whose u is held down by ε rather than by m (the
/// paper's bound claims independence of ε; where this fraction is large, ε is not negligible).</param>
public sealed record USample(string Tensor, long Step, long Count, double[] Sample, double Mean, double Median,
    double FractionZero, double FractionSmall, double FractionEpsDominated);

/// <summary>ℓ1 and ℓ2 norms of a gradient (one tensor, or all tensors together), for Condition 3 of arXiv 2507.05966.</summary>
/// <param name="Tensor">The parameter's name, or "global".</param>
/// <param name="Count">d.</param>
/// <param name="L1">‖g‖₁ (double sum).</param>
/// <param name="L2">‖g‖₂ (double sum of squares).</param>
public sealed record NormRatio(string Tensor, long Count, double L1, double L2)
{
    /// <summary>‖g‖₁/‖g‖₂ ∈ [1, √d]; NaN for g = 0.</summary>
    public double Ratio => L2 == 0 ? double.NaN : L1 / L2;

    /// <summary>
    /// The density φ = ‖g‖₁² / (d·‖g‖₂²) ∈ [1/d, 1] (Bernstein et al. 2018's measure for sign descent): 1 when all |g_i|
    /// are equal, 1/d for one non-zero coordinate, 2/π ≈ 0.64 for i.i.d. Gaussian coordinates. A ratio ‖g‖₁/‖g‖₂ that
    /// grows like √d, i.e. φ bounded away from 0 as d grows, is what a dimension-free sign-descent bound needs.
    /// </summary>
    public double Density => L2 == 0 || Count == 0 ? double.NaN : L1 * L1 / (Count * L2 * L2);
}

/// <summary>The two-sample Kolmogorov–Smirnov test between two named samples.</summary>
public sealed record KsPair(string A, string B, int SizeA, int SizeB, double Statistic, double PValue);

/// <summary>
/// Instruments for the conditions of arXiv 2507.05966 ("Simple Convergence Proof of Adam From a Sign-like Descent
/// Perspective") on real networks: per-tensor samples of u = |m̂|/(√v̂ + ε), gradient ℓ1/ℓ2 ratios, pairwise KS tests.
/// </summary>
/// <remarks>
/// The paper writes Adam as x_{t+1} = x_t − γ_t·u_t∘sign(m_t) with u_t = |m_t|/(√v_t + ε). For Adam with bias
/// correction (torch.optim's, ours) the step actually taken is lr·û∘sign(m) with
/// <c>û = (|m|/(1−β1^t)) / (√v/√(1−β2^t) + ε)</c>, computed in double from the stored float32 moments exactly as
/// torch orders it; <c>biasCorrected: false</c> gives the uncorrected |m|/(√v + ε) of the paper's Lemma B.2 (and of
/// <see cref="CudaAdam.Diagnostics.SignDiagnostics"/>). Over the first ~1/(1−β2) steps the two differ by the
/// time-dependent factor √(1−β2^t)/(1−β1^t), so comparisons of u over time should use the corrected one.
/// </remarks>
public static class SignConditions
{
    /// <summary>u of every coordinate of one tensor from its Adam state (M = exp_avg, V = exp_avg_sq, uncorrected).</summary>
    /// <exception cref="ArgumentException">The state has no Adam moments, or it has taken no step yet.</exception>
    public static double[] Magnitudes(ParamState state, Hyperparameters hp, bool biasCorrected = true)
    {
        ArgumentNullException.ThrowIfNull(state);
        ArgumentNullException.ThrowIfNull(hp);
        if (state.M is not { } m || state.V is not { } v)
            throw new ArgumentException("the state has no Adam moments M and V: sample u from adam, adamw, signadam, nadam or radam", nameof(state));
        if (state.Step < 1)
            throw new ArgumentException("the parameter has taken no step yet: u is 0/0 before the first step", nameof(state));
        double eps = hp.Eps;
        double bc1 = biasCorrected ? 1.0 - state.Beta1Power : 1.0;
        double sqrtBc2 = biasCorrected ? Math.Sqrt(1.0 - state.Beta2Power) : 1.0;
        var u = new double[m.Length];
        for (int i = 0; i < u.Length; i++)
            u[i] = Math.Abs((double)m[i]) / bc1 / (Math.Sqrt(v[i]) / sqrtBc2 + eps);
        return u;
    }

    /// <summary>
    /// min(n, values.Length) values drawn uniformly without replacement (a partial Fisher–Yates shuffle of the
    /// indices with <paramref name="rng"/>), in draw order. Deterministic for a given generator state.
    /// </summary>
    public static double[] Subsample(IReadOnlyList<double> values, int n, Rng rng)
    {
        ArgumentNullException.ThrowIfNull(values);
        ArgumentNullException.ThrowIfNull(rng);
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        int k = Math.Min(n, values.Count);
        var idx = new int[values.Count];
        for (int i = 0; i < idx.Length; i++) idx[i] = i;
        var result = new double[k];
        for (int i = 0; i < k; i++)
        {
            int j = i + rng.NextInt(idx.Length - i);
            (idx[i], idx[j]) = (idx[j], idx[i]);
            result[i] = values[idx[i]];
        }
        return result;
    }

    /// <summary>
    /// One <see cref="USample"/> per parameter of <paramref name="optimizer"/> that has Adam state and at least
    /// <paramref name="minCount"/> coordinates, in group order: <paramref name="perTensor"/> values of u each (all
    /// of them for smaller tensors), drawn with <paramref name="rng"/>.
    /// </summary>
    public static IReadOnlyList<USample> Sample(Optimizer optimizer, int perTensor, Rng rng, bool biasCorrected = true, int minCount = 1)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        ArgumentNullException.ThrowIfNull(rng);
        var result = new List<USample>();
        foreach (var group in optimizer.Groups)
            foreach (var p in group.Params)
            {
                if (p.Data.Length < minCount || optimizer.State(p) is not { M: not null, V: not null, Step: > 0 } s) continue;
                var u = Magnitudes(s, group.Hyperparameters, biasCorrected);
                var sorted = (double[])u.Clone();
                Array.Sort(sorted);
                double sqrtBc2 = biasCorrected ? Math.Sqrt(1.0 - s.Beta2Power) : 1.0, eps = group.Hyperparameters.Eps;
                long epsDominated = s.V.Count(v => Math.Sqrt(v) / sqrtBc2 < eps);
                result.Add(new USample(p.Name, s.Step, u.Length, Subsample(u, perTensor, rng),
                    u.Average(), Bootstrap.Quantile(sorted, 0.5),
                    (double)u.Count(x => x == 0) / u.Length, (double)u.Count(x => x < 0.01) / u.Length,
                    (double)epsDominated / u.Length));
            }
        return result;
    }

    /// <summary>‖g‖₁ and ‖g‖₂ of one gradient, summed in double in index order.</summary>
    public static NormRatio Norms(string name, ReadOnlySpan<float> g)
    {
        double l1 = 0, l2 = 0;
        foreach (float x in g)
        {
            l1 += Math.Abs(x);
            l2 += (double)x * x;
        }
        return new NormRatio(name, g.Length, l1, Math.Sqrt(l2));
    }

    /// <summary>The norms of the concatenation of the given tensors' gradients ("global").</summary>
    public static NormRatio Global(IEnumerable<NormRatio> parts)
    {
        ArgumentNullException.ThrowIfNull(parts);
        long d = 0;
        double l1 = 0, l2sq = 0;
        foreach (var p in parts)
        {
            d += p.Count;
            l1 += p.L1;
            l2sq += p.L2 * p.L2;
        }
        return new NormRatio("global", d, l1, Math.Sqrt(l2sq));
    }

    /// <summary>The two-sided two-sample KS test (<see cref="KolmogorovSmirnov.TwoSample"/>, method auto) for every
    /// unordered pair of the named samples, in order (0,1), (0,2), …, (1,2), ….</summary>
    public static IReadOnlyList<KsPair> Pairwise(IReadOnlyList<(string Name, double[] Values)> samples)
    {
        ArgumentNullException.ThrowIfNull(samples);
        var result = new List<KsPair>();
        for (int i = 0; i < samples.Count; i++)
            for (int j = i + 1; j < samples.Count; j++)
                result.Add(Test(samples[i].Name, samples[i].Values, samples[j].Name, samples[j].Values));
        return result;
    }

    /// <summary>The two-sided two-sample KS test of two named samples (method auto).</summary>
    public static KsPair Test(string a, double[] x, string b, double[] y)
    {
        var r = KolmogorovSmirnov.TwoSample(x, y);
        return new KsPair(a, b, x.Length, y.Length, r.Statistic, r.PValue);
    }
}
