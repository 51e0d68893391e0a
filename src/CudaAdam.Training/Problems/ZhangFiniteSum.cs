#pragma warning disable CS1591 // CS1591 backlog (issue 13): 12 public members here have no XML doc yet; document them, then delete this line
using System.Globalization;
using CudaAdam.Training;

namespace CudaAdam.Problems;

/// <summary>
/// The divergence example of Zhang, Chen, Shi, Sun &amp; Luo, "Adam Can Converge Without Any Modification on Update
/// Rules" (NeurIPS 2022, arXiv 2208.09632), as restated by its first author (Y. Zhang, "On the Principles Behind Neural
/// Network Optimizers", PhD thesis, CUHK-Shenzhen, §2.2, Eq. (2.5)): for n ≥ 3 and a &gt; 0,
/// <code>
/// f_0(x) = s·x  (x ≥ −1),   s/2·(x+2)² − 3s/2  (x &lt; −1),        s = 1 + (n−1)·a
/// f_i(x) = −a·x (x ≥ −1),   −a/2·(x+2)² + 3a/2 (x &lt; −1),        i = 1..n−1
/// Σ_i f_i(x) = x  (x ≥ −1),   1/2·(x+2)² − 3/2  (x &lt; −1)   ⇒ x* = −2
/// </code>
/// Each f_i is C¹ at −1; a = 1 gives Reddi et al.'s slopes n and −1. As an <see cref="IStochasticProblem"/> the
/// objective is the thesis's mean F = (1/n)·Σ f_i (a minibatch loss is an unbiased estimate of it), F* = −3/(2n); an
/// epoch is ⌊n/B⌋ minibatches drawn without replacement (random reshuffling; B = 1: one f_i per step). The thesis's
/// Algorithm 1.1 samples f_i uniformly with replacement instead (<c>scripts/zhang.fsx</c> runs both). Start x0 = 0.
/// </summary>
public sealed class ZhangFiniteSum : IStochasticProblem
{
    public ZhangFiniteSum(int n, double a = 1, double x0 = 0)
    {
        if (n < 3) throw new ArgumentOutOfRangeException(nameof(n), n, "n must be at least 3 (Zhang et al.'s example needs n ≥ 3)");
        if (!(a > 0) || !double.IsFinite(a)) throw new ArgumentOutOfRangeException(nameof(a), a, "a must be a finite number > 0 (Eq. (2.5))");
        if (!double.IsFinite(x0)) throw new ArgumentOutOfRangeException(nameof(x0), x0, "the start must be finite");
        N = n;
        A = a;
        X0 = x0;
    }

    /// <summary>The number of component functions.</summary>
    public int N { get; }
    /// <summary>The slope parameter a of Eq. (2.5) (1: slopes n and −1).</summary>
    public double A { get; }
    /// <summary>f_0's slope s = 1 + (n−1)·a.</summary>
    public double LeadSlope => 1 + (N - 1) * A;
    /// <summary>The start.</summary>
    public double X0 { get; }
    /// <summary>The minimizer of f.</summary>
    public const double Minimizer = -2;

    public string Name => "zhang";
    public string Description => string.Create(CultureInfo.InvariantCulture,
        $"Zhang et al. 2022 (thesis Eq. 2.5): mean of n = {N} functions, f_0 = (1+(n-1)a)·x, f_i = -a·x (x >= -1, C¹ quadratic extension below), a = {A}, x* = -2, x0 = {X0}");
    public int Dimension => 1;
    public int? DataSize => N;
    public double[]? Optimum => [Minimizer];
    public double? OptimalLoss => -1.5 / N;

    /// <summary>f_i(x).</summary>
    public double ComponentLoss(int i, double x)
    {
        CheckIndex(i);
        double s = i == 0 ? LeadSlope : -A;
        return x >= -1 ? s * x : 0.5 * s * (x + 2) * (x + 2) - 1.5 * s;
    }

    /// <summary>∇f_i(x).</summary>
    public double ComponentGradient(int i, double x)
    {
        CheckIndex(i);
        double s = i == 0 ? LeadSlope : -A;
        return x >= -1 ? s : s * (x + 2);
    }

    /// <summary>f(x) = Σ_i f_i(x) (the paper's objective; <see cref="Loss"/> is f/n).</summary>
    public static double Sum(double x) => x >= -1 ? x : 0.5 * (x + 2) * (x + 2) - 1.5;

    public float[] InitialPoint() => [(float)X0];

    public double Loss(ReadOnlySpan<float> x) => Sum(x[0]) / N;

    public void Gradient(ReadOnlySpan<float> x, Span<double> grad) => grad[0] = (x[0] >= -1 ? 1 : x[0] + 2.0) / N;

    public double StochasticGradient(ReadOnlySpan<float> x, Span<float> grad, Minibatch batch, Rng rng)
    {
        if (batch.Indices.Length == 0) throw new ArgumentException("zhang is a finite sum: the minibatch must carry its component indices");
        double g = 0, loss = 0;
        foreach (int i in batch.Indices) { g += ComponentGradient(i, x[0]); loss += ComponentLoss(i, x[0]); }
        grad[0] = (float)(g / batch.Indices.Length);
        return loss / batch.Indices.Length;
    }

    public void Project(Span<float> x) { }

    private void CheckIndex(int i)
    {
        if (i < 0 || i >= N) throw new ArgumentOutOfRangeException(nameof(i), i, $"component index must be in [0, {N})");
    }
}
