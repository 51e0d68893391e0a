#pragma warning disable CS1591 // CS1591 backlog (issue 13): 4 public members here have no XML doc yet; document them, then delete this line
namespace CudaAdam.Experiments;

/// <summary>(β1, β2) as a function of the step t = 1, 2, ….</summary>
public abstract record BetaSchedule
{
    /// <summary>(β1_t, β2_t) of step <paramref name="t"/> (t ≥ 1).</summary>
    public (double Beta1, double Beta2) At(long t)
    {
        if (t < 1) throw new ArgumentOutOfRangeException(nameof(t), t, "steps count from 1 (the first step is t = 1)");
        return Compute(t);
    }

    protected abstract (double Beta1, double Beta2) Compute(long t);

    /// <summary>Fixed β1, β2.</summary>
    public sealed record Constant(double Beta1, double Beta2) : BetaSchedule
    {
        protected override (double, double) Compute(long t) => (Beta1, Beta2);
    }

    /// <summary>
    /// AdamNC (Reddi, Kale &amp; Kumar 2018, "On the Convergence of Adam and Beyond", Sec. 4): β2,t = 1 − 1/t, so that
    /// v_t is the plain average of g_1², …, g_t² (AdaGrad-like); β1 fixed. Note β2,1 = 0, so β1 ≥ sqrt(β2,t) for the first
    /// steps (t ≤ 1/(1 − β1²)): R is infinite there.
    /// </summary>
    public sealed record AdamNC(double Beta1) : BetaSchedule
    {
        protected override (double, double) Compute(long t) => (Beta1, 1.0 - 1.0 / t);
    }

    /// <summary>Constant betas chosen for a known horizon T (<see cref="Schedules.Beta1ForHorizon"/>, <see cref="Schedules.Beta2ForHorizon"/>).</summary>
    public static Constant ForHorizon(long horizon, double c1 = 1.0, double c2 = 1.0) =>
        new(Schedules.Beta1ForHorizon(horizon, c1), Schedules.Beta2ForHorizon(horizon, c2));
}

/// <summary>Whether the sign-like descent analysis of arXiv 2507.05966 applies to (β1, β2), and its bound R.</summary>
/// <param name="Beta1">β1.</param>
/// <param name="Beta2">β2.</param>
/// <param name="Bound">R = (1−β1)/(sqrt(1−β2)·sqrt(1−β1²/β2)), +∞ when β1 ≥ sqrt(β2) &gt; 0 (<see cref="Hyperparameters.SignBound"/>).</param>
/// <param name="Beta1BelowSqrtBeta2">β1 &lt; sqrt(β2): the condition under which |m_t|/sqrt(v_t) ≤ R.</param>
public sealed record SignCondition(double Beta1, double Beta2, double Bound, bool Beta1BelowSqrtBeta2)
{
    /// <summary>The condition of <paramref name="hp"/>'s β1, β2.</summary>
    public static SignCondition Of(Hyperparameters hp)
    {
        ArgumentNullException.ThrowIfNull(hp);
        return new SignCondition(hp.Beta1, hp.Beta2, hp.SignBound, hp.Beta1 * hp.Beta1 < hp.Beta2);
    }

    public override string ToString() => Beta1BelowSqrtBeta2
        ? $"beta1 = {Beta1:R} < sqrt(beta2) = {Math.Sqrt(Beta2):R}: R = {Bound:G6}"
        : double.IsPositiveInfinity(Bound)
            ? $"beta1 = {Beta1:R} >= sqrt(beta2) = {Math.Sqrt(Beta2):R}: R = inf (the sign-descent bound does not hold)"
            : $"beta1 = 0 = sqrt(beta2): m = g, v = g^2, so R = {Bound:G6} (SignSGD)";
}

/// <summary>
/// A run's schedule: learning rate and betas per step, applied to an optimizer's parameter groups before each step.
/// The lr part is a <see cref="LambdaLR"/> function (λ(epoch), epoch = t − 1: lr_t = base lr · λ(t − 1)), e.g.
/// <see cref="LrScheduler.KindLambda"/>("inv-sqrt-t", T) for Reddi's and Kingma &amp; Ba's α/√t; to drive an
/// optimizer's lr alone, use <c>new LambdaLR(optimizer, LrLambda)</c> (or any <see cref="LrScheduler"/>).
/// </summary>
/// <param name="LrLambda">λ(epoch), the factor of the base lr; null keeps the base lr.</param>
/// <param name="Betas">The beta schedule; null keeps each group's own β1, β2.</param>
public sealed record RunSchedule(Func<long, double>? LrLambda = null, BetaSchedule? Betas = null)
{
    /// <summary><paramref name="hp"/> with the lr (and betas) of step <paramref name="t"/> (t ≥ 1).</summary>
    /// <exception cref="ArgumentOutOfRangeException">t &lt; 1.</exception>
    public Hyperparameters At(Hyperparameters hp, long t)
    {
        ArgumentNullException.ThrowIfNull(hp);
        if (t < 1) throw new ArgumentOutOfRangeException(nameof(t), t, "steps count from 1 (the first step is t = 1)");
        var result = LrLambda is null ? hp : hp with { Lr = hp.Lr * LrLambda(t - 1) };
        if (Betas is not null)
        {
            var (b1, b2) = Betas.At(t);
            result = result with { Beta1 = b1, Beta2 = b2 };
        }
        return result;
    }

    /// <summary>
    /// Sets every group of <paramref name="optimizer"/> to step t's values, starting from <paramref name="baseline"/>
    /// (the hyperparameters the run was configured with). Call it before <see cref="Optimizer.Step()"/>; t is the
    /// number of steps taken so far plus one.
    /// </summary>
    public void ApplyTo(Optimizer optimizer, Hyperparameters baseline, long t)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        var hp = At(baseline, t);
        foreach (var g in optimizer.Groups) g.Hyperparameters = hp;
    }

    /// <summary>
    /// The sign condition over steps 1..<paramref name="horizon"/>: the largest finite R and the steps where
    /// β1 ≥ sqrt(β2) (R infinite), counted, plus the first such step (0 if none).
    /// </summary>
    public (double MaxFiniteBound, long StepsWithoutBound, long FirstStepWithoutBound) SignConditionOver(Hyperparameters baseline, long horizon)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(horizon, 1);
        double max = 0;
        long without = 0, first = 0;
        for (long t = 1; t <= horizon; t++)
        {
            var c = SignCondition.Of(At(baseline, t));
            if (c.Beta1BelowSqrtBeta2) max = Math.Max(max, c.Bound);
            else
            {
                without++;
                if (first == 0) first = t;
            }
        }
        return (max, without, first);
    }
}

/// <summary>
/// The hyperparameter choices of the convergence theory of arXiv 2507.05966 ("Adam as sign-like descent",
/// O(T^−1/4) under its conditions), as plain functions of the horizon T and the dimension d.
/// </summary>
public static class Schedules
{
    /// <summary>β1(T) = 1 − c/sqrt(T): momentum that tends to 1 with the horizon.</summary>
    /// <exception cref="ArgumentOutOfRangeException">T &lt; 1, c ≤ 0, or c &gt; sqrt(T) (β1 would be negative).</exception>
    public static double Beta1ForHorizon(long horizon, double c = 1.0)
    {
        CheckHorizon(horizon, c);
        double b = 1 - c / Math.Sqrt(horizon);
        if (b < 0) throw new ArgumentOutOfRangeException(nameof(c), c, $"c = {c} > sqrt(T) = {Math.Sqrt(horizon):G4} makes beta1 negative");
        return b;
    }

    /// <summary>β2(T) = 1 − c/T^(3/4). With <see cref="Beta1ForHorizon"/>, β1 &lt; sqrt(β2) for T large enough and
    /// R = O(T^(1/8)): R ≈ sqrt(c1/(2·c2))·T^(1/8).</summary>
    public static double Beta2ForHorizon(long horizon, double c = 1.0)
    {
        CheckHorizon(horizon, c);
        double b = 1 - c / Math.Pow(horizon, 0.75);
        if (b < 0) throw new ArgumentOutOfRangeException(nameof(c), c, $"c = {c} > T^(3/4) makes beta2 negative");
        return b;
    }

    /// <summary>γ = γ0/sqrt(d): the learning rate scaled down with the dimension d (number of coordinates).</summary>
    public static double LrForDimension(double gamma0, long dimension)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(dimension, 1);
        return gamma0 / Math.Sqrt(dimension);
    }

    /// <summary>AdamNC's β2,t = 1 − 1/t (see <see cref="BetaSchedule.AdamNC"/>).</summary>
    public static double AdamNCBeta2(long t)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(t, 1);
        return 1.0 - 1.0 / t;
    }

    private static void CheckHorizon(long horizon, double c)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(horizon, 1);
        if (!(c > 0) || !double.IsFinite(c)) throw new ArgumentOutOfRangeException(nameof(c), c, "the constant c must be finite and > 0");
    }
}
