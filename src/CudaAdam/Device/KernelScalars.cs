namespace CudaAdam.Device;

/// <summary>
/// Which kernel runs an algorithm, and the float32 scalars and flags of one tensor's entry in the tensor table.
/// The scalars are the C# reference's <c>(float)</c> casts, computed by the same double expressions, so the kernel
/// multiplies by the very same float values the reference does (src/CudaAdam/Reference/*.cs). The slot indices
/// are the <c>CA_S_*</c> defines of the kernel files; keep both sides in step.
/// </summary>
public static class KernelScalars
{
    /// <summary>The kernel file (family) and <c>extern "C"</c> name of <paramref name="algorithm"/>'s fused step.</summary>
    public static (string Family, string Name) KernelOf(Algorithm algorithm) => algorithm switch
    {
        Algorithm.Adam or Algorithm.AdamW => ("adam", "adam_step"),
        Algorithm.AdaMax => ("adam", "adamax_step"),
        Algorithm.NAdam => ("adam", "nadam_step"),
        Algorithm.RAdam => ("adam", "radam_step"),
        Algorithm.Sgd => ("baselines", "sgd_step"),
        Algorithm.AdaGrad => ("baselines", "adagrad_step"),
        Algorithm.RmsProp => ("baselines", "rmsprop_step"),
        Algorithm.AdaDelta => ("baselines", "adadelta_step"),
        Algorithm.SignSgd => ("sign", "signsgd_step"),
        Algorithm.Signum => ("sign", "signum_step"),
        Algorithm.Lion => ("sign", "lion_step"),
        Algorithm.SignAdam => ("sign", "signadam_step"),
        _ => throw new ArgumentOutOfRangeException(nameof(algorithm), algorithm, null),
    };

    /// <summary>The non-finite gradient check kernel (phase one of a checked step), shared by every algorithm.</summary>
    public static (string Family, string Name) NonFiniteCheck => ("adam", "grad_nonfinite_check");

    /// <summary>Phase one of a clipped step: the non-finite check plus per-chunk sums of squares (kernels/adam.cu).</summary>
    public static (string Family, string Name) GradNormPartial => ("adam", "grad_norm_partial");

    /// <summary>Phase two of a clipped step: total norm and clip coefficient, one block of <see cref="FinalizeThreads"/>.</summary>
    public static (string Family, string Name) GradClipFinalize => ("adam", "grad_clip_finalize");

    /// <summary><c>CA_FINAL_THREADS</c> of kernels/common.cuh: the block size of <c>grad_clip_finalize</c> (fixed, so the
    /// summation order, hence the norm's bits, do not depend on options).</summary>
    public const uint FinalizeThreads = 256;

    /// <summary>
    /// Fills <paramref name="s"/> (<see cref="CaTensor.ScalarCount"/> floats) and returns the <see cref="KernelFlags"/>
    /// (without <see cref="KernelFlags.Active"/> and <see cref="KernelFlags.FirstStep"/>, which the backend sets).
    /// </summary>
    public static uint Pack(Algorithm algorithm, Hyperparameters hp, in StepScalars k, Span<float> s)
    {
        if (s.Length < CaTensor.ScalarCount)
            throw new ArgumentException($"need {CaTensor.ScalarCount} scalar slots, got {s.Length}", nameof(s));
        s.Clear();
        uint flags = 0;
        if (hp.Maximize) flags |= KernelFlags.Maximize;
        if (hp.WeightDecay != 0) flags |= KernelFlags.WeightDecay;
        switch (algorithm)
        {
            case Algorithm.Adam or Algorithm.AdamW or Algorithm.SignAdam or Algorithm.AdaMax or Algorithm.NAdam or Algorithm.RAdam:
                s[0] = (float)hp.Beta1;                   // CA_S_BETA1
                s[1] = (float)hp.Beta2;                   // CA_S_BETA2
                s[2] = (float)hp.Eps;                     // CA_S_EPS
                s[3] = (float)hp.WeightDecay;             // CA_S_WD
                s[4] = (float)(1 - hp.Beta1);             // CA_S_ONE_MINUS_BETA1
                s[5] = (float)(1 - hp.Beta2);             // CA_S_ONE_MINUS_BETA2
                s[6] = (float)(1 - hp.Lr * hp.WeightDecay); // CA_S_DECAY
                if (hp.Amsgrad) flags |= KernelFlags.Amsgrad;
                if (algorithm == Algorithm.AdamW || (algorithm is Algorithm.NAdam or Algorithm.RAdam && hp.DecoupledWeightDecay))
                    flags |= KernelFlags.Decoupled;
                switch (algorithm)
                {
                    case Algorithm.NAdam:
                        s[7] = (float)k.BiasCorrection2;                                    // CA_S_NADAM_BC2
                        s[8] = (float)-k.NAdamGradStep;                                     // CA_S_NADAM_COEF_G
                        s[9] = (float)-k.NAdamMomentumStep;                                 // CA_S_NADAM_COEF_M
                        break;
                    case Algorithm.RAdam:
                        s[7] = (float)k.BiasCorrection1;      // CA_S_RADAM_BC1
                        s[8] = (float)hp.Lr;                  // CA_S_RADAM_LR
                        s[9] = (float)k.BiasCorrection2Sqrt;  // CA_S_RADAM_BC2_SQRT
                        s[10] = (float)k.Rect;                // CA_S_RADAM_RECT
                        if (k.Rectified) flags |= KernelFlags.Rectified;
                        break;
                    case Algorithm.AdaMax:
                        s[8] = (float)-k.StepSize;            // CA_S_ADAMAX_NEG_CLR
                        break;
                    default:
                        s[7] = (float)k.BiasCorrection2Sqrt;  // CA_S_BC2_SQRT
                        s[8] = (float)k.StepSize;             // CA_S_STEP_SIZE
                        s[9] = (float)k.BiasCorrection1;      // CA_S_BC1
                        break;
                }
                break;
            case Algorithm.SignSgd or Algorithm.Signum or Algorithm.Lion:
                s[0] = (float)hp.WeightDecay;                 // CA_S_SIGN_WD
                s[1] = (float)hp.Lr;                          // CA_S_SIGN_LR
                if (algorithm == Algorithm.Signum)
                {
                    s[2] = (float)hp.Momentum;                // CA_S_SIGN_MOMENTUM
                    s[3] = (float)(1 - hp.Momentum);          // CA_S_SIGN_ONE_MINUS_MOMENTUM
                }
                else if (algorithm == Algorithm.Lion)
                {
                    s[2] = (float)hp.Beta1;                   // CA_S_LION_BETA1
                    s[3] = (float)(1 - hp.Beta1);             // CA_S_LION_ONE_MINUS_BETA1
                    s[4] = (float)hp.Beta2;                   // CA_S_LION_BETA2
                    s[5] = (float)(1 - hp.Beta2);             // CA_S_LION_ONE_MINUS_BETA2
                    s[6] = (float)(1 - hp.Lr * hp.WeightDecay); // CA_S_LION_DECAY
                }
                break;
            case Algorithm.Sgd or Algorithm.AdaGrad or Algorithm.RmsProp or Algorithm.AdaDelta:
                s[0] = (float)hp.WeightDecay;                                   // CA_S_B_WD
                s[1] = (float)(algorithm == Algorithm.AdaGrad ? k.Clr : hp.Lr); // CA_S_B_LR
                s[2] = (float)hp.Eps;                                           // CA_S_B_EPS
                switch (algorithm)
                {
                    case Algorithm.Sgd:
                        s[3] = (float)hp.Momentum;                // CA_S_SGD_MOMENTUM
                        s[4] = (float)(1 - hp.Dampening);         // CA_S_SGD_ONE_MINUS_DAMPENING
                        if (hp.Momentum != 0) flags |= KernelFlags.Momentum;
                        if (hp.Nesterov) flags |= KernelFlags.Nesterov;
                        break;
                    case Algorithm.RmsProp:
                        s[3] = (float)hp.Alpha;                   // CA_S_RMS_ALPHA
                        s[4] = (float)(1 - hp.Alpha);             // CA_S_RMS_ONE_MINUS_ALPHA
                        s[5] = (float)hp.Momentum;                // CA_S_RMS_MOMENTUM
                        if (hp.Momentum > 0) flags |= KernelFlags.Momentum;
                        if (hp.Centered) flags |= KernelFlags.Centered;
                        break;
                    case Algorithm.AdaDelta:
                        s[3] = (float)hp.Rho;                     // CA_S_ADADELTA_RHO
                        s[4] = (float)(1 - hp.Rho);               // CA_S_ADADELTA_ONE_MINUS_RHO
                        break;
                }
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(algorithm), algorithm, null);
        }
        return flags;
    }
}
