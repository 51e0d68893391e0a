using CudaAdam.Problems;
using CudaAdam.Training;

namespace CudaAdam.Experiments.Problems;

/// <summary>
/// Online linear optimization on F = [−1, 1] (Reddi, Kale &amp; Kumar, "On the Convergence of Adam and Beyond",
/// ICLR 2018): at round t the learner plays x_t, suffers f_t(x_t) = s_t·x_t, receives the gradient s_t, steps, and is
/// projected back onto [−1, 1]. The three sequences of slopes s_t from the paper:
/// <code>
/// Cycle3(C):     s_t = C if t mod 3 = 1, else −1                         (Section 3; β1 = 0, β2 = 1/(1+C²))
/// Online:        s_t = 1010 if t mod 101 = 1, else −10                    (Section 5, "synthetic experiments")
/// Stochastic:    s_t = 1010 with probability 0.01, else −10 (i.i.d.)      (Section 5; E[s_t] = 0.2)
/// </code>
/// In all three the average slope is positive, so x* = −1. Regret R_T = Σ_t s_t x_t − min_{x∈F} Σ_t s_t x, where the
/// minimum of the linear function over [−1, 1] is −|Σ s_t|.
/// </summary>
public sealed class OnlineLinear
{
    private readonly Rng? _rng;

    private OnlineLinear(string name, ReddiOnline problem, Rng? rng)
    {
        Name = name;
        Problem = problem;
        _rng = rng;
    }

    /// <summary>The slope sequence: the training stack's <see cref="ReddiOnline"/> (one definition for the scripts,
    /// <c>cudaadam reddi</c> and <c>cudaadam train</c>).</summary>
    public ReddiOnline Problem { get; }
    /// <summary>A short name for files and tables.</summary>
    public string Name { get; }
    /// <summary>The slope rule in words, for reports.</summary>
    public string Description => Problem.SlopeRule;
    /// <summary>The minimizer of the average loss.</summary>
    public const double Optimum = ReddiOnline.Lower;

    /// <summary>s_t for round t = 1, 2, ... (the stochastic variant draws it, so call it once per round, in order).</summary>
    public double Slope(long t) => Problem.Slope(t, _rng);

    /// <summary>Reddi et al.'s Section 3 problem: C on every third round, −1 otherwise (C &gt; 2).</summary>
    public static OnlineLinear Cycle3(double c = 10) =>
        new(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"cycle3_C{c}"), ReddiOnline.Cycle3(c), null);

    /// <summary>Reddi et al.'s Section 5 online problem: 1010 every 101st round, −10 otherwise.</summary>
    public static OnlineLinear Online() => new("online", ReddiOnline.Online(), null);

    /// <summary>Reddi et al.'s Section 5 stochastic problem: 1010 with probability 0.01, else −10, from a generator
    /// (<see cref="Rng"/>) seeded with <paramref name="seed"/>.</summary>
    public static OnlineLinear Stochastic(int seed) => new("stochastic", ReddiOnline.Stochastic(), new Rng((ulong)seed));

    /// <summary>A run's record at about <c>samples</c> rounds spaced geometrically (for log-t plots).</summary>
    /// <param name="T">The rounds at which a sample was taken (1-based).</param>
    /// <param name="X">The mean of x over the sampling interval that ends at round t (x after each step and
    /// projection). A mean, not a point sample, so a periodic trajectory does not alias.</param>
    /// <param name="AverageRegret">R_t / t.</param>
    /// <param name="TailMeanX">The mean of x over the last 10% of rounds (every round, not only samples).</param>
    public sealed record Trace(long[] T, double[] X, double[] AverageRegret, double TailMeanX);

    /// <summary>
    /// Plays <paramref name="steps"/> rounds of <paramref name="algorithm"/> from <paramref name="x0"/> with the CPU
    /// reference (<see cref="ReferenceStepper"/>, the math of the <see cref="Optimizer"/>'s cpu backend): lr_t = α/√t when <paramref name="inverseSqrt"/> (α = hp.Lr), else lr = α; after
    /// every step x is clamped to [−1, 1] (projection changes x, not the optimizer state, as in the paper's Π_F).
    /// </summary>
    public Trace Run(Algorithm algorithm, Hyperparameters hp, long steps, bool inverseSqrt, double x0 = 1,
        int samples = 500)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(steps, 1);
        var x = new float[] { (float)x0 };
        var opt = new ReferenceStepper(algorithm, hp, 1);
        double ratio = Math.Pow(steps, 1.0 / Math.Max(1, samples));
        long next = 1;
        var ts = new List<long>(); var xs = new List<double>(); var rs = new List<double>();
        double loss = 0, slopeSum = 0, tailSum = 0, windowSum = 0;
        long windowCount = 0;
        long tailFrom = steps - steps / 10, tailCount = 0;
        var grad = new float[1];
        for (long t = 1; t <= steps; t++)
        {
            double s = Slope(t);
            loss += s * x[0];
            slopeSum += s;
            grad[0] = (float)s;
            if (inverseSqrt) opt.SetLr(hp.Lr / Math.Sqrt(t));
            opt.Step(x, grad);
            Problem.Project(x);
            if (t > tailFrom) { tailSum += x[0]; tailCount++; }
            windowSum += x[0]; windowCount++;
            if (t == next || t == steps)
            {
                next = Math.Max(t + 1, (long)Math.Ceiling(t * ratio));
                ts.Add(t);
                xs.Add(windowSum / windowCount);
                windowSum = 0; windowCount = 0;
                rs.Add((loss + Math.Abs(slopeSum)) / t);
            }
        }
        return new Trace(ts.ToArray(), xs.ToArray(), rs.ToArray(), tailSum / Math.Max(1, tailCount));
    }
}
