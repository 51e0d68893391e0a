#pragma warning disable CS1591 // CS1591 backlog (issue 13): 93 public members here have no XML doc yet; document them, then delete this line
namespace CudaAdam;

/// <summary>torch.optim.lr_scheduler.StepLR: lr ← lr·γ every <c>step_size</c> steps; η_t = η_0·γ^⌊t/S⌋.</summary>
public sealed class StepLR : LrScheduler
{
    /// <param name="optimizer">The optimizer.</param>
    /// <param name="stepSize">S, the period (torch: <c>step_size</c>), ≥ 1.</param>
    /// <param name="gamma">γ, the factor (torch: <c>gamma</c>, default 0.1).</param>
    public StepLR(Optimizer optimizer, long stepSize, double gamma = 0.1) : base(optimizer)
    {
        if (stepSize < 1) throw new ArgumentException($"StepLR: step_size must be >= 1, got {stepSize}");
        (StepSize, Gamma) = (stepSize, gamma);
        InitialStep();
    }

    /// <summary>S, the period in steps (torch: <c>step_size</c>).</summary>
    public long StepSize { get; private set; }
    /// <summary>γ, the factor (torch: <c>gamma</c>).</summary>
    public double Gamma { get; private set; }
    /// <inheritdoc/>
    public override string TorchName => "StepLR";

    /// <inheritdoc/>
    protected override double[] ComputeLr() =>
        LastEpoch == 0 || LastEpoch % StepSize != 0 ? Current() : Scaled(Gamma);

    /// <inheritdoc/>
    protected override double[]? ClosedFormLr() => BaseLrs.Select(b => b * Math.Pow(Gamma, LastEpoch / StepSize)).ToArray();

    /// <inheritdoc/>
    protected override void Save(SchedulerStateDict d)
    {
        base.Save(d);
        (d.Values["step_size"], d.Values["gamma"]) = (StepSize, Gamma);
    }

    /// <inheritdoc/>
    protected override void Load(SchedulerStateDict d, bool apply)
    {
        base.Load(d, apply);
        var (s, g) = (d.GetLong("step_size"), d.Get("gamma"));
        if (apply) (StepSize, Gamma) = (s, g);
    }

    /// <inheritdoc/>
    protected override string Describe() => $"step_size={StepSize}, gamma={F(Gamma)}";
}

/// <summary>torch.optim.lr_scheduler.MultiStepLR: lr ← lr·γ^k at each milestone (k: how often it is listed).</summary>
public sealed class MultiStepLR : LrScheduler
{
    private long[] _milestones;

    /// <param name="optimizer">The optimizer.</param>
    /// <param name="milestones">The steps at which γ applies (torch's Counter: a step listed twice applies γ²).</param>
    /// <param name="gamma">γ (default 0.1).</param>
    public MultiStepLR(Optimizer optimizer, IEnumerable<long> milestones, double gamma = 0.1) : base(optimizer)
    {
        _milestones = milestones.Order().ToArray();
        Gamma = gamma;
        InitialStep();
    }

    /// <summary>The milestones, sorted (a repeated one applies γ once per repetition).</summary>
    public IReadOnlyList<long> Milestones => _milestones;
    /// <summary>γ, the factor at each milestone.</summary>
    public double Gamma { get; private set; }
    /// <inheritdoc/>
    public override string TorchName => "MultiStepLR";

    /// <inheritdoc/>
    protected override double[] ComputeLr()
    {
        int count = _milestones.Count(m => m == LastEpoch);
        return count == 0 ? Current() : Scaled(Math.Pow(Gamma, count));
    }

    /// <inheritdoc/>
    protected override double[]? ClosedFormLr()
    {
        int passed = _milestones.Count(m => m <= LastEpoch);   // bisect_right
        return BaseLrs.Select(b => b * Math.Pow(Gamma, passed)).ToArray();
    }

    /// <inheritdoc/>
    protected override void Save(SchedulerStateDict d)
    {
        base.Save(d);
        d.Values["gamma"] = Gamma;
        d.Lists["milestones"] = _milestones.Select(m => (double)m).ToArray();
    }

    /// <inheritdoc/>
    protected override void Load(SchedulerStateDict d, bool apply)
    {
        base.Load(d, apply);
        double g = d.Get("gamma");
        if (!d.Lists.TryGetValue("milestones", out var m)) throw new ArgumentException("scheduler state dict (MultiStepLR): 'milestones' is missing; nothing was loaded");
        if (apply) (Gamma, _milestones) = (g, m.Select(x => (long)x).ToArray());
    }

    /// <inheritdoc/>
    protected override string Describe() => $"milestones=[{string.Join(", ", _milestones)}], gamma={F(Gamma)}";
}

/// <summary>torch.optim.lr_scheduler.ConstantLR: lr·factor for the first <c>total_iters</c> steps, then lr.</summary>
public sealed class ConstantLR : LrScheduler
{
    /// <param name="optimizer">The optimizer.</param>
    /// <param name="factor">In [0, 1] (default 1/3).</param>
    /// <param name="totalIters">Steps at the reduced lr (default 5).</param>
    public ConstantLR(Optimizer optimizer, double factor = 1.0 / 3, long totalIters = 5) : base(optimizer)
    {
        if (factor > 1.0 || factor < 0) throw new ArgumentException("ConstantLR: factor must be in [0, 1] (torch: 'Constant multiplicative factor expected to be between 0 and 1')");
        (Factor, TotalIters) = (factor, totalIters);
        InitialStep();
    }

    /// <summary>The factor of the first <see cref="TotalIters"/> steps.</summary>
    public double Factor { get; private set; }
    /// <summary>Steps at the reduced lr (torch: <c>total_iters</c>).</summary>
    public long TotalIters { get; private set; }
    /// <inheritdoc/>
    public override string TorchName => "ConstantLR";

    /// <inheritdoc/>
    protected override double[] ComputeLr()
    {
        if (LastEpoch == 0) return Scaled(Factor);
        if (LastEpoch > TotalIters || LastEpoch != TotalIters) return Current();
        return Scaled(1.0 / Factor);
    }

    /// <inheritdoc/>
    protected override double[]? ClosedFormLr() =>
        BaseLrs.Select(b => b * (Factor + (LastEpoch >= TotalIters ? 1 : 0) * (1 - Factor))).ToArray();

    /// <inheritdoc/>
    protected override void Save(SchedulerStateDict d)
    {
        base.Save(d);
        (d.Values["factor"], d.Values["total_iters"]) = (Factor, TotalIters);
    }

    /// <inheritdoc/>
    protected override void Load(SchedulerStateDict d, bool apply)
    {
        base.Load(d, apply);
        var (f, n) = (d.Get("factor"), d.GetLong("total_iters"));
        if (apply) (Factor, TotalIters) = (f, n);
    }

    /// <inheritdoc/>
    protected override string Describe() => $"factor={F(Factor)}, total_iters={TotalIters}";
}

/// <summary>torch.optim.lr_scheduler.LinearLR: the factor goes linearly from <c>start_factor</c> to
/// <c>end_factor</c> over <c>total_iters</c> steps (a warmup with the defaults), then stays.</summary>
public sealed class LinearLR : LrScheduler
{
    /// <param name="optimizer">The optimizer.</param>
    /// <param name="startFactor">In [0, 1] (default 1/3).</param>
    /// <param name="endFactor">In [0, 1] (default 1).</param>
    /// <param name="totalIters">Steps of the ramp (default 5).</param>
    public LinearLR(Optimizer optimizer, double startFactor = 1.0 / 3, double endFactor = 1.0, long totalIters = 5) : base(optimizer)
    {
        if (startFactor > 1.0 || startFactor < 0) throw new ArgumentException("LinearLR: start_factor must be in [0, 1]");
        if (endFactor > 1.0 || endFactor < 0) throw new ArgumentException("LinearLR: end_factor must be in [0, 1]");
        (StartFactor, EndFactor, TotalIters) = (startFactor, endFactor, totalIters);
        InitialStep();
    }

    /// <summary>The factor at step 0 (torch: <c>start_factor</c>).</summary>
    public double StartFactor { get; private set; }
    /// <summary>The factor from step <see cref="TotalIters"/> on (torch: <c>end_factor</c>).</summary>
    public double EndFactor { get; private set; }
    /// <summary>Steps of the ramp (torch: <c>total_iters</c>).</summary>
    public long TotalIters { get; private set; }
    /// <inheritdoc/>
    public override string TorchName => "LinearLR";

    /// <inheritdoc/>
    protected override double[] ComputeLr()
    {
        if (LastEpoch == 0) return Scaled(StartFactor);
        if (LastEpoch > TotalIters) return Current();
        return Scaled(1.0 + (EndFactor - StartFactor) / (TotalIters * StartFactor + (LastEpoch - 1) * (EndFactor - StartFactor)));
    }

    /// <inheritdoc/>
    protected override double[]? ClosedFormLr() =>
        BaseLrs.Select(b => b * (StartFactor + (EndFactor - StartFactor) * Math.Min(TotalIters, LastEpoch) / TotalIters)).ToArray();

    /// <inheritdoc/>
    protected override void Save(SchedulerStateDict d)
    {
        base.Save(d);
        (d.Values["start_factor"], d.Values["end_factor"], d.Values["total_iters"]) = (StartFactor, EndFactor, TotalIters);
    }

    /// <inheritdoc/>
    protected override void Load(SchedulerStateDict d, bool apply)
    {
        base.Load(d, apply);
        var (s, e, n) = (d.Get("start_factor"), d.Get("end_factor"), d.GetLong("total_iters"));
        if (apply) (StartFactor, EndFactor, TotalIters) = (s, e, n);
    }

    /// <inheritdoc/>
    protected override string Describe() => $"start_factor={F(StartFactor)}, end_factor={F(EndFactor)}, total_iters={TotalIters}";
}

/// <summary>torch.optim.lr_scheduler.ExponentialLR: lr ← lr·γ every step; η_t = η_0·γ^t.</summary>
public sealed class ExponentialLR : LrScheduler
{
    /// <param name="optimizer">The optimizer.</param>
    /// <param name="gamma">γ, the factor per step.</param>
    public ExponentialLR(Optimizer optimizer, double gamma) : base(optimizer)
    {
        Gamma = gamma;
        InitialStep();
    }

    /// <summary>γ, the factor per step.</summary>
    public double Gamma { get; private set; }
    /// <inheritdoc/>
    public override string TorchName => "ExponentialLR";

    /// <inheritdoc/>
    protected override double[] ComputeLr() => LastEpoch == 0 ? Current() : Scaled(Gamma);

    /// <inheritdoc/>
    protected override double[]? ClosedFormLr() => BaseLrs.Select(b => b * Math.Pow(Gamma, LastEpoch)).ToArray();

    /// <inheritdoc/>
    protected override void Save(SchedulerStateDict d)
    {
        base.Save(d);
        d.Values["gamma"] = Gamma;
    }

    /// <inheritdoc/>
    protected override void Load(SchedulerStateDict d, bool apply)
    {
        base.Load(d, apply);
        double g = d.Get("gamma");
        if (apply) Gamma = g;
    }

    /// <inheritdoc/>
    protected override string Describe() => $"gamma={F(Gamma)}";
}

/// <summary>torch.optim.lr_scheduler.PolynomialLR: η_t = η_0·(1 − min(t, T)/T)^power.</summary>
public sealed class PolynomialLR : LrScheduler
{
    /// <param name="optimizer">The optimizer.</param>
    /// <param name="totalIters">Steps until the lr reaches 0 (default 5).</param>
    /// <param name="power">The power (default 1: linear).</param>
    public PolynomialLR(Optimizer optimizer, long totalIters = 5, double power = 1.0) : base(optimizer)
    {
        (TotalIters, Power) = (totalIters, power);
        InitialStep();
    }

    /// <summary>Steps until the lr reaches 0 (torch: <c>total_iters</c>).</summary>
    public long TotalIters { get; private set; }
    /// <summary>The polynomial's power.</summary>
    public double Power { get; private set; }
    /// <inheritdoc/>
    public override string TorchName => "PolynomialLR";

    /// <inheritdoc/>
    protected override double[] ComputeLr()
    {
        if (LastEpoch == 0 || LastEpoch > TotalIters) return Current();
        double decay = Math.Pow((1.0 - (double)LastEpoch / TotalIters) / (1.0 - (double)(LastEpoch - 1) / TotalIters), Power);
        return Scaled(decay);
    }

    /// <inheritdoc/>
    protected override double[]? ClosedFormLr() =>
        BaseLrs.Select(b => b * Math.Pow(1.0 - (double)Math.Min(TotalIters, LastEpoch) / TotalIters, Power)).ToArray();

    /// <inheritdoc/>
    protected override void Save(SchedulerStateDict d)
    {
        base.Save(d);
        (d.Values["total_iters"], d.Values["power"]) = (TotalIters, Power);
    }

    /// <inheritdoc/>
    protected override void Load(SchedulerStateDict d, bool apply)
    {
        base.Load(d, apply);
        var (n, p) = (d.GetLong("total_iters"), d.Get("power"));
        if (apply) (TotalIters, Power) = (n, p);
    }

    /// <inheritdoc/>
    protected override string Describe() => $"total_iters={TotalIters}, power={F(Power)}";
}

/// <summary>
/// torch.optim.lr_scheduler.CosineAnnealingLR (Loshchilov &amp; Hutter 2017, SGDR without restarts):
/// η_t = η_min + (η_0 − η_min)·(1 + cos(π·t/T_max))/2, computed recursively as torch does (so it composes with other
/// schedulers, and past T_max it rises again: a cosine of period 2·T_max).
/// </summary>
public sealed class CosineAnnealingLR : LrScheduler
{
    /// <param name="optimizer">The optimizer.</param>
    /// <param name="tMax">T_max, half the period in steps.</param>
    /// <param name="etaMin">η_min (default 0).</param>
    public CosineAnnealingLR(Optimizer optimizer, double tMax, double etaMin = 0) : base(optimizer)
    {
        (TMax, EtaMin) = (tMax, etaMin);
        InitialStep();
    }

    /// <summary>T_max, half the cosine's period in steps.</summary>
    public double TMax { get; private set; }
    /// <summary>η_min, the lowest lr.</summary>
    public double EtaMin { get; private set; }
    /// <inheritdoc/>
    public override string TorchName => "CosineAnnealingLR";

    /// <inheritdoc/>
    protected override double[] ComputeLr()
    {
        int n = Optimizer.Groups.Count;
        var lrs = new double[n];
        long t = LastEpoch;
        if (t == 0) return Current();
        for (int g = 0; g < n; g++)
        {
            double b = BaseLrs[g], lr = GroupLr(g);
            if (StepCount == 1 && t > 0)
                lrs[g] = EtaMin + (b - EtaMin) * (1 + Math.Cos(t * Math.PI / TMax)) / 2;
            else if ((t - 1 - TMax) % (2 * TMax) == 0)   // zero under C#'s and Python's remainder alike
                lrs[g] = lr + (b - EtaMin) * (1 - Math.Cos(Math.PI / TMax)) / 2;
            else
                lrs[g] = (1 + Math.Cos(Math.PI * t / TMax)) / (1 + Math.Cos(Math.PI * (t - 1) / TMax)) * (lr - EtaMin) + EtaMin;
        }
        return lrs;
    }

    /// <inheritdoc/>
    protected override double[]? ClosedFormLr() =>
        BaseLrs.Select(b => EtaMin + (b - EtaMin) * (1 + Math.Cos(Math.PI * LastEpoch / TMax)) / 2).ToArray();

    /// <inheritdoc/>
    protected override void Save(SchedulerStateDict d)
    {
        base.Save(d);
        (d.Values["T_max"], d.Values["eta_min"]) = (TMax, EtaMin);
    }

    /// <inheritdoc/>
    protected override void Load(SchedulerStateDict d, bool apply)
    {
        base.Load(d, apply);
        var (t, e) = (d.Get("T_max"), d.Get("eta_min"));
        if (apply) (TMax, EtaMin) = (t, e);
    }

    /// <inheritdoc/>
    protected override string Describe() => $"T_max={F(TMax)}, eta_min={F(EtaMin)}";
}

/// <summary>
/// torch.optim.lr_scheduler.CosineAnnealingWarmRestarts (SGDR, Loshchilov &amp; Hutter 2017):
/// η = η_min + (η_0 − η_min)·(1 + cos(π·T_cur/T_i))/2, restarting when T_cur reaches T_i, then T_i ← T_i·T_mult.
/// </summary>
public sealed class CosineAnnealingWarmRestarts : LrScheduler
{
    /// <param name="optimizer">The optimizer.</param>
    /// <param name="t0">T_0, the first period (≥ 1).</param>
    /// <param name="tMult">T_mult, the period's growth (≥ 1, default 1).</param>
    /// <param name="etaMin">η_min (default 0).</param>
    public CosineAnnealingWarmRestarts(Optimizer optimizer, long t0, long tMult = 1, double etaMin = 0) : base(optimizer)
    {
        if (t0 <= 0) throw new ArgumentException($"CosineAnnealingWarmRestarts: expected positive integer T_0, but got {t0}");
        if (tMult < 1) throw new ArgumentException($"CosineAnnealingWarmRestarts: expected integer T_mult >= 1, but got {tMult}");
        (T0, Ti, TMult, EtaMin, TCur) = (t0, t0, tMult, etaMin, LastEpoch);
        InitialStep();
    }

    /// <summary>T_0, the first period.</summary>
    public long T0 { get; private set; }
    /// <summary>The current period T_i.</summary>
    public long Ti { get; private set; }
    /// <summary>T_mult, the factor of each next period.</summary>
    public long TMult { get; private set; }
    /// <summary>η_min, the lowest lr.</summary>
    public double EtaMin { get; private set; }
    /// <summary>Steps since the last restart, T_cur.</summary>
    public double TCur { get; private set; }
    /// <inheritdoc/>
    public override string TorchName => "CosineAnnealingWarmRestarts";

    /// <inheritdoc/>
    protected override double[] ComputeLr() =>
        BaseLrs.Select(b => EtaMin + (b - EtaMin) * (1 + Math.Cos(Math.PI * TCur / Ti)) / 2).ToArray();

    /// <summary>torch's own step (it overrides step and does not count <c>_step_count</c>).</summary>
    public override void Step()
    {
        CheckGroups();
        if (LastEpoch < 0)
        {
            StepAt(0);
            return;
        }
        LastEpoch++;
        TCur += 1;
        if (TCur >= Ti)
        {
            TCur -= Ti;
            Ti *= TMult;
        }
        Apply(ComputeLr());
    }

    internal override void StepAt(long epoch)
    {
        CheckGroups();
        if (epoch < 0) throw new ArgumentException($"CosineAnnealingWarmRestarts: expected non-negative epoch, but got {epoch}");
        if (epoch >= T0)
        {
            if (TMult == 1) TCur = epoch % T0;
            else
            {
                long n = (long)Math.Log((double)epoch / T0 * (TMult - 1) + 1, TMult);
                TCur = epoch - T0 * (Math.Pow(TMult, n) - 1) / (TMult - 1);
                Ti = T0 * (long)Math.Pow(TMult, n);
            }
        }
        else
        {
            Ti = T0;
            TCur = epoch;
        }
        LastEpoch = epoch;
        Apply(ComputeLr());
    }

    /// <inheritdoc/>
    protected override void Save(SchedulerStateDict d)
    {
        base.Save(d);
        (d.Values["T_0"], d.Values["T_i"], d.Values["T_mult"], d.Values["eta_min"], d.Values["T_cur"]) = (T0, Ti, TMult, EtaMin, TCur);
    }

    /// <inheritdoc/>
    protected override void Load(SchedulerStateDict d, bool apply)
    {
        base.Load(d, apply);
        var (t0, ti, tm, e, tc) = (d.GetLong("T_0"), d.GetLong("T_i"), d.GetLong("T_mult"), d.Get("eta_min"), d.Get("T_cur"));
        if (apply) (T0, Ti, TMult, EtaMin, TCur) = (t0, ti, tm, e, tc);
    }

    /// <inheritdoc/>
    protected override string Describe() => $"T_0={T0}, T_mult={TMult}, eta_min={F(EtaMin)}";
}

/// <summary>torch.optim.lr_scheduler.LambdaLR: η_t = η_0·λ(t), one function for every group or one per group.</summary>
public sealed class LambdaLR : LrScheduler
{
    private readonly Func<long, double>[] _lambdas;
    private readonly string _name;

    /// <param name="optimizer">The optimizer.</param>
    /// <param name="lrLambda">λ(epoch), epoch = 0, 1, … (torch's <c>lr_lambda</c>), for every group.</param>
    /// <param name="name">How <see cref="LrScheduler.ToString"/> names the function (a run's fingerprint).</param>
    public LambdaLR(Optimizer optimizer, Func<long, double> lrLambda, string name = "lambda")
        : this(optimizer, Enumerable.Repeat(lrLambda ?? throw new ArgumentNullException(nameof(lrLambda)), optimizer.Groups.Count), name) { }

    /// <param name="optimizer">The optimizer.</param>
    /// <param name="lrLambdas">One λ per group.</param>
    /// <param name="name">How <see cref="LrScheduler.ToString"/> names the functions.</param>
    public LambdaLR(Optimizer optimizer, IEnumerable<Func<long, double>> lrLambdas, string name = "lambda") : base(optimizer)
    {
        _lambdas = lrLambdas.ToArray();
        if (_lambdas.Length != optimizer.Groups.Count)
            throw new ArgumentException($"LambdaLR: expected {optimizer.Groups.Count} lr_lambdas, but got {_lambdas.Length}");
        _name = name;
        InitialStep();
    }

    /// <inheritdoc/>
    public override string TorchName => "LambdaLR";

    /// <inheritdoc/>
    protected override double[] ComputeLr() => BaseLrs.Select((b, g) => b * _lambdas[g](LastEpoch)).ToArray();

    /// <inheritdoc/>
    protected override string Describe() => _name;
}

/// <summary>
/// torch.optim.lr_scheduler.OneCycleLR (Smith &amp; Topin 2017, "Super-Convergence"): from max_lr/div_factor up to
/// max_lr over pct_start of the steps, then down to initial_lr/final_div_factor (three_phase: back to initial_lr
/// first), by cosine or linear annealing; with cycle_momentum the momentum (Adam family and Lion: β1; others:
/// <see cref="Hyperparameters.Momentum"/>) moves inversely between base_momentum and max_momentum. It sets each
/// group's <see cref="ParamGroup.InitialLr"/> to max_lr/div_factor.
/// </summary>
public sealed class OneCycleLR : LrScheduler
{
    private readonly double[] _maxLrs, _minLrs, _maxMomentum, _baseMomentum;
    private readonly (double EndStep, int StartLr, int EndLr, int StartMomentum, int EndMomentum)[] _phases;
    private readonly bool _useBeta1;
    // Value indices of a phase: 0 initial_lr, 1 max_lr, 2 min_lr; momentum: 0 max_momentum, 1 base_momentum.

    /// <param name="optimizer">The optimizer.</param>
    /// <param name="maxLr">The peak lr, for every group.</param>
    /// <param name="totalSteps">The cycle's steps (torch: <c>total_steps</c>, or epochs × steps_per_epoch).</param>
    /// <param name="pctStart">The rising share of the cycle (default 0.3).</param>
    /// <param name="annealStrategy"><c>cos</c> (default) or <c>linear</c>.</param>
    /// <param name="cycleMomentum">Cycle the momentum inversely (default true).</param>
    /// <param name="baseMomentum">The momentum at the lr's peak (default 0.85).</param>
    /// <param name="maxMomentum">The momentum at the lr's ends (default 0.95).</param>
    /// <param name="divFactor">initial_lr = max_lr/div_factor (default 25).</param>
    /// <param name="finalDivFactor">min_lr = initial_lr/final_div_factor (default 1e4).</param>
    /// <param name="threePhase">The three-phase schedule of fastai (default false).</param>
    public OneCycleLR(Optimizer optimizer, double maxLr, long totalSteps, double pctStart = 0.3, string annealStrategy = "cos",
        bool cycleMomentum = true, double baseMomentum = 0.85, double maxMomentum = 0.95, double divFactor = 25.0,
        double finalDivFactor = 1e4, bool threePhase = false)
        : this(optimizer, Enumerable.Repeat(maxLr, optimizer.Groups.Count).ToArray(), totalSteps, pctStart, annealStrategy, cycleMomentum,
            baseMomentum, maxMomentum, divFactor, finalDivFactor, threePhase) { }

    /// <summary>One peak lr per group (torch: <c>max_lr</c> a list).</summary>
    public OneCycleLR(Optimizer optimizer, double[] maxLrs, long totalSteps, double pctStart = 0.3, string annealStrategy = "cos",
        bool cycleMomentum = true, double baseMomentum = 0.85, double maxMomentum = 0.95, double divFactor = 25.0,
        double finalDivFactor = 1e4, bool threePhase = false)
        : base(Prepare(optimizer, maxLrs, totalSteps, pctStart, annealStrategy, divFactor))
    {
        int n = optimizer.Groups.Count;
        (TotalSteps, PctStart, AnnealStrategy, CycleMomentum, ThreePhase) = (totalSteps, pctStart, annealStrategy, cycleMomentum, threePhase);
        _maxLrs = (double[])maxLrs.Clone();
        _minLrs = optimizer.Groups.Select(g => g.InitialLr!.Value / finalDivFactor).ToArray();
        _phases = threePhase
            ? [(pctStart * totalSteps - 1, 0, 1, 0, 1), (2 * pctStart * totalSteps - 2, 1, 0, 1, 0), (totalSteps - 1, 0, 2, 0, 0)]
            : [(pctStart * totalSteps - 1, 0, 1, 0, 1), (totalSteps - 1, 1, 2, 1, 0)];
        _maxMomentum = Enumerable.Repeat(maxMomentum, n).ToArray();
        _baseMomentum = Enumerable.Repeat(baseMomentum, n).ToArray();
        _useBeta1 = optimizer.Algorithm.Info().UsesBetas;
        if (cycleMomentum)
            for (int g = 0; g < n; g++) SetMomentum(g, maxMomentum);
        InitialStep();
    }

    private static Optimizer Prepare(Optimizer optimizer, double[] maxLrs, long totalSteps, double pctStart, string anneal, double divFactor)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        if (totalSteps <= 0) throw new ArgumentException($"OneCycleLR: expected positive integer total_steps, but got {totalSteps}");
        if (maxLrs.Length != optimizer.Groups.Count) throw new ArgumentException($"OneCycleLR: expected {optimizer.Groups.Count} values for max_lr, got {maxLrs.Length}");
        if (!(pctStart >= 0 && pctStart <= 1)) throw new ArgumentException($"OneCycleLR: expected float between 0 and 1 pct_start, but got {pctStart}");
        if (anneal is not ("cos" or "linear")) throw new ArgumentException($"OneCycleLR: anneal_strategy must be one of 'cos' or 'linear', instead got {anneal}");
        for (int g = 0; g < maxLrs.Length; g++) optimizer.Groups[g].InitialLr = maxLrs[g] / divFactor;
        return optimizer;
    }

    /// <summary>The cycle's steps (torch: <c>total_steps</c>).</summary>
    public long TotalSteps { get; }
    /// <summary>The rising share of the cycle (torch: <c>pct_start</c>).</summary>
    public double PctStart { get; }
    /// <summary><c>cos</c> or <c>linear</c>.</summary>
    public string AnnealStrategy { get; }
    /// <summary>Whether the momentum (β1) cycles inversely to the lr.</summary>
    public bool CycleMomentum { get; }
    /// <summary>fastai's three-phase schedule.</summary>
    public bool ThreePhase { get; }
    /// <inheritdoc/>
    public override string TorchName => "OneCycleLR";

    private double Anneal(double start, double end, double pct) => AnnealStrategy == "cos"
        ? end + (start - end) / 2.0 * (Math.Cos(Math.PI * pct) + 1)
        : (end - start) * pct + start;

    private void SetMomentum(int g, double m)
    {
        var group = Optimizer.Groups[g];
        group.Hyperparameters = _useBeta1 ? group.Hyperparameters with { Beta1 = m } : group.Hyperparameters with { Momentum = m };
    }

    /// <inheritdoc/>
    protected override double[] ComputeLr()
    {
        long stepNum = LastEpoch;
        if (stepNum > TotalSteps)
            throw new InvalidOperationException($"OneCycleLR: tried to step {stepNum + 1} times; the specified number of total steps is {TotalSteps}");
        var lrs = new double[Optimizer.Groups.Count];
        for (int g = 0; g < lrs.Length; g++)
        {
            double[] lr = [BaseLrs[g], _maxLrs[g], _minLrs[g]], mom = [_maxMomentum[g], _baseMomentum[g]];
            double startStep = 0, computedMomentum = 0;
            for (int i = 0; i < _phases.Length; i++)
            {
                var phase = _phases[i];
                if (stepNum <= phase.EndStep || i == _phases.Length - 1)
                {
                    double pct = (stepNum - startStep) / (phase.EndStep - startStep);
                    lrs[g] = Anneal(lr[phase.StartLr], lr[phase.EndLr], pct);
                    if (CycleMomentum) computedMomentum = Anneal(mom[phase.StartMomentum], mom[phase.EndMomentum], pct);
                    break;
                }
                startStep = phase.EndStep;
            }
            if (CycleMomentum) SetMomentum(g, computedMomentum);
        }
        return lrs;
    }

    /// <inheritdoc/>
    protected override void Save(SchedulerStateDict d)
    {
        base.Save(d);
        d.Values["total_steps"] = TotalSteps;
        // torch keeps these in the optimizer's param_groups (max_lr, min_lr, max_momentum, base_momentum).
        d.Lists["max_lr"] = (double[])_maxLrs.Clone();
        d.Lists["min_lr"] = (double[])_minLrs.Clone();
    }

    /// <inheritdoc/>
    protected override void Load(SchedulerStateDict d, bool apply)
    {
        base.Load(d, apply);
        int n = Optimizer.Groups.Count;
        var (total, max, min) = (d.GetLong("total_steps"), d.GetList("max_lr", n), d.GetList("min_lr", n));
        if (total != TotalSteps) throw new ArgumentException($"scheduler state dict (OneCycleLR): total_steps {total}, this scheduler's {TotalSteps}; nothing was loaded");
        if (!apply) return;
        max.CopyTo(_maxLrs, 0);
        min.CopyTo(_minLrs, 0);
        for (int g = 0; g < n; g++) Optimizer.Groups[g].InitialLr = BaseLrs[g];
    }

    /// <inheritdoc/>
    protected override string Describe() =>
        $"max_lr=[{string.Join(", ", _maxLrs.Select(F))}], total_steps={TotalSteps}, pct_start={F(PctStart)}, anneal_strategy={AnnealStrategy}, " +
        $"cycle_momentum={CycleMomentum}, three_phase={ThreePhase}";
}

/// <summary>torch.optim.lr_scheduler.SequentialLR: one scheduler after another, switching at the milestones (the
/// next one restarts from epoch 0 at its milestone). All schedulers must be over the same optimizer.</summary>
public sealed class SequentialLR : LrScheduler
{
    private readonly LrScheduler[] _schedulers;
    private long[] _milestones;

    /// <param name="optimizer">The optimizer every scheduler is over.</param>
    /// <param name="schedulers">The schedulers, built just before (each built one's initial step is undone).</param>
    /// <param name="milestones">One fewer than the schedulers: the step at which each next one takes over.</param>
    public SequentialLR(Optimizer optimizer, IEnumerable<LrScheduler> schedulers, IEnumerable<long> milestones) : base(optimizer, setsInitialLr: false)
    {
        _schedulers = schedulers.ToArray();
        _milestones = milestones.ToArray();
        if (_schedulers.Length == 0) throw new ArgumentException("SequentialLR: give at least one scheduler");
        for (int i = 0; i < _schedulers.Length; i++)
        {
            if (!ReferenceEquals(_schedulers[i].Optimizer, optimizer))
                throw new ArgumentException($"SequentialLR expects all schedulers to belong to the same optimizer, but got scheduler at index {i} to be different than the optimizer passed in");
            if (_schedulers[i] is ReduceLROnPlateau or SequentialLR or ChainedScheduler)
                throw new ArgumentException($"SequentialLR: scheduler {i} is a {_schedulers[i].TorchName}; it sequences epoch schedulers (torch's _LRScheduler)");
        }
        if (_milestones.Length != _schedulers.Length - 1)
            throw new ArgumentException($"SequentialLR expects number of schedulers provided to be one more than the number of milestone points, but got number of schedulers {_schedulers.Length} and the number of milestones to be equal to {_milestones.Length}");
        LastEpoch = 0;
        foreach (var g in optimizer.Groups)
        {
            double initial = g.InitialLr ?? throw new ArgumentException("SequentialLR: a group has no initial_lr (build its schedulers first)");
            g.Hyperparameters = g.Hyperparameters with { Lr = initial };
        }
        foreach (var s in _schedulers) s.UndoStep();
        _schedulers[0].InitialStep();
        LastLr = (double[])_schedulers[0].LastLr.Clone();
    }

    /// <summary>The sequenced schedulers.</summary>
    public IReadOnlyList<LrScheduler> Schedulers => _schedulers;
    /// <inheritdoc/>
    public override string TorchName => "SequentialLR";

    /// <inheritdoc/>
    public override void Step()
    {
        CheckGroups();
        LastEpoch++;
        int idx = _milestones.Count(m => m <= LastEpoch);   // bisect_right
        var s = _schedulers[idx];
        if (idx > 0 && _milestones[idx - 1] == LastEpoch) s.StepAt(0);
        else s.Step();
        LastLr = (double[])s.LastLr.Clone();
    }

    internal override void StepAt(long epoch) => throw new NotSupportedException("SequentialLR has no step(epoch)");
    /// <inheritdoc/>
    protected override double[] ComputeLr() => throw new NotSupportedException("SequentialLR steps its schedulers");

    /// <inheritdoc/>
    protected override void Save(SchedulerStateDict d)
    {
        // torch: everything but optimizer and _schedulers, which are saved each as its own dict.
        d.Values["last_epoch"] = LastEpoch;
        d.Lists["_last_lr"] = (double[])LastLr.Clone();
        d.Lists["_milestones"] = _milestones.Select(m => (double)m).ToArray();
        d.Schedulers = _schedulers.Select(s => s.StateDict()).ToList();
    }

    /// <inheritdoc/>
    protected override void Load(SchedulerStateDict d, bool apply)
    {
        var (epoch, last) = (d.GetLong("last_epoch"), d.GetList("_last_lr", Optimizer.Groups.Count));
        if (!d.Lists.TryGetValue("_milestones", out var m)) throw new ArgumentException("scheduler state dict (SequentialLR): '_milestones' is missing; nothing was loaded");
        if (d.Schedulers.Count != _schedulers.Length)
            throw new ArgumentException($"scheduler state dict (SequentialLR): {d.Schedulers.Count} schedulers, this one sequences {_schedulers.Length}; nothing was loaded");
        for (int i = 0; i < _schedulers.Length; i++)
        {
            if (d.Schedulers[i].Type != _schedulers[i].TorchName)
                throw new ArgumentException($"scheduler state dict (SequentialLR): scheduler {i} is {d.Schedulers[i].Type}, this one's {_schedulers[i].TorchName}; nothing was loaded");
            _schedulers[i].LoadPart(d.Schedulers[i], apply);
        }
        if (apply) (LastEpoch, LastLr, _milestones) = (epoch, last, m.Select(x => (long)x).ToArray());
    }

    /// <inheritdoc/>
    protected override string Describe() => $"[{string.Join(", ", _schedulers.Select(s => s.ToString()))}], milestones=[{string.Join(", ", _milestones)}]";
}

/// <summary>torch.optim.lr_scheduler.ChainedScheduler: steps every scheduler each step, so their factors multiply
/// (the chainable form: each scales the group's current lr).</summary>
public sealed class ChainedScheduler : LrScheduler
{
    private readonly LrScheduler[] _schedulers;

    /// <summary>Chains <paramref name="schedulers"/> (all over one optimizer), stepped in order.</summary>
    public ChainedScheduler(IEnumerable<LrScheduler> schedulers) : this(schedulers.ToArray()) { }

    private ChainedScheduler(LrScheduler[] schedulers)
        : base(schedulers.Length > 0 ? schedulers[0].Optimizer : throw new ArgumentException("ChainedScheduler: give at least one scheduler"), setsInitialLr: false)
    {
        _schedulers = schedulers;
        for (int i = 1; i < schedulers.Length; i++)
            if (!ReferenceEquals(schedulers[i].Optimizer, schedulers[0].Optimizer))
                throw new ArgumentException($"ChainedScheduler expects all schedulers to belong to the same optimizer, but got schedulers at index 0 and {i} to be different");
        if (schedulers.Any(s => s is ReduceLROnPlateau))
            throw new ArgumentException("ChainedScheduler: ReduceLROnPlateau steps on a metric; step it yourself after the chain");
        LastLr = Current();
    }

    /// <summary>The chained schedulers.</summary>
    public IReadOnlyList<LrScheduler> Schedulers => _schedulers;
    /// <inheritdoc/>
    public override string TorchName => "ChainedScheduler";

    /// <inheritdoc/>
    public override void Step()
    {
        foreach (var s in _schedulers) s.Step();
        LastLr = Current();
    }

    internal override void StepAt(long epoch) => throw new NotSupportedException("ChainedScheduler has no step(epoch)");
    /// <inheritdoc/>
    protected override double[] ComputeLr() => throw new NotSupportedException("ChainedScheduler steps its schedulers");

    /// <inheritdoc/>
    protected override void Save(SchedulerStateDict d)
    {
        d.Lists["_last_lr"] = (double[])LastLr.Clone();
        d.Schedulers = _schedulers.Select(s => s.StateDict()).ToList();
    }

    /// <inheritdoc/>
    protected override void Load(SchedulerStateDict d, bool apply)
    {
        var last = d.GetList("_last_lr", Optimizer.Groups.Count);
        if (d.Schedulers.Count != _schedulers.Length)
            throw new ArgumentException($"scheduler state dict (ChainedScheduler): {d.Schedulers.Count} schedulers, this chain has {_schedulers.Length}; nothing was loaded");
        for (int i = 0; i < _schedulers.Length; i++)
        {
            if (d.Schedulers[i].Type != _schedulers[i].TorchName)
                throw new ArgumentException($"scheduler state dict (ChainedScheduler): scheduler {i} is {d.Schedulers[i].Type}, this one's {_schedulers[i].TorchName}; nothing was loaded");
            _schedulers[i].LoadPart(d.Schedulers[i], apply);
        }
        if (apply) LastLr = last;
    }

    /// <inheritdoc/>
    protected override string Describe() => string.Join(", ", _schedulers.Select(s => s.ToString()));
}

/// <summary>
/// torch.optim.lr_scheduler.ReduceLROnPlateau: after more than <c>patience</c> steps without improvement of a metric
/// (relative or absolute <c>threshold</c>, <c>mode</c> min or max), every group's lr ← max(lr·factor, min_lr) (a
/// change smaller than eps is ignored), then <c>cooldown</c> steps without counting. It steps on the metric:
/// <see cref="Step(double)"/>; construction changes no lr.
/// </summary>
public sealed class ReduceLROnPlateau : LrScheduler
{
    private double[] _minLrs;

    /// <param name="optimizer">The optimizer.</param>
    /// <param name="mode"><c>min</c> (default: lower is better) or <c>max</c>.</param>
    /// <param name="factor">The reduction, &lt; 1 (default 0.1).</param>
    /// <param name="patience">Steps without improvement tolerated (default 10).</param>
    /// <param name="threshold">What counts as an improvement (default 1e-4).</param>
    /// <param name="thresholdMode"><c>rel</c> (default: best·(1 ∓ threshold)) or <c>abs</c> (best ∓ threshold).</param>
    /// <param name="cooldown">Steps after a reduction before counting resumes (default 0).</param>
    /// <param name="minLr">The lowest lr, every group (default 0).</param>
    /// <param name="eps">A smaller change of lr is not made (default 1e-8).</param>
    public ReduceLROnPlateau(Optimizer optimizer, string mode = "min", double factor = 0.1, long patience = 10, double threshold = 1e-4,
        string thresholdMode = "rel", long cooldown = 0, double minLr = 0, double eps = 1e-8)
        : this(optimizer, Enumerable.Repeat(minLr, optimizer.Groups.Count).ToArray(), mode, factor, patience, threshold, thresholdMode, cooldown, eps) { }

    /// <summary>One min_lr per group.</summary>
    public ReduceLROnPlateau(Optimizer optimizer, double[] minLrs, string mode = "min", double factor = 0.1, long patience = 10,
        double threshold = 1e-4, string thresholdMode = "rel", long cooldown = 0, double eps = 1e-8)
        : base(optimizer, setsInitialLr: false)
    {
        if (factor >= 1.0) throw new ArgumentException("ReduceLROnPlateau: factor should be < 1.0");
        if (minLrs.Length != optimizer.Groups.Count) throw new ArgumentException($"ReduceLROnPlateau: expected {optimizer.Groups.Count} min_lrs, got {minLrs.Length}");
        CheckModes(mode, thresholdMode);
        _minLrs = (double[])minLrs.Clone();
        (Mode, Factor, Patience, Threshold, ThresholdMode, Cooldown, Eps) = (mode, factor, patience, threshold, thresholdMode, cooldown, eps);
        LastEpoch = 0;
        Best = ModeWorse;
    }

    private static void CheckModes(string mode, string thresholdMode)
    {
        if (mode is not ("min" or "max")) throw new ArgumentException($"ReduceLROnPlateau: mode {mode} is unknown (min or max)");
        if (thresholdMode is not ("rel" or "abs")) throw new ArgumentException($"ReduceLROnPlateau: threshold mode {thresholdMode} is unknown (rel or abs)");
    }

    /// <summary><c>min</c> or <c>max</c>.</summary>
    public string Mode { get; private set; }
    /// <summary>The reduction factor (&lt; 1).</summary>
    public double Factor { get; private set; }
    /// <summary>Steps without improvement tolerated.</summary>
    public long Patience { get; private set; }
    /// <summary>What counts as an improvement.</summary>
    public double Threshold { get; private set; }
    /// <summary><c>rel</c> or <c>abs</c>.</summary>
    public string ThresholdMode { get; private set; }
    /// <summary>Steps after a reduction before counting resumes.</summary>
    public long Cooldown { get; private set; }
    /// <summary>A smaller change of lr is not made.</summary>
    public double Eps { get; private set; }
    /// <summary>The lowest lr of each group.</summary>
    public IReadOnlyList<double> MinLrs => _minLrs;
    /// <summary>The best metric so far (±∞ before the first).</summary>
    public double Best { get; private set; }
    /// <summary>Steps since the best, not counting cooldown.</summary>
    public long NumBadEpochs { get; private set; }
    /// <summary>Cooldown steps left.</summary>
    public long CooldownCounter { get; private set; }
    private double ModeWorse => Mode == "min" ? double.PositiveInfinity : double.NegativeInfinity;
    /// <inheritdoc/>
    public override string TorchName => "ReduceLROnPlateau";

    /// <summary>Refused: this scheduler steps on a metric.</summary>
    /// <exception cref="InvalidOperationException">Always.</exception>
    public override void Step() => throw new InvalidOperationException("ReduceLROnPlateau steps on a metric: call Step(metric) (torch: scheduler.step(val_loss))");

    /// <summary>One step (epoch) with the metric of its end.</summary>
    public void Step(double metric)
    {
        CheckGroups();
        LastEpoch++;
        if (IsBetter(metric, Best))
        {
            Best = metric;
            NumBadEpochs = 0;
        }
        else NumBadEpochs++;
        if (CooldownCounter > 0)
        {
            CooldownCounter--;
            NumBadEpochs = 0;
        }
        if (NumBadEpochs > Patience)
        {
            for (int g = 0; g < Optimizer.Groups.Count; g++)
            {
                double old = GroupLr(g), lr = Math.Max(old * Factor, _minLrs[g]);
                if (old - lr > Eps) Optimizer.Groups[g].Hyperparameters = Optimizer.Groups[g].Hyperparameters with { Lr = lr };
            }
            CooldownCounter = Cooldown;
            NumBadEpochs = 0;
        }
        LastLr = Current();
    }

    private bool IsBetter(double a, double best) => (Mode, ThresholdMode) switch
    {
        ("min", "rel") => a < best * (1.0 - Threshold),
        ("min", _) => a < best - Threshold,
        (_, "rel") => a > best * (Threshold + 1.0),
        _ => a > best + Threshold,
    };

    internal override void StepAt(long epoch) => throw new NotSupportedException("ReduceLROnPlateau steps on a metric");
    /// <inheritdoc/>
    protected override double[] ComputeLr() => throw new NotSupportedException("ReduceLROnPlateau steps on a metric");

    /// <inheritdoc/>
    protected override void Save(SchedulerStateDict d)
    {
        // torch: every attribute but the optimizer (mode_worse, derived from mode, left out).
        foreach (var (k, v) in new (string, double)[]
                 {
                     ("factor", Factor), ("patience", Patience), ("cooldown", Cooldown), ("cooldown_counter", CooldownCounter),
                     ("threshold", Threshold), ("best", Best), ("num_bad_epochs", NumBadEpochs), ("eps", Eps), ("last_epoch", LastEpoch),
                 })
            d.Values[k] = v;
        d.Lists["min_lrs"] = (double[])_minLrs.Clone();
        d.Lists["_last_lr"] = (double[])LastLr.Clone();
        (d.Strings["mode"], d.Strings["threshold_mode"]) = (Mode, ThresholdMode);
    }

    /// <inheritdoc/>
    protected override void Load(SchedulerStateDict d, bool apply)
    {
        int n = Optimizer.Groups.Count;
        var (factor, patience, cooldown, counter) = (d.Get("factor"), d.GetLong("patience"), d.GetLong("cooldown"), d.GetLong("cooldown_counter"));
        var (threshold, best, bad, eps, epoch) = (d.Get("threshold"), d.Get("best"), d.GetLong("num_bad_epochs"), d.Get("eps"), d.GetLong("last_epoch"));
        var (min, last) = (d.GetList("min_lrs", n), d.GetList("_last_lr", n));
        if (!d.Strings.TryGetValue("mode", out var mode) || !d.Strings.TryGetValue("threshold_mode", out var tm))
            throw new ArgumentException("scheduler state dict (ReduceLROnPlateau): 'mode' or 'threshold_mode' is missing; nothing was loaded");
        CheckModes(mode, tm);
        if (!apply) return;
        (Factor, Patience, Cooldown, CooldownCounter, Threshold, Best, NumBadEpochs, Eps, LastEpoch) = (factor, patience, cooldown, counter, threshold, best, bad, eps, epoch);
        (_minLrs, LastLr, Mode, ThresholdMode) = (min, last, mode, tm);
    }

    /// <inheritdoc/>
    protected override string Describe() =>
        $"mode={Mode}, factor={F(Factor)}, patience={Patience}, threshold={F(Threshold)}, threshold_mode={ThresholdMode}, cooldown={Cooldown}, " +
        $"min_lr=[{string.Join(", ", _minLrs.Select(F))}], eps={F(Eps)}";
}
