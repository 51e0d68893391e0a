namespace CudaAdam;

/// <summary>
/// What a step does when a gradient (times <see cref="Optimizer.InvScale"/>) holds ±inf or NaN. The same policy gives
/// the same bits and the same <see cref="StepResult"/> on every backend (cpu, emulator, cuda): the conformance
/// registry runs every non-finite case under each policy on each of them.
/// </summary>
public enum NonFinitePolicy
{
    /// <summary>
    /// The default. The whole step is skipped: every parameter and every state bit stays as it was, the step counters
    /// and running products β^t are rolled back, and <see cref="StepResult.Skipped"/> says so with the reason
    /// (torch.cuda.amp.GradScaler's semantics). Loud: <c>replay</c> and <c>train</c> count and report every skipped step.
    /// </summary>
    Skip,
    /// <summary>
    /// torch.optim's behaviour: the values go through the step (NaN spreads into the parameter and its state). With
    /// clipping, a non-finite total norm leaves the gradients unclipped (coefficient 1) — torch would multiply by a NaN
    /// coefficient and spoil every gradient, not only the bad ones. <c>replay --nonfinite propagate</c> agrees with torch.
    /// </summary>
    Propagate,
    /// <summary>Nothing changes (as <see cref="Skip"/>) and <see cref="Optimizer.Step()"/> throws
    /// <see cref="NonFiniteGradientException"/>.</summary>
    Error,
}

/// <summary>The names of <see cref="NonFinitePolicy"/> on the command line and in configs: skip, propagate, error.</summary>
public static class NonFinitePolicies
{
    /// <summary>The lower-case name.</summary>
    public static string Name(this NonFinitePolicy p) => p.ToString().ToLowerInvariant();

    /// <summary>Parses skip / propagate / error (case-insensitive).</summary>
    /// <exception cref="ArgumentException">Another word; the message lists the three.</exception>
    public static NonFinitePolicy Parse(string name) => name?.ToLowerInvariant() switch
    {
        "skip" => NonFinitePolicy.Skip,
        "propagate" => NonFinitePolicy.Propagate,
        "error" => NonFinitePolicy.Error,
        _ => throw new ArgumentException($"unknown non-finite policy '{name}'; use skip (default), propagate or error"),
    };
}

/// <summary>
/// The inputs of one step that every backend honours identically: the gradient unscale factor, global-norm
/// clipping, and the non-finite policy. Set on the <see cref="Optimizer"/>; handed to the backend each step.
/// </summary>
/// <param name="InvScale">Gradients are multiplied by this in float32 before anything else (1/loss-scale; 1 is exact).</param>
/// <param name="MaxGradNorm">Global 2-norm clipping threshold (<see cref="GradClipping"/>), or null for none.</param>
/// <param name="NonFinite">What a non-finite unscaled gradient does.</param>
public readonly record struct StepContract(float InvScale, double? MaxGradNorm, NonFinitePolicy NonFinite)
{
    /// <summary>inv_scale 1, no clipping, <see cref="NonFinitePolicy.Skip"/>.</summary>
    public static StepContract Default => new(1f, null, NonFinitePolicy.Skip);

    /// <summary>Whether the backend must look for non-finite gradients (every policy but propagate).</summary>
    public bool Checks => NonFinite != NonFinitePolicy.Propagate;
}

/// <summary>What a backend reports of one step.</summary>
/// <param name="NonFinite">A checked step (policy skip or error) met a non-finite unscaled gradient (or clipping met a
/// non-finite norm) and changed nothing.</param>
/// <param name="GradNorm">The total 2-norm of the unscaled gradients when clipping (NaN otherwise).</param>
/// <param name="ClipCoefficient">The coefficient the gradients were multiplied by (1 when not clipping).</param>
public readonly record struct BackendStepOutcome(bool NonFinite, double GradNorm, float ClipCoefficient)
{
    /// <summary>A step taken without clipping.</summary>
    public static BackendStepOutcome Taken => new(false, double.NaN, 1f);

    /// <summary>A step refused because of a non-finite gradient.</summary>
    public static BackendStepOutcome Refused(double norm = double.NaN) => new(true, norm, 1f);
}

/// <summary>
/// The result of one <see cref="Optimizer.Step()"/>, the same on every backend for the same inputs.
/// </summary>
/// <param name="Step">The optimizer's step count after this call (steps taken; a skipped step does not count).</param>
/// <param name="Skipped">Nothing changed: a non-finite gradient under <see cref="NonFinitePolicy.Skip"/>.</param>
/// <param name="Reason">Why it was skipped (names the first parameter and index with a non-finite unscaled gradient), else null.</param>
/// <param name="GradNorm">The total gradient norm when clipping, else NaN.</param>
/// <param name="ClipCoefficient">The clipping coefficient (1 when not clipping or not clipped).</param>
/// <param name="Parameters">How many parameters had a gradient this step.</param>
public readonly record struct StepResult(long Step, bool Skipped, string? Reason, double GradNorm, float ClipCoefficient, int Parameters)
{
    /// <summary>One line for logs: the step, whether it was skipped and why, the gradient norm and clip coefficient.</summary>
    public override string ToString() => Skipped
        ? $"step {Step + 1} skipped: {Reason}"
        : $"step {Step}: {Parameters} parameters" + (double.IsNaN(GradNorm) ? "" : FormattableString.Invariant($", grad norm {GradNorm:G6}, clip coefficient {ClipCoefficient:G6}"));
}

/// <summary>A step under <see cref="NonFinitePolicy.Error"/> met a non-finite gradient; nothing was changed.</summary>
public sealed class NonFiniteGradientException(string message) : Exception(message);
