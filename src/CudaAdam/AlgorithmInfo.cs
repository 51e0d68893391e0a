namespace CudaAdam;

/// <summary>A state buffer of <see cref="ParamState"/>: where it lives.</summary>
public enum StateBuffer
{
    /// <summary><see cref="ParamState.M"/>: the first moment or momentum buffer (torch's <c>exp_avg</c>, <c>momentum_buffer</c>).</summary>
    M,
    /// <summary><see cref="ParamState.V"/>: the second moment or accumulator (<c>exp_avg_sq</c>, <c>sum</c>, <c>square_avg</c>, <c>exp_inf</c>).</summary>
    V,
    /// <summary><see cref="ParamState.VMax"/>: AMSGrad's running maximum of v (<c>max_exp_avg_sq</c>).</summary>
    VMax,
    /// <summary><see cref="ParamState.Aux"/>: a third buffer (RMSProp's <c>grad_avg</c>, AdaDelta's <c>acc_delta</c>).</summary>
    Aux,
}

/// <summary>
/// One state buffer an algorithm keeps, under torch.optim's name (<c>exp_avg</c>, <c>exp_avg_sq</c>, ...).
/// </summary>
/// <param name="TorchName">torch.optim's <c>state[p]</c> key.</param>
/// <param name="Buffer">Which <see cref="ParamState"/> buffer holds it.</param>
/// <param name="When">Whether it exists with these hyperparameters (null: always).</param>
/// <param name="Initial">Its value before the first step (null: 0).</param>
/// <param name="OnFirstStep">torch creates it on the first step (SGD's momentum_buffer, a copy of the gradient), so
/// <see cref="ParamState.Create"/> leaves it null and the step allocates it.</param>
/// <param name="Quantized">With <see cref="Hyperparameters.StateBits"/> = 8 (an algorithm whose descriptor has a
/// <see cref="AlgorithmInfo.State8Kernel"/>): the buffer is kept block-wise in 8 bits with this map
/// (<see cref="QuantizedBuffer"/>, <see cref="ParamState.Quantized"/>) instead of float32.</param>
public sealed record StateSlot(string TorchName, StateBuffer Buffer, Func<Hyperparameters, bool>? When = null,
    Func<Hyperparameters, float>? Initial = null, bool OnFirstStep = false, QuantMap? Quantized = null)
{
    /// <summary>Whether the buffer is 8-bit with <paramref name="hp"/>.</summary>
    public bool QuantizedWith(Hyperparameters hp) => Quantized is not null && hp.StateBits == 8;

    /// <summary>Whether the buffer exists (or will, after the first step) with <paramref name="hp"/>.</summary>
    public bool Kept(Hyperparameters hp) => When?.Invoke(hp) ?? true;
}

/// <summary>
/// One float32 scalar slot of a kernel's tensor-table entry (<c>CaTensor::s[]</c>). <see cref="Define"/> is the
/// <c>#define</c> the kernels read it by, generated into <c>kernels/scalars.gen.cuh</c> from the descriptors
/// (<see cref="Device.KernelScalarHeader"/>) so that C# and CUDA name each slot once; <see cref="Value"/> is the double
/// expression the reference rounds with <c>(float)</c>, so the kernel multiplies by the reference's very bits.
/// </summary>
public sealed record KernelScalar(string Define, string Doc, Func<Hyperparameters, StepScalars, double> Value);

/// <summary>
/// A scalar of an algorithm's per-parameter state (torch keeps a 0-dim float32 tensor: ASGD's <c>eta</c>, <c>mu</c>),
/// held in a <see cref="ParamState"/> field. The state dict carries it under its torch name as a one-element buffer.
/// </summary>
/// <param name="TorchName">torch's <c>state[p]</c> key.</param>
/// <param name="Get">Reads it from a state.</param>
/// <param name="Set">Writes it into a state.</param>
/// <param name="Initial">Its value when the state is created (torch: at the first step, from the group's hyperparameters).</param>
public sealed record ScalarSlot(string TorchName, Func<ParamState, double> Get, Action<ParamState, double> Set, Func<Hyperparameters, double> Initial);

/// <summary>A tuple-valued torch keyword (<c>etas</c>) and the snake-case hyperparameter keys of its components, in order.</summary>
public sealed record HyperparameterTuple(string Key, IReadOnlyList<string> Components);


/// <summary>One step of the CPU reference on one parameter (<c>src/CudaAdam/Reference/*.cs</c>), in place, as the
/// algorithm's equations state (its <see cref="Algorithm"/> member and the reference class carry them).</summary>
/// <param name="param">The parameter's float32 values, updated in place.</param>
/// <param name="grad">The gradient, already unscaled and clipped by the step contract; same length as <paramref name="param"/>.</param>
/// <param name="state">The parameter's state buffers, updated in place (the caller advances its step counter and running products).</param>
/// <param name="hp">The group's hyperparameters.</param>
/// <param name="k">The step-dependent scalars of this step (bias corrections, schedules), computed once in double.</param>
public delegate void ReferenceStep(Span<float> param, ReadOnlySpan<float> grad, ParamState state, Hyperparameters hp, in StepScalars k);

/// <summary>
/// Everything CudaAdam knows about one algorithm, in one place (torch's <c>OptimizerInfo</c>, optax's <c>alias.py</c>):
/// names, source, equations, defaults, which hyperparameters it reads and their extra validation, its state slots,
/// its CPU reference, its kernels and their scalar-slot layout, its graph clock, and its conformance sets. Every
/// other part (CLI, configs, state, kernels' scalar header, conformance registry, device clock, docs) reads this
/// instead of switching on the algorithm. The rows are <see cref="Algorithms"/>.
/// </summary>
public sealed record AlgorithmInfo
{
    /// <summary>The enum member this row describes.</summary>
    public required Algorithm Algorithm { get; init; }
    /// <summary>The lower-case name used by the CLI, configs, kernels and golden files.</summary>
    public required string Name { get; init; }
    /// <summary>The torch.optim class with the same semantics, or null when torch.optim has none.</summary>
    public string? TorchClass { get; init; }
    /// <summary>Where the algorithm comes from (paper, torch class).</summary>
    public required string Source { get; init; }
    /// <summary>The update equations and convention warnings, as <c>help</c> and the README show them.</summary>
    public required string Equations { get; init; }
    /// <summary>torch.optim's defaults (or the paper's, without a torch class).</summary>
    public required Hyperparameters Defaults { get; init; }
    /// <summary>Reads β1/β2 (the Adam family and Lion): they must be in [0, 1).</summary>
    public bool UsesBetas { get; init; }
    /// <summary>Has the Adam-style second moment v ← β2 v + (1−β2) g², so that the sign-like descent bound R applies
    /// (a warning when β1 ≥ sqrt(β2)).</summary>
    public bool HasSecondMoment { get; init; }
    /// <summary>Reads weight_decay (false: a non-zero one is refused, as torch's Rprop has no such keyword).</summary>
    public bool UsesWeightDecay { get; init; } = true;
    /// <summary>Reads ε (must then be finite and &gt; 0).</summary>
    public bool UsesEps { get; init; } = true;
    /// <summary>Reads <see cref="Hyperparameters.BiasCorrection"/> (false is refused otherwise).</summary>
    public bool BiasCorrectionSwitch { get; init; }
    /// <summary>Has the amsgrad option.</summary>
    public bool AmsgradOption { get; init; }
    /// <summary>Has torch's <c>decoupled_weight_decay</c> option (NAdam, RAdam).</summary>
    public bool DecoupledOption { get; init; }
    /// <summary>Weight decay is decoupled (x ← x(1−γλ)) with these hyperparameters.</summary>
    public Func<Hyperparameters, bool> Decoupled { get; init; } = _ => false;
    /// <summary>Algorithm-specific checks of <see cref="Hyperparameters.Validate"/> (throw <see cref="ArgumentException"/>).</summary>
    public Action<Hyperparameters>? Validate { get; init; }
    /// <summary>The state buffers, in torch's order.</summary>
    public required IReadOnlyList<StateSlot> State { get; init; }
    /// <summary>The scalar state (ASGD's eta and mu), beside the buffers of <see cref="State"/>.</summary>
    public IReadOnlyList<ScalarSlot> ScalarState { get; init; } = [];
    /// <summary>The CPU reference step (the oracle).</summary>
    public required ReferenceStep Reference { get; init; }
    /// <summary>The per-tensor norms the step needs before it runs (LAMB's ‖x‖ and ‖r‖, LARS' ‖w‖ and ‖g‖), computed in the
    /// canonical order by every engine, and the trust-ratio slot they fill (<see cref="TensorNormSpec"/>); null: none.</summary>
    public TensorNormSpec? TensorNorms { get; init; }
    /// <summary>The fused step kernel: <c>kernels/&lt;Family&gt;.cu</c>, <c>extern "C"</c> name.</summary>
    public required (string Family, string Name) Kernel { get; init; }
    /// <summary>The diagnostics-enabled variant of <see cref="Kernel"/> (sign diagnostics fused), or null.</summary>
    public (string Family, string Name)? DiagnosticsKernel { get; init; }
    /// <summary>The fused kernel of the 8-bit state option (<see cref="Hyperparameters.StateBits"/> = 8; Dettmers et al. 2022:
    /// m and v block-wise quantized, dequantize → update → requantize in one launch; <c>kernels/state8.cu</c>), reading the
    /// same scalar slots as <see cref="Kernel"/>; null: the algorithm keeps float32 state only. Its state slots say which
    /// map each buffer uses (<see cref="StateSlot.Quantized"/>); its reference is <see cref="Reference"/> wrapped by
    /// <see cref="CudaAdam.Reference.BlockwiseState8"/>.</summary>
    public (string Family, string Name)? State8Kernel { get; init; }
    /// <summary>The kernel's scalar slots, in slot order (null: a slot this algorithm leaves unused, 0).</summary>
    public required IReadOnlyList<KernelScalar?> Scalars { get; init; }
    /// <summary>The algorithm's own <c>CA_*</c> flags (beyond maximize, weight decay, amsgrad and decoupled, which
    /// every algorithm gets from the hyperparameters).</summary>
    public Func<Hyperparameters, StepScalars, uint>? Flags { get; init; }
    /// <summary>What <c>step_clock</c> (kernels/clock.cu) writes for this algorithm in the graph-capturable mode
    /// (<c>CA_CLOCK_*</c>), or 0: not graph-capturable (NAdam: its schedule needs pow, which the GPU rounds differently).</summary>
    public int ClockKind { get; init; }
    /// <summary>Why the device clock cannot step these hyperparameters bitwise (Schedule-Free with a weight that needs
    /// pow), or null: it can. The device-resident engine refuses them with this message.</summary>
    public Func<Hyperparameters, string?>? ClockRefusal { get; init; }
    /// <summary>Instead of <see cref="ClockKind"/>: only the lr is step-dependent, and the clock writes it into this scalar
    /// (<c>CA_CLOCK_LR</c>; signSGD, Signum, RMSProp, AdaDelta), so a new such algorithm needs no clock code.</summary>
    public string? ClockLrScalar { get; init; }

    /// <summary>The <c>CaClock::kind</c> of this algorithm (without the bias-correction bit): <see cref="ClockKind"/>, or
    /// <c>CA_CLOCK_LR</c> with the slot of <see cref="ClockLrScalar"/> in bits 16–23; 0 when it has no device clock.</summary>
    public int Clock => ClockLrScalar is { } lr
        ? 4 | (Scalars.Select((s, i) => (s, i)).Single(x => x.s?.Define == lr).i << 16)
        : ClockKind;
    /// <summary>Schedule-Free (Defazio et al. 2024): the β of the gradient point y = (1 − β)·z + β·x (β1, or SGD's
    /// momentum), or null. Non-null gives the optimizer the reference implementation's train()/eval() modes:
    /// <see cref="Optimizer.Eval"/> puts x into the parameters (p ← lerp(p, z, 1 − 1/β)), <see cref="Optimizer.Train"/>
    /// puts y back (p ← lerp(p, z, 1 − β)); the state slot in <see cref="StateBuffer.M"/> is z.</summary>
    public Func<Hyperparameters, double>? EvalInterpolation { get; init; }
    /// <summary>Named hyperparameter sets the conformance registry runs beside the defaults; for an algorithm torch.optim
    /// has, also the sets of its golden trajectories (tests/oracle/cases.json, exported from the registry and read by
    /// tests/oracle/make_golden.py: the defaults and the LAST set also run on its edge cases and long trajectory).</summary>
    public IReadOnlyList<(string Name, Func<Hyperparameters, Hyperparameters> Tweak)> ConformanceSets { get; init; } = [];

    /// <summary>torch's tuple-valued keywords beyond <c>betas</c> (which every <see cref="UsesBetas"/> row has: beta1, beta2),
    /// each with the scalar keys it spells in order (Rprop: <c>etas</c> = (etaminus, etaplus)). Configs accept the tuple
    /// or its keys.</summary>
    public IReadOnlyList<HyperparameterTuple> Tuples { get; init; } = [];

    /// <summary>The algorithm's own hyperparameter keys (snake case, torch's keyword names: the <see cref="Hyperparameters"/>
    /// property of the same words) beyond lr, betas, eps, weight_decay and maximize, as <c>cudaadam help NAME</c> lists
    /// them with their defaults (Rprop: etaminus, etaplus, step_size_min, step_size_max).</summary>
    public IReadOnlyList<string> Keys { get; init; } = [];

    /// <summary>The state slots kept with <paramref name="hp"/>.</summary>
    public IEnumerable<StateSlot> StateWith(Hyperparameters hp) => State.Where(s => s.Kept(hp));

    /// <summary>The main defaults in torch's names, e.g. <c>lr 0.0001, beta1 0.9, beta2 0.99, weight_decay 0</c> (betas
    /// and eps only where the algorithm reads them), as <c>cudaadam help NAME</c> and the <see cref="Algorithm"/> docs show them.</summary>
    public string DescribeDefaults()
    {
        var d = Defaults;
        var s = FormattableString.Invariant($"lr {d.Lr}");
        if (UsesBetas) s += FormattableString.Invariant($", beta1 {d.Beta1}, beta2 {d.Beta2}");
        if (UsesEps) s += FormattableString.Invariant($", eps {d.Eps}");
        s += FormattableString.Invariant($", weight_decay {d.WeightDecay}");
        if (EvalInterpolation is not null)
            s += FormattableString.Invariant($"{(UsesBetas ? "" : $", momentum {d.Momentum}")}, warmup_steps {d.WarmupSteps}, r {d.R}, weight_lr_power {d.WeightLrPower}");
        return s;
    }

    /// <summary>The lower-case <see cref="Name"/>.</summary>
    public override string ToString() => Name;
}
