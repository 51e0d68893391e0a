namespace CudaAdam.Reference;

/// <summary>
/// NAdam (Dozat, "Incorporating Nesterov Momentum into Adam", ICLR 2016 workshop), torch.optim.NAdam
/// (1.13, <c>_single_tensor_nadam</c>), with <c>maximize</c> and torch 2.1's opt-in <c>decoupled_weight_decay</c>:
/// <code>
/// g ← −g if maximize
/// x ← x·(1 − γλ)   if decoupled_weight_decay   (NAdamW)
/// g ← g + λ·x      otherwise                   (L2 weight decay, COUPLED)
/// μ_t = β1·(1 − ½·0.96^(t·ψ)),   μ_{t+1} likewise,   Π_t = Π_{i≤t} μ_i,   Π_{t+1} = Π_t·μ_{t+1}
/// m ← β1·m + (1−β1)·g
/// v ← β2·v + (1−β2)·g²
/// d = sqrt(v / (1−β2^t)) + ε
/// x ← x − (γ(1−μ_t)/(1−Π_t)) · g / d − (γ μ_{t+1}/(1−Π_{t+1})) · m / d
/// </code>
/// Convention warnings: the moment m is updated with the constant β1, the schedule μ_t only weighs the update
/// (torch and the paper). ε is outside the sqrt, after bias correction. Π_{t+1} = Π_t·μ_{t+1} as in the paper,
/// torch ≥ 2.0 and torch 1.13's foreach path; torch 1.13's single-tensor path computes Π_t·μ_t·μ_{t+1}, a bug
/// fixed in pytorch/pytorch#92699, so compare against torch 1.13 with <c>foreach=True</c>. torch 1.13 keeps
/// Π_t in a float32 tensor; here (as every backend) it is a float64 running product (<see cref="StepScalars"/>).
/// Float32 order: d = sqrt(v / bc2) + ε; x ← x + (−c1·g)/d, then x ← x + (−c2·m)/d (two addcdiv, in that order).
/// <para>Kernel: <c>kernels/adam.cu</c>, <c>nadam_step</c> (its descriptor: <see cref="Algorithms"/>).</para>
/// </summary>
public static class NAdamReference
{
    /// <inheritdoc cref="ReferenceStep"/>
    public static void Step(Span<float> param, ReadOnlySpan<float> grad, ParamState state, Hyperparameters hp, in StepScalars k)
    {
        float[] m = state.M!, v = state.V!;
        float beta1 = (float)hp.Beta1, beta2 = (float)hp.Beta2, eps = (float)hp.Eps, wd = (float)hp.WeightDecay;
        float oneMinusBeta1 = (float)(1 - hp.Beta1), oneMinusBeta2 = (float)(1 - hp.Beta2);
        float decay = (float)(1 - hp.Lr * hp.WeightDecay);
        float bc2 = (float)k.BiasCorrection2;
        float negGradStep = (float)-k.NAdamGradStep, negMomentumStep = (float)-k.NAdamMomentumStep;
        for (int i = 0; i < param.Length; i++)
        {
            float g = Reference.Grad(grad, i, hp.Maximize);
            float x = param[i];
            if (hp.WeightDecay != 0)
            {
                if (hp.DecoupledWeightDecay) x = x * decay;
                else g = g + wd * x;
            }
            m[i] = m[i] * beta1 + oneMinusBeta1 * g;
            v[i] = v[i] * beta2 + oneMinusBeta2 * g * g;
            float denom = MathF.Sqrt(v[i] / bc2) + eps;
            x = x + negGradStep * g / denom;
            param[i] = x + negMomentumStep * m[i] / denom;
        }
    }
}
