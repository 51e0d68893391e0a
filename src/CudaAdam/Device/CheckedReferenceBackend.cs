namespace CudaAdam.Device;

/// <summary>
/// The CPU reference with the device backend's step semantics around it, so that the two can be compared bit for
/// bit: gradients multiplied by <see cref="InvScale"/> in float32 (as the kernels do), and a step that meets a
/// non-finite unscaled gradient in ANY parameter skipped as a whole (nothing changes; <see cref="LastStepSkipped"/>).
/// The element math is <see cref="Reference.Reference.Step"/> unchanged. With 16-bit parameters
/// (<see cref="Precision"/>) the fp32 step runs on the widened parameter (or the master weights) and the result is
/// rounded with <see cref="LowPrecision"/>, the twin of the kernels' rounding, stochastic rounding included.
/// </summary>
public sealed class CheckedReferenceBackend : IStepBackend, ISkippingStepBackend, IClippingStepBackend
{
    private double? _maxGradNorm;

    /// <summary>Gradient clipping as the device backend's: the unscaled gradients times
    /// <see cref="GradClipping.Coefficient"/> of <see cref="GradClipping.TotalNorm"/>; a non-finite norm skips.</summary>
    public double? MaxGradNorm
    {
        get => _maxGradNorm;
        set { GradClipping.Validate(value); _maxGradNorm = value; }
    }

    /// <summary>Tests: use this coefficient instead of the one computed from the reference norm (to check that the
    /// step given the device's coefficient is bitwise the reference's, the norms being compared with a tolerance).</summary>
    public float? FixedClipCoefficient { get; set; }

    public double LastGradNorm { get; private set; } = double.NaN;

    public float LastClipCoefficient { get; private set; } = 1f;

    public string Name => "cpu";

    /// <summary>Gradients are multiplied by this first (1 leaves them as they are).</summary>
    public float InvScale { get; set; } = 1f;

    public bool LastStepSkipped { get; private set; }

    /// <summary>Parameter storage, as the device backend's <see cref="DeviceBackendOptions.Precision"/>.</summary>
    public PrecisionOptions Precision { get; init; } = PrecisionOptions.Fp32;

    private readonly Dictionary<Parameter, ushort[]> _lowp = new(ReferenceEqualityComparer.Instance);

    /// <summary>The 16-bit parameter after its last step, as <see cref="DeviceBackend.LowPrecisionCopy"/>.</summary>
    public ushort[]? LowPrecisionCopy(Parameter p) => _lowp.GetValueOrDefault(p);

    public void Step(Algorithm algorithm, IReadOnlyList<StepItem> items)
    {
        LastStepSkipped = false;
        var scaled = new float[items.Count][];
        for (int i = 0; i < items.Count; i++)
        {
            var g = items[i].Param.Grad ?? throw new ArgumentException($"parameter '{items[i].Param.Name}' has no gradient");
            var s = new float[g.Length];
            for (int j = 0; j < g.Length; j++)
            {
                s[j] = g[j] * InvScale;
                if (!float.IsFinite(s[j])) LastStepSkipped = true;
            }
            scaled[i] = s;
        }
        if (LastStepSkipped) return;
        if (_maxGradNorm is { } maxNorm)
        {
            LastGradNorm = GradClipping.TotalNorm(scaled);   // already unscaled: invScale 1 is exact
            if (!double.IsFinite(LastGradNorm))
            {
                LastStepSkipped = true;
                return;
            }
            LastClipCoefficient = FixedClipCoefficient ?? GradClipping.Coefficient(LastGradNorm, maxNorm);
            foreach (var g in scaled)
                for (int j = 0; j < g.Length; j++) g[j] = g[j] * LastClipCoefficient;
        }
        var format = Precision.Format;
        for (int i = 0; i < items.Count; i++)
        {
            var it = items[i];
            var x = it.Param.Data;
            if (format != ParamFormat.Fp32 && !Precision.MasterWeights)
                for (int j = 0; j < x.Length; j++) x[j] = LowPrecision.Widen(LowPrecision.RoundNearest(x[j], format), format);
            Reference.Reference.Step(algorithm, x, scaled[i], it.State, it.Hyperparameters, it.Scalars);
            if (format == ParamFormat.Fp32) continue;
            uint key = Precision.StochasticRounding ? LowPrecision.Key(Precision.Seed, it.Param.Name, it.Scalars.Step) : 0;
            var bits = new ushort[x.Length];
            for (int j = 0; j < x.Length; j++) bits[j] = LowPrecision.Narrow(x[j], Precision, key, j);
            _lowp[it.Param] = bits;
            if (!Precision.MasterWeights)
                for (int j = 0; j < x.Length; j++) x[j] = LowPrecision.Widen(bits[j], format);
        }
    }

    public void Dispose() { }
}
