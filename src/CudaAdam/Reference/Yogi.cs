namespace CudaAdam.Reference;

/// <summary>
/// Yogi (Zaheer, Reddi, Sachan, Kale &amp; Kumar, "Adaptive Methods for Nonconvex Optimization", NeurIPS 2018,
/// Algorithm 2): Adam's second moment made additive, the fix the paper proposes for the non-convergence Reddi et al.
/// (2018) exhibit for Adam:
/// <code>
/// g ← −g if maximize
/// g ← g + λ·x                              (L2 weight decay, COUPLED)
/// m ← β1·m + (1−β1)·g
/// v ← v − (1−β2)·sign(v − g²)·g²           (Adam: v ← v − (1−β2)·(v − g²))
/// x ← x − γ · m / (sqrt(v) + ε)
/// </code>
/// Adam's v moves by (1−β2)·(v − g²), a step that grows with v − g²; Yogi's by (1−β2)·g² in the direction of g², so
/// when the gradients suddenly shrink the effective learning rate γ/sqrt(v) grows slowly instead of jumping.
/// Convention warnings: NO bias correction (the paper's Algorithm 2; some ports add Adam's 1 − β^t factors); v starts
/// at <c>initial_accumulator_value</c> (default 1e-6, the authors' TensorFlow code), not 0; ε defaults to 1e-3 (the
/// paper's choice, far larger than Adam's 1e-8) and is added OUTSIDE the sqrt; lr defaults to 1e-2. sign(±0) = ±0
/// (<see cref="Reference.Sign"/>), so v = g² leaves v unchanged. From v ≥ 0, v stays ≥ 0: if v &gt; g², v − (1−β2)g² &gt; v − g².
/// Not in torch.optim; optax has <c>optax.yogi</c>.
/// <para>Kernel: <c>kernels/adam.cu</c>, <c>yogi_step</c> (its descriptor: <see cref="Algorithms"/>).</para>
/// </summary>
public static class YogiReference
{
    /// <inheritdoc cref="ReferenceStep"/>
    public static void Step(Span<float> param, ReadOnlySpan<float> grad, ParamState state, Hyperparameters hp, in StepScalars k)
    {
        float[] m = state.M!, v = state.V!;
        float beta1 = (float)hp.Beta1, eps = (float)hp.Eps, wd = (float)hp.WeightDecay, lr = (float)hp.Lr;
        float oneMinusBeta1 = (float)(1 - hp.Beta1), oneMinusBeta2 = (float)(1 - hp.Beta2);
        for (int i = 0; i < param.Length; i++)
        {
            float g = Reference.Grad(grad, i, hp.Maximize);
            float x = param[i];
            if (hp.WeightDecay != 0) g = g + wd * x;
            m[i] = m[i] * beta1 + oneMinusBeta1 * g;
            float g2 = g * g;
            v[i] = v[i] - oneMinusBeta2 * Reference.Sign(v[i] - g2) * g2;
            param[i] = x - lr * (m[i] / (MathF.Sqrt(v[i]) + eps));
        }
    }
}
