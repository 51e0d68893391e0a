using CudaAdam.Device;

namespace CudaAdam;

/// <summary>
/// The CPU reference backend, the oracle every other backend is checked against: <see cref="Reference.Reference.Step"/>
/// on each parameter, with the <see cref="StepContract"/> around it written out plainly:
/// <code>
/// x_i  = g_i · inv_scale                      (float32; the caller's gradient is never rewritten)
/// skip / error: any x_i non-finite → nothing changes (every parameter, every state bit)
/// clip: ‖x‖ = GradClipping.TotalNorm; coef = GradClipping.Coefficient; x_i ← x_i · coef  (float32)
///       a non-finite norm: refused under skip / error, coefficient 1 under propagate
/// step: Reference.Step(x)
/// </code>
/// With 16-bit parameters (<see cref="Precision"/>) the fp32 step runs on the widened parameter (or the master
/// weights) and the result is rounded with <see cref="LowPrecision"/>, the twin of the kernels' rounding.
/// </summary>
public sealed class CpuReferenceBackend : IStepBackend
{
    private readonly Dictionary<Parameter, ushort[]> _lowp = new(ReferenceEqualityComparer.Instance);

    /// <summary>"reference" (the <c>cpu</c> backend is the SIMD path, bitwise the same).</summary>
    public string Name => "reference";

    /// <summary>Parameter storage, as the device backend's <see cref="DeviceBackendOptions.Precision"/>; fp32 by default.</summary>
    public PrecisionOptions Precision { get; init; } = PrecisionOptions.Fp32;

    /// <summary>Tests: use this coefficient instead of the one computed from the reference norm (to check that the
    /// step given the device's coefficient is bitwise the reference's, the norms being compared with a tolerance).</summary>
    public float? FixedClipCoefficient { get; set; }

    /// <summary>The 16-bit parameter after its last step, as <see cref="DeviceBackend.LowPrecisionCopy"/>.</summary>
    public ushort[]? LowPrecisionCopy(Parameter p) => _lowp.GetValueOrDefault(p);

    /// <inheritdoc/>
    public BackendStepOutcome Step(Algorithm algorithm, IReadOnlyList<StepItem> items, StepContract contract)
    {
        var grads = new float[items.Count][];
        for (int i = 0; i < items.Count; i++)
        {
            var g = items[i].Param.Grad ?? throw new ArgumentException($"parameter '{items[i].Param.Name}' has no gradient");
            if (contract.InvScale == 1f && contract.MaxGradNorm is null)
            {
                // x = g · 1 is g bit for bit: step on the caller's array, no copy.
                if (contract.Checks)
                    foreach (float v in g)
                        if (!float.IsFinite(v)) return BackendStepOutcome.Refused();
                grads[i] = g;
                continue;
            }
            var x = new float[g.Length];
            for (int j = 0; j < g.Length; j++)
            {
                x[j] = g[j] * contract.InvScale;
                if (contract.Checks && !float.IsFinite(x[j])) return BackendStepOutcome.Refused();
            }
            grads[i] = x;
        }
        double norm = double.NaN;
        float coef = 1f;
        if (contract.MaxGradNorm is { } maxNorm)
        {
            norm = GradClipping.TotalNorm(grads);
            if (!double.IsFinite(norm) && contract.Checks) return BackendStepOutcome.Refused(norm);
            coef = FixedClipCoefficient ?? GradClipping.Coefficient(norm, maxNorm);
            foreach (var x in grads)
                for (int j = 0; j < x.Length; j++) x[j] = x[j] * coef;
        }
        var format = Precision.Format;
        for (int i = 0; i < items.Count; i++)
        {
            var it = items[i];
            var p = it.Param.Data;
            if (format != ParamFormat.Fp32 && !Precision.MasterWeights)
                for (int j = 0; j < p.Length; j++) p[j] = LowPrecision.Widen(LowPrecision.RoundNearest(p[j], format), format);
            Reference.Reference.Step(algorithm, p, grads[i], it.State, it.Hyperparameters, it.Scalars);
            if (format == ParamFormat.Fp32) continue;
            uint key = Precision.StochasticRounding ? LowPrecision.Key(Precision.Seed, it.Param.Name, it.Scalars.Step) : 0;
            var bits = new ushort[p.Length];
            for (int j = 0; j < p.Length; j++) bits[j] = LowPrecision.Narrow(p[j], Precision, key, j);
            _lowp[it.Param] = bits;
            if (!Precision.MasterWeights)
                for (int j = 0; j < p.Length; j++) p[j] = LowPrecision.Widen(bits[j], format);
        }
        return new BackendStepOutcome(false, norm, coef);
    }

    /// <summary>Nothing to release.</summary>
    public void Dispose() { }
}
