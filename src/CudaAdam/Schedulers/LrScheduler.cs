using System.Globalization;

namespace CudaAdam;

/// <summary>
/// A scheduler's state in torch's <c>state_dict()</c> shape: the scheduler's class (<see cref="Type"/>, torch's class
/// name) and its attributes under torch's names (<c>last_epoch</c>, <c>_step_count</c>, <c>base_lrs</c>,
/// <c>_last_lr</c>, <c>T_cur</c>, <c>best</c>, <c>num_bad_epochs</c>, ...); a <see cref="SequentialLR"/> or
/// <see cref="ChainedScheduler"/> holds its schedulers' dicts in <see cref="Schedulers"/> (torch's <c>_schedulers</c>).
/// Serializable with System.Text.Json (ReduceLROnPlateau's <c>best</c> starts at ±∞: allow named floating-point
/// literals).
/// </summary>
public sealed class SchedulerStateDict
{
    /// <summary>torch's class name (<c>StepLR</c>, <c>ReduceLROnPlateau</c>, ...).</summary>
    public string Type { get; set; } = "";
    /// <summary>Numbers (integers stored exactly as doubles).</summary>
    public SortedDictionary<string, double> Values { get; set; } = new(StringComparer.Ordinal);
    /// <summary>Lists of numbers, one per parameter group unless the name says otherwise (<c>base_lrs</c>, <c>_last_lr</c>).</summary>
    public SortedDictionary<string, double[]> Lists { get; set; } = new(StringComparer.Ordinal);
    /// <summary>Strings (ReduceLROnPlateau's <c>mode</c>, <c>threshold_mode</c>).</summary>
    public SortedDictionary<string, string> Strings { get; set; } = new(StringComparer.Ordinal);
    /// <summary>The nested schedulers' dicts (SequentialLR, ChainedScheduler).</summary>
    public List<SchedulerStateDict> Schedulers { get; set; } = [];

    internal double Get(string key) => Values.TryGetValue(key, out var v) ? v
        : throw new ArgumentException($"scheduler state dict ({Type}): '{key}' is missing; nothing was loaded");

    internal long GetLong(string key)
    {
        double v = Get(key);
        return v == Math.Floor(v) && Math.Abs(v) < 1e15 ? (long)v
            : throw new ArgumentException($"scheduler state dict ({Type}): '{key}' = {v.ToString("R", CultureInfo.InvariantCulture)} is not an integer; nothing was loaded");
    }

    internal double[] GetList(string key, int length)
    {
        if (!Lists.TryGetValue(key, out var v)) throw new ArgumentException($"scheduler state dict ({Type}): '{key}' is missing; nothing was loaded");
        if (v.Length != length) throw new ArgumentException($"scheduler state dict ({Type}): '{key}' has {v.Length} entries, the optimizer {length} parameter groups; nothing was loaded");
        return (double[])v.Clone();
    }
}

/// <summary>
/// A learning-rate scheduler over an <see cref="Optimizer"/>, torch.optim.lr_scheduler's shape and semantics (torch
/// 1.13; checked against its own schedulers by <c>tests/oracle/make_scheduler_golden.py</c>): construction sets
/// every group's lr for the first step (<c>last_epoch</c> 0); call <see cref="Step"/> once after each
/// <see cref="Optimizer.Step()"/> (or epoch) and it writes each group's next lr into
/// <see cref="ParamGroup.Hyperparameters"/>. Like torch's, most schedulers are <em>chainable</em>: they multiply the
/// group's current lr, so several schedulers over one optimizer compose (<see cref="ChainedScheduler"/>), and the
/// first one built records each group's <see cref="ParamGroup.InitialLr"/> (torch's <c>initial_lr</c>), the base
/// lrs of every later one. <see cref="StateDict"/>/<see cref="LoadStateDict"/> save and restore it mid-schedule.
/// </summary>
/// <remarks>Arithmetic in double, operation for operation torch's Python (<c>get_lr</c>, the recursive form), so the lr
/// sequences are torch's bit for bit. torch's deprecated <c>step(epoch)</c> is not offered; <see cref="SequentialLR"/>
/// uses its closed form internally at a milestone, as torch does.</remarks>
/// <example><code>
/// using var opt = new Optimizer(Algorithm.AdamW, [w], Hyperparameters.Defaults(Algorithm.AdamW) with { Lr = 1e-3 });
/// var sched = new SequentialLR(opt, [new LinearLR(opt, startFactor: 0.1, totalIters: 100), new CosineAnnealingLR(opt, tMax: 900)], [100]);
/// for (int t = 0; t &lt; 1000; t++) { w.Grad = Gradient(w.Data); opt.Step(); sched.Step(); }
/// </code></example>
public abstract class LrScheduler
{
    private protected LrScheduler(Optimizer optimizer, bool setsInitialLr = true)
    {
        Optimizer = optimizer ?? throw new ArgumentNullException(nameof(optimizer));
        if (setsInitialLr)
            foreach (var g in optimizer.Groups) g.InitialLr ??= g.Hyperparameters.Lr;
        BaseLrs = optimizer.Groups.Select(g => g.InitialLr ?? g.Hyperparameters.Lr).ToArray();
        LastLr = optimizer.Groups.Select(g => g.Hyperparameters.Lr).ToArray();
    }

    /// <summary>The optimizer whose groups' lr this scheduler sets.</summary>
    public Optimizer Optimizer { get; }
    /// <summary>Each group's base lr (torch's <c>base_lrs</c>: the groups' <see cref="ParamGroup.InitialLr"/>).</summary>
    public double[] BaseLrs { get; protected set; }
    /// <summary>Steps taken (torch's <c>last_epoch</c>): 0 after construction, +1 per <see cref="Step"/>.</summary>
    public long LastEpoch { get; protected set; } = -1;
    /// <summary>torch's <c>_step_count</c>: calls of step, the construction's included.</summary>
    protected long StepCount { get; set; }
    /// <summary>Each group's lr as this scheduler last set it (torch's <c>get_last_lr()</c>).</summary>
    public double[] LastLr { get; protected set; }

    /// <summary>torch's class name.</summary>
    public abstract string TorchName { get; }

    /// <summary>Advances one step (epoch) and sets every group's lr for the next optimizer step.</summary>
    public virtual void Step()
    {
        CheckGroups();
        StepCount++;
        LastEpoch++;
        Apply(ComputeLr());
    }

    /// <summary>torch's <c>step(epoch)</c>: jump to <paramref name="epoch"/> through the closed form where the scheduler
    /// has one (else its recursive form at that epoch). Only <see cref="SequentialLR"/> uses it (step(0) at a milestone).</summary>
    internal virtual void StepAt(long epoch)
    {
        CheckGroups();
        StepCount++;
        LastEpoch = epoch;
        Apply(ClosedFormLr() ?? ComputeLr());
    }

    /// <summary>torch's <c>_initial_step</c>: the step the constructor takes (resetting the step count).</summary>
    internal void InitialStep()
    {
        StepCount = 0;
        Step();
    }

    /// <summary>SequentialLR's "undo the step performed by other schedulers": <c>last_epoch -= 1</c>.</summary>
    internal void UndoStep() => LastEpoch--;

    /// <summary>A nested scheduler's part of a SequentialLR's or ChainedScheduler's dict.</summary>
    internal void LoadPart(SchedulerStateDict d, bool apply) => Load(d, apply);

    /// <summary>The lrs of step <see cref="LastEpoch"/>, one per group (torch's <c>get_lr</c>).</summary>
    protected abstract double[] ComputeLr();

    /// <summary>The closed form at <see cref="LastEpoch"/> (torch's <c>_get_closed_form_lr</c>), or null.</summary>
    protected virtual double[]? ClosedFormLr() => null;

    /// <summary>Group <paramref name="g"/>'s current lr.</summary>
    protected double GroupLr(int g) => Optimizer.Groups[g].Hyperparameters.Lr;

    /// <summary>Every group's current lr times <paramref name="factor"/>.</summary>
    protected double[] Scaled(double factor)
    {
        var lrs = new double[Optimizer.Groups.Count];
        for (int g = 0; g < lrs.Length; g++) lrs[g] = GroupLr(g) * factor;
        return lrs;
    }

    /// <summary>Every group's current lr, unchanged.</summary>
    protected double[] Current() => Optimizer.Groups.Select(g => g.Hyperparameters.Lr).ToArray();

    /// <summary>Writes <paramref name="lrs"/> into the groups and <see cref="LastLr"/>.</summary>
    protected void Apply(double[] lrs)
    {
        for (int g = 0; g < lrs.Length; g++)
        {
            var group = Optimizer.Groups[g];
            if (group.Hyperparameters.Lr != lrs[g]) group.Hyperparameters = group.Hyperparameters with { Lr = lrs[g] };
        }
        LastLr = Optimizer.Groups.Select(x => x.Hyperparameters.Lr).ToArray();
    }

    private protected void CheckGroups()
    {
        if (Optimizer.Groups.Count != BaseLrs.Length)
            throw new InvalidOperationException(
                $"{TorchName}: the optimizer has {Optimizer.Groups.Count} parameter groups, the scheduler was built over {BaseLrs.Length} " +
                "(a group added after the scheduler: build the scheduler after AddParamGroup)");
    }

    /// <summary>The scheduler's state (torch's <c>state_dict()</c>: its attributes, not the optimizer).</summary>
    public SchedulerStateDict StateDict()
    {
        var d = new SchedulerStateDict { Type = TorchName };
        Save(d);
        return d;
    }

    /// <summary>Restores <paramref name="dict"/> (from <see cref="StateDict"/> of a scheduler of the same class and
    /// groups). Validated whole first: a missing key, a wrong class or group count is refused and nothing changes. The
    /// groups' lrs are the optimizer's state (load its <see cref="Optimizer.LoadStateDict"/> too), as in torch.</summary>
    /// <exception cref="ArgumentException">The dict does not fit; nothing changed.</exception>
    public void LoadStateDict(SchedulerStateDict dict)
    {
        ArgumentNullException.ThrowIfNull(dict);
        if (dict.Type != TorchName) throw new ArgumentException($"scheduler state dict: it is of {dict.Type}, this scheduler is {TorchName}; nothing was loaded");
        Load(dict, apply: false);   // validate every key first
        Load(dict, apply: true);
    }

    /// <summary>Writes this scheduler's attributes into <paramref name="d"/> (the base class: last_epoch, _step_count,
    /// base_lrs, _last_lr).</summary>
    protected virtual void Save(SchedulerStateDict d)
    {
        d.Values["last_epoch"] = LastEpoch;
        d.Values["_step_count"] = StepCount;
        d.Lists["base_lrs"] = (double[])BaseLrs.Clone();
        d.Lists["_last_lr"] = (double[])LastLr.Clone();
    }

    /// <summary>Reads what <see cref="Save"/> wrote; with <paramref name="apply"/> false only checks that it is all there.</summary>
    protected virtual void Load(SchedulerStateDict d, bool apply)
    {
        int n = Optimizer.Groups.Count;
        var (epoch, count, bases, last) = (d.GetLong("last_epoch"), d.GetLong("_step_count"), d.GetList("base_lrs", n), d.GetList("_last_lr", n));
        if (apply) (LastEpoch, StepCount, BaseLrs, LastLr) = (epoch, count, bases, last);
    }

    /// <inheritdoc/>
    public override string ToString() => $"{TorchName}({Describe()})";

    /// <summary>The settings, for <see cref="ToString"/> (a run's fingerprint and log).</summary>
    protected abstract string Describe();

    private protected static string F(double x) => x.ToString("R", CultureInfo.InvariantCulture);

    /// <summary>One step's lr factor of the six schedules the trainer's configs name by <c>kind</c> (in
    /// <see cref="Kinds"/>), as a <see cref="LambdaLR"/> function of the epoch (0-based: the lr of step t = epoch + 1 of
    /// <paramref name="total"/>).</summary>
    /// <remarks>
    /// <list type="table">
    /// <item><term>constant</term><description>1</description></item>
    /// <item><term>inv-sqrt-t</term><description>1/√t — the decay of Kingma &amp; Ba's convergence analysis (Theorem 4.1) and of Reddi et al. (2018)</description></item>
    /// <item><term>cosine</term><description>linear warmup over W steps (t/W), then f + (1−f)·½(1 + cos(π·(t−W)/(T−W))), f the final factor (Loshchilov &amp; Hutter 2017, without restarts)</description></item>
    /// <item><term>linear</term><description>warmup, then 1 − (1−f)·(t−W)/(T−W): a straight line to f at t = T</description></item>
    /// <item><term>inverse-sqrt</term><description>warmup, then √(W/t) (Vaswani et al. 2017's "Noam" shape, normalized to 1 at t = W); with W = 0 it is 1/√t</description></item>
    /// <item><term>step</term><description>γ^⌊(t−1)/S⌋: multiplied by γ every S steps (torch's StepLR)</description></item>
    /// </list>
    /// </remarks>
    public static Func<long, double> KindLambda(string kind, long total, long warmup = 0, double final = 0, long stepSize = 1000, double gamma = 0.1)
    {
        ValidateKind(kind, warmup, final, stepSize, gamma);
        return epoch => KindFactor(kind, epoch + 1, total, warmup, final, stepSize, gamma);
    }

    /// <summary>A trainer's scheduler of one of the six <see cref="Kinds"/>: a <see cref="LambdaLR"/> over
    /// <see cref="KindLambda"/>, built once the run's total steps are known (<c>TrainerOptions.Scheduler</c>). The
    /// settings are validated now.</summary>
    /// <exception cref="ArgumentException">An unknown kind or a bad setting, named.</exception>
    public static Func<Optimizer, long, LrScheduler> ForKind(string kind, long warmup = 0, double final = 0, long stepSize = 1000, double gamma = 0.1)
    {
        ValidateKind(kind, warmup, final, stepSize, gamma);
        string name = kind switch
        {
            "constant" or "inv-sqrt-t" => kind,
            "step" => $"step: step_size={stepSize}, gamma={F(gamma)}",
            "inverse-sqrt" => $"inverse-sqrt: warmup={warmup}",
            _ => $"{kind}: warmup={warmup}, final={F(final)}",
        };
        return (optimizer, total) => new LambdaLR(optimizer, KindLambda(kind, total, warmup, final, stepSize, gamma), name);
    }

    /// <summary>The names of <see cref="KindLambda"/>'s schedules.</summary>
    public static readonly IReadOnlyList<string> Kinds = ["constant", "inv-sqrt-t", "cosine", "linear", "inverse-sqrt", "step"];

    /// <summary>Throws with a message naming the bad setting of a <see cref="KindLambda"/> schedule.</summary>
    public static void ValidateKind(string kind, long warmup = 0, double final = 0, long stepSize = 1000, double gamma = 0.1)
    {
        if (!Kinds.Contains(kind)) throw new ArgumentException($"unknown schedule '{kind}'; known schedules: {string.Join(", ", Kinds)}");
        if (warmup < 0) throw new ArgumentException($"schedule warmup must be >= 0, got {warmup}");
        if (!(final >= 0 && final <= 1)) throw new ArgumentException($"schedule final factor must be in [0, 1], got {final}");
        if (stepSize < 1) throw new ArgumentException($"schedule step_size must be >= 1, got {stepSize}");
        if (!(gamma > 0 && gamma <= 1)) throw new ArgumentException($"schedule gamma must be in (0, 1], got {gamma}");
    }

    private static double KindFactor(string kind, long t, long total, long warmup, double final, long stepSize, double gamma)
    {
        switch (kind)
        {
            case "constant": return 1.0;
            case "inv-sqrt-t": return 1.0 / Math.Sqrt(t);
            case "step": return Math.Pow(gamma, (t - 1) / stepSize);
        }
        if (t <= warmup) return (double)t / warmup;
        switch (kind)
        {
            case "inverse-sqrt":
                return warmup == 0 ? 1.0 / Math.Sqrt(t) : Math.Sqrt((double)warmup / t);
            default:   // cosine, linear
                long span = Math.Max(1, total - warmup);
                double progress = Math.Clamp((double)(t - warmup) / span, 0, 1);
                return kind == "cosine"
                    ? final + (1 - final) * 0.5 * (1 + Math.Cos(Math.PI * progress))
                    : 1 - (1 - final) * progress;
        }
    }
}
