namespace CudaAdam.Reference;

/// <summary>
/// AdaBelief (Zhuang, Tang, Ding, Tatikonda, Dvornek, Papademetris &amp; Duncan, "AdaBelief Optimizer: Adapting Stepsizes
/// by the Belief in Observed Gradients", NeurIPS 2020, Algorithm 2): Adam whose second moment is the EMA of the squared
/// deviation of g from its EMA, (g − m)², the "belief" in the gradient, instead of g².
/// <code>
/// g ← −g if maximize
/// x ← x·(1 − γλ)  (decoupled, the default: decoupled_weight_decay)   or   g ← g + λ·x  (coupled L2)
/// m ← β1·m + (1−β1)·g
/// s ← β2·s + (1−β2)·(g − m)² + ε                 (ε INSIDE the state: added to s every step)
/// s̄ ← max(s̄, s)  if amsgrad, else s̄ = s
/// x ← x − (γ/(1−β1^t)) · m / (sqrt(s̄)/sqrt(1−β2^t) + ε)
/// </code>
/// Convention warnings: ε appears TWICE, added to the state s each step (and so bias-corrected with it) and again
/// outside the sqrt, as in the paper's Algorithm 2 and the authors' adabelief-pytorch (<c>exp_avg_var.add_(eps)</c>); its
/// default is 1e-16 (the authors'), not Adam's 1e-8. The deviation uses the UPDATED m. Weight decay is decoupled by default
/// (adabelief-pytorch's <c>weight_decouple=True</c>; here <c>decoupled_weight_decay</c>, false gives L2). This is the paper's
/// box: adabelief-pytorch ≥ 0.1 defaults to <c>rectify=True</c> (RAdam's rectification), which is NOT done here
/// (optax.adabelief does not rectify either). Not in torch.optim. NumPy oracle: tests/oracle/numpy_optim.py.
/// <para>Kernel: <c>kernels/adam.cu</c>, <c>adabelief_step</c> (its descriptor: <see cref="Algorithms"/>).</para>
/// </summary>
public static class AdaBeliefReference
{
    /// <inheritdoc cref="ReferenceStep"/>
    public static void Step(Span<float> param, ReadOnlySpan<float> grad, ParamState state, Hyperparameters hp, in StepScalars k)
    {
        float[] m = state.M!, s = state.V!;
        float[]? smax = state.VMax;
        float beta1 = (float)hp.Beta1, beta2 = (float)hp.Beta2, eps = (float)hp.Eps, wd = (float)hp.WeightDecay;
        float oneMinusBeta1 = (float)(1 - hp.Beta1), oneMinusBeta2 = (float)(1 - hp.Beta2);
        float decay = (float)(1 - hp.Lr * hp.WeightDecay);
        float bc2Sqrt = (float)k.BiasCorrection2Sqrt, stepSize = (float)k.StepSize;
        for (int i = 0; i < param.Length; i++)
        {
            float g = Reference.Grad(grad, i, hp.Maximize);
            float x = param[i];
            if (hp.DecoupledWeightDecay) x = x * decay;
            else if (hp.WeightDecay != 0) g = g + wd * x;
            m[i] = m[i] * beta1 + oneMinusBeta1 * g;
            float r = g - m[i];
            s[i] = s[i] * beta2 + oneMinusBeta2 * r * r;
            s[i] = s[i] + eps;
            float sHat = s[i];
            if (smax != null)
            {
                smax[i] = MathF.Max(smax[i], s[i]);
                sHat = smax[i];
            }
            float denom = MathF.Sqrt(sHat) / bc2Sqrt + eps;
            param[i] = x + -stepSize * (m[i] / denom);
        }
    }
}
