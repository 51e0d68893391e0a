namespace CudaAdam.Reference;

/// <summary>
/// AdaMax (Kingma &amp; Ba, "Adam: A Method for Stochastic Optimization", ICLR 2015, Section 7.1, Algorithm 2),
/// torch.optim.Adamax (1.13, <c>_single_tensor_adamax</c>):
/// <code>
/// g ← −g if maximize
/// g ← g + λ·x                              (L2 weight decay, COUPLED)
/// m ← β1·m + (1−β1)·g
/// u ← max(β2·u, |g| + ε)                   (exp_inf: the exponentially weighted infinity norm)
/// x ← x − (γ/(1−β1^t)) · m / u
/// </code>
/// Convention warnings: ε is added to |g| INSIDE the max (torch), not to the denominator as the paper's
/// u_t = max(β2·u, |g|) followed by a division would suggest; with ε = 0 and a zero gradient history the
/// division is 0/0. There is no bias correction of u. Float32 operation order as torch:
/// <c>x + ((−γ/(1−β1^t))·m)/u</c> (addcdiv).
/// <para>Kernel: <c>kernels/adam.cu</c>, <c>adamax_step</c> (its descriptor: <see cref="Algorithms"/>).</para>
/// </summary>
public static class AdaMaxReference
{
    /// <inheritdoc cref="ReferenceStep"/>
    public static void Step(Span<float> param, ReadOnlySpan<float> grad, ParamState state, Hyperparameters hp, in StepScalars k)
    {
        float[] m = state.M!, u = state.V!;
        float beta1 = (float)hp.Beta1, beta2 = (float)hp.Beta2, eps = (float)hp.Eps, wd = (float)hp.WeightDecay;
        float oneMinusBeta1 = (float)(1 - hp.Beta1);
        float negClr = (float)-k.StepSize;
        for (int i = 0; i < param.Length; i++)
        {
            float g = Reference.Grad(grad, i, hp.Maximize);
            float x = param[i];
            if (hp.WeightDecay != 0) g = g + wd * x;
            m[i] = m[i] * beta1 + oneMinusBeta1 * g;
            u[i] = MathF.Max(u[i] * beta2, MathF.Abs(g) + eps);
            param[i] = x + negClr * m[i] / u[i];
        }
    }
}
