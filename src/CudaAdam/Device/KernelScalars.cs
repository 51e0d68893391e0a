namespace CudaAdam.Device;

/// <summary>
/// Which kernel runs an algorithm, and the float32 scalars and flags of one tensor's entry in the tensor table.
/// The scalars are the C# reference's <c>(float)</c> casts, computed by the same double expressions, so the kernel
/// multiplies by the very same float values the reference does (src/CudaAdam/Reference/*.cs). The slot indices
/// are the <c>CA_S_*</c> defines of <c>kernels/scalars.gen.cuh</c>, generated from the same descriptors
/// (<see cref="KernelScalarHeader"/>).
/// </summary>
public static class KernelScalars
{
    /// <summary>The kernel file (family) and <c>extern "C"</c> name of <paramref name="algorithm"/>'s fused step (its descriptor's).</summary>
    public static (string Family, string Name) KernelOf(Algorithm algorithm) => algorithm.Info().Kernel;

    /// <summary>The non-finite gradient check kernel (phase one of a checked step), shared by every algorithm.</summary>
    public static (string Family, string Name) NonFiniteCheck => ("adam", "grad_nonfinite_check");

    /// <summary>Phase one of a clipped step: the non-finite check plus per-chunk sums of squares (kernels/adam.cu).</summary>
    public static (string Family, string Name) GradNormPartial => ("adam", "grad_norm_partial");

    /// <summary>Phase two of a clipped step: total norm and clip coefficient, one block of <see cref="FinalizeThreads"/>.</summary>
    public static (string Family, string Name) GradClipFinalize => ("adam", "grad_clip_finalize");

    /// <summary><c>CA_FINAL_THREADS</c> of kernels/common.cuh: the block size of <c>grad_clip_finalize</c> (fixed, so the
    /// summation order, hence the norm's bits, do not depend on options).</summary>
    public const uint FinalizeThreads = 256;

    /// <summary>
    /// Fills <paramref name="s"/> (<see cref="CaTensor.ScalarCount"/> floats) from the descriptor's
    /// <see cref="AlgorithmInfo.Scalars"/> (each the double expression of the reference, rounded to float32) and returns
    /// the <see cref="KernelFlags"/> (without <see cref="KernelFlags.Active"/> and <see cref="KernelFlags.FirstStep"/>,
    /// which the backend sets).
    /// </summary>
    public static uint Pack(Algorithm algorithm, Hyperparameters hp, in StepScalars k, Span<float> s)
    {
        if (s.Length < CaTensor.ScalarCount)
            throw new ArgumentException($"need {CaTensor.ScalarCount} scalar slots, got {s.Length}", nameof(s));
        var info = algorithm.Info();
        s.Clear();
        for (int i = 0; i < info.Scalars.Count; i++)
            if (info.Scalars[i] is { } scalar) s[i] = (float)scalar.Value(hp, k);
        uint flags = info.Flags?.Invoke(hp, k) ?? 0;
        if (hp.Maximize) flags |= KernelFlags.Maximize;
        if (hp.WeightDecay != 0) flags |= KernelFlags.WeightDecay;
        if (hp.Amsgrad) flags |= KernelFlags.Amsgrad;
        if (info.Decoupled(hp)) flags |= KernelFlags.Decoupled;
        return flags;
    }
}
