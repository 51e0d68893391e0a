namespace CudaAdam.Reference;

/// <summary>
/// RAdam (Liu et al., "On the Variance of the Adaptive Learning Rate and Beyond", ICLR 2020), torch.optim.RAdam
/// (1.13, <c>_single_tensor_radam</c>), with <c>maximize</c> and torch 2.1's opt-in <c>decoupled_weight_decay</c>:
/// <code>
/// g ← −g if maximize
/// x ← x·(1 − γλ)   if decoupled_weight_decay
/// g ← g + λ·x      otherwise                   (L2 weight decay, COUPLED)
/// m ← β1·m + (1−β1)·g
/// v ← β2·v + (1−β2)·g²
/// m̂ = m / (1−β1^t)
/// ρ∞ = 2/(1−β2) − 1,   ρ_t = ρ∞ − 2t·β2^t/(1−β2^t)
/// if ρ_t &gt; 5:  r_t = sqrt((ρ_t−4)(ρ_t−2)ρ∞ / ((ρ∞−4)(ρ∞−2)ρ_t)),  x ← x − γ · m̂ · sqrt(1−β2^t)/(sqrt(v)+ε) · r_t
/// else:        x ← x − γ · m̂                  (un-adapted SGD-with-momentum step; v is still updated)
/// </code>
/// Convention warnings: with the default β2 = 0.999 the first five steps (ρ_t ≤ 5) are plain momentum steps
/// of size γ·m̂, NOT normalized by v, so the step scales with the gradient. ε is added to sqrt(v) BEFORE the bias
/// correction sqrt(1−β2^t) is applied (torch), unlike Adam. Float32 order as torch:
/// <c>a = (1/(sqrt(v)+ε))·sqrt(bc2)</c> (a Python float divided by a tensor is reciprocal-then-multiply),
/// <c>x ← x − ((m̂·γ)·a)·r_t</c>.
/// <para>Kernel: <c>kernels/adam.cu</c>, <c>radam_step</c> (its descriptor: <see cref="Algorithms"/>).</para>
/// </summary>
public static class RAdamReference
{
    /// <inheritdoc cref="ReferenceStep"/>
    public static void Step(Span<float> param, ReadOnlySpan<float> grad, ParamState state, Hyperparameters hp, in StepScalars k)
    {
        float[] m = state.M!, v = state.V!;
        float beta1 = (float)hp.Beta1, beta2 = (float)hp.Beta2, eps = (float)hp.Eps, wd = (float)hp.WeightDecay;
        float oneMinusBeta1 = (float)(1 - hp.Beta1), oneMinusBeta2 = (float)(1 - hp.Beta2);
        float decay = (float)(1 - hp.Lr * hp.WeightDecay);
        float lr = (float)hp.Lr, bc1 = (float)k.BiasCorrection1, bc2Sqrt = (float)k.BiasCorrection2Sqrt, rect = (float)k.Rect;
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
            float mHat = m[i] / bc1;
            if (k.Rectified)
            {
                float adaptiveLr = 1f / (MathF.Sqrt(v[i]) + eps) * bc2Sqrt;
                param[i] = x - mHat * lr * adaptiveLr * rect;
            }
            else
            {
                param[i] = x - mHat * lr;
            }
        }
    }
}
