namespace CudaAdam.Cpu;

/// <summary>
/// The fast CPU backend (<c>cpu</c>): <see cref="CpuReferenceBackend"/>'s <see cref="StepContract"/> with the element
/// math of <see cref="SimdStep"/> (vectorized, on <see cref="Threads"/> threads, bitwise the reference's), fp32
/// parameters. The contract, fused into passes over the caller's arrays (never rewritten, no copies):
/// <code>
/// x_i  = g_i · inv_scale                 (float32, inside each pass; no multiplication when inv_scale is 1 and no clipping, as the reference)
/// skip / error: one pass looks for a non-finite x_i first → refused, nothing changes
/// clip: ‖x‖ = SimdStepper.TotalNorm (a fixed tree in double: the same for any thread count; it may differ from the
///       reference's sequential sum by double rounding), coef = GradClipping.Coefficient, x_i · coef inside the step;
///       a non-finite norm: refused under skip / error, coefficient 1 under propagate
/// step: SimdStep.Elements(x)
/// </code>
/// 8-bit state (<see cref="Hyperparameters.StateBits"/> = 8): the same passes; the step dequantizes each 2,048-element
/// block, runs the float32 SIMD step on it and requantizes it (<see cref="SimdStepper"/>, <see cref="State8Encode"/>),
/// bitwise the reference's block loop. An algorithm without a SIMD kernel (<see cref="SimdStep.Kernels"/>), and one whose step
/// needs per-tensor norms first (<see cref="AlgorithmInfo.TensorNorms"/>: LAMB, LARS), runs on <see cref="CpuReferenceBackend"/>
/// instead: the same contract and bits, at the reference's speed (the documented fallback).
/// No allocation per step once the first step has created the state.
/// </summary>
public sealed class CpuSimdBackend : IStepBackend
{
    private readonly SimdStepper _stepper;

    /// <param name="threads">Threads, the caller's included; 0: <see cref="SimdStepper.DefaultThreads"/>.</param>
    public CpuSimdBackend(int threads = 0) : this(new SimdStepper(threads)) { }

    internal CpuSimdBackend(SimdStepper stepper, IReadOnlySet<Algorithm>? kernels = null) =>
        (_stepper, _kernels) = (stepper, kernels ?? SimdStep.Kernels);

    private readonly IReadOnlySet<Algorithm> _kernels;
    private CpuReferenceBackend? _reference;

    /// <inheritdoc/>
    public string Name => "cpu";

    /// <summary>Threads the step runs on.</summary>
    public int Threads => _stepper.Threads;

    /// <summary>Which CPU path runs, for logs: vector width and threads (algorithms without a fast kernel step on the
    /// reference: <see cref="SimdStep.Kernels"/>).</summary>
    public string Description => $"fused SIMD step, {SimdStep.Describe()}, {Threads} thread{(Threads == 1 ? "" : "s")}";

    /// <inheritdoc/>
    public BackendStepOutcome Step(Algorithm algorithm, IReadOnlyList<StepItem> items, StepContract contract)
    {
        // No fast kernel (an algorithm added through its descriptor alone), or per-tensor norms before the step (LAMB, LARS:
        // AlgorithmInfo.TensorNorms, which Reference.Step computes in the canonical order): the reference, the same contract and bits.
        if (!_kernels.Contains(algorithm) || algorithm.Info().TensorNorms is not null) return (_reference ??= new CpuReferenceBackend()).Step(algorithm, items, contract);
        bool clipping = contract.MaxGradNorm is not null;
        float? invScale = contract.InvScale == 1f && !clipping ? null : contract.InvScale;
        if (contract.Checks && !_stepper.AllFinite(items, invScale)) return BackendStepOutcome.Refused();
        double norm = double.NaN;
        float? coef = null;
        if (contract.MaxGradNorm is { } maxNorm)
        {
            norm = _stepper.TotalNorm(items, invScale);
            if (!double.IsFinite(norm) && contract.Checks) return BackendStepOutcome.Refused(norm);
            coef = GradClipping.Coefficient(norm, maxNorm);
        }
        _stepper.Step(algorithm, items, new GradTransform(invScale, coef));
        return new BackendStepOutcome(false, norm, coef ?? 1f);
    }

    /// <summary>Nothing to release: the step holds no native resources (the worker threads are the shared pool's).</summary>
    public void Dispose() { }
}
