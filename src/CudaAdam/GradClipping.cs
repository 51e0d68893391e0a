namespace CudaAdam;

/// <summary>
/// Global-norm gradient clipping, the reference every backend is checked against
/// (torch.nn.utils.clip_grad_norm_ semantics, norm_type 2):
/// <code>
/// x_i   = g_i · inv_scale                                (float32: the unscaled gradient the step sees)
/// ‖g‖   = sqrt( Σ_tensors Σ_i (double)x_i² )             (accumulated in double, tensors in order, elements in order)
/// coef  = min(1, max_norm / (‖g‖ + 1e-6))               (double, then rounded to float32)
/// g_i'  = x_i · coef                                     (float32, inside the step; memory untouched)
/// </code>
/// Convention notes: torch computes the norm of the per-tensor norms in the gradients' dtype (float32 on the GPU) and
/// the coefficient in float32; we accumulate in double, so the norm can differ from torch's by float32 rounding, and
/// large finite gradients whose squares overflow float32 (torch: inf norm) give a finite norm here. A non-finite
/// norm (a non-finite gradient) refuses the step under the skip and error policies and gives coefficient 1 under
/// propagate (<see cref="NonFinitePolicy"/>), on every backend; the kernels' sum
/// uses another order (block partials, then a fixed tree: <c>kernels/common.cuh</c>), so compare norms with a
/// tolerance, coefficients derived from the same norm bit for bit.
/// </summary>
public static class GradClipping
{
    /// <summary>torch's 1e-6 added to the norm before dividing.</summary>
    public const double Epsilon = 1e-6;

    /// <summary>The total 2-norm of <c>g · invScale</c> (float32 products) over all tensors, accumulated in double in
    /// tensor order then element order.</summary>
    public static double TotalNorm(IEnumerable<float[]> grads, float invScale = 1f)
    {
        ArgumentNullException.ThrowIfNull(grads);
        double sum = 0;
        foreach (var g in grads)
            for (int i = 0; i < g.Length; i++)
            {
                float x = g[i] * invScale;
                sum = sum + (double)x * (double)x;
            }
        return Math.Sqrt(sum);
    }

    /// <summary>min(1, maxNorm / (norm + 1e-6)) computed in double and rounded to float; 1 for a non-finite norm
    /// (which only <see cref="NonFinitePolicy.Propagate"/> steps with).</summary>
    public static float Coefficient(double norm, double maxNorm)
    {
        if (!double.IsFinite(norm)) return 1f;
        double c = maxNorm / (norm + Epsilon);
        return c < 1.0 ? (float)c : 1f;
    }

    /// <summary>Throws unless <paramref name="maxNorm"/> is null or a finite number &gt; 0.</summary>
    public static void Validate(double? maxNorm)
    {
        if (maxNorm is { } m && !(double.IsFinite(m) && m > 0))
            throw new ArgumentException($"Invalid max_grad_norm: {m} (must be a finite number > 0, or none for no clipping)");
    }
}
