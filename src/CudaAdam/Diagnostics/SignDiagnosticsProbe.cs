using CudaAdam.Device;

namespace CudaAdam.Diagnostics;

/// <summary>
/// Measures the sign decomposition of an <see cref="Optimizer"/>'s steps: call <see cref="BeforeStep"/>, then
/// <see cref="Optimizer.Step()"/>, then <see cref="AfterStep"/> for the <see cref="SignDiagnosticsReport"/> of that step
/// over every parameter that had a gradient.
/// </summary>
/// <remarks>
/// With the CPU constructor the report comes from the C# reference (<see cref="SignDiagnostics"/>). With a
/// <see cref="DeviceBackend"/> (the one the optimizer steps with) it comes from the device: FUSED into the step when the
/// algorithm has a diagnostics-enabled kernel (<see cref="Fused"/>: Adam, AdamW, AMSGrad, SignAdam, NAdam, RAdam —
/// all of them today): <see cref="BeforeStep"/> turns <see cref="DeviceBackend.Diagnostics"/> on for that one step and
/// <see cref="AfterStep"/> turns it back and reads the record, no extra pass and no host copy. Otherwise (or with
/// <c>fused: false</c>) from the separate pass <c>kernels/diagnostics.cu</c> on that backend's device, reading x, g, m and v in place from the
/// backend's device copies (<see cref="DeviceBackend.TryGetDeviceTensor"/>); only x_{t−1}, kept on the host by
/// <see cref="BeforeStep"/>, is uploaded. The two device paths agree with the reference (exact counts, max and
/// histogram; double sums to ~1e−12) as long as <see cref="Optimizer.InvScale"/> is 1 and there is no clipping.
/// For the Adam family (the algorithms with
/// an Adam second moment: Adam, AdamW, SignAdam, NAdam, RAdam); u is on the uncorrected moments, see <see cref="SignStats"/>.
/// g is the gradient as set on the parameter (CPU reference, separate pass) or as the moments saw it, g·InvScale·clip
/// coefficient (fused); with <see cref="Optimizer.InvScale"/> = 1 and no clipping the two are the same. Either way
/// it is before coupled weight decay (Adam's weight_decay: the moments saw g + λx), and sign agreement does not depend
/// on the positive factors.
/// </remarks>
/// <example><code>
/// using var probe = new SignDiagnosticsProbe(optimizer);
/// probe.BeforeStep();
/// optimizer.Step();
/// var report = probe.AfterStep();   // report.Global.MaxUOverR, report.Global.SignAgreement, ...
/// </code></example>
public sealed class SignDiagnosticsProbe : IDisposable
{
    private readonly Optimizer _optimizer;
    private readonly DeviceBackend? _backend;
    private readonly DeviceSignDiagnostics? _device;
    private readonly bool _fused;
    private bool _wasOn;
    private List<(Parameter P, float[] Before, float[] Grad, Hyperparameters Hp)>? _pending;
    private long _skippedBefore;

    /// <summary>Diagnostics by the CPU reference (any backend).</summary>
    public SignDiagnosticsProbe(Optimizer optimizer) : this(optimizer, null) { }

    /// <summary>Diagnostics on <paramref name="backend"/>'s device; <paramref name="optimizer"/> must step with it.</summary>
    /// <param name="optimizer">The optimizer to measure.</param>
    /// <param name="backend">Its device backend, or null for the CPU reference.</param>
    /// <param name="fused">Fused into the step when the algorithm has a diagnostics-enabled kernel (default); false: always
    /// the separate pass <c>kernels/diagnostics.cu</c> after the step (reads x, g, m, v again).</param>
    /// <exception cref="ArgumentException">The algorithm has no Adam second moment, or the optimizer uses another backend.</exception>
    public SignDiagnosticsProbe(Optimizer optimizer, DeviceBackend? backend, bool fused = true)
    {
        _optimizer = optimizer ?? throw new ArgumentNullException(nameof(optimizer));
        if (!Hyperparameters.HasSecondMoment(optimizer.Algorithm))
            throw new ArgumentException($"sign diagnostics need Adam's moments m and v; {optimizer.Algorithm.Name()} has none " +
                                        "(use adam, adamw, signadam, nadam or radam)", nameof(optimizer));
        if (backend is not null)
        {
            if (optimizer.BackendName != backend.Name)
                throw new ArgumentException($"the optimizer steps on '{optimizer.BackendName}', not on this '{backend.Name}' backend: " +
                                            "pass the DeviceBackend the optimizer was built with", nameof(backend));
            _backend = backend;
            _fused = fused && FusedSignDiagnostics.KernelOf(optimizer.Algorithm) is not null;
            if (!_fused) _device = new DeviceSignDiagnostics(backend.Device);
        }
    }

    /// <summary>"cpu" (reference) or the device backend's name.</summary>
    public string Engine => _backend?.Name ?? "cpu";

    /// <summary>Whether the statistics are accumulated inside the step kernel (a device backend and an algorithm with a
    /// diagnostics-enabled kernel) rather than by a separate pass or the CPU reference.</summary>
    public bool Fused => _fused;

    /// <summary>Remembers x and g of every parameter that has a gradient, before the step.</summary>
    public void BeforeStep()
    {
        _pending = [];
        foreach (var group in _optimizer.Groups)
            foreach (var p in group.Params)
                if (p.Grad is { } g)
                    _pending.Add(_fused ? (p, [], [], group.Hyperparameters) : (p, (float[])p.Data.Clone(), (float[])g.Clone(), group.Hyperparameters));
        _skippedBefore = _optimizer.SkippedSteps;
        if (_fused)
        {
            _wasOn = _backend!.Diagnostics;
            _backend.Diagnostics = true;
        }
    }

    /// <summary>The report of the step taken since <see cref="BeforeStep"/>.</summary>
    /// <exception cref="InvalidOperationException">No <see cref="BeforeStep"/>, or the optimizer skipped the step (non-finite gradient).</exception>
    public SignDiagnosticsReport AfterStep()
    {
        var pending = _pending ?? throw new InvalidOperationException("call BeforeStep() before Optimizer.Step() and AfterStep() after it");
        _pending = null;
        if (_fused) _backend!.Diagnostics = _wasOn;
        if (_optimizer.SkippedSteps != _skippedBefore)
            throw new InvalidOperationException("the optimizer skipped this step (a non-finite gradient): nothing changed, there is nothing to measure");
        if (_fused)
            return _backend!.LastDiagnosticsFor(pending.Select(x => (x.P, x.Hp.SignBound)).ToArray())
                   ?? throw new InvalidOperationException("the backend has no fused diagnostics of these parameters: was Optimizer.Step() called " +
                                                          "between BeforeStep() and AfterStep(), on this backend?");
        var inputs = new List<SignTensorInput>(pending.Count);
        var views = new List<DeviceTensorView?>(pending.Count);
        foreach (var (p, before, grad, hp) in pending)
        {
            var s = _optimizer.State(p) ?? throw new InvalidOperationException($"parameter '{p.Name}' has no state after the step: was Optimizer.Step() called?");
            inputs.Add(new SignTensorInput(p.Name, before, p.Data, grad, s.M!, s.V!, (float)hp.Eps, hp.SignBound, hp.Maximize));
            views.Add(_backend is not null && _backend.TryGetDeviceTensor(p, out var view) ? view : null);
        }
        return _device is null ? SignDiagnostics.Compute(inputs) : _device.Compute(inputs, views);
    }

    /// <summary>Frees what the probe holds on the device (nothing on the CPU path).</summary>
    public void Dispose() => _device?.Dispose();
}
