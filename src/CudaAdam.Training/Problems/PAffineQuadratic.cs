#pragma warning disable CS1591 // CS1591 backlog (issue 13): 15 public members here have no XML doc yet; document them, then delete this line
using System.Globalization;
using CudaAdam.Training;

namespace CudaAdam.Problems;

/// <summary>
/// A diagonal quadratic with p-affine gradient noise, the noise model of the sign-like descent analysis of Adam
/// (arXiv 2507.05966, "Simple Convergence Proof of Adam From a Sign-like Descent Perspective"):
/// <code>
/// F(x) = ½ Σ_j λ_j x_j²,   λ_j = κ^((j−1)/(d−1))  (log-spaced in [1, κ]),   x* = 0, F* = 0,   x0 = (1, …, 1)
/// g_j  = ∇_j F(x) + ξ_j·sqrt(σ0² + σ1²·|∇_j F(x)|^p) / √B,   ξ ~ N(0, I)
/// </code>
/// Our reading of the condition: coordinate by coordinate, the noise is unbiased with variance σ0² + σ1²|∇_j F|^p
/// (the same reading as <c>NoisyNonconvex</c> of the experiments). With p = 2 (the default) this is the affine-variance
/// condition E‖g − ∇F‖² = d·σ0² + σ1²‖∇F‖² that the issue writes as "σ0² + σ1²‖∇f‖²" (σ0² there is our d·σ0²); p &lt; 2
/// lets the noise grow more slowly than the gradient. The noise is multiplicative near the start and additive near x*,
/// so a fixed lr reaches a floor set by σ0 only.
/// </summary>
public sealed class PAffineQuadratic : IStochasticProblem
{
    private readonly double[] _lambda;

    public PAffineQuadratic(int dimension = 100, double condition = 100, double sigma0 = 0.1, double sigma1 = 1, double p = 2)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(dimension, 1);
        if (!(condition >= 1) || !double.IsFinite(condition)) throw new ArgumentOutOfRangeException(nameof(condition), condition, "the condition number must be a finite number >= 1");
        if (!(sigma0 >= 0) || !double.IsFinite(sigma0)) throw new ArgumentOutOfRangeException(nameof(sigma0), sigma0, "sigma0 must be a finite number >= 0");
        if (!(sigma1 >= 0) || !double.IsFinite(sigma1)) throw new ArgumentOutOfRangeException(nameof(sigma1), sigma1, "sigma1 must be a finite number >= 0");
        if (!(p >= 0 && p <= 2)) throw new ArgumentOutOfRangeException(nameof(p), p, "p must be in [0, 2]");
        Dimension = dimension; Condition = condition; Sigma0 = sigma0; Sigma1 = sigma1; P = p;
        _lambda = new double[dimension];
        for (int j = 0; j < dimension; j++) _lambda[j] = dimension == 1 ? 1 : Math.Pow(condition, (double)j / (dimension - 1));
    }

    /// <summary>κ = λ_max/λ_min.</summary>
    public double Condition { get; }
    public double Sigma0 { get; }
    public double Sigma1 { get; }
    public double P { get; }
    /// <summary>The curvatures λ_j (a copy).</summary>
    public double[] Curvatures => (double[])_lambda.Clone();

    public string Name => "paffine-quadratic";
    public string Description => string.Create(CultureInfo.InvariantCulture,
        $"½Σλ_j x_j², d = {Dimension}, λ log-spaced in [1, {Condition}], noise variance σ0² + σ1²|∇_j F|^p per coordinate, σ0 = {Sigma0}, σ1 = {Sigma1}, p = {P}, x0 = 1");
    public int Dimension { get; }
    public int? DataSize => null;
    public double[]? Optimum => new double[Dimension];
    public double? OptimalLoss => 0;

    public float[] InitialPoint()
    {
        var x = new float[Dimension];
        Array.Fill(x, 1f);
        return x;
    }

    public double Loss(ReadOnlySpan<float> x)
    {
        double s = 0;
        for (int j = 0; j < x.Length; j++) s += 0.5 * _lambda[j] * x[j] * x[j];
        return s;
    }

    public void Gradient(ReadOnlySpan<float> x, Span<double> grad)
    {
        for (int j = 0; j < x.Length; j++) grad[j] = _lambda[j] * x[j];
    }

    public double StochasticGradient(ReadOnlySpan<float> x, Span<float> grad, Minibatch batch, Rng rng)
    {
        double invSqrtB = 1 / Math.Sqrt(batch.Size);
        for (int j = 0; j < x.Length; j++)
        {
            double g = _lambda[j] * x[j];
            double sd = Math.Sqrt(Sigma0 * Sigma0 + Sigma1 * Sigma1 * Math.Pow(Math.Abs(g), P));
            grad[j] = (float)(g + sd * invSqrtB * rng.NextNormal());
        }
        return Loss(x);
    }

    public void Project(Span<float> x) { }
}
