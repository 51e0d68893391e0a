namespace CudaAdam.Reference;

/// <summary>
/// AdaGrad (Duchi, Hazan &amp; Singer, "Adaptive Subgradient Methods for Online Learning and Stochastic Optimization",
/// JMLR 2011), diagonal form, torch.optim.Adagrad (1.13, <c>_single_tensor_adagrad</c>, dense gradients):
/// <code>
/// g ← −g if maximize
/// g ← g + λ·x                               (L2 weight decay, COUPLED)
/// γ_t = γ / (1 + (t−1)·η)                   (lr_decay η)
/// s ← s + g²                                 (s starts at initial_accumulator_value)
/// x ← x − γ_t · g / (sqrt(s) + ε)
/// </code>
/// Convention warnings: ε is OUTSIDE the sqrt (torch; Duchi et al. add δ likewise). Default ε = 1e-10, not 1e-8.
/// Float32 order as torch: <c>x + ((−γ_t)·g)/(sqrt(s)+ε)</c> (addcdiv).
/// <para>Kernel: <c>kernels/baselines.cu</c>, <c>adagrad_step</c> (its descriptor: <see cref="Algorithms"/>).</para>
/// </summary>
public static class AdaGradReference
{
    /// <inheritdoc cref="ReferenceStep"/>
    public static void Step(Span<float> param, ReadOnlySpan<float> grad, ParamState state, Hyperparameters hp, in StepScalars k)
    {
        float[] sum = state.V!;
        float wd = (float)hp.WeightDecay, eps = (float)hp.Eps;
        float negClr = (float)-k.Clr;
        for (int i = 0; i < param.Length; i++)
        {
            float g = Reference.Grad(grad, i, hp.Maximize);
            float x = param[i];
            if (hp.WeightDecay != 0) g = g + wd * x;
            sum[i] = sum[i] + g * g;
            float std = MathF.Sqrt(sum[i]) + eps;
            param[i] = x + negClr * g / std;
        }
    }
}
