namespace CudaAdam.Experiments.Problems;

/// <summary>
/// A smooth nonconvex test function with p-affine gradient noise, for rate experiments:
/// <code>
/// F(x) = Σ_j [ x_j²/2 − a·cos(ω·x_j) ],     ∇_j F(x) = x_j + a·ω·sin(ω·x_j)
/// g_j  = ∇_j F(x) + ξ_j·sqrt(σ0² + σ1²·|∇_j F(x)|^p),   ξ_j ~ N(0, 1) i.i.d.
/// </code>
/// F is L-smooth with L = 1 + a·ω², nonconvex when a·ω² &gt; 1 (defaults a = 1, ω = 2: L = 5, local minima near
/// |x_j| ≈ 1.9 besides the global one at 0, F* = −a·d), bounded below, and its gradient does not vanish at infinity.
/// The noise is unbiased with coordinate variance σ0² + σ1²·|∇_j F|^p: the generalized p-affine variance assumption
/// of arXiv 2507.05966 holds with equality coordinate by coordinate. With <c>skewed</c>, ξ_j = E_j − 1 with E_j ~ Exp(1)
/// instead (mean 0, variance 1, skewness 2: the same variance, a heavy right tail), for checks that a finding does not
/// rest on symmetric noise.
/// </summary>
public sealed class NoisyNonconvex
{
    private readonly Random _rng;

    public NoisyNonconvex(int dimension, double sigma0, double sigma1 = 0, double p = 1, double a = 1, double omega = 2, int seed = 1, bool skewed = false)
    {
        Skewed = skewed;
        ArgumentOutOfRangeException.ThrowIfLessThan(dimension, 1);
        if (!(sigma0 >= 0) || !(sigma1 >= 0)) throw new ArgumentOutOfRangeException(nameof(sigma0), "noise scales must be >= 0");
        if (!(p >= 0 && p <= 2)) throw new ArgumentOutOfRangeException(nameof(p), p, "p must be in [0, 2]");
        Dimension = dimension; Sigma0 = sigma0; Sigma1 = sigma1; P = p; A = a; Omega = omega;
        _rng = new Random(seed);
    }

    public int Dimension { get; }
    public double Sigma0 { get; }
    public double Sigma1 { get; }
    public double P { get; }
    public double A { get; }
    public double Omega { get; }
    /// <summary>ξ = Exp(1) − 1 (skewed) rather than N(0, 1).</summary>
    public bool Skewed { get; }
    /// <summary>The smoothness constant L = 1 + a·ω².</summary>
    public double Smoothness => 1 + A * Omega * Omega;
    /// <summary>min F = −a·d (at x = 0).</summary>
    public double MinValue => -A * Dimension;

    /// <summary>A start drawn uniformly from [−r, r]^d with the given seed.</summary>
    public float[] Start(double r, int seed)
    {
        var rng = new Random(seed);
        var x = new float[Dimension];
        for (int j = 0; j < x.Length; j++) x[j] = (float)((2 * rng.NextDouble() - 1) * r);
        return x;
    }

    /// <summary>F(x), accumulated in double.</summary>
    public double Value(ReadOnlySpan<float> x)
    {
        double s = 0;
        foreach (var xj in x) s += 0.5 * xj * xj - A * Math.Cos(Omega * xj);
        return s;
    }

    /// <summary>The exact gradient into <paramref name="grad"/>; returns (‖∇F‖₂, ‖∇F‖₁).</summary>
    public (double L2, double L1) Gradient(ReadOnlySpan<float> x, Span<double> grad)
    {
        double s2 = 0, s1 = 0;
        for (int j = 0; j < x.Length; j++)
        {
            double g = x[j] + A * Omega * Math.Sin(Omega * x[j]);
            grad[j] = g; s2 += g * g; s1 += Math.Abs(g);
        }
        return (Math.Sqrt(s2), s1);
    }

    /// <summary>
    /// A stochastic gradient at <paramref name="x"/> into <paramref name="noisy"/> (float32, for the optimizer) and
    /// returns the exact gradient's norms (‖∇F‖₂, ‖∇F‖₁) at the same point.
    /// </summary>
    public (double L2, double L1) Sample(ReadOnlySpan<float> x, Span<float> noisy)
    {
        double s2 = 0, s1 = 0;
        for (int j = 0; j < x.Length; j++)
        {
            double g = x[j] + A * Omega * Math.Sin(Omega * x[j]);
            s2 += g * g; s1 += Math.Abs(g);
            double sd = Sigma1 == 0 ? Sigma0 : Math.Sqrt(Sigma0 * Sigma0 + Sigma1 * Sigma1 * Math.Pow(Math.Abs(g), P));
            noisy[j] = (float)(g + sd * (Skewed ? -Math.Log(1.0 - _rng.NextDouble()) - 1.0 : Normal()));
        }
        return (Math.Sqrt(s2), s1);
    }

    // Box–Muller; one draw per call (the second value is discarded for simplicity and reproducibility).
    private double Normal()
    {
        double u1 = 1.0 - _rng.NextDouble(), u2 = _rng.NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }
}
