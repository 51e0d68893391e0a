namespace CudaAdam.Reference;

/// <summary>
/// The CPU reference: one plain scalar implementation per algorithm, the oracle every other backend is checked
/// against. Written line by line like the kernels in <c>kernels/*.cu</c>, in float32 with the same operation order;
/// never optimized, never fused (no FusedMultiplyAdd), so the bitwise contract of DESIGN.md holds.
/// </summary>
/// <remarks>
/// Every implementation has the signature of <see cref="Step"/>: it updates <c>param</c> and the buffers of
/// <c>state</c> in place, given this step's scalars from <see cref="StepScalars.Advance"/>. Scalars are rounded to
/// float32 (<c>(float)</c>) where torch.optim hands a Python float to a float32 tensor op.
/// </remarks>
public static class Reference
{
    /// <summary>One step of <paramref name="algorithm"/> on one parameter: its descriptor's <see cref="AlgorithmInfo.Reference"/>.</summary>
    public static void Step(Algorithm algorithm, Span<float> param, ReadOnlySpan<float> grad, ParamState state,
        Hyperparameters hp, in StepScalars k)
    {
        if (param.Length != grad.Length)
            throw new ArgumentException($"param has {param.Length} elements but grad has {grad.Length}");
        var info = algorithm.Info();
        if (hp.StateBits == 8) BlockwiseState8.Step(info, param, grad, state, hp, k);   // dequantize → this step → requantize
        else info.Reference(param, grad, state, hp, k);
    }

    /// <summary>sign(x) that keeps the sign of zero: +1, −1, +0 or −0 (NaN stays NaN), so that
    /// <c>|m|/d * Sign(m)</c> equals <c>m/d</c> bit for bit, signed zeros included.</summary>
    public static float Sign(float x) => x > 0 ? 1f : x < 0 ? -1f : x;

    /// <summary>The gradient as the algorithm sees it: −g when <c>maximize</c>, else g.</summary>
    internal static float Grad(ReadOnlySpan<float> grad, int i, bool maximize) => maximize ? -grad[i] : grad[i];
}
