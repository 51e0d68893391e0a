using CudaAdam.Reference;

namespace CudaAdam;

/// <summary>A parameter tensor (flat float32) and its gradient for the coming step.</summary>
public sealed class Parameter
{
    public Parameter(string name, float[] data)
    {
        Name = name ?? throw new ArgumentNullException(nameof(name));
        Data = data ?? throw new ArgumentNullException(nameof(data));
    }

    /// <summary>A name for messages, checkpoints and diagnostics.</summary>
    public string Name { get; }
    /// <summary>The values, updated in place by <see cref="Optimizer.Step"/>.</summary>
    public float[] Data { get; }
    /// <summary>The gradient for the next step, or null: the parameter has no gradient this step and neither it nor
    /// its state changes (torch.optim's <c>p.grad is None</c>).</summary>
    public float[]? Grad { get; set; }

    public override string ToString() => $"{Name}[{Data.Length}]";
}

/// <summary>Parameters that share hyperparameters (torch.optim's param_groups). Change
/// <see cref="Hyperparameters"/> between steps for a schedule.</summary>
public sealed class ParamGroup
{
    private Hyperparameters _hp;

    public ParamGroup(IEnumerable<Parameter> parameters, Hyperparameters hyperparameters)
    {
        Params = parameters.ToArray();
        _hp = hyperparameters ?? throw new ArgumentNullException(nameof(hyperparameters));
    }

    public IReadOnlyList<Parameter> Params { get; }
    public Hyperparameters Hyperparameters { get => _hp; set => _hp = value ?? throw new ArgumentNullException(nameof(value)); }
}

/// <summary>One parameter's work in one step, as handed to an <see cref="IStepBackend"/>.</summary>
public readonly record struct StepItem(Parameter Param, ParamState State, Hyperparameters Hyperparameters, StepScalars Scalars);

/// <summary>Where the element-wise math of a step runs: the CPU reference, the host emulator of the kernels, or a GPU.
/// A backend receives every parameter of a step at once, so that it can do one launch per step.</summary>
public interface IStepBackend : IDisposable
{
    string Name { get; }
    void Step(Algorithm algorithm, IReadOnlyList<StepItem> items);
}

/// <summary>The CPU reference backend: <see cref="Reference.Reference.Step"/> on each parameter. With
/// <see cref="MaxGradNorm"/> the gradients are clipped by <see cref="GradClipping"/> first (on copies; a non-finite
/// norm gives coefficient 1 and the non-finite values go through, as without clipping).</summary>
public sealed class CpuReferenceBackend : IStepBackend, IClippingStepBackend
{
    private double? _maxGradNorm;

    public string Name => "cpu";

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
            LastGradNorm = GradClipping.TotalNorm(items.Select(it => it.Param.Grad!));
            LastClipCoefficient = GradClipping.Coefficient(LastGradNorm, maxNorm);
            foreach (var it in items)
            {
                var g = new float[it.Param.Grad!.Length];
                for (int i = 0; i < g.Length; i++) g[i] = it.Param.Grad[i] * LastClipCoefficient;
                Reference.Reference.Step(algorithm, it.Param.Data, g, it.State, it.Hyperparameters, it.Scalars);
            }
            return;
        }
        foreach (var it in items)
            Reference.Reference.Step(algorithm, it.Param.Data, it.Param.Grad, it.State, it.Hyperparameters, it.Scalars);
    }

    public void Dispose() { }
}

/// <summary>
/// An optimizer over parameter groups, torch.optim style: set each parameter's <see cref="Parameter.Grad"/>, call
/// <see cref="Step"/>. State is created on a parameter's first step with a gradient, exactly as torch.optim does;
/// a parameter without a gradient is skipped (its step count does not advance). Zero-size parameters are allowed.
/// </summary>
/// <example><code>
/// var w = new Parameter("w", new float[100]);
/// using var opt = new Optimizer(Algorithm.AdamW, [w], Hyperparameters.Defaults(Algorithm.AdamW) with { Lr = 3e-4 });
/// w.Grad = ComputeGradient(w.Data);
/// opt.Step();
/// </code></example>
public sealed class Optimizer : IDisposable
{
    private readonly Dictionary<Parameter, ParamState> _state = new(ReferenceEqualityComparer.Instance);
    private readonly IStepBackend _backend;
    private readonly List<string> _warnings = [];
    // The hyperparameters each group last passed validation with (a schedule changes them every step: keep one each).
    private readonly Dictionary<ParamGroup, Hyperparameters> _validated = new(ReferenceEqualityComparer.Instance);

    public Optimizer(Algorithm algorithm, IEnumerable<ParamGroup> groups, IStepBackend? backend = null)
    {
        Algorithm = algorithm;
        Groups = groups.ToArray();
        _backend = backend ?? new CpuReferenceBackend();
        var seen = new HashSet<Parameter>(ReferenceEqualityComparer.Instance);
        foreach (var g in Groups)
        {
            ValidateGroup(g);
            foreach (var p in g.Params)
                if (!seen.Add(p))
                    throw new ArgumentException($"parameter '{p.Name}' appears in more than one parameter group");
        }
    }

    public Optimizer(Algorithm algorithm, IEnumerable<Parameter> parameters, Hyperparameters? hyperparameters = null,
        IStepBackend? backend = null)
        : this(algorithm, [new ParamGroup(parameters, hyperparameters ?? Hyperparameters.Defaults(algorithm))], backend) { }

    public Algorithm Algorithm { get; }
    public IReadOnlyList<ParamGroup> Groups { get; }
    /// <summary>The backend's name: cpu, emulator or cuda.</summary>
    public string BackendName => _backend.Name;
    /// <summary>Steps the backend skipped because a gradient was not finite (<see cref="Device.ISkippingStepBackend"/>).</summary>
    public long SkippedSteps { get; private set; }
    /// <summary>
    /// Global-norm gradient clipping fused into the step (torch.nn.utils.clip_grad_norm_ semantics, see
    /// <see cref="GradClipping"/>), or null for none. Stored in the backend, which must implement
    /// <see cref="IClippingStepBackend"/> (cpu, emulator and cuda do).
    /// </summary>
    /// <exception cref="NotSupportedException">The backend cannot clip.</exception>
    /// <exception cref="ArgumentException">Not a finite number &gt; 0.</exception>
    public double? MaxGradNorm
    {
        get => (_backend as IClippingStepBackend)?.MaxGradNorm;
        set
        {
            GradClipping.Validate(value);
            if (_backend is IClippingStepBackend c) c.MaxGradNorm = value;
            else if (value is not null)
                throw new NotSupportedException($"backend '{_backend.Name}' does not clip gradients (use cpu, emulator or cuda)");
        }
    }

    /// <summary>The total gradient norm of the last clipped step (NaN when none or not clipping).</summary>
    public double LastGradNorm => (_backend as IClippingStepBackend)?.LastGradNorm ?? double.NaN;

    /// <summary>Warnings from validation (β1 ≥ sqrt(β2), ...), each once.</summary>
    public IReadOnlyList<string> Warnings => _warnings;

    /// <summary>The state of <paramref name="p"/>, or null before its first step.</summary>
    public ParamState? State(Parameter p) => _state.GetValueOrDefault(p);

    /// <summary>Replaces the state of <paramref name="p"/> (loading a checkpoint). The buffers must fit the parameter.</summary>
    public void SetState(Parameter p, ParamState state)
    {
        var group = Groups.FirstOrDefault(g => g.Params.Contains(p))
                    ?? throw new ArgumentException($"parameter '{p.Name}' is not in this optimizer");
        CheckState(p, state, group.Hyperparameters);
        _state[p] = state;
    }

    /// <summary>Takes one step for every parameter that has a gradient.</summary>
    /// <remarks>All-or-nothing: every group, gradient and state is checked before any state advances, and if the
    /// backend fails, the step counters and running products are restored, so a failed step can be retried.</remarks>
    /// <exception cref="ArgumentException">A gradient's length differs from its parameter's, or hyperparameters are invalid.</exception>
    public void Step()
    {
        var work = new List<(Parameter P, Hyperparameters Hp, ParamState? State)>();
        foreach (var group in Groups)
        {
            var hp = group.Hyperparameters;
            ValidateGroup(group);
            foreach (var p in group.Params)
            {
                if (p.Grad is null) continue;
                if (p.Grad.Length != p.Data.Length)
                    throw new ArgumentException(
                        $"parameter '{p.Name}' has {p.Data.Length} elements but its gradient has {p.Grad.Length}");
                var s = _state.GetValueOrDefault(p);
                if (s is not null) CheckState(p, s, hp);
                work.Add((p, hp, s));
            }
        }

        var items = new List<StepItem>(work.Count);
        var counters = new List<(ParamState State, long Step, double B1, double B2, double Mu)>(work.Count);
        foreach (var (p, hp, existing) in work)
        {
            var s = existing ?? ParamState.Create(Algorithm, hp, p.Data.Length);
            counters.Add((s, s.Step, s.Beta1Power, s.Beta2Power, s.MuProduct));
            items.Add(new StepItem(p, s, hp, StepScalars.Advance(Algorithm, hp, s)));
        }
        try
        {
            _backend.Step(Algorithm, items);
        }
        catch
        {
            Restore();
            throw;
        }
        // A backend that met a non-finite gradient changed nothing (Device.ISkippingStepBackend): undo the counters
        // too, and keep no state created for this step, as if Step had not been called (torch's GradScaler).
        if (_backend is Device.ISkippingStepBackend { LastStepSkipped: true })
        {
            Restore();
            SkippedSteps++;
            return;
        }
        foreach (var it in items) _state[it.Param] = it.State;
        return;

        void Restore()
        {
            foreach (var (s, step, b1, b2, mu) in counters)
                (s.Step, s.Beta1Power, s.Beta2Power, s.MuProduct) = (step, b1, b2, mu);
        }
    }

    private void ValidateGroup(ParamGroup g)
    {
        var hp = g.Hyperparameters;
        if (_validated.TryGetValue(g, out var last) && last == hp) return;
        foreach (var w in hp.Validate(Algorithm))
            if (!_warnings.Contains(w)) _warnings.Add(w);
        _validated[g] = hp;
    }

    private void CheckState(Parameter p, ParamState s, Hyperparameters hp)
    {
        // The layout ParamState.Create would make, without allocating it (this runs on every step).
        var (m, v, vmax, aux) = ParamState.Layout(Algorithm, hp);
        int n = p.Data.Length;
        Check(m ? n : null, s.M, "M"); Check(v ? n : null, s.V, "V"); Check(vmax ? n : null, s.VMax, "VMax"); Check(aux ? n : null, s.Aux, "Aux");
        return;

        void Check(int? want, float[]? have, string slot)
        {
            // SGD creates its momentum buffer on the first step; anything else must match the layout.
            if (want is null && have is null) return;
            if (want is null && Algorithm == Algorithm.Sgd && slot == "M" && have!.Length == p.Data.Length) return;
            if (want is null || have is null || want != have.Length)
                throw new InvalidOperationException(
                    $"the state of parameter '{p.Name}' does not fit {Algorithm.Name()} with these hyperparameters: slot {slot} " +
                    $"is {(have is null ? "missing" : $"{have.Length} long")}, expected {(want is null ? "none" : $"{want} elements")} " +
                    "(amsgrad, momentum or centered changed after the first step, or a checkpoint of another optimizer was loaded)");
        }
    }

    public void Dispose() => _backend.Dispose();
}
