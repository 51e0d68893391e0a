namespace CudaAdam.Reference;

/// <summary>
/// Stochastic gradient descent with momentum, dampening and Nesterov momentum, torch.optim.SGD
/// (1.13, <c>_single_tensor_sgd</c>; Nesterov as in Sutskever et al., ICML 2013):
/// <code>
/// g ← −g if maximize
/// g ← g + λ·x                               (L2 weight decay, COUPLED)
/// if μ ≠ 0:
///     b ← g                       at the first step (momentum_buffer created as a copy: NO dampening applied)
///     b ← μ·b + (1−τ)·g           afterwards
///     g ← g + μ·b   if nesterov,  else g ← b
/// x ← x − γ·g
/// </code>
/// Convention warnings: this is torch's "heavy ball" form with the learning rate OUTSIDE the buffer (Sutskever et al.
/// put it inside, which differs when γ changes). The buffer is created at the first step with momentum, as a copy of
/// the (decayed) gradient, in <see cref="ParamState.M"/>; dampening τ therefore does not act on the first step.
/// <para>Kernel: <c>kernels/baselines.cu</c>, <c>sgd_step</c> (its descriptor: <see cref="Algorithms"/>).</para>
/// </summary>
public static class SgdReference
{
    /// <inheritdoc cref="ReferenceStep"/>
    public static void Step(Span<float> param, ReadOnlySpan<float> grad, ParamState state, Hyperparameters hp, in StepScalars k)
    {
        float wd = (float)hp.WeightDecay, momentum = (float)hp.Momentum, oneMinusDampening = (float)(1 - hp.Dampening);
        float negLr = (float)-hp.Lr;
        bool useMomentum = hp.Momentum != 0;
        bool firstBuffer = false;
        if (useMomentum && state.M is null)
        {
            state.M = new float[param.Length];
            firstBuffer = true;
        }
        float[]? buf = state.M;
        for (int i = 0; i < param.Length; i++)
        {
            float g = Reference.Grad(grad, i, hp.Maximize);
            float x = param[i];
            if (hp.WeightDecay != 0) g = g + wd * x;
            if (useMomentum)
            {
                if (firstBuffer) buf![i] = g;
                else buf![i] = buf[i] * momentum + oneMinusDampening * g;
                g = hp.Nesterov ? g + momentum * buf[i] : buf[i];
            }
            param[i] = x + negLr * g;
        }
    }
}
