namespace CudaAdam.Reference;

/// <summary>
/// RMSProp (Tieleman &amp; Hinton, Coursera lecture 6.5, 2012; <c>centered</c> after Graves, "Generating Sequences With
/// Recurrent Neural Networks", 2013), torch.optim.RMSprop (1.13, <c>_single_tensor_rmsprop</c>):
/// <code>
/// g ← −g if maximize
/// g ← g + λ·x                               (L2 weight decay, COUPLED)
/// s ← α·s + (1−α)·g²
/// centered:  ḡ ← α·ḡ + (1−α)·g,   d = sqrt(s − ḡ²) + ε
/// else:      d = sqrt(s) + ε
/// momentum μ &gt; 0:  b ← μ·b + g/d,   x ← x − γ·b
/// else:             x ← x − γ·g/d
/// </code>
/// Convention warnings: ε is OUTSIDE the sqrt (torch; TensorFlow/Keras put it inside). No bias correction, so the
/// first steps are large (s starts at 0). The momentum buffer holds the normalized step g/d, not the gradient.
/// <para>Kernel: <c>kernels/baselines.cu</c>, <c>rmsprop_step</c> (its descriptor: <see cref="Algorithms"/>).</para>
/// </summary>
public static class RmsPropReference
{
    /// <inheritdoc cref="ReferenceStep"/>
    public static void Step(Span<float> param, ReadOnlySpan<float> grad, ParamState state, Hyperparameters hp, in StepScalars k)
    {
        float[] squareAvg = state.V!;
        float[]? gradAvg = hp.Centered ? state.Aux! : null;
        float[]? buf = hp.Momentum > 0 ? state.M! : null;
        float wd = (float)hp.WeightDecay, eps = (float)hp.Eps, alpha = (float)hp.Alpha, oneMinusAlpha = (float)(1 - hp.Alpha);
        float momentum = (float)hp.Momentum, negLr = (float)-hp.Lr;
        for (int i = 0; i < param.Length; i++)
        {
            float g = Reference.Grad(grad, i, hp.Maximize);
            float x = param[i];
            if (hp.WeightDecay != 0) g = g + wd * x;
            squareAvg[i] = squareAvg[i] * alpha + oneMinusAlpha * g * g;
            float avg;
            if (gradAvg != null)
            {
                gradAvg[i] = gradAvg[i] * alpha + oneMinusAlpha * g;
                avg = MathF.Sqrt(squareAvg[i] + -1f * gradAvg[i] * gradAvg[i]);
            }
            else
            {
                avg = MathF.Sqrt(squareAvg[i]);
            }
            avg = avg + eps;
            if (buf != null)
            {
                buf[i] = buf[i] * momentum + g / avg;
                param[i] = x + negLr * buf[i];
            }
            else
            {
                param[i] = x + negLr * g / avg;
            }
        }
    }
}
