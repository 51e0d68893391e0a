using CudaAdam.Reference;

namespace CudaAdam;

/// <summary>A parameter tensor (float32, stored flat, row-major) and its gradient for the coming step.</summary>
/// <remarks>A parameter has a <see cref="Shape"/> (torch's <c>p.shape</c>); flat, <c>[n]</c>, unless given. Element-wise
/// algorithms never read it; those that treat a matrix as a matrix do: the factored second moment of Adafactor and the
/// orthogonalized update of Muon apply to parameters of rank &gt;= 2, whose last two dimensions are the matrix (torch's
/// convention). The state dict records every parameter's shape and refuses a checkpoint made for another.</remarks>
public sealed class Parameter
{
    /// <summary>A parameter named <paramref name="name"/> over <paramref name="data"/> (not copied: the optimizer steps this array in place).</summary>
    /// <param name="name">A name for messages, checkpoints and diagnostics.</param>
    /// <param name="data">The values, row-major.</param>
    /// <param name="shape">The dimensions (each &gt;= 0, their product the length of <paramref name="data"/>), or null: flat.</param>
    /// <exception cref="ArgumentException">The shape does not hold the data.</exception>
    public Parameter(string name, float[] data, IReadOnlyList<int>? shape = null)
    {
        Name = name ?? throw new ArgumentNullException(nameof(name));
        Data = data ?? throw new ArgumentNullException(nameof(data));
        Shape = shape is null ? [data.Length] : CheckShape(name, shape, data.Length);
    }

    /// <summary>A name for messages, checkpoints and diagnostics.</summary>
    public string Name { get; }
    /// <summary>The values, updated in place by <see cref="Optimizer.Step()"/>.</summary>
    public float[] Data { get; }
    /// <summary>The dimensions, outermost first (torch's <c>p.shape</c>); <c>[n]</c> for a flat parameter.</summary>
    public IReadOnlyList<int> Shape { get; }
    /// <summary>The number of dimensions (torch's <c>p.dim()</c>).</summary>
    public int Rank => Shape.Count;
    /// <summary>The gradient for the next step, or null: the parameter has no gradient this step and neither it nor
    /// its state changes (torch.optim's <c>p.grad is None</c>).</summary>
    public float[]? Grad { get; set; }

    /// <summary>The parameter as a matrix of <c>Rows × Cols</c> (rank &gt;= 2: the product of the leading dimensions by
    /// the last; rank 1: 1 × n; rank 0: 1 × 1). Muon and Adafactor read parameters of rank 2 as this matrix.</summary>
    public (int Rows, int Cols) Matrix => Rank switch
    {
        0 => (1, 1),
        1 => (1, Shape[0]),
        _ => (Data.Length == 0 ? 0 : Data.Length / Shape[^1], Shape[^1]),
    };

    /// <summary>"[3, 4]": the shape as messages write it.</summary>
    public static string Show(IReadOnlyList<int> shape) => $"[{string.Join(", ", shape)}]";

    private static int[] CheckShape(string name, IReadOnlyList<int> shape, int length)
    {
        foreach (int d in shape)
            if (d < 0) throw new ArgumentException($"parameter '{name}': shape {Show(shape)} has a negative dimension");
        // The product, stopped once it passes the length (dimensions are < 2^31, so it never overflows a long first).
        long product = shape.Contains(0) ? 0 : 1;
        for (int i = 0; i < shape.Count && product <= length && product != 0; i++) product *= shape[i];
        if (product != length)
            throw new ArgumentException($"parameter '{name}': shape {Show(shape)} does not hold its {length} elements (the dimensions' product must equal the data's length)");
        return [.. shape];
    }

    /// <summary>The name and shape, e.g. <c>fc1.weight[256, 784]</c> (flat: <c>b[10]</c>).</summary>
    public override string ToString() => $"{Name}{(Rank == 1 ? $"[{Data.Length}]" : Show(Shape))}";
}

/// <summary>Parameters that share hyperparameters (torch.optim's param_groups). Change
/// <see cref="Hyperparameters"/> between steps for a schedule.</summary>
public sealed class ParamGroup
{
    private Hyperparameters _hp;

    /// <summary>A group of <paramref name="parameters"/> stepped with <paramref name="hyperparameters"/>.</summary>
    public ParamGroup(IEnumerable<Parameter> parameters, Hyperparameters hyperparameters)
    {
        Params = parameters.ToArray();
        _hp = hyperparameters ?? throw new ArgumentNullException(nameof(hyperparameters));
    }

    /// <summary>The group's parameters, in order (state dicts index them in this order across groups).</summary>
    public IReadOnlyList<Parameter> Params { get; }
    /// <summary>The group's hyperparameters; set a new value between steps for a schedule (validated at the next step).</summary>
    public Hyperparameters Hyperparameters { get => _hp; set => _hp = value ?? throw new ArgumentNullException(nameof(value)); }

    /// <summary>The lr this group started from under a scheduler (torch's <c>group['initial_lr']</c>): set by the first
    /// <see cref="LrScheduler"/> built over the optimizer (OneCycleLR: max_lr/div_factor); the base lr of every
    /// scheduler built after it, so that schedulers chain. Null until then.</summary>
    public double? InitialLr { get; set; }
}

/// <summary>One parameter's work in one step, as handed to an <see cref="IStepBackend"/>.</summary>
public readonly record struct StepItem(Parameter Param, ParamState State, Hyperparameters Hyperparameters, StepScalars Scalars);

/// <summary>Where the element-wise math of a step runs: the CPU reference, the host emulator of the kernels, or a GPU.
/// A backend receives every parameter of a step at once, so that it can do one launch per step, and honours the
/// <see cref="StepContract"/> (unscale, clipping, non-finite policy) exactly as the reference does: same inputs,
/// same bits, same <see cref="BackendStepOutcome"/>.</summary>
public interface IStepBackend : IDisposable
{
    /// <summary>The backend's name in logs and results (<c>cpu</c>, <c>reference</c>, <c>emulator</c>, <c>cuda</c>).</summary>
    string Name { get; }

    /// <summary>Steps every item. On a refused step (<see cref="BackendStepOutcome.NonFinite"/>) no parameter and no
    /// state buffer may have changed; <see cref="Optimizer"/> rolls back the counters.</summary>
    BackendStepOutcome Step(Algorithm algorithm, IReadOnlyList<StepItem> items, StepContract contract);

    /// <summary>Whether the backend's own memory holds the parameters and state between steps (a device-resident
    /// <see cref="Device.DeviceBackend"/>): then every parameter steps every time, <see cref="Parameter.Data"/> is current
    /// only after <see cref="Optimizer.DownloadParameters"/>, and state buffers are read and written through
    /// <see cref="ReadState"/>/<see cref="WriteState"/>. False for host-resident backends (the default).</summary>
    bool Resident => false;

    /// <summary>Called once by the <see cref="Optimizer"/> constructor with its parameter set (a resident backend places
    /// it: one plan per parameter set).</summary>
    void Attach(Algorithm algorithm, IReadOnlyList<ParamGroup> groups) { }

    /// <summary>Resident backends: fills the state buffers of <paramref name="into"/> from the backend's memory.</summary>
    void ReadState(Parameter p, ParamState into) => throw new NotSupportedException($"backend '{Name}' keeps no state of its own");

    /// <summary>Resident backends: writes <paramref name="state"/> (buffers and counters) into the backend's memory.</summary>
    void WriteState(Parameter p, ParamState state) => throw new NotSupportedException($"backend '{Name}' keeps no state of its own");

    /// <summary>Resident backends: copies the parameters into each <see cref="Parameter.Data"/>.</summary>
    void DownloadParameters() { }

    /// <summary>Resident backends: copies each <see cref="Parameter.Data"/> into the backend's memory (restoring a checkpoint).</summary>
    void UploadParameters() { }
}

/// <summary>
/// An optimizer over parameter groups, torch.optim style: set each parameter's <see cref="Parameter.Grad"/>, call
/// <see cref="Step()"/>. State is created on a parameter's first step with a gradient, exactly as torch.optim does;
/// a parameter without a gradient is skipped (its step count does not advance). Zero-size parameters are allowed.
/// The one step engine: every backend (cpu, reference, emulator, cuda; host- or device-resident, graph-captured) is
/// driven through it under one <see cref="StepContract"/> (<see cref="InvScale"/>, <see cref="MaxGradNorm"/>,
/// <see cref="NonFinite"/>) and answers with one <see cref="StepResult"/>; <see cref="StateDict"/> and
/// <see cref="LoadStateDict"/> save and restore it whole.
/// </summary>
/// <example><code>
/// var w = new Parameter("w", new float[100]);
/// using var opt = new Optimizer(Algorithm.AdamW, [w], Hyperparameters.Defaults(Algorithm.AdamW) with { Lr = 3e-4 });
/// w.Grad = ComputeGradient(w.Data);
/// StepResult r = opt.Step();   // r.Skipped, r.Reason: a NaN gradient skips the step (NonFinitePolicy.Skip), loudly
/// </code></example>
public sealed class Optimizer : IDisposable
{
    private readonly Dictionary<Parameter, ParamState> _state = new(ReferenceEqualityComparer.Instance);
    private readonly IStepBackend _backend;
    private readonly List<string> _warnings = [];
    // The hyperparameters each group last passed validation with (a schedule changes them every step: keep one each).
    private readonly Dictionary<ParamGroup, Hyperparameters> _validated = new(ReferenceEqualityComparer.Instance);
    private float _invScale = 1f;
    private double? _maxGradNorm;
    private readonly List<(Parameter P, Hyperparameters Hp, ParamState? State)> _work = [];
    private readonly List<StepItem> _items = [];
    private readonly List<(ParamState State, long Step, double B1, double B2, double Mu, double LrMax, double WeightSum, double Eta, double AsgdMu)> _counters = [];

    /// <summary>An optimizer of <paramref name="algorithm"/> over parameter groups, each with its own hyperparameters (torch's <c>param_groups</c>).</summary>
    /// <param name="algorithm">The update rule; its equations are on its <see cref="CudaAdam.Algorithm"/> member (e.g. <see cref="Algorithm.Adam"/>).</param>
    /// <param name="groups">The groups; a parameter may appear in one group only. Each group's hyperparameters are validated for the algorithm.</param>
    /// <param name="backend">Where the element-wise step runs (<see cref="Backends.Create"/>); null: <c>cpu</c>, the fast CPU step, bitwise the reference.</param>
    /// <exception cref="ArgumentException">A parameter in two groups, or hyperparameters outside their domain.</exception>
    public Optimizer(Algorithm algorithm, IEnumerable<ParamGroup> groups, IStepBackend? backend = null)
    {
        Algorithm = algorithm;
        _groups = groups.ToList();
        _backend = backend ?? new Cpu.CpuSimdBackend();   // "cpu": bitwise the reference, at memory speed
        var seen = new HashSet<Parameter>(ReferenceEqualityComparer.Instance);
        foreach (var g in Groups)
        {
            ValidateGroup(g);
            foreach (var p in g.Params)
                if (!seen.Add(p))
                    throw new ArgumentException($"parameter '{p.Name}' appears in more than one parameter group");
        }
        _backend.Attach(Algorithm, Groups);
        // A resident backend holds the buffers; the optimizer keeps each parameter's counters (which the device clock
        // advances identically), from step 0: every parameter steps every time.
        if (_backend.Resident)
            foreach (var p in seen) _state[p] = new ParamState();
    }

    /// <summary>An optimizer of <paramref name="algorithm"/> over one group of <paramref name="parameters"/>.</summary>
    /// <param name="algorithm">The update rule (its equations: its <see cref="CudaAdam.Algorithm"/> member).</param>
    /// <param name="parameters">The parameters, stepped in place.</param>
    /// <param name="hyperparameters">The group's hyperparameters; null: the algorithm's defaults (<see cref="Hyperparameters.For"/>).</param>
    /// <param name="backend">Where the step runs; null: <c>cpu</c>.</param>
    public Optimizer(Algorithm algorithm, IEnumerable<Parameter> parameters, Hyperparameters? hyperparameters = null,
        IStepBackend? backend = null)
        : this(algorithm, [new ParamGroup(parameters, hyperparameters ?? Hyperparameters.Defaults(algorithm))], backend) { }

    private readonly List<ParamGroup> _groups;

    /// <summary>The update rule every group steps with.</summary>
    public Algorithm Algorithm { get; }
    /// <summary>The parameter groups (torch's <c>param_groups</c>), in order; <see cref="AddParamGroup"/> appends.</summary>
    public IReadOnlyList<ParamGroup> Groups => _groups;

    /// <summary>Adds a parameter group (torch's <c>add_param_group</c>), e.g. layers unfrozen during fine-tuning. Its
    /// parameters must not be in another group; its hyperparameters are validated now. Its state is created on each
    /// parameter's first step, as for every parameter. Build schedulers after adding groups (a scheduler covers the
    /// groups it was built over and refuses to step a changed set).</summary>
    /// <exception cref="ArgumentException">A parameter already in a group, or invalid hyperparameters.</exception>
    /// <exception cref="NotSupportedException">A device-resident backend, which placed its parameter set once.</exception>
    public void AddParamGroup(ParamGroup group)
    {
        ArgumentNullException.ThrowIfNull(group);
        if (_backend.Resident)
            throw new NotSupportedException($"backend '{Name()}' is device-resident and placed its parameter set when the optimizer was built; " +
                                            "build a new optimizer with every group (or use Residency.Host)");
        foreach (var p in group.Params)
            foreach (var g in _groups)
                if (g.Params.Contains(p))
                    throw new ArgumentException($"parameter '{p.Name}' appears in more than one parameter group");
        ValidateGroup(group);
        _groups.Add(group);

        string Name() => _backend.Name;
    }

    /// <summary>Clears every parameter's gradient (torch's <c>zero_grad</c>). With <paramref name="setToNone"/> (torch
    /// 2.x's default) each <see cref="Parameter.Grad"/> becomes null, so a parameter that gets no new gradient does not
    /// step; otherwise the arrays are filled with zeros (a zero gradient still steps: momentum and decay move it).</summary>
    public void ZeroGrad(bool setToNone = true)
    {
        foreach (var g in _groups)
            foreach (var p in g.Params)
            {
                if (setToNone) p.Grad = null;
                else if (p.Grad is { } grad) Array.Clear(grad);
            }
    }

    /// <summary>torch's <c>step(closure)</c>: calls <paramref name="closure"/> (which computes the loss and sets the
    /// gradients, usually after <see cref="ZeroGrad"/>), then steps; returns the closure's loss.
    /// <see cref="LastResult"/> holds the step's result (skipped or not).</summary>
    /// <exception cref="ArgumentNullException">No closure.</exception>
    public float Step(Func<float> closure)
    {
        ArgumentNullException.ThrowIfNull(closure);
        float loss = closure();
        Step();
        return loss;
    }
    /// <summary>The backend's name: cpu, reference, emulator or cuda.</summary>
    public string BackendName => _backend.Name;

    /// <summary>What a non-finite gradient does (<see cref="NonFinitePolicy"/>); <see cref="NonFinitePolicy.Skip"/> by
    /// default: the step is skipped, loudly (<see cref="StepResult.Skipped"/>, <see cref="SkippedSteps"/>).</summary>
    public NonFinitePolicy NonFinite { get; set; } = NonFinitePolicy.Skip;

    /// <summary>Gradients are multiplied by this in float32 before anything else (mixed-precision loss scaling:
    /// 1/scale). 1 (default) is exact. The product is what the non-finite check and clipping see.</summary>
    /// <exception cref="ArgumentException">Not a finite number &gt; 0.</exception>
    public float InvScale
    {
        get => _invScale;
        set => _invScale = float.IsFinite(value) && value > 0
            ? value
            : throw new ArgumentException($"Invalid inv_scale: {value} (must be a finite number > 0)");
    }

    /// <summary>
    /// Global-norm gradient clipping fused into the step (torch.nn.utils.clip_grad_norm_ semantics, see
    /// <see cref="GradClipping"/>), or null for none (default).
    /// </summary>
    /// <exception cref="ArgumentException">Not a finite number &gt; 0.</exception>
    public double? MaxGradNorm
    {
        get => _maxGradNorm;
        set { GradClipping.Validate(value); _maxGradNorm = value; }
    }

    /// <summary>The step contract the next <see cref="Step()"/> hands the backend.</summary>
    public StepContract Contract => new(_invScale, _maxGradNorm, NonFinite);

    /// <summary>Steps taken (a skipped step does not count); <see cref="StepResult.Step"/> of the last result.</summary>
    public long StepCount { get; private set; }

    /// <summary>Steps skipped because a gradient was not finite (<see cref="NonFinitePolicy.Skip"/>).</summary>
    public long SkippedSteps { get; private set; }

    /// <summary>The result of the last <see cref="Step()"/>, or null before the first.</summary>
    public StepResult? LastResult { get; private set; }

    /// <summary>The total gradient norm of the last clipped step (NaN when none or not clipping).</summary>
    public double LastGradNorm => LastResult?.GradNorm ?? double.NaN;

    /// <summary>Warnings from validation (β1 ≥ sqrt(β2), ...), each once.</summary>
    public IReadOnlyList<string> Warnings => _warnings;

    /// <summary>The state of <paramref name="p"/>, or null before its first step. With a resident backend the buffers
    /// are read from the device on each call (a copy: writing into it changes nothing; use <see cref="SetState"/>).</summary>
    public ParamState? State(Parameter p)
    {
        var s = _state.GetValueOrDefault(p);
        if (s is not null && _backend.Resident)
        {
            s = s.Clone();
            _backend.ReadState(p, s);
        }
        return s;
    }

    /// <summary>Replaces the state of <paramref name="p"/> (loading a checkpoint). The buffers must fit the parameter.</summary>
    public void SetState(Parameter p, ParamState state)
    {
        var group = Groups.FirstOrDefault(g => g.Params.Contains(p))
                    ?? throw new ArgumentException($"parameter '{p.Name}' is not in this optimizer");
        CheckState(p, state, group.Hyperparameters);
        if (_backend.Resident)
        {
            _backend.WriteState(p, state);
            _state[p] = new ParamState
            {
                Step = state.Step, Beta1Power = state.Beta1Power, Beta2Power = state.Beta2Power, MuProduct = state.MuProduct,
                LrMax = state.LrMax, WeightSum = state.WeightSum,
            };
            return;
        }
        _state[p] = state;
    }

    /// <summary>
    /// The whole optimizer's state in torch's <c>state_dict()</c> shape (<see cref="OptimizerStateDict"/>): groups with
    /// their hyperparameters and parameter indices, and each parameter's state under torch's slot names. A deep copy
    /// (with a resident backend, read from the device).
    /// </summary>
    public OptimizerStateDict StateDict()
    {
        var info = Algorithm.Info();
        var groups = new List<ParamGroupState>();
        var state = new Dictionary<int, ParamStateEntry>();
        int index = 0;
        foreach (var g in Groups)
        {
            var ids = new List<int>();
            foreach (var p in g.Params)
            {
                if (State(p) is { } s)
                {
                    var buffers = new Dictionary<string, float[]>(StringComparer.Ordinal);
                    var quantized = new Dictionary<string, QuantizedBuffer>(StringComparer.Ordinal);
                    foreach (var slot in info.State)
                    {
                        if (s[slot.Buffer] is { } b) buffers[slot.TorchName] = (float[])b.Clone();
                        if (slot.Quantized is not null && s.Quantized(slot.Buffer) is { } q) quantized[slot.TorchName] = q.Clone();
                    }
                    foreach (var scalar in info.ScalarState) buffers[scalar.TorchName] = [(float)scalar.Get(s)];   // torch: 0-dim float32
                    state[index] = new ParamStateEntry(s.Step, s.Beta1Power, s.Beta2Power, s.MuProduct, buffers, s.LrMax, s.WeightSum) { Quantized = quantized };
                }
                ids.Add(index++);
            }
            groups.Add(new ParamGroupState(g.Hyperparameters, ids, g.Params.Select(p => p.Name).ToArray(), g.Params.Select(p => p.Data.Length).ToArray())
                { Shapes = g.Params.Select(p => p.Shape).ToArray() });
        }
        return new OptimizerStateDict
        {
            Algorithm = info.Name, StepCount = StepCount, SkippedSteps = SkippedSteps, ParamGroups = groups, State = state, EvalMode = EvalMode,
        };
    }

    /// <summary>Checks that <paramref name="dict"/> fits this optimizer (version, algorithm, groups, every parameter's
    /// length, every slot its hyperparameters keep, the step count and the running products) without changing anything.</summary>
    /// <exception cref="ArgumentException">The first thing that does not fit, naming the parameter and the slot.</exception>
    public void ValidateStateDict(OptimizerStateDict dict) => Prepare(dict);

    /// <summary>Restores <paramref name="dict"/> (from <see cref="StateDict"/>, or a checkpoint): the groups'
    /// hyperparameters, every parameter's state and the step counters, as torch's <c>load_state_dict</c>. All or
    /// nothing: everything is validated first (<see cref="ValidateStateDict"/>).</summary>
    /// <exception cref="ArgumentException">The dict does not fit; nothing changed.</exception>
    public void LoadStateDict(OptimizerStateDict dict)
    {
        var (hps, states) = Prepare(dict);
        for (int g = 0; g < Groups.Count; g++) Groups[g].Hyperparameters = hps[g];
        int index = 0;
        foreach (var g in Groups)
            foreach (var p in g.Params)
            {
                if (states[index++] is { } s) SetState(p, s);
                else if (_backend.Resident) SetState(p, ParamState.Create(Algorithm, g.Hyperparameters, p.Data.Length));
                else _state.Remove(p);
            }
        (StepCount, SkippedSteps, EvalMode) = (dict.StepCount, dict.SkippedSteps, dict.EvalMode);
    }

    private (Hyperparameters[] Hps, ParamState?[] States) Prepare(OptimizerStateDict dict)
    {
        ArgumentNullException.ThrowIfNull(dict);
        var info = Algorithm.Info();
        void Fail(string what) => throw new ArgumentException($"state dict: {what}; nothing was loaded");
        if (dict.Version is < 1 or > OptimizerStateDict.CurrentVersion) Fail($"version {dict.Version}, this build reads 1 … {OptimizerStateDict.CurrentVersion}");
        if (dict.Algorithm != info.Name) Fail($"it is of {dict.Algorithm}, this optimizer is {info.Name}");
        if (dict.StepCount < 0 || dict.SkippedSteps < 0) Fail($"negative step counts ({dict.StepCount} taken, {dict.SkippedSteps} skipped)");
        if (dict.EvalMode && info.EvalInterpolation is null) Fail($"it is in eval mode, which {info.Name} does not have");
        if (dict.ParamGroups.Count != Groups.Count) Fail($"{dict.ParamGroups.Count} parameter groups, this optimizer has {Groups.Count}");
        var hps = new Hyperparameters[Groups.Count];
        int count = Groups.Sum(g => g.Params.Count);
        var states = new ParamState?[count];
        var known = new Dictionary<int, (Parameter P, Hyperparameters Hp)>();
        int index = 0;
        for (int g = 0; g < Groups.Count; g++)
        {
            var dg = dict.ParamGroups[g];
            hps[g] = dg.Hyperparameters;
            try { hps[g].Validate(Algorithm); }
            catch (ArgumentException e) { Fail($"group {g}: {e.Message}"); }
            if (dg.Params.Count != Groups[g].Params.Count || dg.Names.Count != dg.Params.Count || dg.Lengths.Count != dg.Params.Count)
                Fail($"group {g} holds {dg.Params.Count} parameters, this optimizer's {Groups[g].Params.Count}");
            for (int i = 0; i < dg.Params.Count; i++, index++)
            {
                var p = Groups[g].Params[i];
                if (dg.Params[i] != index) Fail($"group {g} parameter {i} has index {dg.Params[i]}, expected {index}");
                if (dg.Lengths[i] != p.Data.Length)
                    Fail($"parameter {index} ('{dg.Names[i]}') has {dg.Lengths[i]} elements, this optimizer's '{p.Name}' {p.Data.Length}");
                if (dg.Shapes is { } shapes && (shapes.Count != dg.Params.Count || !shapes[i].SequenceEqual(p.Shape)))
                    Fail($"parameter {index} ('{dg.Names[i]}') has shape {(shapes.Count == dg.Params.Count ? Parameter.Show(shapes[i]) : "?")}, " +
                         $"this optimizer's '{p.Name}' {Parameter.Show(p.Shape)}");
                known[index] = (p, hps[g]);
            }
        }
        foreach (var (i, e) in dict.State)
        {
            if (!known.TryGetValue(i, out var target)) Fail($"state for parameter index {i}, which no group holds (0 … {count - 1})");
            var (p, hp) = target;
            string who = $"parameter {i} ('{p.Name}')";
            if (e.Step < 0) Fail($"{who} is at step {e.Step}");
            CheckProduct(e.Beta1Power, hp.Beta1, "β1^t");
            CheckProduct(e.Beta2Power, hp.Beta2, "β2^t");
            if (!(e.MuProduct >= 0 && e.MuProduct <= 1)) Fail(FormattableString.Invariant($"{who}: the running product Πμ is {e.MuProduct}, outside [0, 1]"));
            if (!(double.IsFinite(e.LrMax) && e.LrMax >= 0 && double.IsFinite(e.WeightSum) && e.WeightSum >= 0))
                Fail(FormattableString.Invariant($"{who}: Schedule-Free's lr_max {e.LrMax} and weight_sum {e.WeightSum} must be finite and >= 0"));
            var s = new ParamState
            {
                Step = e.Step, Beta1Power = e.Beta1Power, Beta2Power = e.Beta2Power, MuProduct = e.MuProduct, LrMax = e.LrMax, WeightSum = e.WeightSum,
            };
            var slots = info.StateWith(hp).ToList();
            foreach (var scalar in info.ScalarState)
            {
                if (!e.Buffers.TryGetValue(scalar.TorchName, out var one)) Fail($"{who}: scalar slot '{scalar.TorchName}' is missing");
                else if (one.Length != 1 || !float.IsFinite(one[0])) Fail($"{who}: scalar slot '{scalar.TorchName}' must be one finite value, it has {one.Length}");
                else scalar.Set(s, one[0]);
            }
            foreach (var name in e.Buffers.Keys.Concat(e.Quantized.Keys))
                if (slots.All(x => x.TorchName != name) && info.ScalarState.All(x => x.TorchName != name))
                    Fail($"{who}: slot '{name}' is not kept by {info.Name} with these hyperparameters " +
                         $"(it keeps {(slots.Count == 0 ? "none" : string.Join(", ", slots.Select(x => x.TorchName)))})");
            foreach (var slot in slots)
            {
                if (slot.QuantizedWith(hp))
                {
                    // state_bits = 8: the slot is codes + absmax (QuantizedBuffer), never float32.
                    if (e.Buffers.ContainsKey(slot.TorchName))
                        Fail($"{who}: slot '{slot.TorchName}' is float32, but with state_bits = 8 it is kept 8-bit");
                    if (!e.Quantized.TryGetValue(slot.TorchName, out var q)) Fail($"{who}: slot '{slot.TorchName}' (8-bit) is missing");
                    else if (q.Length != p.Data.Length) Fail($"{who}: slot '{slot.TorchName}' has {q.Length} elements, the parameter {p.Data.Length}");
                    else if (q.Map != slot.Quantized) Fail($"{who}: slot '{slot.TorchName}' uses the {q.Map} map, {info.Name} keeps it on the {slot.Quantized} map");
                    else s.SetQuantized(slot.Buffer, q.Clone());
                    continue;
                }
                if (e.Quantized.ContainsKey(slot.TorchName))
                    Fail($"{who}: slot '{slot.TorchName}' is 8-bit, but with state_bits = {hp.StateBits} it is kept float32");
                if (!e.Buffers.TryGetValue(slot.TorchName, out var values))
                {
                    if (slot.OnFirstStep && e.Step == 0) continue;
                    Fail($"{who}: slot '{slot.TorchName}' is missing");
                }
                else if (values.Length != p.Data.Length) Fail($"{who}: slot '{slot.TorchName}' has {values.Length} elements, the parameter {p.Data.Length}");
                else s[slot.Buffer] = (float[])values.Clone();
            }
            states[i] = s;

            // β^t is a running product from 1: 1 at step 0; below 1 after a step with β < 1 (0 only once it underflows).
            void CheckProduct(double product, double beta, string what)
            {
                if (!(product >= 0 && product <= 1)) Fail(FormattableString.Invariant($"{who}: the running product {what} is {product}, outside [0, 1]"));
                bool missing = e.Step == 0 ? product != 1
                    : beta > 0 && beta < 1 && (product == 1 || (product == 0 && Math.Pow(beta, e.Step) > 1e-300));
                if (missing) Fail(FormattableString.Invariant($"{who}: the running product {what} is {product} at step {e.Step} (missing or not this run's)"));
            }
        }
        return (hps, states);
    }

    /// <summary>Whether the parameters hold the evaluation point (after <see cref="Eval"/>); false (train mode) from the
    /// start. Only Schedule-Free algorithms (<see cref="AlgorithmInfo.EvalInterpolation"/>) ever switch; for the others it
    /// stays false.</summary>
    public bool EvalMode { get; private set; }

    /// <summary>
    /// The reference implementation's <c>optimizer.eval()</c>: with a Schedule-Free algorithm, puts the evaluation point x
    /// into every parameter that has stepped (p ← lerp(p, z, 1 − 1/β), p holding y); <see cref="Train"/> goes back. Call
    /// it before evaluating or saving a model for use, <see cref="Train"/> before the next step (a step in eval mode is
    /// refused). A no-op for every other algorithm (their parameters are their evaluation point), and when already in
    /// eval mode. Checkpoints record the mode (<see cref="OptimizerStateDict.EvalMode"/>), so either mode resumes exactly.
    /// </summary>
    /// <exception cref="InvalidOperationException">β = 0 (x cannot be recovered from y = z).</exception>
    public void Eval() => SwitchMode(toEval: true);

    /// <summary>The reference implementation's <c>optimizer.train()</c>: the gradient point y back into the parameters
    /// (p ← lerp(p, z, 1 − β)); see <see cref="Eval"/>. A no-op in train mode and for non-Schedule-Free algorithms.</summary>
    public void Train() => SwitchMode(toEval: false);

    private void SwitchMode(bool toEval)
    {
        if (EvalMode == toEval || Algorithm.Info().EvalInterpolation is not { } interpolation) return;
        foreach (var g in Groups)
            if (toEval && interpolation(g.Hyperparameters) == 0)
                throw new InvalidOperationException($"{Algorithm.Name()}: eval() needs an interpolation beta > 0 (with beta = 0, y = z and the average x " +
                                                    "cannot be recovered; the reference divides by zero too)");
        // On the host, over the parameters that have stepped (z exists); a resident backend's values and z are read
        // from the device and the new values written back (two copies per switch, not per step).
        if (_backend.Resident) _backend.DownloadParameters();
        foreach (var g in Groups)
        {
            double beta = interpolation(g.Hyperparameters);
            foreach (var p in g.Params)
                if (State(p) is { Step: > 0, M: { } z })
                    Reference.ScheduleFreeReference.Interpolate(p.Data, z, beta, toEval);
        }
        if (_backend.Resident) _backend.UploadParameters();
        EvalMode = toEval;
    }

    /// <summary>With a resident backend (a device-resident <see cref="Device.DeviceBackend"/>): copies the parameters from
    /// the device into each <see cref="Parameter.Data"/>. Nothing to do for host-resident backends, whose
    /// <see cref="Parameter.Data"/> is always current.</summary>
    public void DownloadParameters() => _backend.DownloadParameters();

    /// <summary>With a resident backend: copies each <see cref="Parameter.Data"/> to the device (after loading a checkpoint).</summary>
    public void UploadParameters() => _backend.UploadParameters();

    /// <summary>Whether the backend holds parameters and state on the device between steps (<see cref="IStepBackend.Resident"/>).</summary>
    public bool Resident => _backend.Resident;

    /// <summary>Takes one step for every parameter that has a gradient, under <see cref="Contract"/>.</summary>
    /// <returns>What happened: the step count, whether it was skipped and why, the gradient norm and clip coefficient.</returns>
    /// <remarks>All-or-nothing: every group, gradient and state is checked before any state advances; if the backend
    /// fails or refuses the step (a non-finite gradient), the step counters and running products are restored and no
    /// state created for this step is kept, as if Step had not been called (torch's GradScaler).</remarks>
    /// <exception cref="ArgumentException">A gradient's length differs from its parameter's, or hyperparameters are invalid.</exception>
    /// <exception cref="NonFiniteGradientException">Under <see cref="NonFinitePolicy.Error"/>, a non-finite gradient; nothing changed.</exception>
    public StepResult Step()
    {
        if (EvalMode)
            throw new InvalidOperationException($"{Algorithm.Name()} is in eval mode (the parameters hold the average x): call Train() before Step()");
        // The step's lists are fields, cleared and refilled: no allocation per step once they have grown.
        var work = _work;
        work.Clear();
        for (int gi = 0; gi < Groups.Count; gi++)   // index loops: an interface's foreach would allocate its enumerator
        {
            var group = Groups[gi];
            var hp = group.Hyperparameters;
            ValidateGroup(group);
            for (int pi = 0; pi < group.Params.Count; pi++)
            {
                var p = group.Params[pi];
                // A resident backend steps every parameter: a null host gradient means "the one in the device arena".
                if (p.Grad is null && !_backend.Resident) continue;
                if (p.Grad is not null && p.Grad.Length != p.Data.Length)
                    throw new ArgumentException(
                        $"parameter '{p.Name}' has {p.Data.Length} elements but its gradient has {p.Grad.Length}");
                var s = _state.GetValueOrDefault(p);
                if (s is not null && !_backend.Resident) CheckState(p, s, hp);
                work.Add((p, hp, s));
            }
        }

        var (items, counters) = (_items, _counters);
        items.Clear();
        counters.Clear();
        foreach (var (p, hp, existing) in work)
        {
            var s = existing ?? ParamState.Create(Algorithm, hp, p.Data.Length);
            counters.Add((s, s.Step, s.Beta1Power, s.Beta2Power, s.MuProduct, s.LrMax, s.WeightSum, s.Eta, s.Mu));
            items.Add(new StepItem(p, s, hp, StepScalars.Advance(Algorithm, hp, s)));
        }
        var contract = Contract;
        BackendStepOutcome outcome;
        try
        {
            outcome = _backend.Step(Algorithm, items, contract);
        }
        catch
        {
            Restore();
            throw;
        }
        if (outcome.NonFinite)
        {
            Restore();
            string reason = NonFiniteReason(items, contract, outcome.GradNorm);
            if (contract.NonFinite == NonFinitePolicy.Error)
                throw new NonFiniteGradientException(
                    $"step {StepCount + 1}: {reason}; nothing was changed (non_finite = error; use skip to skip such steps, propagate to let the values through)");
            SkippedSteps++;
            LastResult = new StepResult(StepCount, true, reason, outcome.GradNorm, outcome.ClipCoefficient, items.Count);
            return LastResult.Value;
        }
        foreach (var it in items) _state[it.Param] = it.State;
        StepCount++;
        LastResult = new StepResult(StepCount, false, null, outcome.GradNorm, outcome.ClipCoefficient, items.Count);
        return LastResult.Value;

        void Restore()
        {
            foreach (var (s, step, b1, b2, mu, lrMax, weightSum, eta, asgdMu) in counters)
                (s.Step, s.Beta1Power, s.Beta2Power, s.MuProduct, s.LrMax, s.WeightSum, s.Eta, s.Mu) = (step, b1, b2, mu, lrMax, weightSum, eta, asgdMu);
        }
    }

    /// <summary>Names the first non-finite unscaled gradient value (parameter, index, value): the same words whichever
    /// backend refused the step, since the gradients are the caller's host arrays.</summary>
    private static string NonFiniteReason(IReadOnlyList<StepItem> items, StepContract contract, double norm)
    {
        foreach (var it in items)
        {
            if (it.Param.Grad is not { } g) continue;   // a resident backend's device gradient
            for (int i = 0; i < g.Length; i++)
            {
                float x = g[i] * contract.InvScale;
                if (float.IsFinite(x)) continue;
                string scaled = contract.InvScale == 1f ? "" : FormattableString.Invariant($" ({g[i]:R} times inv_scale {contract.InvScale:R})");
                string value = float.IsNaN(x) ? "NaN" : x > 0 ? "+inf" : "-inf";
                return FormattableString.Invariant($"non-finite gradient: {it.Param.Name}[{i}] = {value}{scaled}");
            }
        }
        return double.IsNaN(norm) || double.IsFinite(norm)
            ? "non-finite gradient (in the device gradient arena)"
            : FormattableString.Invariant($"non-finite gradient norm {norm:R}");
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
        // The layout ParamState.Create makes (the descriptor's slots kept with these hyperparameters) without allocating
        // anything, not even an enumerator: this runs on every step. A slot torch creates on the first step (SGD's
        // momentum_buffer) may be absent.
        var state = Algorithm.Info().State;
        for (int i = 0; i < state.Count; i++)
        {
            var slot = state[i];
            var have = s[slot.Buffer];
            var q8 = slot.Quantized is null ? null : s.Quantized(slot.Buffer);
            if (slot.Kept(hp) && slot.QuantizedWith(hp))
            {
                if (q8?.Length == p.Data.Length && q8.Map == slot.Quantized && have is null) continue;
                throw Misfit($"{slot.Buffer} ({slot.TorchName})", q8 is null ? "not 8-bit" : $"8-bit, {q8.Length} long, {q8.Map} map",
                    $"8-bit, {p.Data.Length} elements, {slot.Quantized} map (state_bits = 8)");
            }
            if (q8 is not null)
                throw Misfit($"{slot.Buffer} ({slot.TorchName})", "8-bit", $"float32 (state_bits = {hp.StateBits})");
            if (!slot.Kept(hp) || (have is null && slot.OnFirstStep) || have?.Length == p.Data.Length) continue;
            throw Misfit($"{slot.Buffer} ({slot.TorchName})", have is null ? "missing" : $"{have.Length} long", $"{p.Data.Length} elements");
        }
        foreach (var b in AllBuffers)
            if (s[b] is { } extra && !Kept(b))
                throw Misfit(b.ToString(), $"{extra.Length} long", "none");
        return;

        bool Kept(StateBuffer b)
        {
            for (int i = 0; i < state.Count; i++)
                if (state[i].Buffer == b && state[i].Kept(hp)) return true;
            return false;
        }

        InvalidOperationException Misfit(string slot, string have, string want) => new(
            $"the state of parameter '{p.Name}' does not fit {Algorithm.Name()} with these hyperparameters: slot {slot} " +
            $"is {have}, expected {want} " +
            "(amsgrad, momentum, centered or state_bits changed after the first step, or a checkpoint of another optimizer was loaded)");
    }

    private static readonly StateBuffer[] AllBuffers = Enum.GetValues<StateBuffer>();

    /// <summary>Releases the backend (device buffers, the resident arenas, a captured graph).</summary>
    public void Dispose() => _backend.Dispose();
}
