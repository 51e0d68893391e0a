using System.Diagnostics;
using System.Globalization;
using CudaAdam.Training.Data;
using CudaAdam.Training.Layers;
using CudaAdam.Training.Tensors;

namespace CudaAdam.Training;

/// <summary>One optimizer step: its 1-based number, epoch (1-based), learning rate, minibatch loss and wall time.</summary>
public sealed record StepRecord(long Step, int Epoch, double Lr, double Loss, double WallSeconds);

/// <summary>The end of an epoch: mean training loss and accuracy over its minibatches (dropout on, as trained), and
/// the test loss and accuracy (dropout off), NaN when there is no test set. Accuracies are NaN for a model without
/// one (<see cref="ITrainable.HasAccuracy"/>, e.g. the VAE).</summary>
public sealed record EpochRecord(int Epoch, long Step, double TrainLoss, double TrainAccuracy, double TestLoss, double TestAccuracy,
    double WallSeconds);

/// <summary>What a <see cref="Trainer"/> does: epochs, minibatch size, schedule, evaluation batch size.</summary>
/// <summary>A training run met a NaN or infinite minibatch loss, or a non-finite gradient with a finite loss (the lr
/// is too large, typically) at <see cref="Step"/>; that step was not taken (the optimizer skipped it:
/// <see cref="NonFinitePolicy.Skip"/>), so no parameter or state holds a non-finite value.</summary>
public sealed class TrainingDivergedException(long step, double loss, string? gradient = null) : Exception(Describe(step, loss, gradient))
{
    private static string Describe(long step, double loss, string? gradient) =>
        FormattableString.Invariant($"diverged at step {step}: ") +
        (gradient is null ? FormattableString.Invariant($"the minibatch loss is {loss}") : FormattableString.Invariant($"the loss is {loss} but the step met a {gradient}")) +
        "; the step was not taken (lower the lr, or clip the gradients: training.max_grad_norm)";

    public long Step { get; } = step;
    public double Loss { get; } = loss;
}

public sealed record TrainerOptions
{
    public int Epochs { get; init; } = 1;
    public int BatchSize { get; init; } = 128;
    public LrSchedule Schedule { get; init; } = new();
    /// <summary>Rows per forward pass in <see cref="Trainer.Evaluate"/> (memory only; results do not depend on it
    /// beyond float rounding of the GEMM).</summary>
    public int EvalBatchSize { get; init; } = 1000;
}

/// <summary>
/// Trains an <see cref="ITrainable"/> — a classifier (a <see cref="Sequential"/> ending in logits, softmax
/// cross-entropy: <see cref="Classifier"/>) or the VAE (negative ELBO: <see cref="VaeObjective"/>) — with an
/// <see cref="Optimizer"/> on seeded shuffled minibatches. Per step: the schedule sets every group's lr to
/// <c>base lr · factor(t, T)</c>, forward (dropout/noise on), loss, backward, <see cref="Optimizer.Step"/>.
/// Everything that decides the next step — parameters, optimizer state, sampler permutation and position, the
/// shuffling generator and the model's own generator (dropout masks, VAE noise), the step count and the epoch's
/// running sums — is in <see cref="Checkpoint"/>, so a resumed run is bitwise identical to an uninterrupted one.
/// </summary>
public sealed class Trainer
{
    private readonly Hyperparameters[] _baseHyperparameters;
    private readonly float[] _batchX;
    private readonly byte[] _batchY;
    // The current epoch's running sums (checkpointed).
    private double _epochLossSum;
    private long _epochCorrect, _epochSeen;
    private double _elapsedBefore;
    private Stopwatch _clock = new();

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
    {
        Model = model ?? throw new ArgumentNullException(nameof(model));
        Optimizer = optimizer ?? throw new ArgumentNullException(nameof(optimizer));
        Train = train ?? throw new ArgumentNullException(nameof(train));
        Test = test;
        Options = options ?? throw new ArgumentNullException(nameof(options));
        ArgumentNullException.ThrowIfNull(shuffle);
        options.Schedule.Validate();
        if (options.Epochs < 1) throw new ArgumentException($"epochs must be >= 1, got {options.Epochs}");
        if (options.BatchSize < 1) throw new ArgumentException($"batch size must be >= 1, got {options.BatchSize}");
        if (options.EvalBatchSize < 1) throw new ArgumentException($"evaluation batch size must be >= 1, got {options.EvalBatchSize}");
        if (test is not null && (test.Features != train.Features || test.Classes != train.Classes))
            throw new ArgumentException($"test set has {test.Features} features/{test.Classes} classes, training set {train.Features}/{train.Classes}");
        var modelParams = new HashSet<Parameter>(model.Parameters, ReferenceEqualityComparer.Instance);
        var optParams = optimizer.Groups.SelectMany(g => g.Params).ToArray();
        if (optParams.Length != modelParams.Count || !optParams.All(modelParams.Contains))
            throw new ArgumentException("the optimizer must hold exactly the model's parameters");
        Sampler = new MinibatchSampler(train.Count, options.BatchSize, shuffle);
        _baseHyperparameters = optimizer.Groups.Select(g => g.Hyperparameters).ToArray();
        _batchX = new float[options.BatchSize * train.Features];
        _batchY = new byte[options.BatchSize];
        if (engine is not null && model is not Classifier)
            throw new ArgumentException($"the device path (engine) trains classifiers only; {model.LossName} runs on the CPU layers (engine: null)");
        Engine = engine;
    }

    /// <summary>The device engine the steps run on, or null on the CPU path.</summary>
    public Device.ITrainEngine? Engine { get; }

    public ITrainable Model { get; }
    public Optimizer Optimizer { get; }
    public Dataset Train { get; }
    public Dataset? Test { get; }
    public TrainerOptions Options { get; }
    public MinibatchSampler Sampler { get; }
    /// <summary>The model's own generator (dropout masks, VAE noise), saved in checkpoints; null when it has none.</summary>
    public Rng? DropoutRng => Model.Generator;
    /// <summary>The base hyperparameters of each group (the schedule scales their lr).</summary>
    public IReadOnlyList<Hyperparameters> BaseHyperparameters => _baseHyperparameters;
    /// <summary>Steps taken so far.</summary>
    public long Step { get; private set; }
    public int StepsPerEpoch => Sampler.BatchesPerEpoch;
    public long TotalSteps => (long)Options.Epochs * StepsPerEpoch;
    /// <summary>Whole epochs completed.</summary>
    public int EpochsDone => (int)(Step / StepsPerEpoch);
    public bool Finished => Step >= TotalSteps;
    /// <summary>Wall time spent in <see cref="TrainStep"/> so far (evaluation, callbacks and checkpoints excluded),
    /// including the time before a resume.</summary>
    public double WallSeconds => _elapsedBefore + _clock.Elapsed.TotalSeconds;

    /// <summary>Takes one optimizer step on the next minibatch.</summary>
    /// <exception cref="TrainingDivergedException">The minibatch loss is NaN or infinite: the step is not taken (the
    /// model and optimizer state are those before it); this trainer must not be stepped again.</exception>
    public StepRecord TrainStep()
    {
        if (Finished) throw new InvalidOperationException($"training is finished ({TotalSteps} steps)");
        _clock.Start();
        long t = Step + 1;
        double factor = Options.Schedule.Apply(Optimizer, _baseHyperparameters, t, TotalSteps);

        var idx = Sampler.NextBatch();
        int n = idx.Length, f = Train.Features;
        Train.Gather(idx, _batchX, _batchY);
        if (Engine is not null)
        {
            var lrs = Optimizer.Groups.Select(g => g.Hyperparameters.Lr).ToArray();
            var (dloss, dcorrect) = Engine.TrainStep(_batchX, _batchY, n, t, lrs);
            _clock.Stop();
            // A non-finite loss comes with non-finite gradients, which the fused step's check skips (state unchanged).
            if (!double.IsFinite(dloss)) throw new TrainingDivergedException(t, dloss);
            return Record(t, factor, dloss, dcorrect, n);
        }
        var x = new Tensor(n == Options.BatchSize ? _batchX : _batchX.AsSpan(0, n * f).ToArray(), n, f);
        var (loss, correct) = Model.TrainBatch(x, _batchY.AsSpan(0, n));
        if (!double.IsFinite(loss))
        {
            // Diverged: no optimizer step, so the weights and optimizer state stay those of step t - 1 (the gradients
            // just computed are discarded).
            _clock.Stop();
            throw new TrainingDivergedException(t, loss);
        }
        var result = Optimizer.Step();
        _clock.Stop();
        if (result.Skipped) throw new TrainingDivergedException(t, loss, result.Reason);
        return Record(t, factor, loss, correct, n);
    }

    private StepRecord Record(long t, double factor, double loss, long correct, int n)
    {
        Step = t;
        _epochLossSum += loss * n;
        _epochCorrect += correct;
        _epochSeen += n;
        return new StepRecord(t, (int)((t - 1) / StepsPerEpoch) + 1, _baseHyperparameters[0].Lr * factor, loss, WallSeconds);
    }

    /// <summary>At an epoch boundary: the epoch's record (with a test evaluation) and a reset of the running sums.</summary>
    public EpochRecord EndEpoch()
    {
        if (Step % StepsPerEpoch != 0 || Step == 0) throw new InvalidOperationException($"step {Step} is not at the end of an epoch");
        var (testLoss, testAcc) = Test is null ? (double.NaN, double.NaN) : Evaluate(Test);
        double trainAcc = Model.HasAccuracy ? (double)_epochCorrect / _epochSeen : double.NaN;
        var r = new EpochRecord(EpochsDone, Step, _epochLossSum / _epochSeen, trainAcc, testLoss, testAcc, WallSeconds);
        (_epochLossSum, _epochCorrect, _epochSeen) = (0, 0, 0);
        return r;
    }

    /// <summary>Mean loss and accuracy of the model on <paramref name="data"/>, dropout off (accuracy NaN for a model
    /// without one).</summary>
    public (double Loss, double Accuracy) Evaluate(Dataset data)
    {
        double lossSum = 0;
        long correct = 0;
        Model.BeginEvaluation();
        for (int start = 0; start < data.Count; start += Options.EvalBatchSize)
        {
            int n = Math.Min(Options.EvalBatchSize, data.Count - start);
            if (Engine is not null)
            {
                var (dloss, dc) = Engine.Evaluate(data.Inputs.AsSpan(start * data.Features, n * data.Features), data.Labels.AsSpan(start, n), n);
                lossSum += dloss * n;
                correct += dc;
                continue;
            }
            var x = new Tensor(data.Inputs.AsSpan(start * data.Features, n * data.Features).ToArray(), n, data.Features);
            var (loss, c) = Model.EvaluateBatch(x, data.Labels.AsSpan(start, n));
            lossSum += loss * n;
            correct += c;
        }
        return (lossSum / data.Count, Model.HasAccuracy ? (double)correct / data.Count : double.NaN);
    }

    /// <summary>
    /// Runs until the last step or until <paramref name="stopAfterStep"/> steps are done (for checkpoint/resume).
    /// Calls <paramref name="onStep"/> after every step and <paramref name="onEpoch"/> at every epoch's end, and writes
    /// one progress line per epoch to <paramref name="progress"/>: epoch, losses, accuracy, time and ETA.
    /// </summary>
    /// <param name="onStep">Called after every step.</param>
    /// <param name="onEpoch">Called at every epoch's end, after the test evaluation.</param>
    /// <param name="progress">Receives one line per epoch.</param>
    /// <param name="label">Prefix of the progress lines.</param>
    /// <param name="stopAfterStep">Stop when this many steps are done (the run can be resumed from a checkpoint).</param>
    /// <param name="laterSteps">Steps of work queued after this run (a job's remaining optimizers), counted in the
    /// ETA at this run's pace.</param>
    /// <param name="cancel">Checked before every step: when set, the run stops at a step boundary (save a checkpoint
    /// to continue later).</param>
    public void Run(Action<StepRecord>? onStep = null, Action<EpochRecord>? onEpoch = null, TextWriter? progress = null,
        string label = "", long? stopAfterStep = null, long laterSteps = 0, CancellationToken cancel = default)
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
            if (progress is null) continue;
            double perStep = (WallSeconds - startWall) / (Step - startStep);
            double eta = perStep * (TotalSteps - Step + laterSteps);
            // ETA (of the whole job when laterSteps is given) from the training steps' time only; evaluation adds a little per epoch.
            progress.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{label}epoch {e.Epoch}/{Options.Epochs}  step {e.Step}/{TotalSteps}  train loss {e.TrainLoss:F4}  " +
                $"test loss {e.TestLoss:F4}  {(Model.HasAccuracy ? $"test acc {100 * e.TestAccuracy:F2}%  " : "")}{e.WallSeconds:F1} s  ETA {eta:F1} s"));
        }
    }

    /// <summary>The trainer's own state for <see cref="Checkpoint"/>.</summary>
    internal (long Step, double LossSum, long Correct, long Seen, double Elapsed) Counters =>
        (Step, _epochLossSum, _epochCorrect, _epochSeen, WallSeconds);

    /// <summary>Device path: copies parameters and optimizer state to the host model and optimizer (before a checkpoint
    /// is written). Nothing to do on the CPU path.</summary>
    internal void SyncToHost() => Engine?.PullToHost();

    /// <summary>Device path: copies the host model and optimizer (just restored from a checkpoint) to the device.</summary>
    internal void SyncFromHost() => Engine?.PushFromHost();

    internal void RestoreCounters(long step, double lossSum, long correct, long seen, double elapsed)
    {
        (Step, _epochLossSum, _epochCorrect, _epochSeen, _elapsedBefore) = (step, lossSum, correct, seen, elapsed);
        _clock = new Stopwatch();
    }
}
