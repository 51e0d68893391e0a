namespace CudaAdam.Cpu;

/// <summary>
/// What happens to a gradient before the algorithm sees it, as the backends do it (both optional, in this order,
/// each one float32 multiplication): <c>g · inv_scale</c> (loss-scale unscale),
/// then <c>· clip_coefficient</c> (<see cref="GradClipping"/>). Null leaves the gradient as it is (no multiplication,
/// as <see cref="CpuReferenceBackend"/> with inv_scale 1 and no clipping).
/// </summary>
public readonly record struct GradTransform(float? InvScale = null, float? ClipCoefficient = null)
{
    /// <summary>The gradient as it is.</summary>
    public static GradTransform None => default;
}

/// <summary>
/// The float32 constants of one step of one tensor, computed ONCE per tensor and step exactly as the prologue of the
/// algorithm's reference (<c>Reference/*.cs</c>) computes them (the same casts of the same doubles), plus the
/// switches the reference tests inside its loop. <see cref="SimdStep.Elements"/> runs the element loop with them.
/// </summary>
public readonly struct StepConstants
{
    internal Algorithm Algorithm { get; init; }
    // Gradient transform and direction.
    internal bool Unscale { get; init; }
    internal float InvScale { get; init; }
    internal bool Clip { get; init; }
    internal float ClipCoefficient { get; init; }
    internal bool Maximize { get; init; }
    // Switches.
    internal bool WeightDecayNonZero { get; init; }
    internal bool Decoupled { get; init; }
    internal bool SignDecomposed { get; init; }
    internal bool HasVMax { get; init; }
    internal bool UseMomentum { get; init; }
    internal bool FirstBuffer { get; init; }
    internal bool Nesterov { get; init; }
    internal bool Centered { get; init; }
    internal bool Rectified { get; init; }
    // Constants (names as in the references).
    internal float Beta1 { get; init; }
    internal float Beta2 { get; init; }
    internal float Eps { get; init; }
    internal float Wd { get; init; }
    internal float OneMinusBeta1 { get; init; }
    internal float OneMinusBeta2 { get; init; }
    internal float Decay { get; init; }
    internal float Bc1 { get; init; }
    internal float Bc2 { get; init; }
    internal float Bc2Sqrt { get; init; }
    internal float StepSize { get; init; }
    internal float NegStepSize { get; init; }
    internal float NegClr { get; init; }
    internal float NegGradStep { get; init; }
    internal float NegMomentumStep { get; init; }
    internal float Lr { get; init; }
    internal float NegLr { get; init; }
    internal float Rect { get; init; }
    internal float Momentum { get; init; }
    internal float OneMinusDampening { get; init; }
    internal float Alpha { get; init; }
    internal float OneMinusAlpha { get; init; }
    internal float Rho { get; init; }
    internal float OneMinusRho { get; init; }
    // Schedule-Free: c_{t+1}, 1 − c_{t+1} (float), which side of torch's lerp (|c| < 0.5), the y coefficient.
    internal float Ckp1 { get; init; }
    internal float OneMinusCkp1 { get; init; }
    internal bool LerpSmall { get; init; }
    internal float YStep { get; init; }

    /// <summary>
    /// The constants of this step of one tensor of <paramref name="length"/> elements. Like
    /// <see cref="Reference.SgdReference"/>, creates SGD's momentum buffer in <paramref name="state"/> on its first
    /// step with momentum (the one allocation of the fast path, once per tensor).
    /// </summary>
    public static StepConstants Create(Algorithm algorithm, Hyperparameters hp, in StepScalars k, ParamState state, int length,
        GradTransform transform = default)
    {
        ArgumentNullException.ThrowIfNull(hp);
        ArgumentNullException.ThrowIfNull(state);
        var c = new StepConstants
        {
            Algorithm = algorithm,
            Unscale = transform.InvScale.HasValue,
            InvScale = transform.InvScale ?? 1f,
            Clip = transform.ClipCoefficient.HasValue,
            ClipCoefficient = transform.ClipCoefficient ?? 1f,
            Maximize = hp.Maximize,
            WeightDecayNonZero = hp.WeightDecay != 0,
            Wd = (float)hp.WeightDecay,
            Eps = (float)hp.Eps,
            Decay = (float)(1 - hp.Lr * hp.WeightDecay),
        };
        switch (algorithm)
        {
            case Algorithm.Adam or Algorithm.AdamW or Algorithm.SignAdam:   // AdamReference.Update
                return c with
                {
                    Decoupled = algorithm == Algorithm.AdamW,
                    SignDecomposed = algorithm == Algorithm.SignAdam,
                    HasVMax = state.VMax is not null,
                    Beta1 = (float)hp.Beta1, Beta2 = (float)hp.Beta2,
                    OneMinusBeta1 = (float)(1 - hp.Beta1), OneMinusBeta2 = (float)(1 - hp.Beta2),
                    Bc2Sqrt = (float)k.BiasCorrection2Sqrt, StepSize = (float)k.StepSize, NegStepSize = -(float)k.StepSize,
                    Bc1 = (float)k.BiasCorrection1,
                };
            case Algorithm.Yogi:   // YogiReference
                return c with
                {
                    Beta1 = (float)hp.Beta1, Lr = (float)hp.Lr,
                    OneMinusBeta1 = (float)(1 - hp.Beta1), OneMinusBeta2 = (float)(1 - hp.Beta2),
                };
            case Algorithm.AdaMax:   // AdaMaxReference
                return c with
                {
                    Beta1 = (float)hp.Beta1, Beta2 = (float)hp.Beta2, OneMinusBeta1 = (float)(1 - hp.Beta1),
                    NegClr = (float)-k.StepSize,
                };
            case Algorithm.NAdam:   // NAdamReference
                return c with
                {
                    Decoupled = hp.DecoupledWeightDecay,
                    Beta1 = (float)hp.Beta1, Beta2 = (float)hp.Beta2,
                    OneMinusBeta1 = (float)(1 - hp.Beta1), OneMinusBeta2 = (float)(1 - hp.Beta2),
                    Bc2 = (float)k.BiasCorrection2,
                    NegGradStep = (float)-k.NAdamGradStep, NegMomentumStep = (float)-k.NAdamMomentumStep,
                };
            case Algorithm.RAdam:   // RAdamReference
                return c with
                {
                    Decoupled = hp.DecoupledWeightDecay,
                    Beta1 = (float)hp.Beta1, Beta2 = (float)hp.Beta2,
                    OneMinusBeta1 = (float)(1 - hp.Beta1), OneMinusBeta2 = (float)(1 - hp.Beta2),
                    Lr = (float)hp.Lr, Bc1 = (float)k.BiasCorrection1, Bc2Sqrt = (float)k.BiasCorrection2Sqrt, Rect = (float)k.Rect,
                    Rectified = k.Rectified,
                };
            case Algorithm.Sgd:   // SgdReference, including its first-step buffer
            {
                bool useMomentum = hp.Momentum != 0, first = false;
                if (useMomentum && state.M is null)
                {
                    state.M = new float[length];
                    first = true;
                }
                return c with
                {
                    UseMomentum = useMomentum, FirstBuffer = first, Nesterov = hp.Nesterov,
                    Momentum = (float)hp.Momentum, OneMinusDampening = (float)(1 - hp.Dampening), NegLr = (float)-hp.Lr,
                };
            }
            case Algorithm.AdaGrad:   // AdaGradReference
                return c with { NegClr = (float)-k.Clr };
            case Algorithm.RmsProp:   // RmsPropReference
                return c with
                {
                    Centered = hp.Centered, UseMomentum = hp.Momentum > 0,
                    Alpha = (float)hp.Alpha, OneMinusAlpha = (float)(1 - hp.Alpha),
                    Momentum = (float)hp.Momentum, NegLr = (float)-hp.Lr,
                };
            case Algorithm.AdaDelta:   // AdaDeltaReference
                return c with { Rho = (float)hp.Rho, OneMinusRho = (float)(1 - hp.Rho), NegLr = (float)-hp.Lr };
            case Algorithm.SignSgd:   // SignSgdReference
                return c with { Lr = (float)hp.Lr };
            case Algorithm.Signum:   // SignumReference
                return c with { Lr = (float)hp.Lr, Beta1 = (float)hp.Momentum, OneMinusBeta1 = (float)(1 - hp.Momentum) };
            case Algorithm.Lion:   // LionReference
                return c with
                {
                    Beta1 = (float)hp.Beta1, Beta2 = (float)hp.Beta2,
                    OneMinusBeta1 = (float)(1 - hp.Beta1), OneMinusBeta2 = (float)(1 - hp.Beta2), Lr = (float)hp.Lr,
                };
            case Algorithm.AdamWScheduleFree or Algorithm.SgdScheduleFree:   // AdamWScheduleFreeReference, SgdScheduleFreeReference
            {
                bool first = state.M is null;   // z is created as a copy of the parameter: the kernel reads y for it
                if (first) state.M = new float[length];
                float ckp1 = (float)k.Ckp1;
                return c with
                {
                    FirstBuffer = first,
                    Beta2 = (float)hp.Beta2, OneMinusBeta2 = (float)(1 - hp.Beta2), Bc2 = (float)k.BiasCorrection2,
                    Ckp1 = ckp1, OneMinusCkp1 = 1f - ckp1, LerpSmall = MathF.Abs(ckp1) < 0.5f,
                    YStep = (float)k.ScheduleFreeYStep, Lr = (float)k.ScheduledLr,
                };
            }
            default:
                throw new ArgumentOutOfRangeException(nameof(algorithm), algorithm, null);
        }
    }
}
