namespace CudaAdam;

/// <summary>
/// The step-dependent scalars of one optimizer step of one parameter, computed once per step in float64 by
/// <see cref="Advance"/>, the one routine every backend (reference, emulator, CUDA) uses. Kernels receive them
/// rounded to float32 exactly where torch.optim passes a Python float to a float32 tensor op.
/// </summary>
public readonly record struct StepScalars
{
    /// <summary>t, counting from 1.</summary>
    public long Step { get; init; }
    /// <summary>1 − β1^t (β1^t as a running product); exactly 1 when <see cref="Hyperparameters.BiasCorrection"/> is off.</summary>
    public double BiasCorrection1 { get; init; }
    /// <summary>1 − β2^t; exactly 1 when <see cref="Hyperparameters.BiasCorrection"/> is off.</summary>
    public double BiasCorrection2 { get; init; }
    /// <summary>sqrt(1 − β2^t).</summary>
    public double BiasCorrection2Sqrt { get; init; }
    /// <summary>Adam's and AdaMax's lr / (1 − β1^t).</summary>
    public double StepSize { get; init; }
    /// <summary>AdaGrad's clr = lr / (1 + (t−1)·lr_decay).</summary>
    public double Clr { get; init; }
    /// <summary>NAdam's μ_t = β1·(1 − ½·0.96^(t·ψ)).</summary>
    public double Mu { get; init; }
    /// <summary>NAdam's μ_{t+1}.</summary>
    public double MuNext { get; init; }
    /// <summary>NAdam's Π_{i≤t} μ_i.</summary>
    public double MuProduct { get; init; }
    /// <summary>NAdam's Π_{i≤t+1} μ_i = Π_{i≤t} μ_i · μ_{t+1} (Dozat 2016; torch ≥ 2.0 and torch 1.13's foreach path.
    /// torch 1.13's single-tensor path multiplies μ_t in twice, a bug fixed by pytorch/pytorch#92699).</summary>
    public double MuProductNext { get; init; }
    /// <summary>NAdam's step size of the gradient term: γ·(1 − μ_t) / (1 − Π_{i≤t} μ_i) (positive; the update subtracts it).</summary>
    public double NAdamGradStep { get; init; }
    /// <summary>NAdam's step size of the momentum term: γ·μ_{t+1} / (1 − Π_{i≤t+1} μ_i) (positive; the update subtracts it).</summary>
    public double NAdamMomentumStep { get; init; }
    /// <summary>RAdam's ρ_t = ρ∞ − 2t·β2^t / (1 − β2^t).</summary>
    public double RhoT { get; init; }
    /// <summary>RAdam: whether ρ_t &gt; 5, so the adaptive step is rectified (else an SGD-with-momentum step).</summary>
    public bool Rectified { get; init; }
    /// <summary>RAdam's rectification r_t = sqrt((ρ_t−4)(ρ_t−2)ρ∞ / ((ρ∞−4)(ρ∞−2)ρ_t)); 0 when not rectified.</summary>
    public double Rect { get; init; }
    /// <summary>ASGD's η of this step (the state's, a float32 value: torch's <c>eta.item()</c>).</summary>
    public double AsgdEta { get; init; }
    /// <summary>ASGD's averaging weight μ of this step (the state's float32 value).</summary>
    public double AsgdMu { get; init; }
    /// <summary>AdEMAMix's α(t): α, or α·t/T_α during its warmup (apple/ml-ademamix, linear_warmup_scheduler).</summary>
    public double AdemamixAlpha { get; init; }
    /// <summary>AdEMAMix's β3(t): β3, or during its warmup f⁻¹((1 − t/T)·f(β1) + (t/T)·f(β3)), f(β) = ln ½ / ln(β + 1e-8) − 1,
    /// f⁻¹(h) = ½^(1/(h+1)) (apple/ml-ademamix, linear_hl_warmup_scheduler: linear in the half-life).</summary>
    public double AdemamixBeta3 { get; init; }
    /// <summary>Adan's step size of the difference term, γ·β2/(1 − β2^t).</summary>
    public double AdanStepSizeDiff { get; init; }
    /// <summary>Adan's sqrt(1 − β3^t), β3^t by pow as sail-sg/Adan (Adan has no device clock).</summary>
    public double AdanBc3Sqrt { get; init; }
    /// <summary>Schedule-Free: this step's lr after warmup, γ_t = γ·min(1, t/warmup_steps).</summary>
    public double ScheduledLr { get; init; }
    /// <summary>Schedule-Free: c_{t+1} = w_t / Σ_{i≤t} w_i, w_t = t^r · (max_{i≤t} γ_i)^weight_lr_power (0 when the sum is 0).</summary>
    public double Ckp1 { get; init; }
    /// <summary>Schedule-Free: the coefficient of the normalized gradient in the y update, γ_t·(β·(1 − c_{t+1}) − 1), with β
    /// the interpolation β1 (AdamW) or momentum (SGD).</summary>
    public double ScheduleFreeYStep { get; init; }

    /// <summary>The per-tensor trust ratio τ of an algorithm with <see cref="AlgorithmInfo.TensorNorms"/> (LAMB, LARS), computed
    /// from the canonical norms before the step (<see cref="TensorNorms.Apply"/>; the device's <c>tensor_norms_finalize</c>);
    /// null until then. A caller may set it (tests: τ forced to 1).</summary>
    public double? TrustRatio { get; init; }
    /// <summary>The canonical sums of squares (Σa², Σb²) behind <see cref="TrustRatio"/>, or null.</summary>
    public (double A, double B)? NormSums { get; init; }

    /// <summary>x^y: for y = 0, 1, 2 (Schedule-Free's usual r and weight_lr_power) the products 1, x, x·x, which every
    /// machine rounds alike (the device clock, kernels/clock.cu, computes the same); otherwise <see cref="Math.Pow"/>
    /// (host only: such settings have no device clock, <see cref="ScheduleFreeClockRefusal"/>).</summary>
    public static double ExactPower(double x, double y) => y == 0 ? 1 : y == 1 ? x : y == 2 ? x * x : Math.Pow(x, y);

    /// <summary>Why Schedule-Free with <paramref name="hp"/> has no device clock (r not 0 or 1, weight_lr_power not 0, 1 or
    /// 2: the weight would need pow, which the GPU rounds differently), or null when it has one.</summary>
    public static string? ScheduleFreeClockRefusal(Hyperparameters hp) =>
        hp.R is 0 or 1 && hp.WeightLrPower is 0 or 1 or 2 ? null
        : FormattableString.Invariant($"Schedule-Free with r = {hp.R}, weight_lr_power = {hp.WeightLrPower} needs pow for its averaging weight, which the device clock does not compute bitwise (r in {{0, 1}} and weight_lr_power in {{0, 1, 2}} have one)");

    /// <summary>
    /// Starts step t+1 of a parameter: increments <see cref="ParamState.Step"/>, advances the running products
    /// β1^t, β2^t and NAdam's μ-product in <paramref name="state"/>, and returns the scalars of this step.
    /// Call it only for a parameter that has a gradient this step.
    /// </summary>
    public static StepScalars Advance(Algorithm algorithm, Hyperparameters hp, ParamState state)
    {
        long t = ++state.Step;
        state.Beta1Power *= hp.Beta1;
        state.Beta2Power *= hp.Beta2;
        // Bias correction off (Adam, AdamW, SignAdam, AdaMax only; Validate refuses it elsewhere): both factors are
        // exactly 1, so StepSize = lr and sqrt(bc2) = 1, and every backend divides by 1 (an exact no-op in IEEE).
        bool corrected = hp.BiasCorrection || !Hyperparameters.HasBiasCorrectionSwitch(algorithm);
        double bc1 = corrected ? 1 - state.Beta1Power : 1.0, bc2 = corrected ? 1 - state.Beta2Power : 1.0;
        double mu = 0, muNext = 0, muProductNext = 0;
        if (algorithm == Algorithm.NAdam)
        {
            mu = hp.Beta1 * (1.0 - 0.5 * Math.Pow(0.96, t * hp.MomentumDecay));
            muNext = hp.Beta1 * (1.0 - 0.5 * Math.Pow(0.96, (t + 1) * hp.MomentumDecay));
            state.MuProduct *= mu;
            muProductNext = state.MuProduct * muNext;
        }
        double rhoT = 0, rect = 0;
        bool rectified = false;
        if (algorithm == Algorithm.RAdam)
        {
            double rhoInf = 2 / (1 - hp.Beta2) - 1;
            rhoT = rhoInf - 2 * t * state.Beta2Power / bc2;
            rectified = rhoT > 5;
            if (rectified)
                rect = Math.Sqrt((rhoT - 4) * (rhoT - 2) * rhoInf / ((rhoInf - 4) * (rhoInf - 2) * rhoT));
        }
        double asgdEta = 0, asgdMu = 0;
        if (algorithm == Algorithm.Asgd)
        {
            // torch 1.13 _single_tensor_asgd: this step uses the state's eta and mu, then stores the next ones, computed in
            // double from this step's lr and count and rounded to float32 (torch.tensor(python float)). The pow keeps ASGD
            // off the device clock (kernels/clock.cu: pow is not correctly rounded on the GPU).
            (asgdEta, asgdMu) = (state.Eta, state.Mu);
            state.Eta = (float)(hp.Lr / Math.Pow(1 + hp.Lambd * hp.Lr * t, hp.Alpha));
            state.Mu = (float)(1 / Math.Max(1, t - hp.T0));
        }
        double ademamixAlpha = 0, ademamixBeta3 = 0;
        if (algorithm == Algorithm.AdEMAMix)
        {
            // apple/ml-ademamix (pytorch/ademamix.py): the schedules of its step count t (from 1), in double as in Python.
            ademamixAlpha = hp.Alpha;
            if (t < hp.AlphaWarmup)
            {
                double a = t / (double)hp.AlphaWarmup;
                ademamixAlpha = (1.0 - a) * 0.0 + a * hp.Alpha;
            }
            ademamixBeta3 = hp.Beta3;
            if (t < hp.Beta3Warmup)
            {
                static double F(double beta) => Math.Log(0.5) / Math.Log(beta + 1e-8) - 1;
                double a = t / (double)hp.Beta3Warmup;
                ademamixBeta3 = Math.Pow(0.5, 1 / ((1.0 - a) * F(hp.Beta1) + a * F(hp.Beta3) + 1));
            }
        }
        double adanStepSizeDiff = 0, adanBc3Sqrt = 0;
        if (algorithm == Algorithm.Adan)
        {
            adanStepSizeDiff = hp.Lr * hp.Beta2 / bc2;
            adanBc3Sqrt = Math.Sqrt(1 - Math.Pow(hp.Beta3, t));
        }
        double scheduledLr = 0, ckp1 = 0, yStep = 0;
        if (algorithm.Info().EvalInterpolation is { } beta)
        {
            // facebookresearch/schedule_free (adamw_schedulefree.py, sgd_schedulefree.py), with k = t − 1. Per parameter
            // here (its own t, lr_max and weight_sum), per group there: the same when every parameter steps every time.
            scheduledLr = hp.Lr * (t - 1 < hp.WarmupSteps ? (double)t / hp.WarmupSteps : 1.0);
            state.LrMax = scheduledLr > state.LrMax ? scheduledLr : state.LrMax;
            double weight = ExactPower(t, hp.R) * ExactPower(state.LrMax, hp.WeightLrPower);
            state.WeightSum += weight;
            ckp1 = state.WeightSum == 0 ? 0 : weight / state.WeightSum;   // Python: ZeroDivisionError -> 0
            yStep = scheduledLr * (beta(hp) * (1 - ckp1) - 1);
        }
        return new StepScalars
        {
            Step = t,
            BiasCorrection1 = bc1,
            BiasCorrection2 = bc2,
            BiasCorrection2Sqrt = Math.Sqrt(bc2),
            StepSize = hp.Lr / bc1,
            Clr = hp.Lr / (1 + (t - 1) * hp.LrDecay),
            Mu = mu,
            MuNext = muNext,
            MuProduct = state.MuProduct,
            MuProductNext = muProductNext,
            NAdamGradStep = algorithm == Algorithm.NAdam ? hp.Lr * (1.0 - mu) / (1.0 - state.MuProduct) : 0,
            NAdamMomentumStep = algorithm == Algorithm.NAdam ? hp.Lr * muNext / (1.0 - muProductNext) : 0,
            RhoT = rhoT,
            Rectified = rectified,
            Rect = rect,
            AsgdEta = asgdEta,
            AsgdMu = asgdMu,
            AdemamixAlpha = ademamixAlpha,
            AdemamixBeta3 = ademamixBeta3,
            AdanStepSizeDiff = adanStepSizeDiff,
            AdanBc3Sqrt = adanBc3Sqrt,
            ScheduledLr = scheduledLr,
            Ckp1 = ckp1,
            ScheduleFreeYStep = yStep,
        };
    }
}
