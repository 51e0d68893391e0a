namespace CudaAdam.Reference;

/// <summary>
/// AdEMAMix (Pagliardini, Ablin &amp; Grangier, "The AdEMAMix Optimizer: Better, Faster, Older", arXiv 2409.03137, 2024,
/// Algorithm 1; the schedules of the authors' apple/ml-ademamix): AdamW whose numerator mixes in a SLOW EMA of the
/// gradient, m2 with β3 ≈ 0.9999, weighted by α, so that gradients thousands of steps old still count.
/// <code>
/// g  ← −g if maximize
/// x  ← x·(1 − γλ)                                    (weight decay DECOUPLED, as AdamW)
/// m1 ← β1·m1 + (1−β1)·g                              (fast EMA, bias-corrected)
/// m2 ← β3(t)·m2 + (1−β3(t))·g                        (slow EMA, NOT bias-corrected)
/// ν  ← β2·ν + (1−β2)·g²
/// d  = sqrt(ν)/sqrt(1−β2^t) + ε
/// x  ← x − (γ/(1−β1^t))·(m1/d) − (γ·α(t))·(m2/d)
/// α(t)  = α·min(1, t/T_α)                            (alpha_warmup T_α; none: α)
/// β3(t) = f⁻¹((1 − t/T_β3)·f(β1) + (t/T_β3)·f(β3)) for t &lt; T_β3, else β3;  f(β) = ln ½ / ln(β + 10⁻⁸) − 1, f⁻¹(h) = ½^(1/(h+1))
/// </code>
/// Convention warnings: the paper's θ ← θ − η((m̂1 + α m2)/d + λθ) and the authors' code (update += λ·p; p −= lr·update)
/// are written here as AdamW writes them, x(1 − γλ) first and the two terms of the numerator as two products, so that
/// with α = 0 the step is bitwise AdamW's (Adam's with λ = 0). The slow EMA has no bias correction (the paper's choice:
/// the warmups stand in for it). The β3 warmup is linear in the half-life (f), from β1. Defaults are the authors' code's
/// (α = 2, β3 = 0.9999, no warmups; the paper's experiments use α in 4 … 10 with T_α = T_β3 = the run's length).
/// With a warmup the schedules need log and pow, so such a step is clocked on the host only (no device clock).
/// Not in torch.optim. NumPy oracle: tests/oracle/numpy_optim.py.
/// <para>Kernel: <c>kernels/adam.cu</c>, <c>ademamix_step</c> (its descriptor: <see cref="Algorithms"/>).</para>
/// </summary>
public static class AdEMAMixReference
{
    /// <inheritdoc cref="ReferenceStep"/>
    public static void Step(Span<float> param, ReadOnlySpan<float> grad, ParamState state, Hyperparameters hp, in StepScalars k)
    {
        float[] m1 = state.M!, nu = state.V!, m2 = state.Aux!;
        float beta1 = (float)hp.Beta1, beta2 = (float)hp.Beta2, eps = (float)hp.Eps;
        float oneMinusBeta1 = (float)(1 - hp.Beta1), oneMinusBeta2 = (float)(1 - hp.Beta2);
        float beta3 = (float)k.AdemamixBeta3, oneMinusBeta3 = (float)(1 - k.AdemamixBeta3);
        float decay = (float)(1 - hp.Lr * hp.WeightDecay);
        float bc2Sqrt = (float)k.BiasCorrection2Sqrt, stepSize = (float)k.StepSize;
        float slowStep = (float)hp.Lr * (float)k.AdemamixAlpha;   // float32, as the kernel (lr is clocked on the device)
        bool decoupled = hp.WeightDecay != 0;
        for (int i = 0; i < param.Length; i++)
        {
            float g = Reference.Grad(grad, i, hp.Maximize);
            float x = param[i];
            if (decoupled) x = x * decay;
            m1[i] = m1[i] * beta1 + oneMinusBeta1 * g;
            m2[i] = m2[i] * beta3 + oneMinusBeta3 * g;
            nu[i] = nu[i] * beta2 + oneMinusBeta2 * g * g;
            float denom = MathF.Sqrt(nu[i]) / bc2Sqrt + eps;
            x = x + -stepSize * (m1[i] / denom);
            param[i] = x - slowStep * (m2[i] / denom);
        }
    }
}
