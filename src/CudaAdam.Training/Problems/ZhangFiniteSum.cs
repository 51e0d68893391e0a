using System.Globalization;
using CudaAdam.Training;

namespace CudaAdam.Problems;

/// <summary>
/// The finite-sum example of Zhang, Chen, Shi, Sun &amp; Luo, "Adam Can Converge Without Any Modification on Update
/// Rules" (NeurIPS 2022, arXiv 2208.09632), on which Adam with random reshuffling diverges for small β2 and converges
/// for large β2 with β1 &lt; √β2: Reddi et al.'s linear functions, made unconstrained by a C¹ quadratic extension left
/// of x = −1:
/// <code>
/// f_0(x) = n·x                    (x ≥ −1),   n/2·(x+2)² − 3n/2   (x &lt; −1)
/// f_i(x) = −x                     (x ≥ −1),   −1/2·(x+2)² + 3/2   (x &lt; −1),   i = 1..n−1
/// f(x)   = Σ_i f_i(x) = x         (x ≥ −1),   1/2·(x+2)² − 3/2    (x &lt; −1)     ⇒ x* = −2, f(x*) = −3/2
/// </code>
/// Each f_i is continuous with a continuous derivative at −1; the sum is convex. As an <see cref="IStochasticProblem"/>
/// the objective is the mean F = f/n (so a minibatch loss is an unbiased estimate of it), F* = −3/(2n); an epoch of
/// random reshuffling is ⌊n/B⌋ minibatches drawn without replacement (B = 1: the paper's setting, one f_i per step).
/// The start is x0 = 0 (the setting of scripts/zhang.fsx). The construction is stated as recalled from the paper
/// (its text was not retrievable here): check it against arXiv 2208.09632.
/// </summary>
public sealed class ZhangFiniteSum : IStochasticProblem
{
    public ZhangFiniteSum(int n, double x0 = 0)
    {
        if (n < 3) throw new ArgumentOutOfRangeException(nameof(n), n, "n must be at least 3 (n - 2 > 0 drives the divergence)");
        if (!double.IsFinite(x0)) throw new ArgumentOutOfRangeException(nameof(x0), x0, "the start must be finite");
        N = n;
        X0 = x0;
    }

    /// <summary>The number of component functions.</summary>
    public int N { get; }
    /// <summary>The start.</summary>
    public double X0 { get; }
    /// <summary>The minimizer of f.</summary>
    public const double Minimizer = -2;

    public string Name => "zhang";
    public string Description => string.Create(CultureInfo.InvariantCulture,
        $"Zhang et al. 2022: mean of n = {N} functions, f_0 = n·x, f_i = -x (x >= -1, C¹ quadratic extension below), x* = -2, x0 = {X0}");
    public int Dimension => 1;
    public int? DataSize => N;
    public double[]? Optimum => [Minimizer];
    public double? OptimalLoss => -1.5 / N;

    /// <summary>f_i(x).</summary>
    public double ComponentLoss(int i, double x)
    {
        CheckIndex(i);
        if (i == 0) return x >= -1 ? N * x : 0.5 * N * (x + 2) * (x + 2) - 1.5 * N;
        return x >= -1 ? -x : -0.5 * (x + 2) * (x + 2) + 1.5;
    }

    /// <summary>∇f_i(x).</summary>
    public double ComponentGradient(int i, double x)
    {
        CheckIndex(i);
        if (i == 0) return x >= -1 ? N : N * (x + 2);
        return x >= -1 ? -1 : -(x + 2);
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
