using System.Diagnostics;
using System.Globalization;
using CudaAdam.Problems;
using CudaAdam.Training.Data;

namespace CudaAdam.Training;

/// <summary>What a <see cref="ProblemTrainer"/> does: epochs, minibatch size, steps per epoch of a stream, schedule.</summary>
public sealed record ProblemTrainerOptions
{
    public int Epochs { get; init; } = 1;
    /// <summary>B: samples averaged per stochastic gradient (<see cref="Minibatch"/>).</summary>
    public int BatchSize { get; init; } = 1;
    /// <summary>Steps between evaluations for a stream (<see cref="IStochasticProblem.DataSize"/> null); a finite sum
    /// has ⌊n/B⌋ steps per epoch and must leave this null.</summary>
    public int? StepsPerEpoch { get; init; }
    public LrSchedule Schedule { get; init; } = new();
}

/// <summary>
/// Runs an <see cref="Optimizer"/> on an <see cref="IStochasticProblem"/>, the counterpart of <see cref="Trainer"/> for
/// problems without a model: per step the schedule sets every group's lr to <c>base lr · factor(t, T)</c>, the
/// problem gives a stochastic gradient at x (a finite sum: a minibatch drawn without replacement from a shuffled
/// epoch, remainder dropped as in DeepOBS; a stream: B draws from the generator), the optimizer steps, and the problem
/// projects x onto its feasible set. At each epoch's end it records the mean minibatch loss of the epoch as the train
/// loss and F(x) (<see cref="IStochasticProblem.Loss"/>) as the test loss; accuracies are NaN.
/// Same seed, same numbers: all randomness comes from the one generator given (the minibatch order and the noise).
/// Everything that decides the next step — x, the optimizer state, the generator, the sampler's permutation and
/// position, the step count and the epoch's running sums — is in a <see cref="Checkpoint"/>
/// (<see cref="Checkpoint.Save(string, ProblemTrainer, string)"/>), so a resumed run is bitwise identical to an
/// uninterrupted one.
/// </summary>
public sealed class ProblemTrainer
{
    private readonly Hyperparameters[] _baseHyperparameters;
    private readonly float[] _grad;
    private readonly MinibatchSampler? _sampler;
    // The current epoch's running sums and the time before a resume (checkpointed).
    private double _epochLossSum;
    private long _epochSeen;
    private double _elapsedBefore;
    private Stopwatch _clock = new();

    /// <param name="problem">The problem.</param>
    /// <param name="optimizer">Over exactly <paramref name="x"/>; its groups' hyperparameters are the schedule's base rates.</param>
    /// <param name="x">The parameter, of length d (start it at <see cref="IStochasticProblem.InitialPoint"/>).</param>
    /// <param name="options">Epochs, batch size, steps per epoch (streams), schedule.</param>
    /// <param name="rng">The generator of every random draw (minibatch order, noise).</param>
    public ProblemTrainer(IStochasticProblem problem, Optimizer optimizer, Parameter x, ProblemTrainerOptions options, Rng rng)
    {
        Problem = problem ?? throw new ArgumentNullException(nameof(problem));
        Optimizer = optimizer ?? throw new ArgumentNullException(nameof(optimizer));
        X = x ?? throw new ArgumentNullException(nameof(x));
        Options = options ?? throw new ArgumentNullException(nameof(options));
        Rng = rng ?? throw new ArgumentNullException(nameof(rng));
        options.Schedule.Validate();
        if (options.Epochs < 1) throw new ArgumentException($"epochs must be >= 1, got {options.Epochs}");
        if (options.BatchSize < 1) throw new ArgumentException($"batch size must be >= 1, got {options.BatchSize}");
        if (x.Data.Length != problem.Dimension)
            throw new ArgumentException($"the parameter has {x.Data.Length} elements, the problem {problem.Name} has dimension {problem.Dimension}");
        var optParams = optimizer.Groups.SelectMany(g => g.Params).ToArray();
        if (optParams.Length != 1 || !ReferenceEquals(optParams[0], x))
            throw new ArgumentException("the optimizer must hold exactly the problem's parameter x");
        StepsPerEpoch = StepsPerEpochOf(problem, options);
        if (problem.DataSize is int n) _sampler = new MinibatchSampler(n, options.BatchSize, rng);
        _baseHyperparameters = optimizer.Groups.Select(g => g.Hyperparameters).ToArray();
        _grad = new float[problem.Dimension];
    }

    /// <summary>⌊n/B⌋ for a finite sum, else <see cref="ProblemTrainerOptions.StepsPerEpoch"/>.</summary>
    /// <exception cref="ArgumentException">Steps per epoch given for a finite sum or missing for a stream; B &gt; n.</exception>
    public static int StepsPerEpochOf(IStochasticProblem problem, ProblemTrainerOptions options)
    {
        if (problem.DataSize is int n)
        {
            if (options.StepsPerEpoch is not null)
                throw new ArgumentException($"{problem.Name} is a finite sum of {n}: an epoch is ⌊n/B⌋ steps; leave steps per epoch unset");
            if (options.BatchSize > n) throw new ArgumentException($"batch size {options.BatchSize} exceeds the {problem.Name} data size {n}");
            return n / options.BatchSize;
        }
        if (options.StepsPerEpoch is not (>= 1))
            throw new ArgumentException($"{problem.Name} is a stream: give the steps per epoch (between evaluations), >= 1");
        return options.StepsPerEpoch.Value;
    }

    public IStochasticProblem Problem { get; }
    public Optimizer Optimizer { get; }
    public Parameter X { get; }
    public ProblemTrainerOptions Options { get; }
    public Rng Rng { get; }
    public int StepsPerEpoch { get; }
    public long TotalSteps => (long)Options.Epochs * StepsPerEpoch;
    public long Step { get; private set; }
    public int EpochsDone => (int)(Step / StepsPerEpoch);
    public bool Finished => Step >= TotalSteps;
    /// <summary>Wall time spent in <see cref="TrainStep"/> (evaluations excluded), including the time before a resume.</summary>
    public double WallSeconds => _elapsedBefore + _clock.Elapsed.TotalSeconds;
    /// <summary>The base hyperparameters of each group (the schedule scales their lr).</summary>
    public IReadOnlyList<Hyperparameters> BaseHyperparameters => _baseHyperparameters;
    /// <summary>The minibatch sampler of a finite sum (over <see cref="Rng"/>), null for a stream.</summary>
    internal MinibatchSampler? Sampler => _sampler;

    /// <summary>The record before the first step (epoch 0): F(x0).</summary>
    public EpochRecord Initial() => new(0, 0, double.NaN, double.NaN, Problem.Loss(X.Data), double.NaN, 0);

    /// <summary>One step; returns its record (the minibatch loss at x before the step).</summary>
    /// <exception cref="TrainingDivergedException">The minibatch loss is NaN or infinite: the step is not taken; this
    /// trainer must not be stepped again.</exception>
    public StepRecord TrainStep()
    {
        if (Finished) throw new InvalidOperationException($"the run is finished ({TotalSteps} steps)");
        _clock.Start();
        long t = Step + 1;
        double factor = Options.Schedule.Apply(Optimizer, _baseHyperparameters, t, TotalSteps);
        ReadOnlySpan<int> indices = default;
        if (_sampler is not null)
        {
            indices = _sampler.NextBatch();
            if (indices.Length < Options.BatchSize) indices = _sampler.NextBatch(); // drop the remainder (DeepOBS): a new epoch
        }
        double loss = Problem.StochasticGradient(X.Data, _grad, new Minibatch(t, Options.BatchSize, indices), Rng);
        if (!double.IsFinite(loss))
        {
            // Diverged: no step, so x and the optimizer state stay those of step t - 1.
            _clock.Stop();
            throw new TrainingDivergedException(t, loss);
        }
        X.Grad = _grad;
        var result = Optimizer.Step();
        if (result.Skipped)
        {
            // A finite loss with a non-finite gradient (overflow): the optimizer skipped the step, x stays that of t - 1.
            _clock.Stop();
            throw new TrainingDivergedException(t, loss, result.Reason);
        }
        Problem.Project(X.Data);
        _clock.Stop();
        Step = t;
        _epochLossSum += loss;
        _epochSeen++;
        return new StepRecord(t, (int)((t - 1) / StepsPerEpoch) + 1, _baseHyperparameters[0].Lr * factor, loss, WallSeconds);
    }

    /// <summary>At an epoch boundary: mean minibatch loss of the epoch and F(x).</summary>
    public EpochRecord EndEpoch()
    {
        if (Step % StepsPerEpoch != 0 || Step == 0) throw new InvalidOperationException($"step {Step} is not at the end of an epoch");
        var r = new EpochRecord(EpochsDone, Step, _epochLossSum / _epochSeen, double.NaN, Problem.Loss(X.Data), double.NaN, WallSeconds);
        (_epochLossSum, _epochSeen) = (0, 0);
        return r;
    }

    /// <summary>Runs to the end (or until <paramref name="cancel"/>, checked before every step, or until
    /// <paramref name="stopAfterStep"/> steps are done), with the callbacks and one progress line per
    /// <paramref name="progressEvery"/> epochs (and the last).</summary>
    public void Run(Action<StepRecord>? onStep = null, Action<EpochRecord>? onEpoch = null, TextWriter? progress = null,
        string label = "", int progressEvery = 1, CancellationToken cancel = default, long? stopAfterStep = null)
    {
        long stop = Math.Min(TotalSteps, stopAfterStep ?? TotalSteps);
        while (Step < stop && !cancel.IsCancellationRequested)
        {
            var s = TrainStep();
            onStep?.Invoke(s);
            if (Step % StepsPerEpoch != 0) continue;
            var e = EndEpoch();
            onEpoch?.Invoke(e);
            if (progress is null || (e.Epoch % Math.Max(1, progressEvery) != 0 && !Finished)) continue;
            progress.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{label}epoch {e.Epoch}/{Options.Epochs}  step {e.Step}/{TotalSteps}  train loss {e.TrainLoss:G6}  F(x) {e.TestLoss:G6}  {e.WallSeconds:F2} s"));
        }
    }

    /// <summary>The trainer's own state for <see cref="Checkpoint"/>.</summary>
    internal (long Step, double LossSum, long Seen, double Elapsed) Counters => (Step, _epochLossSum, _epochSeen, WallSeconds);

    internal void RestoreCounters(long step, double lossSum, long seen, double elapsed)
    {
        (Step, _epochLossSum, _epochSeen, _elapsedBefore) = (step, lossSum, seen, elapsed);
        _clock = new Stopwatch();
    }
}
