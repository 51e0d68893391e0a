namespace CudaAdam.Cpu;

/// <summary>
/// The fast CPU backend (<c>cpu</c>): <see cref="CpuReferenceBackend"/>'s semantics with the element math of
/// <see cref="SimdStep"/> (vectorized, on <see cref="Threads"/> threads, bitwise the reference's). With
/// <see cref="MaxGradNorm"/> the gradients are clipped inside the step (memory untouched, no copies): the norm is
/// <see cref="SimdStepper.TotalNorm"/> (a fixed-order tree in double, independent of the thread count; it can differ
/// from the reference's sequential sum by double rounding), the coefficient <see cref="GradClipping.Coefficient"/>
/// (a non-finite norm gives 1 and the non-finite values go through, as the reference backend does).
/// No allocation per step once the first step has created the state.
/// </summary>
public sealed class CpuSimdBackend : IStepBackend, IClippingStepBackend
{
    private readonly SimdStepper _stepper;
    private double? _maxGradNorm;

    /// <param name="threads">Threads, the caller's included; 0: <see cref="SimdStepper.DefaultThreads"/>.</param>
    public CpuSimdBackend(int threads = 0) => _stepper = new SimdStepper(threads);

    public string Name => "cpu";

    /// <summary>Threads the step runs on.</summary>
    public int Threads => _stepper.Threads;

    /// <summary>Which CPU path runs, for logs: vector width and threads.</summary>
    public string Description => $"fused SIMD step, {SimdStep.Describe()}, {Threads} thread{(Threads == 1 ? "" : "s")}";

    public double? MaxGradNorm
    {
        get => _maxGradNorm;
        set { GradClipping.Validate(value); _maxGradNorm = value; }
    }

    public double LastGradNorm { get; private set; } = double.NaN;

    public float LastClipCoefficient { get; private set; } = 1f;

    public void Step(Algorithm algorithm, IReadOnlyList<StepItem> items)
    {
        if (_maxGradNorm is { } maxNorm)
        {
            LastGradNorm = _stepper.TotalNorm(items);
            LastClipCoefficient = GradClipping.Coefficient(LastGradNorm, maxNorm);
            _stepper.Step(algorithm, items, new GradTransform(ClipCoefficient: LastClipCoefficient));
            return;
        }
        _stepper.Step(algorithm, items);
    }

    public void Dispose() { }
}
