namespace CudaAdam.Reference;

/// <summary>
/// Lion, EvoLved Sign Momentum (Chen et al., "Symbolic Discovery of Optimization Algorithms", NeurIPS 2023,
/// Program 1). Not in torch.optim.
/// <code>
/// g ← −g if maximize
/// c = β1·m + (1−β1)·g                       (the update direction interpolates momentum and gradient)
/// x ← x·(1 − γλ) − γ·sign(c)                (weight decay DECOUPLED, as AdamW)
/// m ← β2·m + (1−β2)·g                       (the momentum is updated AFTER, with a different β)
/// </code>
/// Convention warnings: two betas with different roles (defaults β1 = 0.9, β2 = 0.99); the decay multiplies the
/// old x before the sign step (order: x·(1−γλ), then − γ·sign(c)); the paper suggests γ 3–10× smaller and λ 3–10×
/// larger than AdamW's. sign(±0) = ±0 (<see cref="Reference.Sign"/>).
/// <para>Kernel: <c>kernels/sign.cu</c>, <c>lion_step</c> (its descriptor: <see cref="Algorithms"/>).</para>
/// </summary>
public static class LionReference
{
    /// <inheritdoc cref="ReferenceStep"/>
    public static void Step(Span<float> param, ReadOnlySpan<float> grad, ParamState state, Hyperparameters hp, in StepScalars k)
    {
        float[] m = state.M!;
        float beta1 = (float)hp.Beta1, beta2 = (float)hp.Beta2;
        float oneMinusBeta1 = (float)(1 - hp.Beta1), oneMinusBeta2 = (float)(1 - hp.Beta2);
        float lr = (float)hp.Lr, decay = (float)(1 - hp.Lr * hp.WeightDecay);
        for (int i = 0; i < param.Length; i++)
        {
            float g = Reference.Grad(grad, i, hp.Maximize);
            float c = m[i] * beta1 + oneMinusBeta1 * g;
            param[i] = param[i] * decay - lr * Reference.Sign(c);
            m[i] = m[i] * beta2 + oneMinusBeta2 * g;
        }
    }
}
