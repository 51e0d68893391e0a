namespace CudaAdam.Training;

/// <summary>
/// Learning-rate schedules: the learning rate of step t (1-based) of T total steps, as a factor of the base rate α
/// (the optimizer's <c>lr</c>), so one schedule serves every optimizer. Computed in double.
/// </summary>
/// <remarks>
/// <list type="table">
/// <item><term>constant</term><description>α</description></item>
/// <item><term>inv-sqrt-t</term><description>α/√t — the decay of Kingma &amp; Ba's convergence analysis (Theorem 4.1) and of Reddi et al. (2018)</description></item>
/// <item><term>cosine</term><description>linear warmup over W steps from α/W to α, then α·(f + (1−f)·½(1 + cos(π·(t−W)/(T−W)))), f = final factor (Loshchilov &amp; Hutter 2017, without restarts)</description></item>
/// <item><term>linear</term><description>warmup, then α·(1 − (1−f)·(t−W)/(T−W)): a straight line to f·α at t = T</description></item>
/// <item><term>inverse-sqrt</term><description>warmup, then α·√(W/t) (Vaswani et al. 2017's "Noam" shape, normalized to α at t = W); with W = 0 it is α/√t</description></item>
/// <item><term>step</term><description>α·γ^⌊(t−1)/S⌋: multiplied by γ every S steps</description></item>
/// </list>
/// </remarks>
public sealed record LrSchedule
{
    public static readonly IReadOnlyList<string> Kinds = ["constant", "inv-sqrt-t", "cosine", "linear", "inverse-sqrt", "step"];

    /// <summary>One of <see cref="Kinds"/>.</summary>
    public string Kind { get; init; } = "constant";
    /// <summary>Warmup steps W (cosine, linear, inverse-sqrt).</summary>
    public long Warmup { get; init; }
    /// <summary>Final factor f of cosine and linear (0: decay to zero).</summary>
    public double Final { get; init; }
    /// <summary>Step: multiply by <see cref="Gamma"/> every <see cref="StepSize"/> steps.</summary>
    public long StepSize { get; init; } = 1000;
    public double Gamma { get; init; } = 0.1;

    /// <summary>Throws with a message naming the bad setting.</summary>
    public void Validate()
    {
        if (!Kinds.Contains(Kind)) throw new ArgumentException($"unknown schedule '{Kind}'; known schedules: {string.Join(", ", Kinds)}");
        if (Warmup < 0) throw new ArgumentException($"schedule warmup must be >= 0, got {Warmup}");
        if (!(Final >= 0 && Final <= 1)) throw new ArgumentException($"schedule final factor must be in [0, 1], got {Final}");
        if (StepSize < 1) throw new ArgumentException($"schedule step_size must be >= 1, got {StepSize}");
        if (!(Gamma > 0 && Gamma <= 1)) throw new ArgumentException($"schedule gamma must be in (0, 1], got {Gamma}");
    }

    /// <summary>The factor of α at step <paramref name="t"/> (1-based) of <paramref name="total"/> steps.</summary>
    public double Factor(long t, long total)
    {
        if (t < 1) throw new ArgumentOutOfRangeException(nameof(t), t, "steps count from 1");
        switch (Kind)
        {
            case "constant": return 1.0;
            case "inv-sqrt-t": return 1.0 / Math.Sqrt(t);
            case "step": return Math.Pow(Gamma, (t - 1) / StepSize);
        }
        if (t <= Warmup) return (double)t / Warmup;
        switch (Kind)
        {
            case "inverse-sqrt":
                return Warmup == 0 ? 1.0 / Math.Sqrt(t) : Math.Sqrt((double)Warmup / t);
            case "cosine":
            case "linear":
                long span = Math.Max(1, total - Warmup);
                double progress = Math.Clamp((double)(t - Warmup) / span, 0, 1);
                return Kind == "cosine"
                    ? Final + (1 - Final) * 0.5 * (1 + Math.Cos(Math.PI * progress))
                    : 1 - (1 - Final) * progress;
            default:
                throw new ArgumentException($"unknown schedule '{Kind}'; known schedules: {string.Join(", ", Kinds)}");
        }
    }

    /// <summary>Sets every group's lr of <paramref name="optimizer"/> to its base lr (<paramref name="baseHyperparameters"/>,
    /// one per group) times <see cref="Factor"/>(<paramref name="t"/>, <paramref name="total"/>); returns the factor.</summary>
    public double Apply(Optimizer optimizer, IReadOnlyList<Hyperparameters> baseHyperparameters, long t, long total)
    {
        double factor = Factor(t, total);
        for (int g = 0; g < baseHyperparameters.Count; g++)
            optimizer.Groups[g].Hyperparameters = baseHyperparameters[g] with { Lr = baseHyperparameters[g].Lr * factor };
        return factor;
    }
}
