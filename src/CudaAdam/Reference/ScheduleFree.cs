namespace CudaAdam.Reference;

/// <summary>
/// Schedule-Free AdamW (Defazio, Yang, Mehta, Mishchenko, Khaled &amp; Cutkosky, "The Road Less Scheduled", NeurIPS
/// 2024, Algorithm 1; the authors' facebookresearch/schedule_free <c>AdamWScheduleFree</c>, whose single-tensor path this
/// transcribes). Three sequences: z (the base AdamW-like iterate, SGD-style steps), x (the weighted average of the z,
/// the evaluation point) and y = (1−β1)·z + β1·x (where the gradient is taken, kept in the parameter while training):
/// <code>
/// k = t − 1;  γ_t = γ·min(1, t/warmup_steps);  lr_max ← max(lr_max, γ_t);  w_t = t^r · lr_max^weight_lr_power
/// weight_sum ← weight_sum + w_t;  c = w_t / weight_sum  (0 when weight_sum = 0)
/// v ← β2 v + (1−β2) g²;   d = sqrt(v / (1 − β2^t)) + ε                       (ε OUTSIDE the sqrt, v bias-corrected)
/// u = g / d + λ·y                                                              (weight decay at y, in the normalized step)
/// y ← lerp(y, z, c) + γ_t·(β1·(1 − c) − 1)·u                                   (y without forming x)
/// z ← z − γ_t·u
/// </code>
/// Schedule-Free SGD (<c>SGDScheduleFree</c>) is the same with u = g + λ·y and β = momentum: <see cref="SgdScheduleFreeReference"/>.
/// Convention warnings: the parameter holds y while training and x after <see cref="Optimizer.Eval"/> (x = lerp(y, z,
/// 1 − 1/β)); <see cref="Optimizer.Train"/> goes back (y = lerp(x, z, 1 − β)); a step in eval mode is refused, as the
/// reference raises. No first moment: β1 is the interpolation weight, not a momentum (the reference's later
/// <c>inner_momentum</c> option is not offered). β2^t is the running product (the reference uses <c>beta2 ** (k+1)</c>);
/// t, lr_max and weight_sum are per parameter (the reference keeps them per group: the same when every parameter
/// has a gradient every step). z is created on the first step as a copy of the parameter (torch.clone). lerp is torch's
/// (<see cref="ScheduleFreeReference.Lerp"/>). Not in torch.optim. Defaults: lr 0.0025 (AdamW) / 1.0 (SGD), betas (0.9, 0.999), momentum 0.9,
/// eps 1e-8, weight_decay 0, warmup_steps 0, r 0, weight_lr_power 2.
/// <para>Kernel: <c>kernels/schedulefree.cu</c>, <c>adamw_schedulefree_step</c> (its descriptor: <see cref="Algorithms"/>).</para>
/// </summary>
public static class AdamWScheduleFreeReference
{
    /// <summary>One step of Schedule-Free AdamW.</summary>
    public static void Step(Span<float> param, ReadOnlySpan<float> grad, ParamState state, Hyperparameters hp, in StepScalars k)
    {
        float[] z = ScheduleFreeReference.FirstZ(param, state), v = state.V!;
        float beta2 = (float)hp.Beta2, oneMinusBeta2 = (float)(1 - hp.Beta2), eps = (float)hp.Eps, wd = (float)hp.WeightDecay;
        float bc2 = (float)k.BiasCorrection2, ckp1 = (float)k.Ckp1, yStep = (float)k.ScheduleFreeYStep, lr = (float)k.ScheduledLr;
        for (int i = 0; i < param.Length; i++)
        {
            float g = Reference.Grad(grad, i, hp.Maximize);
            float y = param[i];
            v[i] = v[i] * beta2 + oneMinusBeta2 * g * g;
            float d = MathF.Sqrt(v[i] / bc2) + eps;
            float u = g / d;
            if (hp.WeightDecay != 0) u = u + wd * y;
            float zi = z[i];
            param[i] = ScheduleFreeReference.Lerp(y, zi, ckp1) + yStep * u;
            z[i] = zi - lr * u;
        }
    }
}

/// <summary>
/// Schedule-Free SGD (Defazio et al. 2024; facebookresearch/schedule_free <c>SGDScheduleFree</c>, single-tensor path):
/// the sequences, schedule and weights of <see cref="AdamWScheduleFreeReference"/> with the plain gradient as the step
/// and β = momentum:
/// <code>
/// u = g + λ·y                                  (L2 weight decay at y, COUPLED into g)
/// y ← lerp(y, z, c) + γ_t·(β·(1 − c) − 1)·u
/// z ← z − γ_t·u
/// </code>
/// Convention warnings as Schedule-Free AdamW's. Defaults: lr 1.0, momentum 0.9. With momentum 0, y = z and the step
/// is SGD's, bit for bit (y + (−γ)·u).
/// <para>Kernel: <c>kernels/schedulefree.cu</c>, <c>sgd_schedulefree_step</c> (its descriptor: <see cref="Algorithms"/>).</para>
/// </summary>
public static class SgdScheduleFreeReference
{
    /// <summary>One step of Schedule-Free SGD.</summary>
    public static void Step(Span<float> param, ReadOnlySpan<float> grad, ParamState state, Hyperparameters hp, in StepScalars k)
    {
        float[] z = ScheduleFreeReference.FirstZ(param, state);
        float wd = (float)hp.WeightDecay;
        float ckp1 = (float)k.Ckp1, yStep = (float)k.ScheduleFreeYStep, lr = (float)k.ScheduledLr;
        for (int i = 0; i < param.Length; i++)
        {
            float u = Reference.Grad(grad, i, hp.Maximize);
            float y = param[i];
            if (hp.WeightDecay != 0) u = u + wd * y;
            float zi = z[i];
            param[i] = ScheduleFreeReference.Lerp(y, zi, ckp1) + yStep * u;
            z[i] = zi - lr * u;
        }
    }
}

/// <summary>What both Schedule-Free references share: z's creation, torch's lerp, and the train()/eval() switch.</summary>
public static class ScheduleFreeReference
{
    /// <summary>z, created on the first step as a copy of the parameter (the reference's <c>torch.clone(p)</c>).</summary>
    internal static float[] FirstZ(Span<float> param, ParamState state) => state.M ??= param.ToArray();

    /// <summary>torch's lerp in float32 (ATen's <c>lerp</c>): a + w·(b − a) when |w| &lt; 0.5, else b − (b − a)·(1 − w); exact
    /// at both ends (w = 0 gives a, w = 1 gives b).</summary>
    public static float Lerp(float a, float b, float w) => MathF.Abs(w) < 0.5f ? a + w * (b - a) : b - (b - a) * (1f - w);

    /// <summary>The mode switch of the reference's <c>eval()</c> / <c>train()</c> on one parameter: p ← lerp(p, z, w) with
    /// w = 1 − 1/β (to x) or 1 − β (to y), w rounded to float32 as torch's lerp_ takes a Python float.</summary>
    public static void Interpolate(Span<float> param, ReadOnlySpan<float> z, double beta, bool toEval)
    {
        float w = (float)(toEval ? 1 - 1 / beta : 1 - beta);
        for (int i = 0; i < param.Length; i++) param[i] = Lerp(param[i], z[i], w);
    }
}
