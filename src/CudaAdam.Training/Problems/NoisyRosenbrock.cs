#pragma warning disable CS1591 // CS1591 backlog (issue 13): 12 public members here have no XML doc yet; document them, then delete this line
using System.Globalization;
using CudaAdam.Training;

namespace CudaAdam.Problems;

/// <summary>
/// The d-dimensional Rosenbrock function (the "extended" chain form) with additive Gaussian gradient noise:
/// <code>
/// F(x) = Σ_{i=1}^{d−1} [ a·(x_{i+1} − x_i²)² + (1 − x_i)² ],   a = 100
/// ∂F/∂x_i = −4a·x_i·(x_{i+1} − x_i²) − 2(1 − x_i) + 2a·(x_i − x_{i−1}²)   (terms that exist)
/// g = ∇F(x) + σ·ξ/√B,   ξ ~ N(0, I)   (the mean of B independent draws)
/// x* = (1, …, 1),  F* = 0;   x0 = (−1.2, 1, −1.2, 1, …)  (Rosenbrock's classic start, repeated)
/// </code>
/// Nonconvex, with a curved valley whose curvature ratio is about 2500 near x*: the standard stress test of step-size
/// adaptation. (DeepOBS's 2-d <c>two_d_rosenbrock</c> multiplies the gradient by random factors instead; here the noise
/// is additive, so its variance does not depend on x.)
/// </summary>
public sealed class NoisyRosenbrock : IStochasticProblem
{
    public NoisyRosenbrock(int dimension = 10, double sigma = 1, double a = 100)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(dimension, 2);
        if (!(sigma >= 0) || !double.IsFinite(sigma)) throw new ArgumentOutOfRangeException(nameof(sigma), sigma, "sigma must be a finite number >= 0");
        if (!(a > 0) || !double.IsFinite(a)) throw new ArgumentOutOfRangeException(nameof(a), a, "a must be a finite number > 0");
        Dimension = dimension;
        Sigma = sigma;
        A = a;
    }

    /// <summary>σ, the noise's standard deviation per coordinate and sample.</summary>
    public double Sigma { get; }
    /// <summary>a (100 in Rosenbrock's function).</summary>
    public double A { get; }

    public string Name => "rosenbrock";
    public string Description => string.Create(CultureInfo.InvariantCulture,
        $"Rosenbrock Σ a(x_(i+1) − x_i²)² + (1 − x_i)², d = {Dimension}, a = {A}, gradient noise N(0, {Sigma}²I)/√B, x0 = (-1.2, 1, ...)");
    public int Dimension { get; }
    public int? DataSize => null;
    public double[]? Optimum => Enumerable.Repeat(1.0, Dimension).ToArray();
    public double? OptimalLoss => 0;

    public float[] InitialPoint()
    {
        var x = new float[Dimension];
        for (int i = 0; i < x.Length; i++) x[i] = i % 2 == 0 ? -1.2f : 1f;
        return x;
    }

    public double Loss(ReadOnlySpan<float> x)
    {
        double s = 0;
        for (int i = 0; i + 1 < x.Length; i++)
        {
            double xi = x[i], r = x[i + 1] - xi * xi;
            s += A * r * r + (1 - xi) * (1 - xi);
        }
        return s;
    }

    public void Gradient(ReadOnlySpan<float> x, Span<double> grad)
    {
        grad[..x.Length].Clear();
        for (int i = 0; i + 1 < x.Length; i++)
        {
            double xi = x[i], r = x[i + 1] - xi * xi;
            grad[i] += -4 * A * xi * r - 2 * (1 - xi);
            grad[i + 1] += 2 * A * r;
        }
    }

    public double StochasticGradient(ReadOnlySpan<float> x, Span<float> grad, Minibatch batch, Rng rng)
    {
        Span<double> exact = x.Length <= 1024 ? stackalloc double[x.Length] : new double[x.Length];
        Gradient(x, exact);
        double scale = Sigma / Math.Sqrt(batch.Size); // the mean of B i.i.d. N(0, σ²) draws is N(0, σ²/B)
        for (int i = 0; i < x.Length; i++) grad[i] = (float)(exact[i] + scale * rng.NextNormal());
        return Loss(x);
    }

    public void Project(Span<float> x) { }
}
