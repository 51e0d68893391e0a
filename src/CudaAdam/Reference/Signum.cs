namespace CudaAdam.Reference;

/// <summary>
/// Signum, sign descent on momentum (Bernstein et al., "signSGD: Compressed Optimisation for Non-Convex Problems",
/// ICML 2018, Algorithm 3). Not in torch.optim.
/// <code>
/// g ← −g if maximize
/// g ← g + λ·x                               (L2 weight decay, COUPLED: it passes through m)
/// m ← β·m + (1−β)·g                         (β = <see cref="Hyperparameters.Momentum"/>, an EMA: m starts at 0)
/// x ← x − γ·sign(m)
/// </code>
/// Convention warnings: the momentum is an exponential moving average (the paper's form), not torch SGD's
/// heavy-ball sum; under sign() the scale does not matter but the first step is sign((1−β)·g) = sign(g).
/// sign(±0) = ±0 (<see cref="Reference.Sign"/>). With β = 0 this is <see cref="SignSgdReference"/>.
/// <para>Kernel: <c>kernels/sign.cu</c>, <c>signum_step</c> (its descriptor: <see cref="Algorithms"/>).</para>
/// </summary>
public static class SignumReference
{
    /// <inheritdoc cref="ReferenceStep"/>
    public static void Step(Span<float> param, ReadOnlySpan<float> grad, ParamState state, Hyperparameters hp, in StepScalars k)
    {
        float[] m = state.M!;
        float wd = (float)hp.WeightDecay, lr = (float)hp.Lr;
        float beta = (float)hp.Momentum, oneMinusBeta = (float)(1 - hp.Momentum);
        for (int i = 0; i < param.Length; i++)
        {
            float g = Reference.Grad(grad, i, hp.Maximize);
            float x = param[i];
            if (hp.WeightDecay != 0) g = g + wd * x;
            m[i] = m[i] * beta + oneMinusBeta * g;
            param[i] = x - lr * Reference.Sign(m[i]);
        }
    }
}
