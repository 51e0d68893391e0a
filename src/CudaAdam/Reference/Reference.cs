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
        // Per-tensor norms (LAMB, LARS): the trust ratio from the canonical norms, unless the caller set it.
        if (info.TensorNorms is not null && k.TrustRatio is null)
        {
            var withNorms = TensorNorms.Apply(algorithm, param, grad, state, hp, k);
            Step(algorithm, param, grad, state, hp, withNorms);
            return;
        }
        if (hp.StateBits == 8) BlockwiseState8.Step(info, param, grad, state, hp, k);   // dequantize → this step → requantize
        else info.Reference(param, grad, state, hp, k);
    }

    /// <summary>sign(x) that keeps the sign of zero: +1, −1, +0 or −0 (NaN stays NaN), so that
    /// <c>|m|/d * Sign(m)</c> equals <c>m/d</c> bit for bit, signed zeros included.</summary>
    public static float Sign(float x) => x > 0 ? 1f : x < 0 ? -1f : x;

    /// <summary>Elements per piece of <see cref="CanonicalSumSquares"/> (<c>CA_NORM_PIECE</c> of kernels/common.cuh).</summary>
    public const int NormPiece = 4096;

    /// <summary>Lanes per piece of <see cref="CanonicalSumSquares"/> (<c>CA_NORM_LANES</c>: the norm kernels' block size).</summary>
    public const int NormLanes = 256;

    /// <summary>
    /// Σ (double)a_i² over one tensor in the CANONICAL order, the one every backend reproduces bit for bit (the kernels'
    /// <c>ca_norm_pieces</c> and <c>ca_norm_tree</c> in kernels/common.cuh are its twins), whatever ChunkSize, BlockSize,
    /// grid or thread count:
    /// <code>
    /// pieces  p = 0, 1, ...: elements [4096p, 4096p + 4096) of the tensor (the last one shorter)
    /// lanes   l = 0 … 255 of a piece: L_l = Σ_j (double)a² over the piece's elements l, l + 256, l + 512, ... in order
    /// piece   S_p = the lanes folded by a fixed binary tree: for w = 128, 64, ..., 1: L_l ← L_l + L_{l+w} (l &lt; w); S_p = L_0
    /// tensor  Σ = the pieces folded by a fixed pairwise tree: for w = 1, 2, 4, ...: S_i ← S_i + S_{i+w} (i = 0, 2w, 4w, ...; i + w &lt; count); Σ = S_0
    /// </code>
    /// An empty tensor sums to 0. The square of a float32 is exact in double, so only the additions round; a non-finite
    /// value gives a non-finite sum. Used for the per-tensor norms of <see cref="AlgorithmInfo.TensorNorms"/> (LAMB, LARS)
    /// and anywhere else a per-tensor reduction must be the same bits on every backend.
    /// </summary>
    public static double CanonicalSumSquares(ReadOnlySpan<float> a)
    {
        int pieces = (a.Length + NormPiece - 1) / NormPiece;
        var sums = new double[pieces];
        Span<double> lanes = stackalloc double[NormLanes];
        for (int p = 0; p < pieces; p++)
        {
            lanes.Clear();
            int start = p * NormPiece, end = Math.Min(a.Length, start + NormPiece);
            for (int l = 0; l < NormLanes; l++)
                for (int i = start + l; i < end; i += NormLanes)
                    lanes[l] = lanes[l] + (double)a[i] * (double)a[i];
            for (int w = NormLanes / 2; w > 0; w >>= 1)
                for (int l = 0; l < w; l++)
                    lanes[l] = lanes[l] + lanes[l + w];
            sums[p] = lanes[0];
        }
        return CanonicalTree(sums);
    }

    /// <summary>The pieces' fold of <see cref="CanonicalSumSquares"/>: a fixed pairwise tree over
    /// <paramref name="pieces"/> (overwritten), 0 when empty.</summary>
    public static double CanonicalTree(Span<double> pieces)
    {
        if (pieces.IsEmpty) return 0;
        for (int w = 1; w < pieces.Length; w <<= 1)
            for (int i = 0; i + w < pieces.Length; i += 2 * w)
                pieces[i] = pieces[i] + pieces[i + w];
        return pieces[0];
    }

    /// <summary>The gradient as the algorithm sees it: −g when <c>maximize</c>, else g.</summary>
    internal static float Grad(ReadOnlySpan<float> grad, int i, bool maximize) => maximize ? -grad[i] : grad[i];
}
