using CudaAdam.Device;

namespace CudaAdam;

/// <summary>The two per-element quantities a and b whose per-tensor norms ‖a‖, ‖b‖ an algorithm needs before its step
/// (<see cref="TensorNormSpec.Values"/>): the reference's twin of the partial kernel's value functor. Fills
/// <paramref name="a"/> and <paramref name="b"/> (each as long as <paramref name="param"/>) from the values the step is
/// about to see, changing nothing.</summary>
/// <param name="param">The parameter before the step.</param>
/// <param name="grad">The gradient as <see cref="ReferenceStep"/> receives it (unscaled and clipped; maximize not applied yet).</param>
/// <param name="state">The state before the step (not to be changed).</param>
/// <param name="hp">The group's hyperparameters.</param>
/// <param name="k">This step's scalars.</param>
/// <param name="a">Quantity 0 (e.g. the parameter).</param>
/// <param name="b">Quantity 1 (e.g. the gradient, or the update direction).</param>
public delegate void TensorNormValues(ReadOnlySpan<float> param, ReadOnlySpan<float> grad, ParamState state, Hyperparameters hp,
    in StepScalars k, Span<float> a, Span<float> b);

/// <summary>The trust ratio's hyperparameters, in double: τ = η‖a‖ / (‖b‖ + λ_b‖a‖ + ε) (1 when ‖a‖ or ‖b‖ is 0), and the
/// λ of the decay scalar (float)(1 − lr·τ·λ).</summary>
/// <param name="Coefficient">η (LARS' trust coefficient; LAMB: 1).</param>
/// <param name="DenominatorWd">λ_b (LARS: weight decay; LAMB: 0).</param>
/// <param name="Eps">ε (LARS' eps; LAMB: 0).</param>
/// <param name="WeightDecay">λ of <see cref="TensorNormSpec.DecayScalar"/> (LAMB: weight decay).</param>
public readonly record struct TrustRule(double Coefficient, double DenominatorWd = 0, double Eps = 0, double WeightDecay = 0);

/// <summary>
/// An algorithm's declaration that its step needs per-tensor norms (<see cref="AlgorithmInfo.TensorNorms"/>). Every engine
/// then computes, before the step and after the clip finalize / step clock, the CANONICAL sums of squares
/// Σa², Σb² of each tensor (<see cref="Reference.Reference.CanonicalSumSquares"/>: pieces of 4,096, 256 strided lanes, fixed
/// trees, double; the same bits on every backend), and a finalize turns them into the scalar the step reads:
/// <code>
/// ‖a‖ = sqrt(Σa²), ‖b‖ = sqrt(Σb²)                               (double)
/// τ   = η‖a‖ / (‖b‖ + λ_b‖a‖ + ε), or 1 when ‖a‖ = 0 or ‖b‖ = 0    (double; NaN norms compare false: τ = 1)
/// s[TrustScalar] = (float)τ;  s[DecayScalar] = (float)(1 − lr·τ·λ)
/// </code>
/// Where it runs: the CPU reference in <see cref="Reference.Reference.Step"/> (<see cref="TensorNorms.Apply"/> puts τ and
/// the sums into <see cref="StepScalars.TrustRatio"/> and <see cref="StepScalars.NormSums"/>, so every caller of the
/// reference, the <c>reference</c> backend and the <c>cpu</c> backend's documented fallback included, gets them); the
/// device engine on both paths (<see cref="DeviceBackend"/> host-resident, and <c>ResidentPlan</c>, graph-captured or
/// not): <see cref="Kernel"/> (one block of 256 threads per piece, the piece table of 4,096-element pieces) and
/// <c>tensor_norms_finalize</c> (kernels/norms.cu), which writes the slots into the tensor table as
/// <c>step_clock</c> writes its scalars. Under the skip policy a refused step writes nothing.
/// Other reductions (Adafactor's RMS of the parameter and of the update, Muon's Frobenius norm of the momentum) take
/// the same primitive: a value functor in their partial kernel (<c>ca_norm_pieces</c>, kernels/common.cuh) and, when τ
/// is not what they need, a kind of their own in the finalize beside <c>CA_NORMS_TRUST</c> (the per-tensor sums are in
/// its <c>sums</c> output either way).
/// </summary>
public sealed record TensorNormSpec
{
    /// <summary>The partial kernel: <c>norms_param_grad</c> of kernels/norms.cu (a = x, b = g) or one of the algorithm's
    /// family computing its own quantities with <c>ca_norm_pieces</c>.</summary>
    public required (string Family, string Name) Kernel { get; init; }
    /// <summary>The reference's twin of the kernel's value functor.</summary>
    public required TensorNormValues Values { get; init; }
    /// <summary>The trust ratio's hyperparameters from the group's.</summary>
    public required Func<Hyperparameters, TrustRule> Trust { get; init; }
    /// <summary>The <see cref="KernelScalar.Define"/> of the algorithm's slot that receives (float)τ.</summary>
    public required string TrustScalar { get; init; }
    /// <summary>The slot that receives (float)(1 − lr·τ·λ), or null.</summary>
    public string? DecayScalar { get; init; }
}

/// <summary>The reference side of <see cref="TensorNormSpec"/>: the values, the canonical sums, the trust ratio.</summary>
public static class TensorNorms
{
    /// <summary>The finalize kernel, shared by every algorithm (kernels/norms.cu).</summary>
    public static (string Family, string Name) Finalize => ("norms", "tensor_norms_finalize");

    /// <summary>The generic partial kernel: a = x, b = g as the step sees it (kernels/norms.cu).</summary>
    public static (string Family, string Name) ParamGradKernel => ("norms", "norms_param_grad");

    /// <summary>The reference twin of <see cref="ParamGradKernel"/>: a = x, b = g (−g when maximizing).</summary>
    public static void ParamGrad(ReadOnlySpan<float> param, ReadOnlySpan<float> grad, ParamState state, Hyperparameters hp,
        in StepScalars k, Span<float> a, Span<float> b)
    {
        for (int i = 0; i < param.Length; i++)
        {
            a[i] = param[i];
            b[i] = Reference.Reference.Grad(grad, i, hp.Maximize);
        }
    }

    /// <summary>τ = η‖a‖/(‖b‖ + λ_b‖a‖ + ε) from the sums of squares, or 1 when a norm is 0 (or NaN): in double, operation for
    /// operation as <c>tensor_norms_finalize</c>.</summary>
    public static double TrustRatio(double sumA, double sumB, TrustRule rule)
    {
        double na = Math.Sqrt(sumA), nb = Math.Sqrt(sumB);
        double trust = 1.0;
        if (na > 0.0 && nb > 0.0) trust = rule.Coefficient * na / (nb + rule.DenominatorWd * na + rule.Eps);
        return trust;
    }

    /// <summary>The decay scalar (float)(1 − lr·τ·λ), as the finalize writes it.</summary>
    public static float Decay(double lr, double trust, double weightDecay) => (float)(1 - lr * trust * weightDecay);

    /// <summary>This step's scalars with the per-tensor norms of <paramref name="algorithm"/> (when its descriptor
    /// declares <see cref="AlgorithmInfo.TensorNorms"/>): <see cref="StepScalars.NormSums"/> and
    /// <see cref="StepScalars.TrustRatio"/>; <paramref name="k"/> unchanged otherwise.</summary>
    public static StepScalars Apply(Algorithm algorithm, ReadOnlySpan<float> param, ReadOnlySpan<float> grad, ParamState state,
        Hyperparameters hp, in StepScalars k)
    {
        if (algorithm.Info().TensorNorms is not { } spec) return k;
        var a = new float[param.Length];
        var b = new float[param.Length];
        spec.Values(param, grad, state, hp, k, a, b);
        double sa = Reference.Reference.CanonicalSumSquares(a), sb = Reference.Reference.CanonicalSumSquares(b);
        return k with { NormSums = (sa, sb), TrustRatio = TrustRatio(sa, sb, spec.Trust(hp)) };
    }

    /// <summary>The norms table entry of one tensor (its pieces, lr group, slots and the trust rule), as both device paths
    /// pack it.</summary>
    public static CaNormTensor Entry(AlgorithmInfo info, Hyperparameters hp, int first, long length, int group)
    {
        var spec = info.TensorNorms ?? throw new InvalidOperationException($"{info.Name} declares no per-tensor norms");
        var rule = spec.Trust(hp);
        return new CaNormTensor
        {
            First = first, Pieces = (int)((length + Reference.Reference.NormPiece - 1) / Reference.Reference.NormPiece), Group = group,
            Kind = CaNormTensor.KindTrust, TrustSlot = Slot(info, spec.TrustScalar), DecaySlot = spec.DecayScalar is { } d ? Slot(info, d) : -1,
            Coefficient = rule.Coefficient, DenominatorWd = rule.DenominatorWd, Eps = rule.Eps, WeightDecay = rule.WeightDecay,
        };
    }

    /// <summary>The piece table: every tensor cut into pieces of 4,096 elements (<see cref="ChunkTable.Build"/>).</summary>
    public static CaChunk[] Pieces(IReadOnlyList<long> lengths) => ChunkTable.Build(lengths, Reference.Reference.NormPiece);

    private static int Slot(AlgorithmInfo info, string define)
    {
        for (int i = 0; i < info.Scalars.Count; i++)
            if (info.Scalars[i]?.Define == define) return i;
        throw new InvalidOperationException($"{info.Name}: TensorNorms names the scalar {define}, which is not in its Scalars");
    }
}
