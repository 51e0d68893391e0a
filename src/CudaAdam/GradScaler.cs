namespace CudaAdam;

/// <summary>A <see cref="GradScaler"/>'s state in torch's <c>GradScaler.state_dict()</c> keys (<c>scale</c>,
/// <c>growth_factor</c>, <c>backoff_factor</c>, <c>growth_interval</c>, <c>_growth_tracker</c>).</summary>
public sealed record GradScalerState(float Scale, double GrowthFactor, double BackoffFactor, int GrowthInterval, int GrowthTracker);

/// <summary>
/// Dynamic loss scaling for mixed precision, torch.cuda.amp.GradScaler's rule. Multiply the loss by
/// <see cref="Scale"/> (<see cref="ScaleLoss"/>) before backward; <see cref="Step(Optimizer)"/> runs the optimizer step with
/// <see cref="Optimizer.InvScale"/> = 1/scale and <see cref="NonFinitePolicy.Skip"/>, so the step contract unscales
/// the gradients and checks them in the same pass (torch's <c>unscale_</c> and its inf check, fused); a step with an
/// inf or NaN gradient changes nothing. <see cref="Update"/> then adapts the scale:
/// <code>
/// found inf:  scale ← float32(scale · backoff_factor), tracker ← 0
/// otherwise:  tracker ← tracker + 1; at growth_interval: scale ← float32(scale · growth_factor) if finite, tracker ← 0
/// </code>
/// Defaults are torch's: init_scale 2^16, growth_factor 2, backoff_factor 0.5, growth_interval 2000. The scale is a
/// float32 as torch's scale tensor is; 1/scale is computed in double and rounded to float32
/// (<c>_scale.double().reciprocal().float()</c>).
/// </summary>
/// <remarks>The update is a transcription of torch's CUDA kernel <c>_amp_update_scale_</c>
/// (aten/src/ATen/native/cuda/AmpKernels.cu): torch 1.13 has no CPU implementation of it, so the scale sequences of
/// tests/oracle/golden_schedulers come from that transcription in Python, not from running torch's GradScaler.
/// Gradient clipping (<see cref="Optimizer.MaxGradNorm"/>) sees the unscaled gradients, as after torch's
/// <c>scaler.unscale_(opt); clip_grad_norm_(...)</c>.</remarks>
/// <example><code>
/// var scaler = new GradScaler();
/// float loss = Forward();                      // in float32 or lower precision
/// Backward(scaler.ScaleLoss(loss));            // gradients of loss · scale into each Parameter.Grad
/// StepResult r = scaler.Step(opt);             // skipped (nothing changed) when a gradient overflowed
/// scaler.Update();                             // halves the scale after an overflow, doubles it after 2000 clean steps
/// </code></example>
public sealed class GradScaler
{
    private bool? _foundInf;   // of the last Step since the last Update (null: none)

    /// <param name="initScale">The first scale (default 65536 = 2^16).</param>
    /// <param name="growthFactor">The factor after <paramref name="growthInterval"/> clean steps (&gt; 1, default 2).</param>
    /// <param name="backoffFactor">The factor after a step with an inf/NaN gradient (in (0, 1), default 0.5).</param>
    /// <param name="growthInterval">Clean steps between growths (≥ 1, default 2000).</param>
    /// <param name="enabled">False: <see cref="ScaleLoss"/> and <see cref="Step(Optimizer)"/> pass through, <see cref="Update"/> does nothing.</param>
    public GradScaler(float initScale = 65536f, double growthFactor = 2.0, double backoffFactor = 0.5, int growthInterval = 2000, bool enabled = true)
    {
        if (!(float.IsFinite(initScale) && initScale > 0)) throw new ArgumentException($"GradScaler: init_scale must be a finite number > 0, got {initScale}");
        if (!(growthFactor > 1.0 && double.IsFinite(growthFactor))) throw new ArgumentException($"GradScaler: the growth factor must be > 1.0, got {growthFactor}");
        if (!(backoffFactor > 0 && backoffFactor < 1.0)) throw new ArgumentException($"GradScaler: the backoff factor must be in (0, 1), got {backoffFactor}");
        if (growthInterval < 1) throw new ArgumentException($"GradScaler: growth_interval must be >= 1, got {growthInterval}");
        (Scale, GrowthFactor, BackoffFactor, GrowthInterval, Enabled) = (initScale, growthFactor, backoffFactor, growthInterval, enabled);
    }

    /// <summary>The current scale (torch's <c>get_scale()</c>).</summary>
    public float Scale { get; private set; }
    /// <summary>The factor the scale is multiplied by after <see cref="GrowthInterval"/> clean steps in a row (torch's <c>growth_factor</c>, default 2).</summary>
    public double GrowthFactor { get; private set; }
    /// <summary>The factor the scale is multiplied by after a step with a non-finite gradient (torch's <c>backoff_factor</c>, default 0.5).</summary>
    public double BackoffFactor { get; private set; }
    /// <summary>Clean steps in a row before the scale grows (torch's <c>growth_interval</c>, default 2000).</summary>
    public int GrowthInterval { get; private set; }
    /// <summary>Clean steps since the last growth or backoff (torch's <c>_growth_tracker</c>).</summary>
    public int GrowthTracker { get; private set; }
    /// <summary>False: the scaler is a pass-through (scale 1, never updated), as torch's <c>GradScaler(enabled=False)</c>.</summary>
    public bool Enabled { get; }

    /// <summary>1/scale in double, rounded to float32 (what the step multiplies each gradient by).</summary>
    public float InvScale => (float)(1.0 / Scale);

    /// <summary>The loss times the scale, in float32 (torch's <c>scale(outputs)</c>).</summary>
    public float ScaleLoss(float loss) => Enabled ? loss * Scale : loss;

    /// <summary>Whether the last <see cref="Step(Optimizer)"/> found an inf or NaN gradient (and so was skipped); null before one.</summary>
    public bool? FoundInf => _foundInf;

    /// <summary>torch's <c>scaler.step(optimizer)</c>: the optimizer's step with the gradients unscaled by 1/scale
    /// and any inf/NaN skipping it (<see cref="NonFinitePolicy.Skip"/> for this step, whatever the optimizer's own
    /// policy). The optimizer's <see cref="Optimizer.InvScale"/> and policy are restored afterwards.</summary>
    public StepResult Step(Optimizer optimizer)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        if (!Enabled) return optimizer.Step();
        if (!float.IsFinite(InvScale))
            throw new InvalidOperationException($"GradScaler: the scale {Scale} has underflowed (1/scale is not a finite float32); the gradients overflow on every step");
        var (inv, policy) = (optimizer.InvScale, optimizer.NonFinite);
        optimizer.InvScale = InvScale;
        optimizer.NonFinite = NonFinitePolicy.Skip;
        try
        {
            var r = optimizer.Step();
            _foundInf = (_foundInf ?? false) | r.Skipped;   // several optimizers under one scaler: any inf backs off
            return r;
        }
        finally
        {
            optimizer.InvScale = inv;
            optimizer.NonFinite = policy;
        }
    }

    /// <summary>torch's <c>scaler.step(optimizer, closure)</c>: runs the closure (loss and scaled gradients), then
    /// <see cref="Step(Optimizer)"/>; returns the closure's loss.</summary>
    public float Step(Optimizer optimizer, Func<float> closure)
    {
        ArgumentNullException.ThrowIfNull(closure);
        float loss = closure();
        Step(optimizer);
        return loss;
    }

    /// <summary>torch's <c>scaler.update()</c>: adapts the scale from the steps since the last update (see the class).</summary>
    /// <param name="newScale">Sets the scale instead (torch's <c>update(new_scale)</c>); the tracker is kept.</param>
    /// <exception cref="InvalidOperationException">No <see cref="Step(Optimizer)"/> since the last update.</exception>
    public void Update(float? newScale = null)
    {
        if (!Enabled) return;
        if (newScale is { } s)
        {
            if (!(float.IsFinite(s) && s > 0)) throw new ArgumentException($"GradScaler: new_scale must be a finite number > 0, got {s}");
            Scale = s;
            _foundInf = null;
            return;
        }
        bool foundInf = _foundInf ?? throw new InvalidOperationException("GradScaler: no inf checks were recorded prior to update (call Step(optimizer) first)");
        _foundInf = null;
        if (foundInf)
        {
            Scale = (float)(Scale * BackoffFactor);
            GrowthTracker = 0;
            return;
        }
        int successful = GrowthTracker + 1;
        if (successful == GrowthInterval)
        {
            float grown = (float)(Scale * GrowthFactor);
            if (float.IsFinite(grown)) Scale = grown;   // never past float32 into inf
            GrowthTracker = 0;
        }
        else GrowthTracker = successful;
    }

    /// <summary>The state under torch's keys.</summary>
    public GradScalerState StateDict() => new(Scale, GrowthFactor, BackoffFactor, GrowthInterval, GrowthTracker);

    /// <summary>Restores <see cref="StateDict"/>'s values (validated first).</summary>
    /// <exception cref="ArgumentException">A value outside its domain; nothing changed.</exception>
    public void LoadStateDict(GradScalerState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        var check = new GradScaler(state.Scale, state.GrowthFactor, state.BackoffFactor, state.GrowthInterval);
        if (state.GrowthTracker < 0 || state.GrowthTracker >= state.GrowthInterval)
            throw new ArgumentException($"GradScaler state: _growth_tracker {state.GrowthTracker} outside [0, growth_interval {state.GrowthInterval})");
        (Scale, GrowthFactor, BackoffFactor, GrowthInterval, GrowthTracker) = (check.Scale, check.GrowthFactor, check.BackoffFactor, check.GrowthInterval, state.GrowthTracker);
        _foundInf = null;
    }
}
