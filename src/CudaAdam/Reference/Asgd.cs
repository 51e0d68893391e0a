namespace CudaAdam.Reference;

/// <summary>
/// Averaged SGD (Polyak &amp; Juditsky, "Acceleration of Stochastic Approximation by Averaging", SIAM J. Control Optim.
/// 30(4), 1992; the step-size schedule of Bottou, "Stochastic Gradient Descent Tricks", 2012), with torch.optim.ASGD's
/// conventions (torch 1.13, <c>_single_tensor_asgd</c>):
/// <code>
/// g  ← −g if maximize
/// g  ← g + λ_wd·x                        (weight decay COUPLED as L2)
/// x  ← x·(1 − λ·η_t)                     (the decay term, λ = lambd)
/// x  ← x − η_t·g
/// ax ← ax + μ_t·(x − ax)  if μ_t ≠ 1,  else ax ← x      (the Polyak–Ruppert average; μ_t = 1 until t0)
/// η_{t+1} = lr / (1 + λ·lr·t)^α,   μ_{t+1} = 1 / max(1, t − t0)
/// </code>
/// Convention warnings: the averaged iterate <c>ax</c> is only kept in the state, never put into the parameters (torch
/// does the same: a user evaluates with ax). η and μ are per-parameter STATE (float32, as torch's 0-dim tensors), set
/// at the end of each step from that step's lr: a changed lr acts one step late, and η_1 = lr. With t0 = 10^6 (the
/// default) μ stays 1 and ax simply copies x. 1 − λη is computed in double and rounded once (torch's Python float).
/// <para>Kernel: <c>kernels/baselines.cu</c>, <c>asgd_step</c> (its descriptor: <see cref="Algorithms"/>).</para>
/// </summary>
public static class AsgdReference
{
    /// <inheritdoc cref="ReferenceStep"/>
    public static void Step(Span<float> param, ReadOnlySpan<float> grad, ParamState state, Hyperparameters hp, in StepScalars k)
    {
        float[] ax = state.M!;
        float wd = (float)hp.WeightDecay, decay = (float)(1 - hp.Lambd * k.AsgdEta), eta = (float)k.AsgdEta, mu = (float)k.AsgdMu;
        for (int i = 0; i < param.Length; i++)
        {
            float g = Reference.Grad(grad, i, hp.Maximize);
            float x = param[i];
            if (hp.WeightDecay != 0) g = g + wd * x;
            x = x * decay;
            x = x - eta * g;
            param[i] = x;
            ax[i] = mu != 1f ? ax[i] + (x - ax[i]) * mu : x;
        }
    }
}
