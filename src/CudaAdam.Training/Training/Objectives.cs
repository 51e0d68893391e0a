#pragma warning disable CS1591 // CS1591 backlog (issue 13): 28 public members here have no XML doc yet; document them, then delete this line
using System.Globalization;
using CudaAdam.Problems;
using CudaAdam.Training.Data;
using CudaAdam.Training.Tensors;

namespace CudaAdam.Training;

/// <summary>One minibatch's loss: the mean loss, the correct predictions (0 for an objective without accuracy), and the
/// minibatch's weight in its epoch's mean training loss (rows for a model on data, 1 for a problem's step).</summary>
public readonly record struct BatchLoss(double Loss, long Correct, int Weight);

/// <summary>
/// What a <see cref="Trainer"/> minimizes: a model on data (<see cref="ModelObjective"/>) or a stochastic problem
/// (<see cref="ProblemObjective"/>). Per step the trainer asks for the loss and gradients of the next minibatch
/// (<see cref="Gradient"/>), steps the optimizer, and calls <see cref="AfterStep"/>; at an epoch's end it asks for
/// <see cref="Evaluate"/>. Everything of the objective that decides the next step — its parameters, its sampler and
/// its generators — is what a <see cref="Checkpoint"/> saves of it.
/// </summary>
public interface IObjective
{
    /// <summary>The checkpoint kind: <c>model</c> or <c>problem</c>.</summary>
    string Kind { get; }
    /// <summary>The parameters, in a fixed order (checkpoints store them in this order).</summary>
    IReadOnlyList<Parameter> Parameters { get; }
    int StepsPerEpoch { get; }
    /// <summary>Whether <see cref="BatchLoss.Correct"/> and the evaluation's accuracy mean something.</summary>
    bool HasAccuracy { get; }
    /// <summary>The minibatch sampler over a finite data set, or null (a stream).</summary>
    MinibatchSampler? Sampler { get; }
    /// <summary>Every generator the run draws from (the sampler's included), by name, in a fixed order.</summary>
    IReadOnlyList<(string Name, Rng Rng)> Generators { get; }
    /// <summary>The objective's part of the run's fingerprint (checkpoints refuse a mismatch, naming the field).</summary>
    IReadOnlyList<(string Field, string Value)> Fingerprint { get; }
    /// <summary>The loss of the next minibatch at the current parameters, with every <see cref="Parameter.Grad"/> set.</summary>
    BatchLoss Gradient(long step);
    /// <summary>After an optimizer step (a problem projects onto its feasible set).</summary>
    void AfterStep();
    /// <summary>The test loss and accuracy at the current parameters (NaN where there is none).</summary>
    (double Loss, double Accuracy) Evaluate();
    /// <summary>An epoch's numbers for the progress line, e.g. <c>train loss 0.5123  test loss 0.5234  test acc 81.20%</c>.</summary>
    string Progress(EpochRecord e);
}

/// <summary>
/// A model on data: an <see cref="ITrainable"/> (a classifier, or the VAE) on seeded shuffled minibatches of a training
/// set, evaluated on a test set. With a device engine (<see cref="Device.ITrainEngine"/>) the steps run whole on the
/// device: the trainer calls <see cref="StepOnDevice"/> instead of <see cref="Gradient"/> and the optimizer step.
/// </summary>
public sealed class ModelObjective : IObjective
{
    private readonly float[] _batchX;
    private readonly byte[] _batchY;
    private readonly int _evalBatchSize;

    internal ModelObjective(ITrainable model, Dataset train, Dataset? test, int batchSize, int evalBatchSize, Rng shuffle, Device.ITrainEngine? engine)
    {
        Model = model ?? throw new ArgumentNullException(nameof(model));
        Train = train ?? throw new ArgumentNullException(nameof(train));
        ArgumentNullException.ThrowIfNull(shuffle);
        if (evalBatchSize < 1) throw new ArgumentException($"evaluation batch size must be >= 1, got {evalBatchSize}");
        if (test is not null && (test.Features != train.Features || test.Classes != train.Classes))
            throw new ArgumentException($"test set has {test.Features} features/{test.Classes} classes, training set {train.Features}/{train.Classes}");
        if (engine is not null && model is not Classifier)
            throw new ArgumentException($"the device path (engine) trains classifiers only; {model.LossName} runs on the CPU layers (engine: null)");
        Test = test;
        Engine = engine;
        Sampler = new MinibatchSampler(train.Count, batchSize, shuffle);
        _evalBatchSize = evalBatchSize;
        _batchX = new float[batchSize * train.Features];
        _batchY = new byte[batchSize];
    }

    public string Kind => "model";
    public ITrainable Model { get; }
    public Dataset Train { get; }
    public Dataset? Test { get; }
    /// <summary>The device engine the steps run on, or null on the CPU path.</summary>
    public Device.ITrainEngine? Engine { get; }
    public MinibatchSampler Sampler { get; }
    MinibatchSampler? IObjective.Sampler => Sampler;
    /// <summary>The model's own generator (dropout masks, VAE noise); null when it has none.</summary>
    public Rng? DropoutRng => Model.Generator;
    public IReadOnlyList<Parameter> Parameters => Model.Parameters;
    public int StepsPerEpoch => Sampler.BatchesPerEpoch;
    public bool HasAccuracy => Model.HasAccuracy;

    public IReadOnlyList<(string Name, Rng Rng)> Generators =>
        Model.Generator is { } g ? [("shuffle", Sampler.Rng), ("model", g)] : [("shuffle", Sampler.Rng)];

    public IReadOnlyList<(string Field, string Value)> Fingerprint =>
    [
        ("model", Model.Describe()),
        ("training set size", Train.Count.ToString(CultureInfo.InvariantCulture)),
        ("test set size", Test?.Count.ToString(CultureInfo.InvariantCulture) ?? "none"),
    ];

    public BatchLoss Gradient(long step)
    {
        int n = NextBatch();
        int f = Train.Features;
        var x = new Tensor(n == Sampler.BatchSize ? _batchX : _batchX.AsSpan(0, n * f).ToArray(), n, f);
        var (loss, correct) = Model.TrainBatch(x, _batchY.AsSpan(0, n));
        return new BatchLoss(loss, correct, n);
    }

    /// <summary>The device path: forward, backward and the fused optimizer step of the next minibatch on
    /// <see cref="Engine"/>, with learning rate <paramref name="lrs"/>[g] for group g.</summary>
    internal BatchLoss StepOnDevice(long step, IReadOnlyList<double> lrs)
    {
        var engine = Engine ?? throw new InvalidOperationException("no device engine: the steps run on the CPU layers");
        int n = NextBatch();
        var (loss, correct) = engine.TrainStep(_batchX, _batchY, n, step, lrs);
        return new BatchLoss(loss, correct, n);
    }

    /// <summary>Gathers the next minibatch into the batch buffers; returns its rows.</summary>
    private int NextBatch()
    {
        var idx = Sampler.NextBatch();
        Train.Gather(idx, _batchX, _batchY);
        return idx.Length;
    }

    public void AfterStep() { }

    public (double Loss, double Accuracy) Evaluate() => Test is null ? (double.NaN, double.NaN) : Evaluate(Test);

    /// <summary>Mean loss and accuracy of the model on <paramref name="data"/>, dropout off (accuracy NaN for a model
    /// without one). Rows per forward pass: the evaluation batch size (memory only; results do not depend on it beyond
    /// float rounding of the GEMM).</summary>
    public (double Loss, double Accuracy) Evaluate(Dataset data)
    {
        double lossSum = 0;
        long correct = 0;
        Model.BeginEvaluation();
        for (int start = 0; start < data.Count; start += _evalBatchSize)
        {
            int n = Math.Min(_evalBatchSize, data.Count - start);
            var inputs = data.Inputs.AsSpan(start * data.Features, n * data.Features);
            var (loss, c) = Engine is not null
                ? Engine.Evaluate(inputs, data.Labels.AsSpan(start, n), n)
                : Model.EvaluateBatch(new Tensor(inputs.ToArray(), n, data.Features), data.Labels.AsSpan(start, n));
            lossSum += loss * n;
            correct += c;
        }
        return (lossSum / data.Count, Model.HasAccuracy ? (double)correct / data.Count : double.NaN);
    }

    public string Progress(EpochRecord e) => string.Create(CultureInfo.InvariantCulture,
        $"train loss {e.TrainLoss:F4}  test loss {e.TestLoss:F4}{(HasAccuracy ? $"  test acc {100 * e.TestAccuracy:F2}%" : "")}");
}

/// <summary>
/// A stochastic problem (<see cref="IStochasticProblem"/>) over one parameter x: per step a stochastic gradient at x
/// (a finite sum: a minibatch drawn without replacement from a shuffled epoch, the remainder dropped as in DeepOBS; a
/// stream: B draws from the generator), and after the step the projection onto the feasible set. Its evaluation is
/// F(x) (<see cref="IStochasticProblem.Loss"/>), reported as the test loss; no accuracy. All randomness comes from the
/// one generator (the minibatch order and the noise).
/// </summary>
public sealed class ProblemObjective : IObjective
{
    private readonly float[] _grad;
    private readonly int _batchSize;

    internal ProblemObjective(IStochasticProblem problem, Parameter x, TrainerOptions options, Rng rng)
    {
        Problem = problem ?? throw new ArgumentNullException(nameof(problem));
        X = x ?? throw new ArgumentNullException(nameof(x));
        Rng = rng ?? throw new ArgumentNullException(nameof(rng));
        if (x.Data.Length != problem.Dimension)
            throw new ArgumentException($"the parameter has {x.Data.Length} elements, the problem {problem.Name} has dimension {problem.Dimension}");
        StepsPerEpoch = StepsPerEpochOf(problem, options);
        _batchSize = options.BatchSize;
        if (problem.DataSize is int n) Sampler = new MinibatchSampler(n, options.BatchSize, rng);
        _grad = new float[problem.Dimension];
    }

    /// <summary>⌊n/B⌋ for a finite sum, else <see cref="TrainerOptions.StepsPerEpoch"/>.</summary>
    /// <exception cref="ArgumentException">Steps per epoch given for a finite sum or missing for a stream; B &gt; n.</exception>
    public static int StepsPerEpochOf(IStochasticProblem problem, TrainerOptions options)
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

    public string Kind => "problem";
    public IStochasticProblem Problem { get; }
    public Parameter X { get; }
    /// <summary>The generator of every random draw (minibatch order, noise).</summary>
    public Rng Rng { get; }
    public MinibatchSampler? Sampler { get; }
    public IReadOnlyList<Parameter> Parameters => [X];
    public int StepsPerEpoch { get; }
    public bool HasAccuracy => false;
    public IReadOnlyList<(string Name, Rng Rng)> Generators => [("rng", Rng)];

    public IReadOnlyList<(string Field, string Value)> Fingerprint =>
    [
        ("problem", Problem.Name),
        ("problem description", Problem.Description),
        ("dimension", Problem.Dimension.ToString(CultureInfo.InvariantCulture)),
    ];

    public BatchLoss Gradient(long step)
    {
        ReadOnlySpan<int> indices = default;
        if (Sampler is not null)
        {
            indices = Sampler.NextBatch();
            if (indices.Length < _batchSize) indices = Sampler.NextBatch(); // drop the remainder (DeepOBS): a new epoch
        }
        double loss = Problem.StochasticGradient(X.Data, _grad, new Minibatch(step, _batchSize, indices), Rng);
        X.Grad = _grad;
        return new BatchLoss(loss, 0, 1);
    }

    public void AfterStep() => Problem.Project(X.Data);

    public (double Loss, double Accuracy) Evaluate() => (Problem.Loss(X.Data), double.NaN);

    public string Progress(EpochRecord e) => string.Create(CultureInfo.InvariantCulture, $"train loss {e.TrainLoss:G6}  F(x) {e.TestLoss:G6}");
}
