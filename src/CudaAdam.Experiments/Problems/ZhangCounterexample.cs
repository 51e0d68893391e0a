using CudaAdam.Problems;

namespace CudaAdam.Experiments.Problems;

/// <summary>How <see cref="ZhangCounterexample.RunAdam"/> picks the component function of each step.</summary>
public enum ZhangSampling
{
    /// <summary>τ_k drawn uniformly from {0, …, n−1} at every step, independently (with replacement): Algorithm 1.1,
    /// line 3 of Y. Zhang's restatement (see <see cref="ZhangCounterexample"/>).</summary>
    Uniform,
    /// <summary>Random reshuffling: each block of n steps visits every f_i once, in a fresh random order (the epoch
    /// form <c>x_{k,i}</c> recalled for the NeurIPS 2022 version; not confirmed from its text here).</summary>
    Reshuffle,
}

/// <summary>
/// The divergence example of Zhang, Chen, Shi, Sun &amp; Luo, "Adam Can Converge Without Any Modification on Update
/// Rules" (NeurIPS 2022, arXiv 2208.09632), as restated by its first author in "On the Principles Behind Neural Network
/// Optimizers" (Y. Zhang, PhD thesis, CUHK-Shenzhen), §2.2, Eq. (2.5): for n ≥ 3 and a &gt; 0,
/// <code>
/// f_0(x) = (1+(n−1)a)·x                                  (x ≥ −1)
///          (1+(n−1)a)/2·(x+2)² − (3+3(n−1)a)/2            (x &lt; −1)
/// f_i(x) = −a·x                                          (x ≥ −1)
///          −a/2·(x+2)² + 3a/2                             (x &lt; −1),    i = 1..n−1
/// Σ_i f_i(x) = x  (x ≥ −1),   1/2·(x+2)² − 3/2  (x &lt; −1)          ⇒ x* = −2
/// </code>
/// The thesis minimizes f = (1/n)·Σ_i f_i; <see cref="Loss"/> returns the sum (same minimizer; Adam sees only the
/// component gradients, so its iterates do not depend on the normalization). a = 1 (the default) gives Reddi et al.'s
/// slopes n and −1 (their Eq. (2.3) in the thesis), extended to the left by a C¹ quadratic; the thesis cites
/// a = 1/(n−1)² as the instance with D1 = 2n², D0 = 0 in its affine-variance condition.
/// <para>Right of −1 the gradients are 1+(n−1)a with probability 1/n and −a otherwise: a sign-like (small-β2) Adam
/// steps right (n−1) times for every step left and drifts to +∞ (the thesis's Theorem 2.3: Adam, and so SignSGD,
/// diverges in a region of small β2 that grows with n to all of [0,1]²), while with large β2, v ≈ E[g²] and the mean
/// step is −lr·E[g]/sqrt(E[g²]) &lt; 0 (Theorem 2.2: convergence for β2 ≥ γ1(n) = 1 − O((1−β1ⁿ)/n⁵) and β1 &lt; √β2,
/// with η_k = η0/√k).</para>
/// <para>Differences from the paper's Algorithm 1.1 that remain: the update here is torch.optim.Adam's, with bias
/// correction (the paper's has none and leaves m_0, v_0 open); the corrections tend to 1 geometrically, so they
/// change the first steps' kick, not where Adam ends up diverging or converging.</para>
/// </summary>
public sealed class ZhangCounterexample
{
    /// <param name="n">the number of component functions (≥ 3)</param>
    /// <param name="a">the slope parameter a &gt; 0 of Eq. (2.5); 1 gives the slopes n and −1</param>
    public ZhangCounterexample(int n, double a = 1) => Problem = new ZhangFiniteSum(n, a);

    /// <summary>The functions: the training stack's <see cref="ZhangFiniteSum"/> (also <c>cudaadam train</c>'s
    /// <c>zhang</c>), one definition for both.</summary>
    public ZhangFiniteSum Problem { get; }
    /// <summary>The number of component functions.</summary>
    public int N => Problem.N;
    /// <summary>The slope parameter a of Eq. (2.5).</summary>
    public double A => Problem.A;
    /// <summary>The minimizer of f.</summary>
    public const double Optimum = ZhangFiniteSum.Minimizer;

    /// <summary>∇f_i(x).</summary>
    public double Gradient(int i, double x) => Problem.ComponentGradient(i, x);

    /// <summary>f(x) = Σ_i f_i(x) (independent of a).</summary>
    public double Loss(double x) => ZhangFiniteSum.Sum(x);

    /// <summary>
    /// Runs Adam with the CPU reference (torch.optim.Adam semantics: bias correction, ε outside the root) for
    /// <paramref name="steps"/> steps, one component gradient per step chosen by <paramref name="sampling"/> from a
    /// generator seeded with <paramref name="seed"/>, lr_k = η/√k over the step k = 1, 2, … (the paper's η_k = η0/√k).
    /// Returns x after half the steps and after the last one; a non-finite x ends the run early and is returned as is
    /// (for both if early).
    /// </summary>
    /// <remarks>Both points are returned because convergence can be slow: before the first large gradient is seen,
    /// Adam's bias-corrected v̂ is a² and the first steps kick x right, while the net drift back is only
    /// ≈ lr·E[g]/sqrt(E[g²]) per step. Whether the distance to x* shrinks over the second half tells a slow convergence
    /// from a divergence.</remarks>
    public (double Half, double Final) RunAdam(double beta1, double beta2, double eta, int steps, double x0, int seed,
                                               ZhangSampling sampling = ZhangSampling.Uniform, double eps = 1e-8)
    {
        if (steps < 2) throw new ArgumentOutOfRangeException(nameof(steps), steps, "steps must be at least 2 (the run reports x after half of them)");
        var x = new float[] { (float)x0 };
        var opt = new ReferenceStepper(Algorithm.Adam, Hyperparameters.For(Algorithm.Adam, beta1: beta1, beta2: beta2, eps: eps, lr: eta), 1);
        var rng = new Random(seed);
        var order = Enumerable.Range(0, N).ToArray();
        var grad = new float[1];
        double half = double.NaN;
        for (int k = 1; k <= steps; k++)
        {
            if (k == steps / 2 + 1) half = x[0];
            int i;
            if (sampling == ZhangSampling.Uniform)
                i = rng.Next(N);
            else
            {
                int pos = (k - 1) % N;
                if (pos == 0) rng.Shuffle(order);
                i = order[pos];
            }
            grad[0] = (float)Gradient(i, x[0]);
            opt.SetLr(eta / Math.Sqrt(k));
            opt.Step(x, grad);
            if (!float.IsFinite(x[0])) return (double.IsNaN(half) ? x[0] : half, x[0]);
        }
        return (half, x[0]);
    }
}
