using CudaAdam.Reference;

namespace CudaAdam;

// The Algorithm enum is in Algorithm.gen.cs, its members documented from the rows below (./build.sh gen).

/// <summary>The command-line and config names of <see cref="Algorithm"/> (torch.optim's class names in lower case),
/// read from the descriptors (<see cref="Algorithms"/>).</summary>
public static class AlgorithmNames
{
    /// <summary>All algorithms, in descriptor order.</summary>
    public static IReadOnlyList<Algorithm> All { get; } = Algorithms.All.Select(i => i.Algorithm).ToArray();

    /// <summary>The lower-case name used by the CLI, configs, kernels and golden files.</summary>
    public static string Name(this Algorithm a) => a.Info().Name;

    /// <summary>The torch.optim class with the same semantics, or null when torch.optim has none.</summary>
    public static string? TorchClass(this Algorithm a) => a.Info().TorchClass;

    /// <summary>Parses a name such as <c>adamw</c> (case-insensitive).</summary>
    /// <exception cref="ArgumentException">The name is unknown; the message lists the known ones.</exception>
    public static Algorithm Parse(string name)
    {
        foreach (var i in Algorithms.All)
            if (string.Equals(i.Name, name, StringComparison.OrdinalIgnoreCase)) return i.Algorithm;
        throw new ArgumentException(
            $"unknown optimizer '{name}'; known optimizers: {string.Join(", ", Algorithms.All.Select(i => i.Name))}");
    }
}

/// <summary>
/// The descriptor of every algorithm (<see cref="AlgorithmInfo"/>), one row each. Adding an algorithm costs its kernel
/// (<c>kernels/&lt;family&gt;.cu</c>), its reference (<c>Reference/&lt;Name&gt;.cs</c>), and in this file its
/// <see cref="Algorithm"/> member and its row; <c>kernels/scalars.gen.cuh</c> is then regenerated from the rows
/// (<c>./build.sh gen</c>; a test fails while it is stale).
/// </summary>
public static class Algorithms
{
    // ---- the kernel scalar slots the families share (kernels/common.cuh, adam.cu, sign.cu, baselines.cu) -------

    private static KernelScalar S(string define, string doc, Func<Hyperparameters, StepScalars, double> value) => new(define, doc, value);

    /// <summary>Slots 0–6 of the Adam family, read by <c>ca_adam_moments</c> in kernels/common.cuh.</summary>
    private static readonly KernelScalar[] AdamFamily =
    [
        S("CA_S_BETA1", "(float)beta1", (h, _) => h.Beta1),
        S("CA_S_BETA2", "(float)beta2", (h, _) => h.Beta2),
        S("CA_S_EPS", "(float)eps", (h, _) => h.Eps),
        S("CA_S_WD", "(float)weight_decay", (h, _) => h.WeightDecay),
        S("CA_S_ONE_MINUS_BETA1", "(float)(1 - beta1)", (h, _) => 1 - h.Beta1),
        S("CA_S_ONE_MINUS_BETA2", "(float)(1 - beta2)", (h, _) => 1 - h.Beta2),
        S("CA_S_DECAY", "(float)(1 - lr * weight_decay): decoupled weight decay", (h, _) => 1 - h.Lr * h.WeightDecay),
    ];

    /// <summary>Slots 7–9 of Adam, AdamW, SignAdam (kernels/common.cuh: ca_adam_denom).</summary>
    private static readonly KernelScalar[] AdamCorrections =
    [
        S("CA_S_BC2_SQRT", "(float)sqrt(1 - beta2^t)", (_, k) => k.BiasCorrection2Sqrt),
        S("CA_S_STEP_SIZE", "(float)(lr / (1 - beta1^t))", (_, k) => k.StepSize),
        S("CA_S_BC1", "(float)(1 - beta1^t)", (_, k) => k.BiasCorrection1),
    ];

    private static readonly KernelScalar[] SignFamily =
    [
        S("CA_S_SIGN_WD", "(float)weight_decay (signSGD, Signum: coupled L2)", (h, _) => h.WeightDecay),
        S("CA_S_SIGN_LR", "(float)lr", (h, _) => h.Lr),
    ];

    private static KernelScalar[] Baselines(Func<Hyperparameters, StepScalars, double>? lr = null) =>
    [
        S("CA_S_B_WD", "(float)weight_decay (coupled L2)", (h, _) => h.WeightDecay),
        S("CA_S_B_LR", "(float)lr  (AdaGrad: (float)clr = lr / (1 + (t-1) lr_decay))", lr ?? ((h, _) => h.Lr)),
        S("CA_S_B_EPS", "(float)eps", (h, _) => h.Eps),
    ];

    /// <summary>The conformance sets Adam and SignAdam share (SignAdam is bitwise Adam).</summary>
    private static readonly (string, Func<Hyperparameters, Hyperparameters>)[] AdamSets =
    [
                ("wd-maximize", d => d with { WeightDecay = 0.1, Maximize = true }),
                ("amsgrad-wd", d => d with { Amsgrad = true, WeightDecay = 0.01, Lr = 0.01 }),
                ("beta-0.5-0.6", d => d with { Beta1 = 0.5, Beta2 = 0.6, Eps = 1e-3, Lr = 0.1 }),
                // Bias correction off (Kingma & Ba Fig. 4): the scalars 1 − β^t are exactly 1.
                ("no-bias-correction", d => d with { BiasCorrection = false }),
                ("no-bias-correction-amsgrad-b1-0-b2-0.9999", d => d with { BiasCorrection = false, Amsgrad = true, Beta1 = 0, Beta2 = 0.9999, WeightDecay = 0.01 }),
    ];

    // The CA_CLOCK_* kinds of kernels/clock.cu.
    private const int ClockAdam = 1, ClockAdaMax = 2, ClockRAdam = 3, ClockLion = 5, ClockSgd = 7, ClockAdaGrad = 8, ClockScheduleFree = 9;
    /// <summary>CA_CLOCK_ADEMAMIX: Adam's slots and the lr (slot 13).</summary>
    private const int ClockAdemamix = 10;
    /// <summary>CA_CLOCK_CONSTANT: nothing step-dependent in the scalars (Rprop: lr only seeds the state).</summary>
    private const int ClockConstant = 11;


    private static readonly StateSlot ExpAvg = new("exp_avg", StateBuffer.M), ExpAvgSq = new("exp_avg_sq", StateBuffer.V),
        MaxExpAvgSq = new("max_exp_avg_sq", StateBuffer.VMax, h => h.Amsgrad);

    // ---- 8-bit state (Dettmers et al. 2022; Hyperparameters.StateBits, kernels/state8.cu, Reference/BlockwiseState8.cs) ----

    /// <summary>exp_avg and exp_avg_sq of the algorithms with the 8-bit state option: m on the signed map, v on the unsigned.</summary>
    private static readonly StateSlot ExpAvg8 = ExpAvg with { Quantized = QuantMap.Signed },
        ExpAvgSq8 = ExpAvgSq with { Quantized = QuantMap.Unsigned };

    /// <summary>The fused 8-bit state step of Adam and AdamW (the flags choose coupled or decoupled decay, as adam_step's).</summary>
    private static readonly (string, string) Adam8Kernel = ("state8", "adam8_step");

    /// <summary>The conformance sets of the 8-bit state option (Adam and AdamW; amsgrad does not combine with it).</summary>
    private static readonly (string, Func<Hyperparameters, Hyperparameters>)[] State8Sets =
    [
        ("state8", d => d with { StateBits = 8 }),
        ("state8-wd-maximize", d => d with { StateBits = 8, WeightDecay = 0.1, Maximize = true, Lr = 0.01 }),
        ("state8-betas-no-bias-correction", d => d with { StateBits = 8, Beta1 = 0.5, Beta2 = 0.6, Eps = 1e-3, BiasCorrection = false }),
    ];

    /// <summary>Slots 0–3 of both Schedule-Free kernels (kernels/schedulefree.cu: ca_schedulefree_yz and weight decay).</summary>
    private static readonly KernelScalar[] ScheduleFreeYZ =
    [
        S("CA_S_SF_WD", "(float)weight_decay (at y)", (h, _) => h.WeightDecay),
        S("CA_S_SF_LR", "(float)lr_t, the scheduled lr (z step)", (_, k) => k.ScheduledLr),
        S("CA_S_SF_CKP1", "(float)c_{t+1} = w_t / sum w (lerp of y toward z)", (_, k) => k.Ckp1),
        S("CA_S_SF_Y_STEP", "(float)(lr_t (beta (1 - c) - 1)) (y step)", (_, k) => k.ScheduleFreeYStep),
    ];

    /// <summary>Schedule-Free's z: created on the first step as a copy of the parameter (torch.clone in the reference).</summary>
    private static readonly StateSlot ScheduleFreeZ = new("z", StateBuffer.M, OnFirstStep: true);

    private static void ValidateScheduleFree(Hyperparameters h)
    {
        Require(h.WarmupSteps >= 0, $"Invalid warmup_steps value: {h.WarmupSteps} (must be an integer >= 0)");
        Require(double.IsFinite(h.R) && h.R >= 0, $"Invalid r value: {h.R} (must be a finite number >= 0)");
        Require(double.IsFinite(h.WeightLrPower) && h.WeightLrPower >= 0,
            $"Invalid weight_lr_power value: {h.WeightLrPower} (must be a finite number >= 0)");
    }

    private static void Require(bool ok, string message)
    {
        if (!ok) throw new ArgumentException(message);
    }

    /// <summary>A row's defaults, written as changes to <see cref="Hyperparameters.DescriptorBase"/> (torch.optim.Adam's).</summary>
    private static Hyperparameters Hp(Func<Hyperparameters, Hyperparameters>? f = null) =>
        f is null ? Hyperparameters.DescriptorBase : f(Hyperparameters.DescriptorBase);

    // ---- the rows -------------------------------------------------------------------------------------------

    /// <summary>Every algorithm, in <see cref="Algorithm"/> order.</summary>
    public static IReadOnlyList<AlgorithmInfo> All { get; } =
    [
        new()
        {
            Algorithm = Algorithm.Adam, Name = "adam", TorchClass = "Adam",
            Source = "Kingma & Ba (2015), Algorithm 1; torch.optim.Adam",
            Equations = AdamEquations + " Weight decay is L2, COUPLED into g.",
            Defaults = Hp(), UsesBetas = true, HasSecondMoment = true, BiasCorrectionSwitch = true, AmsgradOption = true,
            State = [ExpAvg8, ExpAvgSq8, MaxExpAvgSq], Reference = AdamReference.Step,
            Kernel = ("adam", "adam_step"), DiagnosticsKernel = ("adam", "adam_step_diag"), State8Kernel = Adam8Kernel,
            Scalars = [.. AdamFamily, .. AdamCorrections], ClockKind = ClockAdam,
            ConformanceSets =
            [
                .. AdamSets,
                ("wd", d => d with { WeightDecay = 0.1 }),
                ("amsgrad", d => d with { Amsgrad = true }),
                ("maximize", d => d with { Maximize = true }),
                ("betas", d => d with { Lr = 0.01, Beta1 = 0.5, Beta2 = 0.9, Eps = 1e-6 }),
                ("lr0.1", d => d with { Lr = 0.1 }),
                ("amsgrad-wd0.1", d => d with { Amsgrad = true, WeightDecay = 0.1, Lr = 0.01 }),
                .. State8Sets,
            ],
        },
        new()
        {
            Algorithm = Algorithm.AdamW, Name = "adamw", TorchClass = "AdamW",
            Source = "Loshchilov & Hutter (2019), Decoupled Weight Decay Regularization; torch.optim.AdamW",
            Equations = "x ← x·(1 − γλ) (weight decay DECOUPLED: never seen by m or v), then the Adam step with λ = 0. " +
                        "Convention: torch multiplies by (1 − lr·weight_decay), so the decay scales with lr. Default weight_decay 1e-2.",
            Defaults = Hp(h => h with { WeightDecay = 1e-2 }), UsesBetas = true, HasSecondMoment = true, BiasCorrectionSwitch = true,
            AmsgradOption = true, Decoupled = _ => true,
            State = [ExpAvg8, ExpAvgSq8, MaxExpAvgSq], Reference = AdamWReference.Step,
            Kernel = ("adam", "adam_step"), DiagnosticsKernel = ("adam", "adam_step_diag"), State8Kernel = Adam8Kernel,
            Scalars = [.. AdamFamily, .. AdamCorrections], ClockKind = ClockAdam,
            ConformanceSets =
            [
                ("amsgrad", d => d with { Amsgrad = true }),
                ("wd0-maximize", d => d with { WeightDecay = 0, Maximize = true, Lr = 0.05 }),
                ("no-bias-correction", d => d with { BiasCorrection = false }),
                ("wd0", d => d with { WeightDecay = 0 }),
                ("wd0.5", d => d with { Lr = 0.01, WeightDecay = 0.5 }),
                ("maximize", d => d with { Maximize = true }),
                ("betas", d => d with { Lr = 0.01, Beta1 = 0.5, Beta2 = 0.9, Eps = 1e-6 }),
                ("amsgrad-wd0.5", d => d with { Lr = 0.01, Amsgrad = true, WeightDecay = 0.5 }),
                .. State8Sets,
            ],
        },
        new()
        {
            Algorithm = Algorithm.AdaMax, Name = "adamax", TorchClass = "Adamax",
            Source = "Kingma & Ba (2015), Section 7.1; torch.optim.Adamax",
            Equations = "g ← g + λx;  m ← β1 m + (1−β1) g;  u ← max(β2 u, |g| + ε);  x ← x − (γ/(1−β1^t))·m/u. " +
                        "Convention: ε is added to |g| inside the max (torch), not to u.",
            Defaults = Hp(h => h with { Lr = 2e-3 }), UsesBetas = true, BiasCorrectionSwitch = true,
            State = [ExpAvg, new("exp_inf", StateBuffer.V)], Reference = AdaMaxReference.Step,
            Kernel = ("adam", "adamax_step"),
            Scalars = [.. AdamFamily, null, S("CA_S_ADAMAX_NEG_CLR", "(float)-(lr / (1 - beta1^t))", (_, k) => -k.StepSize)],
            ClockKind = ClockAdaMax,
            ConformanceSets =
            [
                ("wd-maximize", d => d with { WeightDecay = 0.1, Maximize = true }),
                ("no-bias-correction", d => d with { BiasCorrection = false }),
                ("maximize", d => d with { Maximize = true }),
                ("betas", d => d with { Lr = 0.01, Beta1 = 0.5, Beta2 = 0.9, Eps = 1e-3 }),
                ("wd", d => d with { WeightDecay = 0.1 }),
            ],
        },
        new()
        {
            Algorithm = Algorithm.NAdam, Name = "nadam", TorchClass = "NAdam",
            Source = "Dozat (2016), Incorporating Nesterov Momentum into Adam; torch.optim.NAdam",
            Equations = "μ_t = β1(1 − ½·0.96^(tψ));  m, v as Adam;  d = sqrt(v/(1−β2^t)) + ε;  " +
                        "x ← x − γ(1−μ_t)/(1−Πμ_{≤t})·g/d − γμ_{t+1}/(1−Πμ_{≤t+1})·m/d. " +
                        "Convention: torch 1.13's single-tensor path multiplies μ_t in twice (pytorch/pytorch#92699); we follow the fix.",
            Defaults = Hp(h => h with { Lr = 2e-3 }), UsesBetas = true, HasSecondMoment = true, DecoupledOption = true,
            Decoupled = h => h.DecoupledWeightDecay,
            Validate = h => Require(double.IsFinite(h.MomentumDecay) && h.MomentumDecay >= 0,
                $"Invalid momentum_decay value: {h.MomentumDecay} (must be >= 0)"),
            State = [ExpAvg, ExpAvgSq], Reference = NAdamReference.Step,
            Kernel = ("adam", "nadam_step"), DiagnosticsKernel = ("adam", "nadam_step_diag"),
            Scalars =
            [
                .. AdamFamily,
                S("CA_S_NADAM_BC2", "(float)(1 - beta2^t)", (_, k) => k.BiasCorrection2),
                S("CA_S_NADAM_COEF_G", "(float)-(lr (1 - mu_t) / (1 - prod_{i<=t} mu_i))", (_, k) => -k.NAdamGradStep),
                S("CA_S_NADAM_COEF_M", "(float)-(lr mu_{t+1} / (1 - prod_{i<=t+1} mu_i))", (_, k) => -k.NAdamMomentumStep),
            ],
            ConformanceSets =
            [
                ("wd", d => d with { WeightDecay = 0.05 }),
                ("decoupled-wd", d => d with { WeightDecay = 0.05, DecoupledWeightDecay = true }),
                ("momentum_decay0.02", d => d with { MomentumDecay = 0.02 }),
                ("momentum_decay0", d => d with { MomentumDecay = 0 }),
                ("betas", d => d with { Lr = 0.01, Beta1 = 0.5, Beta2 = 0.9, Eps = 1e-6 }),
                ("maximize", d => d with { Maximize = true }),
                ("wd0.1", d => d with { WeightDecay = 0.1 }),
            ],
        },
        new()
        {
            Algorithm = Algorithm.RAdam, Name = "radam", TorchClass = "RAdam",
            Source = "Liu et al. (2020), On the Variance of the Adaptive Learning Rate and Beyond; torch.optim.RAdam",
            Equations = "m, v as Adam;  m̂ = m/(1−β1^t);  ρ_t = ρ∞ − 2tβ2^t/(1−β2^t);  ρ_t > 5: " +
                        "x ← x − γ·m̂·sqrt(1−β2^t)/(sqrt(v)+ε)·r_t, else x ← x − γ·m̂ (SGD with momentum).",
            Defaults = Hp(), UsesBetas = true, HasSecondMoment = true, DecoupledOption = true, Decoupled = h => h.DecoupledWeightDecay,
            State = [ExpAvg, ExpAvgSq], Reference = RAdamReference.Step,
            Kernel = ("adam", "radam_step"), DiagnosticsKernel = ("adam", "radam_step_diag"),
            Scalars =
            [
                .. AdamFamily,
                S("CA_S_RADAM_BC1", "(float)(1 - beta1^t)", (_, k) => k.BiasCorrection1),
                S("CA_S_RADAM_LR", "(float)lr", (h, _) => h.Lr),
                S("CA_S_RADAM_BC2_SQRT", "(float)sqrt(1 - beta2^t)", (_, k) => k.BiasCorrection2Sqrt),
                S("CA_S_RADAM_RECT", "(float)r_t (used when CA_RECTIFIED)", (_, k) => k.Rect),
            ],
            Flags = (_, k) => k.Rectified ? Device.KernelFlags.Rectified : 0,
            ClockKind = ClockRAdam,
            ConformanceSets =
            [
                ("wd", d => d with { WeightDecay = 0.05 }),
                ("decoupled-wd-beta2-0.9", d => d with { WeightDecay = 0.05, DecoupledWeightDecay = true, Beta2 = 0.9 }),
                ("betas", d => d with { Lr = 0.01, Beta1 = 0.9, Beta2 = 0.99, Eps = 1e-6 }),
                ("lr0.1", d => d with { Lr = 0.1 }),
                ("maximize", d => d with { Maximize = true }),
                ("wd0.1", d => d with { WeightDecay = 0.1 }),
            ],
        },
        new()
        {
            Algorithm = Algorithm.Sgd, Name = "sgd", TorchClass = "SGD",
            Source = "SGD with momentum, dampening and Nesterov (Sutskever et al. 2013); torch.optim.SGD",
            Equations = "g ← g + λx;  b ← g at the first step, then b ← μb + (1−τ)g;  g ← g + μb (nesterov) or b;  x ← x − γg. " +
                        "Convention: the buffer is created on the first step as a copy of g (dampening does not act then); lr outside the buffer.",
            Defaults = Hp(), UsesEps = false,
            Validate = h =>
            {
                Require(double.IsFinite(h.Momentum) && h.Momentum >= 0, $"Invalid momentum value: {h.Momentum} (must be >= 0)");
                Require(double.IsFinite(h.Dampening), $"Invalid dampening value: {h.Dampening}");
                Require(!h.Nesterov || (h.Momentum > 0 && h.Dampening == 0),
                    $"Nesterov momentum requires a momentum > 0 and zero dampening (got momentum = {h.Momentum}, dampening = {h.Dampening})");
            },
            State = [new("momentum_buffer", StateBuffer.M, h => h.Momentum != 0, OnFirstStep: true)], Reference = SgdReference.Step,
            Kernel = ("baselines", "sgd_step"),
            Scalars =
            [
                .. Baselines(),
                S("CA_S_SGD_MOMENTUM", "(float)momentum", (h, _) => h.Momentum),
                S("CA_S_SGD_ONE_MINUS_DAMPENING", "(float)(1 - dampening)", (h, _) => 1 - h.Dampening),
            ],
            Flags = (h, _) => (h.Momentum != 0 ? Device.KernelFlags.Momentum : 0) | (h.Nesterov ? Device.KernelFlags.Nesterov : 0),
            ClockKind = ClockSgd,
            ConformanceSets =
            [
                ("momentum", d => d with { Momentum = 0.9, Lr = 0.01 }),
                ("momentum-dampening-wd", d => d with { Momentum = 0.8, Dampening = 0.1, WeightDecay = 1e-3 }),
                ("nesterov-maximize", d => d with { Momentum = 0.9, Nesterov = true, Maximize = true }),
                ("plain", d => d with { Lr = 0.01 }),
                ("dampening", d => d with { Lr = 0.01, Momentum = 0.9, Dampening = 0.5 }),
                ("nesterov", d => d with { Lr = 0.01, Momentum = 0.9, Nesterov = true }),
                ("wd", d => d with { Lr = 0.01, WeightDecay = 0.1 }),
                ("maximize", d => d with { Lr = 0.01, Momentum = 0.9, Maximize = true }),
                ("nesterov-wd", d => d with { Lr = 0.01, Momentum = 0.9, Nesterov = true, WeightDecay = 0.1 }),
            ],
        },
        new()
        {
            Algorithm = Algorithm.AdaGrad, Name = "adagrad", TorchClass = "Adagrad",
            Source = "Duchi, Hazan & Singer (2011); torch.optim.Adagrad",
            Equations = "g ← g + λx;  clr = γ/(1 + (t−1)·lr_decay);  s ← s + g²;  x ← x − clr·g/(sqrt(s) + ε). " +
                        "Convention: ε outside the sqrt; s starts at initial_accumulator_value.",
            Defaults = Hp(h => h with { Lr = 1e-2, Eps = 1e-10 }),
            Validate = h =>
            {
                Require(double.IsFinite(h.LrDecay) && h.LrDecay >= 0, $"Invalid lr_decay value: {h.LrDecay} (must be >= 0)");
                Require(double.IsFinite(h.InitialAccumulatorValue) && h.InitialAccumulatorValue >= 0,
                    $"Invalid initial_accumulator_value value: {h.InitialAccumulatorValue} (must be >= 0)");
            },
            State = [new("sum", StateBuffer.V, Initial: h => (float)h.InitialAccumulatorValue)], Reference = AdaGradReference.Step,
            Kernel = ("baselines", "adagrad_step"), Scalars = Baselines((_, k) => k.Clr), ClockKind = ClockAdaGrad,
            ConformanceSets =
            [
                ("lr-decay-wd-init", d => d with { LrDecay = 0.01, WeightDecay = 0.01, InitialAccumulatorValue = 0.1 }),
                ("lr_decay", d => d with { LrDecay = 0.01 }),
                ("init_acc", d => d with { InitialAccumulatorValue = 0.1 }),
                ("wd", d => d with { WeightDecay = 0.1 }),
                ("maximize", d => d with { Maximize = true }),
                ("eps", d => d with { Eps = 1e-3 }),
                ("rich", d => d with { LrDecay = 0.01, InitialAccumulatorValue = 0.1, WeightDecay = 0.1 }),
            ],
        },
        new()
        {
            Algorithm = Algorithm.RmsProp, Name = "rmsprop", TorchClass = "RMSprop",
            Source = "Tieleman & Hinton (2012); Graves (2013) for centered; torch.optim.RMSprop",
            Equations = "g ← g + λx;  v ← αv + (1−α)g²;  centered: a ← αa + (1−α)g, d = sqrt(v − a²) + ε, else d = sqrt(v) + ε;  " +
                        "momentum: b ← μb + g/d, x ← x − γb, else x ← x − γg/d. Convention: ε outside the sqrt (torch).",
            Defaults = Hp(h => h with { Lr = 1e-2 }),
            Validate = h =>
            {
                Require(double.IsFinite(h.Momentum) && h.Momentum >= 0, $"Invalid momentum value: {h.Momentum} (must be >= 0)");
                Require(double.IsFinite(h.Alpha) && h.Alpha >= 0, $"Invalid alpha value: {h.Alpha} (must be >= 0)");
            },
            State =
            [
                new("square_avg", StateBuffer.V), new("momentum_buffer", StateBuffer.M, h => h.Momentum > 0),
                new("grad_avg", StateBuffer.Aux, h => h.Centered),
            ],
            Reference = RmsPropReference.Step, Kernel = ("baselines", "rmsprop_step"),
            Scalars =
            [
                .. Baselines(),
                S("CA_S_RMS_ALPHA", "(float)alpha", (h, _) => h.Alpha),
                S("CA_S_RMS_ONE_MINUS_ALPHA", "(float)(1 - alpha)", (h, _) => 1 - h.Alpha),
                S("CA_S_RMS_MOMENTUM", "(float)momentum", (h, _) => h.Momentum),
            ],
            Flags = (h, _) => (h.Momentum > 0 ? Device.KernelFlags.Momentum : 0) | (h.Centered ? Device.KernelFlags.Centered : 0),
            ClockLrScalar = "CA_S_B_LR",
            ConformanceSets =
            [
                ("momentum", d => d with { Momentum = 0.9, Lr = 1e-3 }),
                ("centered-momentum-wd", d => d with { Centered = true, Momentum = 0.5, WeightDecay = 0.01, Lr = 1e-3 }),
                ("centered", d => d with { Centered = true }),
                ("momentum0.9", d => d with { Momentum = 0.9 }),
                ("centered-momentum", d => d with { Centered = true, Momentum = 0.9 }),
                ("wd", d => d with { WeightDecay = 0.1 }),
                ("maximize", d => d with { Maximize = true }),
                ("alpha", d => d with { Alpha = 0.9, Eps = 1e-6 }),
                ("rich", d => d with { Centered = true, Momentum = 0.9, WeightDecay = 0.1 }),
            ],
        },
        new()
        {
            Algorithm = Algorithm.AdaDelta, Name = "adadelta", TorchClass = "Adadelta",
            Source = "Zeiler (2012), ADADELTA; torch.optim.Adadelta",
            Equations = "g ← g + λx;  v ← ρv + (1−ρ)g²;  Δ = sqrt(u + ε)/sqrt(v + ε)·g;  u ← ρu + (1−ρ)Δ²;  x ← x − γΔ. " +
                        "Convention: ε INSIDE both square roots (torch).",
            Defaults = Hp(h => h with { Lr = 1.0, Eps = 1e-6 }),
            Validate = h => Require(h.Rho >= 0 && h.Rho <= 1, $"Invalid rho value: {h.Rho} (must be in [0, 1])"),
            State = [new("square_avg", StateBuffer.V), new("acc_delta", StateBuffer.Aux)],
            Reference = AdaDeltaReference.Step, Kernel = ("baselines", "adadelta_step"),
            Scalars =
            [
                .. Baselines(),
                S("CA_S_ADADELTA_RHO", "(float)rho", (h, _) => h.Rho),
                S("CA_S_ADADELTA_ONE_MINUS_RHO", "(float)(1 - rho)", (h, _) => 1 - h.Rho),
            ],
            ClockLrScalar = "CA_S_B_LR",
            ConformanceSets =
            [
                ("wd-maximize", d => d with { WeightDecay = 0.1, Maximize = true, Rho = 0.95 }),
                ("rho", d => d with { Rho = 0.5 }),
                ("lr", d => d with { Lr = 0.1 }),
                ("wd", d => d with { WeightDecay = 0.1 }),
                ("maximize", d => d with { Maximize = true }),
                ("eps", d => d with { Eps = 1e-3 }),
                ("rich", d => d with { Rho = 0.8, WeightDecay = 0.1, Maximize = true }),
            ],
        },
        new()
        {
            Algorithm = Algorithm.SignSgd, Name = "signsgd",
            Source = "Bernstein et al. (2018), signSGD: Compressed Optimisation for Non-Convex Problems",
            Equations = "g ← g + λx;  x ← x − γ·sign(g). sign(±0) = ±0. Not in torch.optim.",
            Defaults = Hp(), UsesEps = false, State = [], Reference = SignSgdReference.Step,
            Kernel = ("sign", "signsgd_step"), Scalars = SignFamily, ClockLrScalar = "CA_S_SIGN_LR",
            ConformanceSets = [("wd", d => d with { WeightDecay = 0.1 })],
        },
        new()
        {
            Algorithm = Algorithm.Signum, Name = "signum",
            Source = "Bernstein et al. (2018): sign descent on momentum",
            Equations = "g ← g + λx;  m ← μm + (1−μ)g;  x ← x − γ·sign(m). Not in torch.optim.",
            Defaults = Hp(h => h with { Momentum = 0.9 }), UsesEps = false,
            Validate = h => Require(h.Momentum >= 0 && h.Momentum < 1, $"Invalid momentum value: {h.Momentum} (Signum's momentum must be in [0, 1))"),
            State = [new("momentum_buffer", StateBuffer.M)], Reference = SignumReference.Step,
            Kernel = ("sign", "signum_step"),
            Scalars =
            [
                .. SignFamily,
                S("CA_S_SIGN_MOMENTUM", "Signum: (float)momentum", (h, _) => h.Momentum),
                S("CA_S_SIGN_ONE_MINUS_MOMENTUM", "Signum: (float)(1 - momentum)", (h, _) => 1 - h.Momentum),
            ],
            ClockLrScalar = "CA_S_SIGN_LR",
            ConformanceSets = [("wd-maximize", d => d with { WeightDecay = 0.1, Maximize = true })],
        },
        new()
        {
            Algorithm = Algorithm.Lion, Name = "lion",
            Source = "Chen et al. (2023), Symbolic Discovery of Optimization Algorithms",
            Equations = "x ← x·(1 − γλ) (decoupled);  c = β1 m + (1−β1) g;  x ← x − γ·sign(c);  m ← β2 m + (1−β2) g. " +
                        "Convention: β1 interpolates the update, β2 is the momentum decay (defaults 0.9, 0.99). Not in torch.optim.",
            Defaults = Hp(h => h with { Lr = 1e-4, Beta1 = 0.9, Beta2 = 0.99 }), UsesBetas = true, UsesEps = false,
            State = [ExpAvg], Reference = LionReference.Step, Kernel = ("sign", "lion_step"),
            Scalars =
            [
                .. SignFamily,
                S("CA_S_LION_BETA1", "(float)beta1", (h, _) => h.Beta1),
                S("CA_S_LION_ONE_MINUS_BETA1", "(float)(1 - beta1)", (h, _) => 1 - h.Beta1),
                S("CA_S_LION_BETA2", "(float)beta2", (h, _) => h.Beta2),
                S("CA_S_LION_ONE_MINUS_BETA2", "(float)(1 - beta2)", (h, _) => 1 - h.Beta2),
                S("CA_S_LION_DECAY", "(float)(1 - lr * weight_decay)", (h, _) => 1 - h.Lr * h.WeightDecay),
            ],
            ClockKind = ClockLion,
            ConformanceSets = [("wd", d => d with { WeightDecay = 0.1, Lr = 1e-3 })],
        },
        new()
        {
            Algorithm = Algorithm.SignAdam, Name = "signadam",
            Source = "Adam as sign-like descent: arXiv 2507.05966, Simple Convergence Proof of Adam From a Sign-like Descent Perspective",
            Equations = "x ← x − γ·u ∘ sign(m̂),  u = |m̂|/(sqrt(v̂) + ε), with m, v, bias correction, ε placement and coupled L2 " +
                        "exactly as Adam. (|m|/d)·sign(m) = m/d in IEEE arithmetic, so the step is bitwise Adam's; u is exposed for diagnostics.",
            Defaults = Hp(), UsesBetas = true, HasSecondMoment = true, BiasCorrectionSwitch = true, AmsgradOption = true,
            State = [ExpAvg, ExpAvgSq, MaxExpAvgSq], Reference = SignAdamReference.Step,
            Kernel = ("sign", "signadam_step"), DiagnosticsKernel = ("sign", "signadam_step_diag"),
            Scalars = [.. AdamFamily, .. AdamCorrections], ClockKind = ClockAdam,
            ConformanceSets = AdamSets,
        },
        new()
        {
            Algorithm = Algorithm.Yogi, Name = "yogi",
            Source = "Zaheer, Reddi, Sachan, Kale & Kumar (2018), Adaptive Methods for Nonconvex Optimization, NeurIPS, Algorithm 2",
            Equations = "g ← g + λx;  m ← β1 m + (1−β1) g;  v ← v − (1−β2)·sign(v − g²)·g²;  x ← x − γ·m/(sqrt(v) + ε). " +
                        "Convention: no bias correction; v starts at initial_accumulator_value (1e-6); ε = 1e-3 outside the sqrt. Not in torch.optim.",
            Defaults = Hp(h => h with { Lr = 1e-2, Eps = 1e-3, InitialAccumulatorValue = 1e-6 }), UsesBetas = true,
            Validate = h => Require(double.IsFinite(h.InitialAccumulatorValue) && h.InitialAccumulatorValue >= 0,
                $"Invalid initial_accumulator_value value: {h.InitialAccumulatorValue} (must be >= 0)"),
            State = [ExpAvg, new("exp_avg_sq", StateBuffer.V, Initial: h => (float)h.InitialAccumulatorValue)],
            Reference = YogiReference.Step, Kernel = ("adam", "yogi_step"),
            Scalars = [.. AdamFamily, S("CA_S_YOGI_LR", "(float)lr", (h, _) => h.Lr)], ClockLrScalar = "CA_S_YOGI_LR",
            ConformanceSets =
            [
                ("wd-maximize", d => d with { WeightDecay = 0.1, Maximize = true }),
                ("v0-zero-beta-0.5-0.6", d => d with { InitialAccumulatorValue = 0, Beta1 = 0.5, Beta2 = 0.6, Lr = 0.1 }),
            ],
        },

        // ---- issue 12 (h12a): appended in this block ------------------------------------------------------------------
        new()
        {
            Algorithm = Algorithm.Rprop, Name = "rprop", TorchClass = "Rprop",
            Source = "Riedmiller & Braun (1993), A Direct Adaptive Method for Faster Backpropagation Learning: The RPROP Algorithm; torch.optim.Rprop",
            Equations = "s = g·g_prev;  η = η+ (s > 0), η− (s < 0), else 1;  Δ ← clamp(Δ·η, Γmin, Γmax);  g ← 0 where η = η−;  " +
                        "x ← x − sign(g)·Δ;  g_prev ← g. Convention: torch's variant (no weight backtracking); lr only seeds Δ_0 " +
                        "(the state step_size); sign is torch's (NaN and ±0 give 0); no weight decay, no ε.",
            Defaults = Hp(h => h with { Lr = 1e-2 }), UsesEps = false, UsesWeightDecay = false,
            Tuples = [new("etas", ["etaminus", "etaplus"]), new("step_sizes", ["step_size_min", "step_size_max"])],
            Keys = ["etaminus", "etaplus", "step_size_min", "step_size_max"],
            Validate = h =>
            {
                Require(h.Etaminus > 0 && h.Etaminus < 1 && h.Etaplus > 1 && double.IsFinite(h.Etaplus),
                    $"Invalid eta values: {h.Etaminus}, {h.Etaplus} (need 0 < etaminus < 1 < etaplus)");
                Require(double.IsFinite(h.StepSizeMax) && h.StepSizeMin >= 0 && h.StepSizeMin <= h.StepSizeMax,
                    $"Invalid step sizes: {h.StepSizeMin}, {h.StepSizeMax} (need 0 <= step_size_min <= step_size_max, finite)");
            },
            State = [new("prev", StateBuffer.M), new("step_size", StateBuffer.V, Initial: h => (float)h.Lr)],
            Reference = RpropReference.Step, Kernel = ("sign", "rprop_step"),
            Scalars =
            [
                S("CA_S_RPROP_ETAMINUS", "(float)etaminus", (h, _) => h.Etaminus),
                S("CA_S_RPROP_ETAPLUS", "(float)etaplus", (h, _) => h.Etaplus),
                S("CA_S_RPROP_STEP_MIN", "(float)step_size_min", (h, _) => h.StepSizeMin),
                S("CA_S_RPROP_STEP_MAX", "(float)step_size_max", (h, _) => h.StepSizeMax),
            ],
            ClockKind = ClockConstant,
            ConformanceSets =
            [
                ("maximize", d => d with { Maximize = true }),
                ("etas", d => d with { Etaminus = 0.3, Etaplus = 1.5 }),
                ("step-sizes-bind", d => d with { Lr = 0.02, StepSizeMin = 0.005, StepSizeMax = 0.03 }),
                ("rich", d => d with { Lr = 0.05, Etaminus = 0.4, Etaplus = 1.3, StepSizeMin = 1e-3, StepSizeMax = 0.2, Maximize = true }),
            ],
        },
        new()
        {
            Algorithm = Algorithm.Asgd, Name = "asgd", TorchClass = "ASGD",
            Source = "Polyak & Juditsky (1992), Acceleration of Stochastic Approximation by Averaging; torch.optim.ASGD",
            Equations = "g ← g + λ_wd x;  x ← x(1 − λη_t);  x ← x − η_t g;  ax ← ax + μ_t(x − ax) (μ_t ≠ 1), else ax ← x;  " +
                        "η_{t+1} = lr/(1 + λ·lr·t)^α, μ_{t+1} = 1/max(1, t − t0). Convention: η, μ are per-parameter state (torch's " +
                        "eta, mu), set at the end of a step from its lr; ax, the average, stays in the state (never in the parameters).",
            Defaults = Hp(h => h with { Lr = 1e-2, Alpha = 0.75 }), UsesEps = false, Keys = ["lambd", "alpha", "t0"],
            Validate = h =>
            {
                Require(double.IsFinite(h.Lambd) && h.Lambd >= 0, $"Invalid lambd value: {h.Lambd} (must be a finite number >= 0)");
                Require(double.IsFinite(h.Alpha) && h.Alpha >= 0, $"Invalid alpha value: {h.Alpha} (must be a finite number >= 0)");
                Require(!double.IsNaN(h.T0), $"Invalid t0 value: {h.T0}");
            },
            State = [new("ax", StateBuffer.M)],
            ScalarState =
            [
                new("eta", s => s.Eta, (s, v) => s.Eta = v, h => (float)h.Lr),
                new("mu", s => s.Mu, (s, v) => s.Mu = v, _ => 1.0),
            ],
            Reference = AsgdReference.Step, Kernel = ("baselines", "asgd_step"),
            Scalars =
            [
                S("CA_S_B_WD", "(float)weight_decay (coupled L2)", (h, _) => h.WeightDecay),
                S("CA_S_ASGD_DECAY", "(float)(1 - lambd * eta_t)", (h, k) => 1 - h.Lambd * k.AsgdEta),
                S("CA_S_ASGD_ETA", "(float)eta_t", (_, k) => k.AsgdEta),
                S("CA_S_ASGD_MU", "(float)mu_t", (_, k) => k.AsgdMu),
            ],
            ConformanceSets =
            [
                ("wd-maximize", d => d with { WeightDecay = 0.05, Maximize = true }),
                ("averaging-from-t0-2", d => d with { T0 = 2, Lambd = 1e-2 }),
                ("lambd-alpha", d => d with { Lr = 0.05, Lambd = 0.1, Alpha = 1.0 }),
                ("rich", d => d with { Lr = 0.02, Lambd = 0.05, Alpha = 0.5, T0 = 3, WeightDecay = 0.01 }),
            ],
        },
        new()
        {
            Algorithm = Algorithm.AdaBelief, Name = "adabelief",
            Source = "Zhuang et al. (2020), AdaBelief Optimizer: Adapting Stepsizes by the Belief in Observed Gradients, NeurIPS, Algorithm 2",
            Equations = "x ← x(1 − γλ) (decoupled, default) or g ← g + λx;  m ← β1 m + (1−β1) g;  s ← β2 s + (1−β2)(g − m)² + ε;  " +
                        "s̄ ← max(s̄, s) (amsgrad);  x ← x − (γ/(1−β1^t))·m/(sqrt(s̄)/sqrt(1−β2^t) + ε). Convention: ε twice (in the state s " +
                        "each step, and outside the sqrt), default 1e-16; the paper's box without the rectification adabelief-pytorch " +
                        "defaults to. Not in torch.optim.",
            Defaults = Hp(h => h with { Eps = 1e-16, DecoupledWeightDecay = true }), UsesBetas = true, AmsgradOption = true,
            DecoupledOption = true, Decoupled = h => h.DecoupledWeightDecay,
            State = [ExpAvg, new("exp_avg_var", StateBuffer.V), new("max_exp_avg_var", StateBuffer.VMax, h => h.Amsgrad)],
            Reference = AdaBeliefReference.Step, Kernel = ("adam", "adabelief_step"),
            Scalars = [.. AdamFamily, .. AdamCorrections], ClockKind = ClockAdam,
            ConformanceSets =
            [
                ("coupled-wd-maximize", d => d with { DecoupledWeightDecay = false, WeightDecay = 0.1, Maximize = true }),
                ("decoupled-wd-amsgrad", d => d with { WeightDecay = 0.05, Amsgrad = true, Lr = 0.01 }),
                ("beta-0.5-0.6-eps-1e-8", d => d with { Beta1 = 0.5, Beta2 = 0.6, Eps = 1e-8, Lr = 0.1 }),
            ],
        },
        new()
        {
            Algorithm = Algorithm.AdEMAMix, Name = "ademamix",
            Source = "Pagliardini, Ablin & Grangier (2024), The AdEMAMix Optimizer: Better, Faster, Older, arXiv 2409.03137, Algorithm 1; apple/ml-ademamix",
            Equations = "x ← x(1 − γλ);  m1 ← β1 m1 + (1−β1) g;  m2 ← β3(t) m2 + (1−β3(t)) g;  ν ← β2 ν + (1−β2) g²;  d = sqrt(ν)/sqrt(1−β2^t) + ε;  " +
                        "x ← x − (γ/(1−β1^t))·m1/d − γα(t)·m2/d;  α(t) = α·min(1, t/T_α), β3(t) from β1 to β3 linearly in half-life over T_β3. " +
                        "Convention: decoupled decay (AdamW); the slow EMA is not bias-corrected; α = 0 is AdamW bitwise. Not in torch.optim.",
            Defaults = Hp(h => h with { Alpha = 2.0, Beta3 = 0.9999 }), UsesBetas = true, Decoupled = _ => true,
            Keys = ["beta3", "alpha", "alpha_warmup", "beta3_warmup"], Tuples = [new("betas", ["beta1", "beta2", "beta3"])],
            Validate = h =>
            {
                Require(h.Beta3 >= 0 && h.Beta3 < 1, $"Invalid beta parameter at index 2: {h.Beta3} (beta3 must be in [0, 1))");
                Require(double.IsFinite(h.Alpha) && h.Alpha >= 0, $"Invalid alpha value: {h.Alpha} (must be a finite number >= 0)");
                Require(h.AlphaWarmup >= 0 && h.Beta3Warmup >= 0, $"Invalid warmup: alpha_warmup {h.AlphaWarmup}, beta3_warmup {h.Beta3Warmup} (must be >= 0 steps)");
            },
            State = [new("exp_avg_fast", StateBuffer.M), ExpAvgSq, new("exp_avg_slow", StateBuffer.Aux)],
            Reference = AdEMAMixReference.Step, Kernel = ("adam", "ademamix_step"),
            Scalars =
            [
                .. AdamFamily, .. AdamCorrections,
                S("CA_S_ADEMAMIX_BETA3", "(float)beta3(t)", (_, k) => k.AdemamixBeta3),
                S("CA_S_ADEMAMIX_ONE_MINUS_BETA3", "(float)(1 - beta3(t))", (_, k) => 1 - k.AdemamixBeta3),
                S("CA_S_ADEMAMIX_ALPHA", "(float)alpha(t)", (_, k) => k.AdemamixAlpha),
                S("CA_S_ADEMAMIX_LR", "(float)lr", (h, _) => h.Lr),
            ],
            ClockKind = ClockAdemamix,
            ClockRefusal = h => h.AlphaWarmup > 0 || h.Beta3Warmup > 0
                ? "AdEMAMix's alpha and beta3 warmups need log and pow, which the GPU does not round like the host" : null,
            ConformanceSets =
            [
                ("alpha0-wd", d => d with { Alpha = 0, WeightDecay = 0.1, Lr = 0.01 }),
                ("maximize-alpha8", d => d with { Maximize = true, Alpha = 8, Beta3 = 0.999 }),
                ("warmups", d => d with { AlphaWarmup = 50, Beta3Warmup = 80, Alpha = 5, Lr = 0.01 }),
                ("beta1-0-warmup", d => d with { Beta1 = 0, Beta3Warmup = 3, Beta3 = 0.99, WeightDecay = 0.01 }),
            ],
        },
        new()
        {
            Algorithm = Algorithm.Adan, Name = "adan",
            Source = "Xie, Zhou, Li, Lin & Yan (2022), Adan: Adaptive Nesterov Momentum Algorithm for Faster Optimizing Deep Models, arXiv 2208.06677, Algorithm 1; sail-sg/Adan",
            Equations = "Δ = g − g_prev (0 at t = 1);  m ← β1 m + (1−β1) g;  v ← β2 v + (1−β2) Δ;  n ← β3 n + (1−β3)(g + β2Δ)²;  " +
                        "d = sqrt(n)/sqrt(1−β3^t) + ε;  x ← [x − (γ/(1−β1^t))·m/d − (γβ2/(1−β2^t))·v/d]/(1 + γλ). Convention: the usual β " +
                        "convention (the paper's β_i are 1 − these), sail-sg's bias corrections, proximal weight decay. Not in torch.optim.",
            Defaults = Hp(h => h with { Beta1 = 0.98, Beta2 = 0.92, Beta3 = 0.99 }), UsesBetas = true,
            Keys = ["beta3"], Tuples = [new("betas", ["beta1", "beta2", "beta3"])],
            Validate = h => Require(h.Beta3 >= 0 && h.Beta3 < 1, $"Invalid beta parameter at index 2: {h.Beta3} (beta3 must be in [0, 1))"),
            State = [ExpAvg, ExpAvgSq, new("exp_avg_diff", StateBuffer.VMax), new("pre_grad", StateBuffer.Aux)],
            Reference = AdanReference.Step, Kernel = ("adam", "adan_step"),
            Scalars =
            [
                .. AdamFamily,
                S("CA_S_ADAN_BETA3", "(float)beta3", (h, _) => h.Beta3),
                S("CA_S_ADAN_ONE_MINUS_BETA3", "(float)(1 - beta3)", (h, _) => 1 - h.Beta3),
                S("CA_S_ADAN_STEP_SIZE", "(float)(lr / (1 - beta1^t))", (_, k) => k.StepSize),
                S("CA_S_ADAN_STEP_SIZE_DIFF", "(float)(lr beta2 / (1 - beta2^t))", (_, k) => k.AdanStepSizeDiff),
                S("CA_S_ADAN_BC3_SQRT", "(float)sqrt(1 - beta3^t)", (_, k) => k.AdanBc3Sqrt),
                S("CA_S_ADAN_PROX", "(float)(1 + lr * weight_decay)", (h, _) => 1 + h.Lr * h.WeightDecay),
                S("CA_S_ADAN_DIFF_SCALE", "0 at the first step (no difference yet), else 1", (_, k) => k.Step == 1 ? 0 : 1),
            ],
            ConformanceSets =
            [
                ("wd-maximize", d => d with { WeightDecay = 0.02, Maximize = true }),
                ("betas", d => d with { Beta1 = 0.9, Beta2 = 0.5, Beta3 = 0.999, Lr = 0.01, Eps = 1e-6 }),
                ("wd0.1", d => d with { WeightDecay = 0.1, Lr = 0.01 }),
            ],
        },
        // ---- issue 12, helper h12b: Schedule-Free, Adafactor, Muon ----
        new()
        {
            Algorithm = Algorithm.AdamWScheduleFree, Name = "adamwschedulefree",
            Source = "Defazio, Yang, Mehta, Mishchenko, Khaled & Cutkosky (2024), The Road Less Scheduled, NeurIPS, Algorithm 1; " +
                     "facebookresearch/schedule_free AdamWScheduleFree",
            Equations = "γ_t = γ·min(1, t/warmup);  w_t = t^r·(max γ)^weight_lr_power;  c = w_t/Σw;  v ← β2 v + (1−β2) g²;  " +
                        "u = g/(sqrt(v/(1−β2^t)) + ε) + λy;  y ← lerp(y, z, c) + γ_t(β1(1−c) − 1)·u;  z ← z − γ_t u;  " +
                        "x = lerp(y, z, 1 − 1/β1) is the evaluation point (eval()). Convention: the parameter holds y in train mode, " +
                        "x in eval mode; β1 interpolates (no first moment); weight decay at y inside the normalized step; " +
                        "ε outside the sqrt of the bias-corrected v. Not in torch.optim.",
            Defaults = Hp(h => h with { Lr = 0.0025 }), UsesBetas = true,
            Validate = ValidateScheduleFree,
            State = [ScheduleFreeZ, ExpAvgSq], Reference = AdamWScheduleFreeReference.Step,
            Kernel = ("schedulefree", "adamw_schedulefree_step"),
            Scalars =
            [
                .. ScheduleFreeYZ,
                S("CA_S_SF_BETA2", "(float)beta2", (h, _) => h.Beta2),
                S("CA_S_SF_ONE_MINUS_BETA2", "(float)(1 - beta2)", (h, _) => 1 - h.Beta2),
                S("CA_S_SF_EPS", "(float)eps", (h, _) => h.Eps),
                S("CA_S_SF_BC2", "(float)(1 - beta2^t)", (_, k) => k.BiasCorrection2),
            ],
            EvalInterpolation = h => h.Beta1, ClockKind = ClockScheduleFree, ClockRefusal = StepScalars.ScheduleFreeClockRefusal,
            ConformanceSets =
            [
                ("warmup-wd", d => d with { WarmupSteps = 3, WeightDecay = 0.1, Lr = 0.01 }),
                ("r-power-maximize", d => d with { R = 0.5, WeightLrPower = 1, Maximize = true }),
                ("beta-0.5-0.6-eps", d => d with { Beta1 = 0.5, Beta2 = 0.6, Eps = 1e-3, Lr = 0.1 }),
                ("beta1-0-no-averaging", d => d with { Beta1 = 0 }),
            ],
        },
        new()
        {
            Algorithm = Algorithm.SgdScheduleFree, Name = "sgdschedulefree",
            Source = "Defazio, Yang, Mehta, Mishchenko, Khaled & Cutkosky (2024), The Road Less Scheduled, NeurIPS; " +
                     "facebookresearch/schedule_free SGDScheduleFree",
            Equations = "γ_t, w_t, c as Schedule-Free AdamW;  u = g + λy;  y ← lerp(y, z, c) + γ_t(β(1−c) − 1)·u;  z ← z − γ_t u;  " +
                        "x = lerp(y, z, 1 − 1/β) (eval()), β = momentum. Convention: the parameter holds y in train mode, x in eval " +
                        "mode; weight decay coupled into g at y. Not in torch.optim.",
            Defaults = Hp(h => h with { Lr = 1.0, Momentum = 0.9 }), UsesEps = false,
            Validate = h =>
            {
                Require(h.Momentum >= 0 && h.Momentum < 1, $"Invalid momentum value: {h.Momentum} (Schedule-Free's momentum must be in [0, 1))");
                ValidateScheduleFree(h);
            },
            State = [ScheduleFreeZ], Reference = SgdScheduleFreeReference.Step,
            Kernel = ("schedulefree", "sgd_schedulefree_step"),
            Scalars = ScheduleFreeYZ,
            EvalInterpolation = h => h.Momentum, ClockKind = ClockScheduleFree, ClockRefusal = StepScalars.ScheduleFreeClockRefusal,
            ConformanceSets =
            [
                ("warmup-wd", d => d with { WarmupSteps = 3, WeightDecay = 0.1, Lr = 0.1 }),
                ("r-power-maximize", d => d with { R = 1, WeightLrPower = 0, Maximize = true, Lr = 0.01 }),
                ("momentum0-no-averaging", d => d with { Momentum = 0, Lr = 0.01 }),
            ],
        },
    ];

    private const string AdamEquations =
        "g ← g + λx;  m ← β1 m + (1−β1) g;  v ← β2 v + (1−β2) g²;  v̄ ← max(v̄, v) (amsgrad);  " +
        "x ← x − (γ/(1−β1^t))·m/(sqrt(v̄)/sqrt(1−β2^t) + ε). Convention: ε OUTSIDE the sqrt, added after bias-correcting v (torch).";

    private static readonly AlgorithmInfo[] ByAlgorithm = BuildIndex();

    private static AlgorithmInfo[] BuildIndex()
    {
        var values = Enum.GetValues<Algorithm>();
        var index = new AlgorithmInfo[values.Length];
        foreach (var info in All)
        {
            if (index[(int)info.Algorithm] is not null) throw new InvalidOperationException($"two descriptors for {info.Algorithm}");
            index[(int)info.Algorithm] = info;
        }
        foreach (var a in values)
            if (index[(int)a] is null) throw new InvalidOperationException($"Algorithm.{a} has no descriptor row in Algorithms.All");
        return index;
    }

    /// <summary>The descriptor of <paramref name="algorithm"/>.</summary>
    public static AlgorithmInfo Info(this Algorithm algorithm) => ByAlgorithm[(int)algorithm];
}
