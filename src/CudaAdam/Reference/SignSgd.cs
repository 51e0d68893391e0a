namespace CudaAdam.Reference;

/// <summary>
/// signSGD (Bernstein, Wang, Azizzadenesheli &amp; Anandkumar, "signSGD: Compressed Optimisation for Non-Convex
/// Problems", ICML 2018, Algorithm 1). Not in torch.optim.
/// <code>
/// g ← −g if maximize
/// g ← g + λ·x                               (L2 weight decay, COUPLED: inside the sign)
/// x ← x − γ·sign(g)
/// </code>
/// Convention warnings: sign(±0) = ±0 (<see cref="Reference.Sign"/>), so a zero gradient leaves x unchanged
/// (the paper's sign(0) is arbitrary). Because weight decay sits inside the sign, a large λ·x dominates g.
/// <para>Kernel: <c>kernels/sign.cu</c>, <c>signsgd_step</c> (its descriptor: <see cref="Algorithms"/>).</para>
/// </summary>
public static class SignSgdReference
{
    /// <inheritdoc cref="ReferenceStep"/>
    public static void Step(Span<float> param, ReadOnlySpan<float> grad, ParamState state, Hyperparameters hp, in StepScalars k)
    {
        float wd = (float)hp.WeightDecay, lr = (float)hp.Lr;
        for (int i = 0; i < param.Length; i++)
        {
            float g = Reference.Grad(grad, i, hp.Maximize);
            float x = param[i];
            if (hp.WeightDecay != 0) g = g + wd * x;
            param[i] = x - lr * Reference.Sign(g);
        }
    }
}
