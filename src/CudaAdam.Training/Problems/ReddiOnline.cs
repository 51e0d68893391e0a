#pragma warning disable CS1591 // CS1591 backlog (issue 13): 10 public members here have no XML doc yet; document them, then delete this line
using System.Globalization;
using CudaAdam.Training;

namespace CudaAdam.Problems;

/// <summary>
/// Online linear optimization on F = [−1, 1] (Reddi, Kale &amp; Kumar, "On the Convergence of Adam and Beyond",
/// ICLR 2018): at round t the learner plays x_t, suffers f_t(x_t) = s_t·x_t, receives the gradient s_t, steps, and is
/// projected back onto [−1, 1]. The three slope sequences of the paper:
/// <code>
/// reddi-cycle3 (C):   s_t = C if t mod 3 = 1, else −1                      (Section 3; mean (C − 2)/3)
/// reddi-online:       s_t = 1010 if t mod 101 = 1, else −10                 (Section 5, "synthetic experiments"; mean 10/101)
/// reddi-stochastic:   s_t = 1010 with probability 0.01, else −10, i.i.d.    (Section 5; mean 0.2)
/// </code>
/// In all three the mean slope s̄ is positive, so the minimizer of the average loss F(x) = s̄·x over [−1, 1] is
/// x* = −1 with F* = −s̄. A step with batch size B averages the slopes of B rounds: rounds (t−1)·B + 1 … t·B of a
/// deterministic sequence, or B independent draws (B = 1 is the paper's setting). The start is x0 = 1.
/// </summary>
public sealed class ReddiOnline : IStochasticProblem
{
    private readonly Kind _kind;

    private enum Kind { Cycle3, Online, Stochastic }

    private ReddiOnline(Kind kind, double c) { _kind = kind; C = c; }

    /// <summary>Section 3's problem: C on every third round, −1 otherwise (C &gt; 2).</summary>
    public static ReddiOnline Cycle3(double c = 10)
    {
        if (!(c > 2) || !double.IsFinite(c))
            throw new ArgumentOutOfRangeException(nameof(c), c, "C must be a finite number > 2 so that the mean slope is positive and x* = -1");
        return new ReddiOnline(Kind.Cycle3, c);
    }

    /// <summary>Section 5's online problem: 1010 every 101st round, −10 otherwise.</summary>
    public static ReddiOnline Online() => new(Kind.Online, 1010);

    /// <summary>Section 5's stochastic problem: 1010 with probability 0.01, else −10.</summary>
    public static ReddiOnline Stochastic() => new(Kind.Stochastic, 1010);

    /// <summary>The large slope (C, or 1010).</summary>
    public double C { get; }
    /// <summary>The feasible set's bounds.</summary>
    public const double Lower = -1, Upper = 1;

    public string Name => _kind switch { Kind.Cycle3 => "reddi-cycle3", Kind.Online => "reddi-online", _ => "reddi-stochastic" };
    public string Description => _kind switch
    {
        Kind.Cycle3 => string.Create(CultureInfo.InvariantCulture, $"Reddi et al. 2018 §3: f_t(x) = s_t·x on [-1, 1], s_t = {C} if t mod 3 = 1, else -1"),
        Kind.Online => "Reddi et al. 2018 §5 online: f_t(x) = s_t·x on [-1, 1], s_t = 1010 if t mod 101 = 1, else -10",
        _ => "Reddi et al. 2018 §5 stochastic: f_t(x) = s_t·x on [-1, 1], s_t = 1010 with probability 0.01, else -10",
    };
    /// <summary>The slope rule in words (without the loss), for reports.</summary>
    public string SlopeRule => _kind switch
    {
        Kind.Cycle3 => string.Create(CultureInfo.InvariantCulture, $"s_t = {C} if t mod 3 = 1, else -1"),
        Kind.Online => "s_t = 1010 if t mod 101 = 1, else -10",
        _ => "s_t = 1010 with probability 0.01, else -10 (i.i.d.)",
    };
    public int Dimension => 1;
    public int? DataSize => null;
    /// <summary>Whether the slopes are random (<see cref="Slope"/> then needs a generator).</summary>
    public bool IsStochastic => _kind == Kind.Stochastic;
    /// <summary>s̄, the mean slope: (C − 2)/3, 10/101 or 0.2.</summary>
    public double MeanSlope => _kind switch
    {
        Kind.Cycle3 => (C - 2) / 3,
        Kind.Online => (1010.0 - 100 * 10) / 101,
        _ => 0.01 * 1010 - 0.99 * 10,
    };
    public double[]? Optimum => [Lower];
    public double? OptimalLoss => -MeanSlope;

    /// <summary>s_t for round t = 1, 2, … ; the stochastic sequence draws it from <paramref name="rng"/> (call it once per
    /// round, in order).</summary>
    /// <exception cref="ArgumentNullException">The stochastic sequence without a generator.</exception>
    public double Slope(long t, Rng? rng = null) => _kind switch
    {
        Kind.Cycle3 => t % 3 == 1 ? C : -1,
        Kind.Online => t % 101 == 1 ? 1010 : -10,
        _ => (rng ?? throw new ArgumentNullException(nameof(rng), "the stochastic sequence draws its slopes from a generator")).NextDouble() < 0.01 ? 1010 : -10,
    };

    public float[] InitialPoint() => [(float)Upper];

    /// <summary>The expected per-round loss s̄·x.</summary>
    public double Loss(ReadOnlySpan<float> x) => MeanSlope * x[0];

    public void Gradient(ReadOnlySpan<float> x, Span<double> grad) => grad[0] = MeanSlope;

    public double StochasticGradient(ReadOnlySpan<float> x, Span<float> grad, Minibatch batch, Rng rng)
    {
        double sum = 0;
        long first = (batch.Step - 1) * batch.Size + 1;
        for (int i = 0; i < batch.Size; i++) sum += Slope(first + i, rng);
        double s = sum / batch.Size;
        grad[0] = (float)s;
        return s * x[0];
    }

    public void Project(Span<float> x)
    {
        for (int i = 0; i < x.Length; i++) x[i] = Math.Clamp(x[i], (float)Lower, (float)Upper);
    }
}
