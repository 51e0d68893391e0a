#pragma warning disable CS1591 // CS1591 backlog (issue 13): 9 public members here have no XML doc yet; document them, then delete this line
using System.Diagnostics;
using System.Globalization;
using CudaAdam.Problems;
using CudaAdam.Training.Data;
using CudaAdam.Training.Layers;

namespace CudaAdam.Training;

/// <summary>One optimizer step: its 1-based number, epoch (1-based), learning rate, minibatch loss and wall time.</summary>
public sealed record StepRecord(long Step, int Epoch, double Lr, double Loss, double WallSeconds);

/// <summary>The end of an epoch: mean training loss and accuracy over its minibatches (dropout on, as trained), and
/// the test loss and accuracy (dropout off), NaN when there is no test set. Accuracies are NaN for a model without
/// one (<see cref="ITrainable.HasAccuracy"/>, e.g. the VAE).</summary>
public sealed record EpochRecord(int Epoch, long Step, double TrainLoss, double TrainAccuracy, double TestLoss, double TestAccuracy,
    double WallSeconds);

/// <summary>A training run met a NaN or infinite minibatch loss, or a non-finite gradient with a finite loss (the lr
/// is too large, typically) at <see cref="Step"/>; that step was not taken (the optimizer skipped it:
/// <see cref="NonFinitePolicy.Skip"/>), so no parameter or state holds a non-finite value. <see cref="Reason"/> says
/// which.</summary>
public sealed class TrainingDivergedException(long step, double loss, string reason)
    : Exception(string.Create(CultureInfo.InvariantCulture,
        $"diverged at step {step}: {reason}; the step was not taken (lower the lr, or clip the gradients: training.max_grad_norm)"))
{
    public TrainingDivergedException(long step, double loss)
        : this(step, loss, string.Create(CultureInfo.InvariantCulture, $"the minibatch loss is {loss}")) { }

    public long Step { get; } = step;
    /// <summary>The minibatch loss at the step (finite when a gradient was not).</summary>
    public double Loss { get; } = loss;
    public string Reason { get; } = reason;
}

/// <summary>What a <see cref="Trainer"/> does: epochs, minibatch size, steps per epoch of a stream, schedule,
/// evaluation batch size, and what else identifies the run.</summary>
public sealed record TrainerOptions
{
    public int Epochs { get; init; } = 1;
    /// <summary>B: rows of a model's minibatch, or samples averaged per stochastic gradient of a problem.</summary>
    public int BatchSize { get; init; } = 128;
    /// <summary>Steps between evaluations for a stream problem (<see cref="IStochasticProblem.DataSize"/> null); a
    /// finite sum has ⌊n/B⌋ steps per epoch and a model ⌈n/B⌉: leave it null for them.</summary>
    public int? StepsPerEpoch { get; init; }
    /// <summary>Builds the run's learning-rate scheduler over the optimizer, given the run's total steps (null: a constant
    /// lr). Any <see cref="LrScheduler"/> that steps per optimizer step: <c>(opt, total) => new CosineAnnealingLR(opt, total)</c>,
    /// or one of the configs' six kinds, <see cref="LrScheduler.ForKind"/>. The trainer calls its <see cref="LrScheduler.Step"/>
    /// after every optimizer step (torch's order); a resumed run rebuilds it and replays it to the checkpoint's step.</summary>
    public Func<Optimizer, long, LrScheduler>? Scheduler { get; init; }
    /// <summary>Rows per forward pass when a model is evaluated (memory only; results do not depend on it beyond
    /// float rounding of the GEMM).</summary>
    public int EvalBatchSize { get; init; } = 1000;
    /// <summary>What identifies the run besides what the trainer sees (a job passes its seed, data source, backend and
    /// non-default config settings): part of the checkpoint's fingerprint, compared field by field on load.</summary>
    public IReadOnlyList<(string Field, string Value)> Run { get; init; } = [];
}

/// <summary>
/// Trains an <see cref="IObjective"/> with an <see cref="Optimizer"/>: a model on data (<see cref="ModelObjective"/>:
/// a classifier — a <see cref="Sequential"/> ending in logits, softmax cross-entropy — or the VAE, on seeded shuffled
/// minibatches) or a stochastic problem (<see cref="ProblemObjective"/>). Per step: the objective gives the loss and
/// gradients of the next minibatch, the optimizer steps, the objective projects, the scheduler
/// (<see cref="TrainerOptions.Scheduler"/>) sets every group's lr for the next step. At an epoch's end: the epoch's mean training loss (and accuracy) and the objective's
/// evaluation. One records, progress, divergence and checkpoint path for both: everything that decides the next step —
/// parameters, optimizer state, sampler, generators, the step count and the epoch's running sums — is in a
/// <see cref="Checkpoint"/>, so a resumed run is bitwise identical to an uninterrupted one.
/// </summary>
public sealed class Trainer
{
    private readonly Hyperparameters[] _baseHyperparameters;
    private LrScheduler? _scheduler;
    // The current epoch's running sums (checkpointed).
    private double _epochLossSum;
    private long _epochCorrect, _epochSeen;
    private double _elapsedBefore;
    private Stopwatch _clock = new();
    // The device engine's count of skipped steps when last read (a new skip ends the run).

    /// <param name="model">Maps [batch, train.Features] to [batch, train.Classes] logits.</param>
    /// <param name="optimizer">Over the model's parameters; its groups' current hyperparameters are the base rates of
    /// the schedule.</param>
    /// <param name="train">The training set.</param>
    /// <param name="test">Evaluated at the end of each epoch, or null.</param>
    /// <param name="options">Epochs, batch size, schedule.</param>
    /// <param name="shuffle">The minibatch generator.</param>
    /// <param name="dropout">The generator the model's dropout layers draw from (saved in checkpoints), or null when
    /// the model has no dropout.</param>
    /// <param name="engine">Where the steps run: null for the CPU layers and <paramref name="optimizer"/>'s backend;
    /// a <see cref="Device.DeviceEngine"/> for the device path (built over this model and optimizer; the trainer
    /// does not own it). Sampler, schedule, records and checkpoints are the same either way.</param>
    public Trainer(Sequential model, Optimizer optimizer, Dataset train, Dataset? test, TrainerOptions options, Rng shuffle, Rng? dropout,
        Device.ITrainEngine? engine = null)
        : this(new Classifier(model ?? throw new ArgumentNullException(nameof(model)), dropout), optimizer, train, test, options, shuffle, engine)
    {
    }

    /// <param name="model">The model and its loss.</param>
    /// <param name="optimizer">Over the model's parameters; its groups' current hyperparameters are the base rates of
    /// the schedule.</param>
    /// <param name="train">The training set.</param>
    /// <param name="test">Evaluated at the end of each epoch, or null.</param>
    /// <param name="options">Epochs, batch size, schedule.</param>
    /// <param name="shuffle">The minibatch generator.</param>
    /// <param name="engine">The device path (<see cref="Device.DeviceEngine"/>), only for a <see cref="Classifier"/>;
    /// null for the CPU layers.</param>
    public Trainer(ITrainable model, Optimizer optimizer, Dataset train, Dataset? test, TrainerOptions options, Rng shuffle,
        Device.ITrainEngine? engine = null)
        : this(new ModelObjective(model, train, test, Validated(options).BatchSize, options.EvalBatchSize, shuffle, engine), optimizer, options)
    {
        if (options.StepsPerEpoch is not null)
            throw new ArgumentException("steps per epoch is for a stream problem; a model's epoch is one pass over its training set");
    }

    /// <param name="problem">The problem.</param>
    /// <param name="optimizer">Over exactly <paramref name="x"/>; its groups' hyperparameters are the schedule's base rates.</param>
    /// <param name="x">The parameter, of length d (start it at <see cref="IStochasticProblem.InitialPoint"/>).</param>
    /// <param name="options">Epochs, batch size, steps per epoch (streams), schedule.</param>
    /// <param name="rng">The generator of every random draw (minibatch order, noise).</param>
    public Trainer(IStochasticProblem problem, Optimizer optimizer, Parameter x, TrainerOptions options, Rng rng)
        : this(new ProblemObjective(problem, x, Validated(options), rng), optimizer, options)
    {
    }

    private Trainer(IObjective objective, Optimizer optimizer, TrainerOptions options)
    {
        Objective = objective;
        Optimizer = optimizer ?? throw new ArgumentNullException(nameof(optimizer));
        Options = options;
        var own = new HashSet<Parameter>(objective.Parameters, ReferenceEqualityComparer.Instance);
        var optParams = optimizer.Groups.SelectMany(g => g.Params).ToArray();
        if (optParams.Length != own.Count || !optParams.All(own.Contains))
            throw new ArgumentException(objective is ProblemObjective
                ? "the optimizer must hold exactly the problem's parameter x"
                : "the optimizer must hold exactly the model's parameters");
        _baseHyperparameters = optimizer.Groups.Select(g => g.Hyperparameters).ToArray();
        Engine = (objective as ModelObjective)?.Engine;
        _scheduler = Options.Scheduler?.Invoke(optimizer, TotalSteps);
    }

    /// <summary>The run's scheduler (<see cref="TrainerOptions.Scheduler"/>), or null for a constant lr.</summary>
    public LrScheduler? Scheduler => _scheduler;

    private static TrainerOptions Validated(TrainerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Epochs < 1) throw new ArgumentException($"epochs must be >= 1, got {options.Epochs}");
        if (options.BatchSize < 1) throw new ArgumentException($"batch size must be >= 1, got {options.BatchSize}");
        return options;
    }

    /// <summary>What is trained: a <see cref="ModelObjective"/> or a <see cref="ProblemObjective"/>.</summary>
    public IObjective Objective { get; }
    /// <summary>The device engine the steps run on (a model run's), or null on the host path.</summary>
    public Device.ITrainEngine? Engine { get; }
    public Optimizer Optimizer { get; }
    public TrainerOptions Options { get; }
    /// <summary>The objective's parameters (the optimizer holds exactly these).</summary>
    public IReadOnlyList<Parameter> Parameters => Objective.Parameters;
    /// <summary>The objective's minibatch sampler; null for a stream problem.</summary>
    public MinibatchSampler? Sampler => Objective.Sampler;
    /// <summary>The base hyperparameters of each group (the schedule scales their lr).</summary>
    public IReadOnlyList<Hyperparameters> BaseHyperparameters => _baseHyperparameters;
    /// <summary>Steps taken so far.</summary>
    public long Step { get; private set; }
    public int StepsPerEpoch => Objective.StepsPerEpoch;
    public long TotalSteps => (long)Options.Epochs * StepsPerEpoch;
    /// <summary>Whole epochs completed.</summary>
    public int EpochsDone => (int)(Step / StepsPerEpoch);
    public bool Finished => Step >= TotalSteps;
    /// <summary>Wall time spent in <see cref="TrainStep"/> so far (evaluation, callbacks and checkpoints excluded),
    /// including the time before a resume.</summary>
    public double WallSeconds => _elapsedBefore + _clock.Elapsed.TotalSeconds;

    /// <summary>What identifies the run: the objective's fields, the optimizer and its hyperparameters, the training
    /// settings, then <see cref="TrainerOptions.Run"/>. Checkpoints store it and refuse a mismatch, naming the field.</summary>
    public IReadOnlyList<(string Field, string Value)> Fingerprint
    {
        get
        {
            var inv = CultureInfo.InvariantCulture;
            return
            [
                ("kind", Objective.Kind),
                .. Objective.Fingerprint,
                ("optimizer", Optimizer.Algorithm.Name()),
                ("hyperparameters", string.Join("\n", _baseHyperparameters.Select(h => h.ToString()))),
                ("max gradient norm", Optimizer.MaxGradNorm is { } c ? c.ToString("R", inv) : "none"),
                ("batch size", Options.BatchSize.ToString(inv)),
                ("epochs", Options.Epochs.ToString(inv)),
                ("steps per epoch", StepsPerEpoch.ToString(inv)),
                ("schedule", _scheduler?.ToString() ?? "constant"),
                .. Options.Run,
            ];
        }
    }

    /// <summary>The objective's evaluation at the optimizer's evaluation point: Schedule-Free's x (the reference's
    /// <c>optimizer.eval()</c> before, <c>optimizer.train()</c> after, as its README asks); the parameters themselves
    /// for every other algorithm (both calls are no-ops).</summary>
    private (double Loss, double Accuracy) EvaluateAtEvalPoint()
    {
        Optimizer.Eval();
        try { return Objective.Evaluate(); }
        finally { Optimizer.Train(); }
    }

    /// <summary>The record before the first step (epoch 0): the objective's evaluation at the initial parameters.</summary>
    public EpochRecord Initial()
    {
        var (loss, accuracy) = EvaluateAtEvalPoint();
        return new EpochRecord(0, 0, double.NaN, double.NaN, loss, accuracy, 0);
    }

    /// <summary>Takes one optimizer step on the next minibatch; returns its record (the minibatch loss at the
    /// parameters before the step).</summary>
    /// <exception cref="TrainingDivergedException">The minibatch loss is NaN or infinite, or the optimizer skipped the
    /// step for a non-finite gradient (on the device path: the fused step's check skipped it): the step is not taken
    /// (the parameters and optimizer state are those before it); this trainer must not be stepped again.</exception>
    /// <exception cref="NonFiniteGradientException">A non-finite gradient under <see cref="NonFinitePolicy.Error"/>
    /// (nothing changed).</exception>
    public StepRecord TrainStep()
    {
        if (Finished) throw new InvalidOperationException($"training is finished ({TotalSteps} steps)");
        _clock.Start();
        long t = Step + 1;
        double lr = Optimizer.Groups[0].Hyperparameters.Lr;
        BatchLoss b;
        if (Engine is not null)
        {
            // A non-finite loss comes with non-finite gradients, which the fused step's check skips (state unchanged).
            try { b = ((ModelObjective)Objective).StepOnDevice(t, Optimizer.Groups.Select(g => g.Hyperparameters.Lr).ToArray()); }
            catch (TrainingDivergedException)
            {
                _clock.Stop();
                throw;
            }
            StopIfDiverged(t, b.Loss);
            // The gradients stay on the device; the engine steps an Optimizer over a device-resident backend, whose
            // check skips a step with a non-finite gradient: DeviceEngine.TrainStep then throws TrainingDivergedException.
        }
        else
        {
            b = Objective.Gradient(t);
            // Diverged: no optimizer step, so the parameters and optimizer state stay those of step t - 1 (the
            // gradients just computed are discarded).
            StopIfDiverged(t, b.Loss);
            // The step contract checks the gradients: under the default policy (skip) a non-finite one leaves the
            // parameters and state untouched and says where it was; the run ends there.
            var result = Optimizer.Step();
            if (result.Skipped)
                Diverged(t, b.Loss, string.Create(CultureInfo.InvariantCulture, $"{result.Reason} while the minibatch loss is {b.Loss}"));
            Objective.AfterStep();
        }
        _scheduler?.Step();
        _clock.Stop();
        Step = t;
        _epochLossSum += b.Loss * b.Weight;
        _epochCorrect += b.Correct;
        _epochSeen += b.Weight;
        return new StepRecord(t, (int)((t - 1) / StepsPerEpoch) + 1, lr, b.Loss, WallSeconds);
    }

    private void StopIfDiverged(long t, double loss)
    {
        if (!double.IsFinite(loss)) Diverged(t, loss, string.Create(CultureInfo.InvariantCulture, $"the minibatch loss is {loss}"));
    }

    private void Diverged(long t, double loss, string reason)
    {
        _clock.Stop();
        throw new TrainingDivergedException(t, loss, reason);
    }

    /// <summary>At an epoch boundary: the epoch's record (with the objective's evaluation) and a reset of the running sums.</summary>
    public EpochRecord EndEpoch()
    {
        if (Step % StepsPerEpoch != 0 || Step == 0) throw new InvalidOperationException($"step {Step} is not at the end of an epoch");
        var (testLoss, testAcc) = EvaluateAtEvalPoint();
        double trainAcc = Objective.HasAccuracy ? (double)_epochCorrect / _epochSeen : double.NaN;
        var r = new EpochRecord(EpochsDone, Step, _epochLossSum / _epochSeen, trainAcc, testLoss, testAcc, WallSeconds);
        (_epochLossSum, _epochCorrect, _epochSeen) = (0, 0, 0);
        return r;
    }

    /// <summary>
    /// Runs until the last step or until <paramref name="stopAfterStep"/> steps are done (for checkpoint/resume).
    /// Calls <paramref name="onStep"/> after every step and <paramref name="onEpoch"/> at every epoch's end, and writes
    /// one progress line per <paramref name="progressEvery"/> epochs (and the last) to <paramref name="progress"/>:
    /// epoch, step, the objective's numbers, time and ETA.
    /// </summary>
    /// <param name="onStep">Called after every step.</param>
    /// <param name="onEpoch">Called at every epoch's end, after the evaluation.</param>
    /// <param name="progress">Receives the progress lines.</param>
    /// <param name="label">Prefix of the progress lines.</param>
    /// <param name="stopAfterStep">Stop when this many steps are done (the run can be resumed from a checkpoint).</param>
    /// <param name="laterSteps">Steps of work queued after this run (a job's remaining optimizers), counted in the
    /// ETA at this run's pace.</param>
    /// <param name="progressEvery">A progress line every this many epochs (and after the last).</param>
    /// <param name="cancel">Checked before every step: when set, the run stops at a step boundary (save a checkpoint
    /// to continue later).</param>
    public void Run(Action<StepRecord>? onStep = null, Action<EpochRecord>? onEpoch = null, TextWriter? progress = null,
        string label = "", long? stopAfterStep = null, long laterSteps = 0, int progressEvery = 1, CancellationToken cancel = default)
    {
        long stop = Math.Min(TotalSteps, stopAfterStep ?? TotalSteps);
        long startStep = Step;
        double startWall = WallSeconds;
        while (Step < stop && !cancel.IsCancellationRequested)
        {
            var s = TrainStep();
            onStep?.Invoke(s);
            if (Step % StepsPerEpoch != 0) continue;
            var e = EndEpoch();
            onEpoch?.Invoke(e);
            if (progress is null || (e.Epoch % Math.Max(1, progressEvery) != 0 && !Finished)) continue;
            double perStep = (WallSeconds - startWall) / (Step - startStep);
            double eta = perStep * (TotalSteps - Step + laterSteps);
            // ETA (of the whole job when laterSteps is given) from the training steps' time only; evaluation adds a little per epoch.
            progress.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{label}epoch {e.Epoch}/{Options.Epochs}  step {e.Step}/{TotalSteps}  {Objective.Progress(e)}  {e.WallSeconds:F2} s  ETA {eta:F1} s"));
        }
    }

    /// <summary>The trainer's own state for <see cref="Checkpoint"/>: the step count, the epoch's running sums, and the
    /// wall time so far.</summary>
    internal (long Step, double LossSum, long Correct, long Seen, double Elapsed) Counters =>
        (Step, _epochLossSum, _epochCorrect, _epochSeen, WallSeconds);

    /// <summary>Device path: copies parameters and optimizer state to the host model and optimizer (before a checkpoint
    /// is written). Nothing to do on the host path.</summary>
    internal void SyncToHost() => Engine?.PullToHost();

    /// <summary>Device path: copies the host model and optimizer (just restored from a checkpoint) to the device.</summary>
    internal void SyncFromHost() => Engine?.PushFromHost();

    internal void RestoreCounters(long step, double lossSum, long correct, long seen, double elapsed)
    {
        (Step, _epochLossSum, _epochCorrect, _epochSeen, _elapsedBefore) = (step, lossSum, correct, seen, elapsed);
        _clock = new Stopwatch();
        if (Options.Scheduler is null) return;
        // The scheduler is a function of the steps taken: rebuild it from the base lrs and replay it to this step, so
        // the groups' lrs (and the scheduler's own state) are what the uninterrupted run had here.
        for (int g = 0; g < Optimizer.Groups.Count; g++)
        {
            Optimizer.Groups[g].Hyperparameters = Optimizer.Groups[g].Hyperparameters with { Lr = _baseHyperparameters[g].Lr };
            Optimizer.Groups[g].InitialLr = null;
        }
        _scheduler = Options.Scheduler(Optimizer, TotalSteps);
        for (long i = 0; i < step; i++) _scheduler.Step();
    }
}
