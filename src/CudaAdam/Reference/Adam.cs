namespace CudaAdam.Reference;

/// <summary>
/// Adam (Kingma &amp; Ba, "Adam: A Method for Stochastic Optimization", ICLR 2015, Algorithm 1) with torch.optim.Adam's
/// conventions, and AMSGrad (Reddi, Kale &amp; Kumar, ICLR 2018) when <c>amsgrad</c> is set.
/// <code>
/// g  ← −g if maximize
/// g  ← g + λ·x                           (weight decay COUPLED as L2: it passes through m and v)
/// m  ← β1·m + (1−β1)·g
/// v  ← β2·v + (1−β2)·g²
/// v̄  ← max(v̄, v)  if amsgrad, else v̄ = v
/// x  ← x − (γ/(1−β1^t)) · m / (sqrt(v̄)/sqrt(1−β2^t) + ε)
/// </code>
/// With <see cref="Hyperparameters.BiasCorrection"/> off both factors are exactly 1 (<see cref="StepScalars.Advance"/>):
/// <c>x ← x − γ · m / (sqrt(v̄) + ε)</c>, RMSProp with momentum on the running mean of g (Kingma &amp; Ba 2015, Fig. 4's
/// "no bias correction"; note torch's RMSProp with momentum is different: it keeps b ← μb + g/(sqrt(v)+ε) instead of m).
/// Convention warnings: ε is added OUTSIDE the sqrt and AFTER bias correction of v (torch; the paper writes
/// m̂/(sqrt(v̂)+ε), which is the same thing). Weight decay here is L2, not AdamW's decoupled decay.
/// AMSGrad, as in torch.optim, keeps the maximum of the UNcorrected v and divides it by sqrt(1−β2^t).
/// <para>Kernel: <c>kernels/adam.cu</c>, <c>adam_step</c> (its descriptor: <see cref="Algorithms"/>).</para>
/// </summary>
public static class AdamReference
{
    /// <inheritdoc cref="ReferenceStep"/>
    public static void Step(Span<float> param, ReadOnlySpan<float> grad, ParamState state, Hyperparameters hp, in StepScalars k)
        => Update(param, grad, state, hp, k, decoupled: false, u: default);

    /// <summary>The shared body of Adam, AdamW and SignAdam; <paramref name="u"/> non-empty selects the sign-decomposed
    /// form and receives u = |m̂|/(sqrt(v̂)+ε) per coordinate.</summary>
    internal static void Update(Span<float> param, ReadOnlySpan<float> grad, ParamState state, Hyperparameters hp,
        in StepScalars k, bool decoupled, Span<float> u, bool signDecomposed = false)
    {
        float[] m = state.M!, v = state.V!;
        float[]? vmax = state.VMax;
        float beta1 = (float)hp.Beta1, beta2 = (float)hp.Beta2, eps = (float)hp.Eps, wd = (float)hp.WeightDecay;
        float oneMinusBeta1 = (float)(1 - hp.Beta1), oneMinusBeta2 = (float)(1 - hp.Beta2);
        float decay = (float)(1 - hp.Lr * hp.WeightDecay);
        float bc2Sqrt = (float)k.BiasCorrection2Sqrt, stepSize = (float)k.StepSize, bc1 = (float)k.BiasCorrection1;
        for (int i = 0; i < param.Length; i++)
        {
            float g = Reference.Grad(grad, i, hp.Maximize);
            float x = param[i];
            if (decoupled) x = x * decay;
            else if (hp.WeightDecay != 0) g = g + wd * x;
            m[i] = m[i] * beta1 + oneMinusBeta1 * g;
            v[i] = v[i] * beta2 + oneMinusBeta2 * g * g;
            float vHat = v[i];
            if (vmax != null)
            {
                vmax[i] = MathF.Max(vmax[i], v[i]);
                vHat = vmax[i];
            }
            float denom = MathF.Sqrt(vHat) / bc2Sqrt + eps;
            if (signDecomposed)
            {
                // Sign-like descent: x ← x − γ' · u' ∘ sign(m), u' = |m|/denom. (|m|/d)·sign(m) == m/d exactly.
                float uRaw = MathF.Abs(m[i]) / denom;
                if (!u.IsEmpty) u[i] = uRaw / bc1;
                param[i] = x - stepSize * (uRaw * Reference.Sign(m[i]));
            }
            else
            {
                param[i] = x + -stepSize * (m[i] / denom);
            }
        }
    }
}

/// <summary>
/// AdamW (Loshchilov &amp; Hutter, "Decoupled Weight Decay Regularization", ICLR 2019), torch.optim.AdamW:
/// <code>
/// x ← x·(1 − γλ)                          (weight decay DECOUPLED: applied to x, never seen by m or v)
/// then the Adam step of <see cref="AdamReference"/> with λ = 0 (amsgrad as there).
/// </code>
/// Convention warning: torch multiplies by (1 − lr·weight_decay), so the decay scales with lr; the paper's
/// schedule multiplier η_t is folded into lr. AdamW's default weight_decay is 1e-2.
/// <para>Kernel: <c>kernels/adam.cu</c>, <c>adam_step</c> (its descriptor: <see cref="Algorithms"/>).</para>
/// </summary>
public static class AdamWReference
{
    /// <inheritdoc cref="ReferenceStep"/>
    public static void Step(Span<float> param, ReadOnlySpan<float> grad, ParamState state, Hyperparameters hp, in StepScalars k)
        => AdamReference.Update(param, grad, state, hp, k, decoupled: true, u: default);
}

/// <summary>
/// Adam as sign-like descent ("Simple Convergence Proof of Adam From a Sign-like Descent Perspective",
/// arXiv 2507.05966):
/// <code>
/// x ← x − γ · u ∘ sign(m̂),   u = |m̂| / (sqrt(v̂) + ε)
/// </code>
/// with m, v, bias correction, ε placement and coupled L2 weight decay exactly as in <see cref="AdamReference"/>
/// (amsgrad too). In IEEE arithmetic (|m|/d)·sign(m) = m/d, so this step is bitwise equal to Adam's;
/// what it adds is u, handed back for diagnostics. sign(±0) = ±0 (<see cref="Reference.Sign"/>).
/// Under β1 &lt; sqrt(β2) the paper bounds |m|/sqrt(v) (uncorrected) by R = <see cref="Hyperparameters.SignBound"/>.
/// <para>Kernel: <c>kernels/sign.cu</c>, <c>signadam_step</c> (its descriptor: <see cref="Algorithms"/>).</para>
/// </summary>
public static class SignAdamReference
{
    /// <inheritdoc cref="ReferenceStep"/>
    public static void Step(Span<float> param, ReadOnlySpan<float> grad, ParamState state, Hyperparameters hp, in StepScalars k)
        => AdamReference.Update(param, grad, state, hp, k, decoupled: false, u: default, signDecomposed: true);

    /// <summary>One step that also writes u = |m̂|/(sqrt(v̂)+ε) (bias-corrected) into <paramref name="u"/>.</summary>
    public static void Step(Span<float> param, ReadOnlySpan<float> grad, ParamState state, Hyperparameters hp, in StepScalars k,
        Span<float> u)
    {
        if (u.Length != param.Length) throw new ArgumentException($"u has {u.Length} elements, param has {param.Length}");
        AdamReference.Update(param, grad, state, hp, k, decoupled: false, u, signDecomposed: true);
    }
}
