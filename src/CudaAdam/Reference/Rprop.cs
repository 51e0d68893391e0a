namespace CudaAdam.Reference;

/// <summary>
/// Rprop, resilient backpropagation (Riedmiller &amp; Braun, "A Direct Adaptive Method for Faster Backpropagation
/// Learning: The RPROP Algorithm", IEEE ICNN 1993), with torch.optim.Rprop's conventions (torch 1.13,
/// <c>_single_tensor_rprop</c>): a per-coordinate step size that grows while the gradient keeps its sign and shrinks
/// when it flips; the update uses only the SIGN of the gradient — the original sign method.
/// <code>
/// g ← −g if maximize
/// s ← g · g_prev                                      (float32; only its sign is used)
/// η ← η+ if s &gt; 0,  η− if s &lt; 0,  else 1         (s = ±0 or NaN)
/// Δ ← clamp(Δ·η, Γmin, Γmax)                         (Δ starts at lr)
/// g ← 0 where η = η−                                 (after a sign change: no move, and g_prev = 0 next step)
/// x ← x − sign(g)·Δ                                  (torch's sign: +1, −1, or 0 for ±0 and NaN)
/// g_prev ← g
/// </code>
/// Convention warnings: this is torch's Rprop−-style variant (no weight backtracking, unlike the paper's Rprop+): a
/// coordinate whose gradient changed sign does not move this step and forgets its gradient, so the next step neither
/// grows nor shrinks its Δ. lr only sets the initial step size Δ_0 (the state <c>step_size</c>, filled with lr when the
/// state is created); changing lr later has no effect. No weight decay and no ε (torch has neither). Γmin, Γmax and the
/// η's are rounded to float32 as torch's tensor ops round them. torch's sign maps NaN to 0 (<see cref="TorchSign"/>, not
/// <see cref="Reference.Sign"/>), so under the propagate policy a NaN gradient leaves its coordinate and step size as they
/// were and is kept as g_prev, which makes the next step's η 1; ±inf acts as ±1.
/// State (torch's names): <c>prev</c> in <see cref="ParamState.M"/>, <c>step_size</c> in <see cref="ParamState.V"/>.
/// <para>Kernel: <c>kernels/sign.cu</c>, <c>rprop_step</c> (its descriptor: <see cref="Algorithms"/>).</para>
/// </summary>
public static class RpropReference
{
    /// <inheritdoc cref="ReferenceStep"/>
    public static void Step(Span<float> param, ReadOnlySpan<float> grad, ParamState state, Hyperparameters hp, in StepScalars k)
    {
        float[] prev = state.M!, stepSize = state.V!;
        float etaminus = (float)hp.Etaminus, etaplus = (float)hp.Etaplus;
        float min = (float)hp.StepSizeMin, max = (float)hp.StepSizeMax;
        for (int i = 0; i < param.Length; i++)
        {
            float g = Reference.Grad(grad, i, hp.Maximize);
            float s = g * prev[i];
            float eta = s > 0 ? etaplus : s < 0 ? etaminus : 1f;   // s ±0 or NaN: torch's sign(s) = 0
            stepSize[i] = Clamp(stepSize[i] * eta, min, max);
            if (eta == etaminus) g = 0f;
            param[i] = param[i] - TorchSign(g) * stepSize[i];
            prev[i] = g;
        }
    }

    /// <summary>torch's sign: +1, −1, or +0 for ±0 and NaN (torch 1.13's <c>Tensor.sign</c>).</summary>
    internal static float TorchSign(float x) => x > 0 ? 1f : x < 0 ? -1f : 0f;

    /// <summary>torch's clamp_(min, max): NaN stays NaN, else max(min(x, hi), lo) in that order of tests.</summary>
    internal static float Clamp(float x, float lo, float hi) => x < lo ? lo : x > hi ? hi : x;
}
