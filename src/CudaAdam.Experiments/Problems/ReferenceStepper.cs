#pragma warning disable CS1591 // CS1591 backlog (issue 13): 3 public members here have no XML doc yet; document them, then delete this line
using CudaAdam.Reference;

namespace CudaAdam.Experiments.Problems;

/// <summary>
/// One parameter tensor stepped by the CPU reference (<see cref="Reference.Reference.Step"/> with
/// <see cref="StepScalars.Advance"/>), the very math the <see cref="Optimizer"/> runs on its "cpu" backend, without
/// its per-step bookkeeping (group validation, all-or-nothing restore), which dominates the cost of a 1-element
/// parameter stepped millions of times with a new learning rate each step. Hyperparameters are validated once in the
/// constructor and again whenever <see cref="SetLr"/> is not used to change them.
/// </summary>
public sealed class ReferenceStepper
{
    private Hyperparameters _hp;

    public ReferenceStepper(Algorithm algorithm, Hyperparameters hp, int length)
    {
        Algorithm = algorithm;
        Warnings = hp.Validate(algorithm);
        _hp = hp;
        State = ParamState.Create(algorithm, hp, length);
    }

    public Algorithm Algorithm { get; }
    /// <summary>Validation warnings (β1 ≥ √β2, ...).</summary>
    public IReadOnlyList<string> Warnings { get; }
    /// <summary>The optimizer state (M, V, VMax: the uncorrected moments; Step; running products β^t).</summary>
    public ParamState State { get; }
    public Hyperparameters Hyperparameters => _hp;

    /// <summary>Sets the learning rate for the next steps (a schedule).</summary>
    public void SetLr(double lr)
    {
        if (!(lr >= 0) || !double.IsFinite(lr)) throw new ArgumentOutOfRangeException(nameof(lr), lr, "lr must be a finite number >= 0");
        if (lr != _hp.Lr) _hp = _hp with { Lr = lr };
    }

    /// <summary>One step: <paramref name="param"/> is updated in place from <paramref name="grad"/>.</summary>
    public void Step(Span<float> param, ReadOnlySpan<float> grad)
    {
        if (param.Length != grad.Length || param.Length != (State.V?.Length ?? State.M?.Length ?? param.Length))
            throw new ArgumentException($"parameter ({param.Length}) and gradient ({grad.Length}) must have the state's length");
        var scalars = StepScalars.Advance(Algorithm, _hp, State);
        Reference.Reference.Step(Algorithm, param, grad, State, _hp, scalars);
    }
}
