namespace CudaAdam;

/// <summary>
/// The hyperparameters of every algorithm, under torch.optim's keyword names (<c>lr</c>, <c>betas</c>
/// split into <see cref="Beta1"/>/<see cref="Beta2"/>, <c>eps</c>, <c>weight_decay</c>, ...). One flat record so that
/// the CLI, JSON configs, kernels and golden files bind the same names; an algorithm ignores the fields it does
/// not use. Values are <c>double</c> as in Python; the reference and the kernels round each to float32 where
/// torch.optim's float32 tensor ops would.
/// </summary>
/// <remarks>
/// <para>Every value starts from the algorithm's own defaults: there is no public constructor, so nothing can silently
/// take another algorithm's (Adam's β2 = 0.999 for Lion, whose default is 0.99; weight decay 0 for AdamW, whose
/// default is 1e-2). Build them with <see cref="For"/> (the algorithm required, the values you change named):</para>
/// <code>
/// var hp = Hyperparameters.For(Algorithm.Lion, lr: 3e-4);        // C#: beta1 0.9, beta2 0.99 from Lion's descriptor
/// var hp2 = hp with { WeightDecay = 0.1 };                        // C# copy-and-update
/// let hp = Hyperparameters.For(Algorithm.Lion, lr = 3e-4)         // F#
/// let hp2 = hp.With(weightDecay = 0.1)                            // F# copy-and-update ({ hp with … } needs an F# record)
/// </code>
/// <para><see cref="Defaults"/> is <see cref="For"/> with nothing changed. <see cref="Validate"/> rejects impossible
/// values with torch.optim-style messages; <see cref="For"/> calls it.</para>
/// </remarks>
public sealed record Hyperparameters
{
    // The field initializers below are torch.optim.Adam's values: the base every descriptor row (Algorithms.All) states
    // its defaults against. Only the rows and the state dict's reader construct from it.
    [System.Text.Json.Serialization.JsonConstructor]
    private Hyperparameters() { }

    /// <summary>The base the descriptor rows write their defaults against (torch.optim.Adam's values); not a default of
    /// any algorithm but Adam: everyone else starts from <see cref="For"/> or <see cref="Defaults"/>.</summary>
    internal static Hyperparameters DescriptorBase { get; } = new();

    /// <summary>Learning rate γ (torch: <c>lr</c>).</summary>
    public double Lr { get; init; } = 1e-3;
    /// <summary>First-moment decay β1 (torch: <c>betas[0]</c>). For Lion: the interpolation β1 of the update direction.</summary>
    public double Beta1 { get; init; } = 0.9;
    /// <summary>Second-moment decay β2 (torch: <c>betas[1]</c>). For Lion: the momentum decay β2.</summary>
    public double Beta2 { get; init; } = 0.999;
    /// <summary>ε, added where torch.optim adds it (outside the sqrt for the Adam family, inside for RMSProp's and AdaDelta's sqrt).</summary>
    public double Eps { get; init; } = 1e-8;
    /// <summary>Weight decay λ (torch: <c>weight_decay</c>): L2, coupled into the gradient, except AdamW, Lion and <see cref="DecoupledWeightDecay"/>.</summary>
    public double WeightDecay { get; init; }
    /// <summary>AMSGrad (Reddi et al., 2018): use the running maximum of v (Adam, AdamW, SignAdam).</summary>
    public bool Amsgrad { get; init; }
    /// <summary>Maximize the objective instead of minimizing: the gradient's sign is flipped before anything else.</summary>
    public bool Maximize { get; init; }
    /// <summary>Momentum factor (SGD, RMSProp; Signum's β).</summary>
    public double Momentum { get; init; }
    /// <summary>SGD's dampening of the momentum buffer's gradient term.</summary>
    public double Dampening { get; init; }
    /// <summary>SGD's Nesterov momentum.</summary>
    public bool Nesterov { get; init; }
    /// <summary>RMSProp's smoothing constant α; ASGD's power α of η_t = lr/(1 + λ·lr·t)^α; AdEMAMix's mixing weight α of the slow EMA.</summary>
    public double Alpha { get; init; } = 0.99;
    /// <summary>RMSProp centered: normalize by an estimate of the variance instead of the second moment.</summary>
    public bool Centered { get; init; }
    /// <summary>AdaDelta's decay ρ.</summary>
    public double Rho { get; init; } = 0.9;
    /// <summary>AdaGrad's learning-rate decay: clr = lr / (1 + (t-1)·lr_decay).</summary>
    public double LrDecay { get; init; }
    /// <summary>AdaGrad's initial value of the accumulator <c>sum</c>.</summary>
    public double InitialAccumulatorValue { get; init; }
    /// <summary>NAdam's momentum decay ψ of the schedule μ_t = β1(1 − ½·0.96^(t·ψ)).</summary>
    public double MomentumDecay { get; init; } = 4e-3;
    /// <summary>NAdam/RAdam: decouple weight decay as AdamW does (torch ≥ 2.1's <c>decoupled_weight_decay</c>).</summary>
    public bool DecoupledWeightDecay { get; init; }
    /// <summary>
    /// Adam's bias correction (Kingma &amp; Ba 2015, Algorithm 1 and Section 3): divide m by 1 − β1^t and v by 1 − β2^t.
    /// Default true. False drops both factors, so the step is <c>x ← x − γ·m/(sqrt(v) + ε)</c>: RMSProp with momentum
    /// on the gradient's running mean, the "no bias correction" curves of Kingma &amp; Ba's Fig. 4. Read by Adam, AdamW,
    /// SignAdam (with or without AMSGrad) and AdaMax (whose only correction is 1 − β1^t); <see cref="Validate"/> refuses
    /// false for every other algorithm.
    /// </summary>
    /// <remarks>Convention warning: torch.optim has no such switch (its Adam always corrects), so golden files and
    /// torch comparisons cover only true. The key <c>bias_correction</c> is the name NVIDIA Apex's FusedAdam gives the
    /// same switch. The running products β1^t, β2^t still advance when it is off (the state is the same either way);
    /// only the scalars of <see cref="StepScalars.Advance"/> change: 1 − β1^t and 1 − β2^t become exactly 1.</remarks>
    public bool BiasCorrection { get; init; } = true;

    // ---- issue 12, h12a: Rprop, ASGD, AdaBelief, AdEMAMix, Adan, LAMB, LARS (torch's keyword names where torch has the
    // algorithm, else the reference implementation's) ----------------------------------------------------------------
    /// <summary>Rprop's multiplicative decrease η− of a step size whose gradient changed sign (torch: <c>etas[0]</c>), in (0, 1).</summary>
    public double Etaminus { get; init; } = 0.5;
    /// <summary>Rprop's multiplicative increase η+ of a step size whose gradient kept its sign (torch: <c>etas[1]</c>), &gt; 1.</summary>
    public double Etaplus { get; init; } = 1.2;
    /// <summary>Rprop's smallest step size Γmin (torch: <c>step_sizes[0]</c>).</summary>
    public double StepSizeMin { get; init; } = 1e-6;
    /// <summary>Rprop's largest step size Γmax (torch: <c>step_sizes[1]</c>).</summary>
    public double StepSizeMax { get; init; } = 50;
    /// <summary>ASGD's decay term λ (torch: <c>lambd</c>): x ← x(1 − λη) each step, and η_t = lr / (1 + λ·lr·t)^α.</summary>
    public double Lambd { get; init; } = 1e-4;
    /// <summary>ASGD's t0: the step after which averaging starts (μ_t = 1 / max(1, t − t0)).</summary>
    public double T0 { get; init; } = 1e6;
    /// <summary>The third β (the reference implementations' <c>betas[2]</c>): AdEMAMix's slow-EMA decay β3 (0.9999), Adan's
    /// decay of its second moment n (0.99).</summary>
    public double Beta3 { get; init; } = 0.9999;
    /// <summary>AdEMAMix's <c>alpha_warmup</c> T_α: α rises linearly from 0 over the first T_α steps (0: none, the reference's None).</summary>
    public int AlphaWarmup { get; init; }
    /// <summary>AdEMAMix's <c>beta3_warmup</c> T_β3: β3 rises from β1 over the first T_β3 steps, linearly in half-life (0: none).</summary>
    public int Beta3Warmup { get; init; }
    // ---- Schedule-Free (Defazio et al. 2024; facebookresearch/schedule_free's keyword names) -----------------------
    /// <summary>Schedule-Free: linear warmup of the lr over the first <c>warmup_steps</c> steps, lr·t/warmup_steps (0: none).</summary>
    public int WarmupSteps { get; init; }
    /// <summary>Schedule-Free's <c>r</c>: the averaging weight of step t is t^r · lr_max^weight_lr_power (0: uniform).</summary>
    public double R { get; init; }
    /// <summary>Schedule-Free's <c>weight_lr_power</c>: the power of the largest lr so far in the averaging weight (default 2).</summary>
    public double WeightLrPower { get; init; } = 2.0;
    /// <summary>
    /// Bits per element of the optimizer state: 32 (float32, default) or 8, the block-wise 8-bit state of Dettmers et al.,
    /// "8-bit Optimizers via Block-wise Quantization" (ICLR 2022; bitsandbytes' <c>Adam8bit</c>/<c>AdamW8bit</c>,
    /// <c>optim_bits=8</c>): m with the signed and v with the unsigned dynamic map (<see cref="DynamicMap"/>), blocks of
    /// 2,048 elements with a float32 absmax each (<see cref="QuantizedBuffer"/>), about 2 bytes of state per parameter instead
    /// of 8. A state option, not an algorithm: the algorithms whose descriptor has a <see cref="AlgorithmInfo.State8Kernel"/>
    /// (Adam, AdamW) accept it.
    /// </summary>
    /// <remarks>Convention warnings: the step itself runs in float32 on the dequantized state, and the parameter is updated
    /// with the new m and v BEFORE they are requantized (bitsandbytes' order), so the first step is bitwise float32 Adam's.
    /// Unlike bitsandbytes (<c>min_8bit_size=4096</c>) every tensor is quantized, small ones too; amsgrad is refused (as in
    /// bitsandbytes' 8-bit Adam); a non-finite value in a block (non_finite = propagate) makes the whole block NaN.</remarks>
    public int StateBits { get; init; } = 32;

    /// <summary>Whether <paramref name="algorithm"/> reads <see cref="BiasCorrection"/> (its descriptor says).</summary>
    public static bool HasBiasCorrectionSwitch(Algorithm algorithm) => algorithm.Info().BiasCorrectionSwitch;

    /// <summary>torch.optim's defaults for <paramref name="algorithm"/> (its descriptor's <see cref="AlgorithmInfo.Defaults"/>;
    /// for SGD, whose lr torch 1.13 requires, 1e-3 as in torch 2.x): <see cref="For"/> with nothing changed.</summary>
    public static Hyperparameters Defaults(Algorithm algorithm) => algorithm.Info().Defaults;

    /// <summary>
    /// <paramref name="algorithm"/>'s defaults (its descriptor's, torch.optim's where torch has the algorithm) with the
    /// named values changed, validated. Parameters are the fields in torch.optim's keyword order, camel case
    /// (<c>weightDecay</c> is torch's <c>weight_decay</c>); one left out (null) keeps the algorithm's default. From F#:
    /// <c>Hyperparameters.For(Algorithm.Lion, lr = 3e-4)</c>.
    /// </summary>
    /// <exception cref="ArgumentException">A value is outside its domain for <paramref name="algorithm"/>
    /// (<see cref="Validate"/>'s message), or an option the algorithm does not have is set.</exception>
    public static Hyperparameters For(Algorithm algorithm, double? lr = null, double? beta1 = null, double? beta2 = null,
        double? eps = null, double? weightDecay = null, bool? amsgrad = null, bool? maximize = null, double? momentum = null,
        double? dampening = null, bool? nesterov = null, double? alpha = null, bool? centered = null, double? rho = null,
        double? lrDecay = null, double? initialAccumulatorValue = null, double? momentumDecay = null,
        bool? decoupledWeightDecay = null, bool? biasCorrection = null,
        double? etaminus = null, double? etaplus = null, double? stepSizeMin = null, double? stepSizeMax = null, double? lambd = null,
        double? t0 = null, double? beta3 = null, int? alphaWarmup = null, int? beta3Warmup = null,
        int? warmupSteps = null, double? r = null, double? weightLrPower = null, int? stateBits = null)
    {
        var hp = Defaults(algorithm).With(lr, beta1, beta2, eps, weightDecay, amsgrad, maximize, momentum, dampening, nesterov,
            alpha, centered, rho, lrDecay, initialAccumulatorValue, momentumDecay, decoupledWeightDecay, biasCorrection,
            etaminus, etaplus, stepSizeMin, stepSizeMax, lambd, t0, beta3, alphaWarmup, beta3Warmup, warmupSteps, r, weightLrPower, stateBits);
        hp.Validate(algorithm);
        return hp;
    }

    /// <summary>
    /// A copy with the named values changed and every other kept: C#'s <c>with { … }</c> for F# and other languages
    /// without it (<c>hp.With(lr = 1e-3, weightDecay = 0.1)</c>). Not validated: it does not know the algorithm
    /// (<see cref="Validate"/>, or the optimizer's first step, checks it).
    /// </summary>
    public Hyperparameters With(double? lr = null, double? beta1 = null, double? beta2 = null, double? eps = null,
        double? weightDecay = null, bool? amsgrad = null, bool? maximize = null, double? momentum = null,
        double? dampening = null, bool? nesterov = null, double? alpha = null, bool? centered = null, double? rho = null,
        double? lrDecay = null, double? initialAccumulatorValue = null, double? momentumDecay = null,
        bool? decoupledWeightDecay = null, bool? biasCorrection = null,
        double? etaminus = null, double? etaplus = null, double? stepSizeMin = null, double? stepSizeMax = null, double? lambd = null,
        double? t0 = null, double? beta3 = null, int? alphaWarmup = null, int? beta3Warmup = null,
        int? warmupSteps = null, double? r = null, double? weightLrPower = null, int? stateBits = null) => this with
    {
        Lr = lr ?? Lr, Beta1 = beta1 ?? Beta1, Beta2 = beta2 ?? Beta2, Eps = eps ?? Eps, WeightDecay = weightDecay ?? WeightDecay,
        Amsgrad = amsgrad ?? Amsgrad, Maximize = maximize ?? Maximize, Momentum = momentum ?? Momentum,
        Dampening = dampening ?? Dampening, Nesterov = nesterov ?? Nesterov, Alpha = alpha ?? Alpha, Centered = centered ?? Centered,
        Rho = rho ?? Rho, LrDecay = lrDecay ?? LrDecay, InitialAccumulatorValue = initialAccumulatorValue ?? InitialAccumulatorValue,
        MomentumDecay = momentumDecay ?? MomentumDecay, DecoupledWeightDecay = decoupledWeightDecay ?? DecoupledWeightDecay,
        BiasCorrection = biasCorrection ?? BiasCorrection,
        Etaminus = etaminus ?? Etaminus, Etaplus = etaplus ?? Etaplus, StepSizeMin = stepSizeMin ?? StepSizeMin,
        StepSizeMax = stepSizeMax ?? StepSizeMax, Lambd = lambd ?? Lambd, T0 = t0 ?? T0, Beta3 = beta3 ?? Beta3,
        AlphaWarmup = alphaWarmup ?? AlphaWarmup, Beta3Warmup = beta3Warmup ?? Beta3Warmup,
        WarmupSteps = warmupSteps ?? WarmupSteps, R = r ?? R, WeightLrPower = weightLrPower ?? WeightLrPower, StateBits = stateBits ?? StateBits,
    };

    /// <summary>Whether <paramref name="algorithm"/> reads β1/β2 (the Adam family and Lion).</summary>
    public static bool UsesBetas(Algorithm algorithm) => algorithm.Info().UsesBetas;

    /// <summary>Whether <paramref name="algorithm"/> has the Adam-style second moment v_t = β2 v + (1−β2) g².</summary>
    public static bool HasSecondMoment(Algorithm algorithm) => algorithm.Info().HasSecondMoment;

    /// <summary>
    /// Checks every value <paramref name="algorithm"/> reads and throws with a message that names the value, what
    /// it must be, and the value given (torch.optim's messages, extended). Returns warnings that are not errors:
    /// β1 ≥ sqrt(β2) with β1 &gt; 0, where the sign-like descent bound <see cref="SignBound"/> R is infinite.
    /// </summary>
    /// <exception cref="ArgumentException">A value is outside its domain.</exception>
    public IReadOnlyList<string> Validate(Algorithm algorithm)
    {
        static void Require(bool ok, string message)
        {
            if (!ok) throw new ArgumentException(message);
        }
        static bool Finite(double x) => double.IsFinite(x);

        Require(Finite(Lr) && Lr >= 0, $"Invalid learning rate: {Lr} (lr must be a finite number >= 0)");
        Require(Finite(WeightDecay) && WeightDecay >= 0, $"Invalid weight_decay value: {WeightDecay} (must be a finite number >= 0)");
        var warnings = new List<string>();
        if (UsesBetas(algorithm))
        {
            Require(Beta1 >= 0 && Beta1 < 1, $"Invalid beta parameter at index 0: {Beta1} (beta1 must be in [0, 1))");
            Require(Beta2 >= 0 && Beta2 < 1, $"Invalid beta parameter at index 1: {Beta2} (beta2 must be in [0, 1))");
            if (HasSecondMoment(algorithm) && Beta1 > 0 && Beta1 >= Math.Sqrt(Beta2))
                warnings.Add($"beta1 = {Beta1} >= sqrt(beta2) = {Math.Sqrt(Beta2):R}: the sign-like descent bound " +
                             "R = (1-beta1)/(sqrt(1-beta2)*sqrt(1-beta1^2/beta2)) is infinite, so |m|/sqrt(v) is unbounded " +
                             "and the convergence analysis of arXiv 2507.05966 does not apply");
        }
        var info = algorithm.Info();
        Require(info.UsesWeightDecay || WeightDecay == 0,
            $"{info.Name} has no weight_decay{(info.TorchClass is { } tc ? $" (torch.optim.{tc} neither)" : "")}; got {WeightDecay}");
        if (info.UsesEps)
            Require(Finite(Eps) && Eps > 0, $"Invalid epsilon value: {Eps} (eps must be a finite number > 0)");
        info.Validate?.Invoke(this);
        string Having(Func<AlgorithmInfo, bool> option) => string.Join(", ", Algorithms.All.Where(option).Select(i => i.Name));
        if (Amsgrad && !info.AmsgradOption)
            throw new ArgumentException($"amsgrad is defined for {Having(i => i.AmsgradOption)}, not {info.Name}");
        if (!BiasCorrection && !info.BiasCorrectionSwitch)
            throw new ArgumentException($"bias_correction = false is an option of {Having(i => i.BiasCorrectionSwitch)}, not {info.Name} " +
                                        (info.HasSecondMoment
                                            ? "(its step schedule is built on the corrected moments; use adam with bias_correction = false)"
                                            : "(it has no bias correction to switch off)"));
        if (StateBits != 32 && StateBits != 8)
            throw new ArgumentException($"Invalid state_bits value: {StateBits} (must be 32, float32 state, or 8, block-wise 8-bit state)");
        if (StateBits == 8 && info.State8Kernel is null)
            throw new ArgumentException($"state_bits = 8 is an option of {Having(i => i.State8Kernel is not null)}, not {info.Name} (it keeps float32 state only)");
        if (StateBits == 8 && Amsgrad)
            throw new ArgumentException("state_bits = 8 does not combine with amsgrad (as in bitsandbytes: max_exp_avg_sq stays float32-only); drop one of them");
        if (DecoupledWeightDecay && !info.DecoupledOption)
            throw new ArgumentException($"decoupled_weight_decay is an option of {Having(i => i.DecoupledOption)}, not {info.Name} " +
                                        "(use adamw for Adam with decoupled weight decay)");
        return warnings;
    }

    /// <summary>
    /// The bound R = (1−β1) / (sqrt(1−β2) · sqrt(1−β1²/β2)) on |m_t|/sqrt(v_t) for uncorrected moments
    /// (arXiv 2507.05966, Lemma B.2, as its summary states it; the paper's text was not retrievable here);
    /// +∞ when β1 ≥ sqrt(β2) and β1 &gt; 0.
    /// <para>Derivation (Cauchy–Schwarz): |Σ_k β1^k g_{t−k}| ≤ sqrt(Σ_k (β1²/β2)^k) · sqrt(Σ_k β2^k g²_{t−k}), with
    /// m_t = (1−β1)·Σ_k β1^k g_{t−k} and v_t = (1−β2)·Σ_k β2^k g²_{t−k}. The same R bounds the bias-corrected ratio
    /// |m̂_t|/sqrt(v̂_t): the finite sums add the factor sqrt(1−β2^t)·sqrt(1−(β1²/β2)^t)/(1−β1^t), which is ≤ 1
    /// because (1−a)(1−b) ≤ (1−sqrt(ab))² for a, b in [0, 1].</para>
    /// <para>β1 = 0 is the Cauchy–Schwarz-free case m_t = g_t: the bound is 1/sqrt(1−β2), the formula's value for
    /// β2 &gt; 0, and 1 (not +∞) at β1 = β2 = 0, where |m|/sqrt(v) = |g|/|g| (SignSGD).</para>
    /// </summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public double SignBound => Beta1 == 0
        ? 1 / Math.Sqrt(1 - Beta2)
        : Beta1 * Beta1 >= Beta2
            ? double.PositiveInfinity
            : (1 - Beta1) / (Math.Sqrt(1 - Beta2) * Math.Sqrt(1 - Beta1 * Beta1 / Beta2));
}
