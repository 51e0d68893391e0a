namespace CudaAdam.Reference;

/// <summary>
/// Adan, adaptive Nesterov momentum (Xie, Zhou, Li, Lin &amp; Yan, "Adan: Adaptive Nesterov Momentum Algorithm for Faster
/// Optimizing Deep Models", arXiv 2208.06677, 2022, Algorithm 1), in the convention of the authors' sail-sg/Adan
/// (<c>_single_tensor_adan</c>, the default proximal form): three moments — of the gradient, of the gradient DIFFERENCE,
/// and of the square of the Nesterov-corrected gradient — each bias-corrected.
/// <code>
/// g  ← −g if maximize
/// Δ  ← g − g_prev   (0 at the first step)
/// m  ← β1·m + (1−β1)·g                      (exp_avg)
/// v  ← β2·v + (1−β2)·Δ                      (exp_avg_diff)
/// n  ← β3·n + (1−β3)·(g + β2·Δ)²            (exp_avg_sq)
/// d  = sqrt(n)/sqrt(1−β3^t) + ε
/// x  ← [x − (γ/(1−β1^t))·m/d − (γ·β2/(1−β2^t))·v/d] / (1 + γλ)      (proximal weight decay)
/// g_prev ← g
/// </code>
/// Convention warnings: the paper's β's weigh the NEW term (its β1 = 0.02 is 1 − 0.98 here); the authors' code and this
/// one use the usual convention, defaults (0.98, 0.92, 0.99), and add the bias corrections the paper's box leaves out.
/// Weight decay is the paper's proximal step, a division by 1 + γλ after the update (sail-sg's no_prox = False; their
/// no_prox = True, x(1 − γλ) first, is not offered). The first step has Δ = 0 (sail-sg sets pre_grad = g then); the
/// state keeps g_prev itself (sail-sg keeps −g_prev as neg_pre_grad). The three 1 − β^t are computed with pow, as the
/// authors' code does: Adan has no device clock (the graph-capturable mode refuses it; the device clock keeps two
/// running products). Not in torch.optim. NumPy oracle: tests/oracle/numpy_optim/adan.py.
/// <para>Kernel: <c>kernels/adam.cu</c>, <c>adan_step</c> (its descriptor: <see cref="Algorithms"/>).</para>
/// </summary>
public static class AdanReference
{
    /// <inheritdoc cref="ReferenceStep"/>
    public static void Step(Span<float> param, ReadOnlySpan<float> grad, ParamState state, Hyperparameters hp, in StepScalars k)
    {
        float[] m = state.M!, n = state.V!, v = state.VMax!, pre = state.Aux!;
        float beta1 = (float)hp.Beta1, beta2 = (float)hp.Beta2, beta3 = (float)hp.Beta3, eps = (float)hp.Eps;
        float oneMinusBeta1 = (float)(1 - hp.Beta1), oneMinusBeta2 = (float)(1 - hp.Beta2), oneMinusBeta3 = (float)(1 - hp.Beta3);
        float stepSize = (float)k.StepSize, stepSizeDiff = (float)k.AdanStepSizeDiff, bc3Sqrt = (float)k.AdanBc3Sqrt;
        float prox = (float)(1 + hp.Lr * hp.WeightDecay), diffScale = k.Step == 1 ? 0f : 1f;
        for (int i = 0; i < param.Length; i++)
        {
            float g = Reference.Grad(grad, i, hp.Maximize);
            float diff = (g - pre[i]) * diffScale;
            m[i] = m[i] * beta1 + oneMinusBeta1 * g;
            v[i] = v[i] * beta2 + oneMinusBeta2 * diff;
            float u = diff * beta2 + g;
            n[i] = n[i] * beta3 + oneMinusBeta3 * u * u;
            float denom = MathF.Sqrt(n[i]) / bc3Sqrt + eps;
            float x = param[i] + -stepSize * (m[i] / denom);
            x = x + -stepSizeDiff * (v[i] / denom);
            if (hp.WeightDecay != 0) x = x / prox;
            param[i] = x;
            pre[i] = g;
        }
    }
}
