using CudaAdam.Problems;

namespace CudaAdam.Experiments.Problems;

/// <summary>
/// Adam with random reshuffling on the finite-sum example of Zhang, Chen, Shi, Sun &amp; Luo, "Adam Can Converge
/// Without Any Modification on Update Rules" (NeurIPS 2022, arXiv 2208.09632): the functions f_0 … f_(n−1) are
/// <see cref="ZhangFiniteSum"/>'s (equations there), the run loop is the script's. Right of −1 the component gradients
/// are n once per epoch and −1 otherwise, so a sign-like (small-β2) Adam drifts to +∞ by about (n − 2) steps per epoch.
/// </summary>
public sealed class ZhangCounterexample
{
    public ZhangCounterexample(int n) => Problem = new ZhangFiniteSum(n);

    /// <summary>The functions: the training stack's <see cref="ZhangFiniteSum"/> (also <c>cudaadam train</c>'s <c>zhang</c>).</summary>
    public ZhangFiniteSum Problem { get; }
    /// <summary>The number of component functions.</summary>
    public int N => Problem.N;
    /// <summary>The minimizer of f.</summary>
    public const double Optimum = ZhangFiniteSum.Minimizer;

    /// <summary>∇f_i(x).</summary>
    public double Gradient(int i, double x) => Problem.ComponentGradient(i, x);

    /// <summary>f(x) = Σ_i f_i(x).</summary>
    public double Loss(double x) => ZhangFiniteSum.Sum(x);

    /// <summary>
    /// Runs Adam with the CPU reference (torch.optim.Adam semantics: bias correction, ε outside the root) for <paramref name="epochs"/>
    /// epochs of random reshuffling (each epoch visits every f_i once, in a fresh random order from a generator seeded
    /// with <paramref name="seed"/>), one f_i per step, lr_t = η/√t over the global step t. Returns x after half the
    /// epochs and after the last one; a non-finite x ends the run early and is returned as is (for both if early).
    /// </summary>
    /// <remarks>Both points are returned because convergence can be slow: before the first large gradient n is seen,
    /// Adam's bias-corrected v̂ is 1 and the first epoch kicks x right by up to ≈ 2η√n, while the net drift back is
    /// only ≈ lr/√(n+1) per epoch. Whether the distance to x* shrinks over the second half tells a slow convergence
    /// from a divergence.</remarks>
    public (double Half, double Final) RunAdam(double beta1, double beta2, double eta, int epochs, double x0, int seed, double eps = 1e-8)
    {
        var x = new float[] { (float)x0 };
        var opt = new ReferenceStepper(Algorithm.Adam, new Hyperparameters { Beta1 = beta1, Beta2 = beta2, Eps = eps, Lr = eta }, 1);
        var rng = new Random(seed);
        var order = Enumerable.Range(0, N).ToArray();
        var grad = new float[1];
        long t = 0;
        double half = double.NaN;
        for (int e = 0; e < epochs; e++)
        {
            if (e == epochs / 2) half = x[0];
            rng.Shuffle(order);
            foreach (int i in order)
            {
                t++;
                grad[0] = (float)Gradient(i, x[0]);
                opt.SetLr(eta / Math.Sqrt(t));
                opt.Step(x, grad);
                if (!float.IsFinite(x[0])) return (double.IsNaN(half) ? x[0] : half, x[0]);
            }
        }
        return (double.IsNaN(half) ? x[0] : half, x[0]);
    }
}
