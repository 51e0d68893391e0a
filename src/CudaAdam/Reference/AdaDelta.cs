namespace CudaAdam.Reference;

/// <summary>
/// AdaDelta (Zeiler, "ADADELTA: An Adaptive Learning Rate Method", 2012, Algorithm 1), torch.optim.Adadelta
/// (1.13, <c>_single_tensor_adadelta</c>):
/// <code>
/// g ← −g if maximize
/// g ← g + λ·x                               (L2 weight decay, COUPLED)
/// s ← ρ·s + (1−ρ)·g²
/// Δ = sqrt(a + ε) / sqrt(s + ε) · g
/// a ← ρ·a + (1−ρ)·Δ²
/// x ← x − γ·Δ
/// </code>
/// Convention warnings: ε is INSIDE both square roots (as in the paper), unlike the Adam family. torch adds a
/// learning rate γ (default 1.0) that the paper does not have. The default ε is 1e-6.
/// Float32 order as torch: <c>Δ = (sqrt(a+ε)/sqrt(s+ε))·g</c>.
/// <para>Kernel: <c>kernels/baselines.cu</c>, <c>adadelta_step</c> (its descriptor: <see cref="Algorithms"/>).</para>
/// </summary>
public static class AdaDeltaReference
{
    /// <inheritdoc cref="ReferenceStep"/>
    public static void Step(Span<float> param, ReadOnlySpan<float> grad, ParamState state, Hyperparameters hp, in StepScalars k)
    {
        float[] squareAvg = state.V!, accDelta = state.Aux!;
        float wd = (float)hp.WeightDecay, eps = (float)hp.Eps, rho = (float)hp.Rho, oneMinusRho = (float)(1 - hp.Rho);
        float negLr = (float)-hp.Lr;
        for (int i = 0; i < param.Length; i++)
        {
            float g = Reference.Grad(grad, i, hp.Maximize);
            float x = param[i];
            if (hp.WeightDecay != 0) g = g + wd * x;
            squareAvg[i] = squareAvg[i] * rho + oneMinusRho * g * g;
            float std = MathF.Sqrt(squareAvg[i] + eps);
            float delta = MathF.Sqrt(accDelta[i] + eps) / std * g;
            accDelta[i] = accDelta[i] * rho + oneMinusRho * delta * delta;
            param[i] = x + negLr * delta;
        }
    }
}
