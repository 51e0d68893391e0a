#pragma warning disable CS1591 // CS1591 backlog (issue 13): 8 public members here have no XML doc yet; document them, then delete this line
using System.Globalization;
using CudaAdam.Cuda;
using CudaAdam.Device;
using CudaAdam.Training.Data;
using CudaAdam.Training.Layers;

namespace CudaAdam.Training.Device;

/// <summary>
/// What a <see cref="Trainer"/> delegates to when it trains on a device instead of the CPU layers: one training step
/// on a minibatch, evaluation, and moving parameters and optimizer state between the device and the host copies
/// that <see cref="Checkpoint"/> reads and writes (the host <see cref="Sequential"/>'s parameters and the host
/// <see cref="Optimizer"/>'s states).
/// </summary>
public interface ITrainEngine : IDisposable
{
    /// <summary>For logs and summaries, e.g. <c>cuda: NVIDIA H100 80GB HBM3 (sm_90), GEMM cublas</c>.</summary>
    string Description { get; }

    /// <summary>Forward (dropout on, masks of step <paramref name="step"/>), loss, backward, one optimizer step with
    /// learning rate <paramref name="lrs"/>[g] for group g. Returns the minibatch's mean loss and hits.</summary>
    (double Loss, long Correct) TrainStep(ReadOnlySpan<float> inputs, ReadOnlySpan<byte> labels, int rows, long step, IReadOnlyList<double> lrs);

    /// <summary>Mean loss and hits of the model on <paramref name="rows"/> rows, dropout off.</summary>
    (double Loss, long Correct) Evaluate(ReadOnlySpan<float> inputs, ReadOnlySpan<byte> labels, int rows);

    /// <summary>Copies the device parameters and optimizer state into the host model and optimizer (before a save).</summary>
    void PullToHost();

    /// <summary>Copies the host model's parameters and optimizer's state to the device (after a load).</summary>
    void PushFromHost();
}

/// <summary>
/// The device training path: the host model rebuilt as a <see cref="DeviceSequential"/> whose parameters and
/// gradients are the arenas of a device-resident <see cref="DeviceBackend"/> (<see cref="Residency.Device"/>), stepped
/// through an <see cref="CudaAdam.Optimizer"/> like every other path (the same step contract and step result). Per step
/// the minibatch (inputs and labels) goes to the device, the learning rates are device writes, and three numbers (loss
/// sum, hits, the skip flag) come back; nothing else crosses. The host model and optimizer hold copies for checkpoints
/// (<see cref="PullToHost"/>, <see cref="PushFromHost"/>).
/// </summary>
/// <remarks>Runs the same code on a <see cref="CudaDevice"/> (GEMM on cuBLAS) and on the host emulator (GEMM by the
/// <c>train_sgemm</c> kernel). On one device kind the run is deterministic, so a run resumed from a checkpoint is
/// bitwise an uninterrupted one. NAdam is refused (it has no device clock: <see cref="AlgorithmInfo.Clock"/>).</remarks>
public sealed class DeviceEngine : ITrainEngine
{
    private readonly IDevice _device;
    private readonly Sequential _model;
    private readonly Optimizer _hostOptimizer;
    private readonly Optimizer _optimizer;
    private readonly DeviceBackend _backend;
    private readonly ParamGroup[] _groups;
    private readonly IDeviceGemm _gemm;
    private readonly DeviceSequential _net;
    private readonly DeviceSoftmaxCrossEntropy _loss;
    private readonly int _features, _classes;
    private readonly DeviceBuffer<float> _x;
    private readonly DeviceBuffer<int> _y;
    private int[] _labels = [];

    /// <param name="device">Where to train (not owned: the caller disposes it after this engine).</param>
    /// <param name="model">The host model (mlp, logreg or cnn); its current parameters are uploaded.</param>
    /// <param name="hostOptimizer">The host optimizer over the model's parameters: its algorithm and groups define the
    /// device optimizer (and its step contract: clipping, inv_scale, non-finite policy); it holds the state copies for
    /// checkpoints.</param>
    /// <param name="features">Input features per row.</param>
    /// <param name="classes">Number of classes (the model's output width).</param>
    /// <param name="maxRows">The largest batch (training or evaluation) that will be passed.</param>
    /// <param name="dropoutSeed">The dropout masks' seed (<see cref="DropoutMask.SeedOf"/> of the run's dropout generator).</param>
    /// <exception cref="NotSupportedException">A layer without a device implementation (softplus), or NAdam.</exception>
    public DeviceEngine(IDevice device, Sequential model, Optimizer hostOptimizer, int features, int classes, int maxRows, ulong dropoutSeed)
    {
        _device = device ?? throw new ArgumentNullException(nameof(device));
        _model = model ?? throw new ArgumentNullException(nameof(model));
        _hostOptimizer = hostOptimizer ?? throw new ArgumentNullException(nameof(hostOptimizer));
        ArgumentOutOfRangeException.ThrowIfLessThan(maxRows, 1);
        _features = features;
        _classes = classes;
        _groups = hostOptimizer.Groups.Select(g => new ParamGroup(g.Params, g.Hyperparameters)).ToArray();
        _backend = new DeviceBackend(device, new DeviceBackendOptions { Residency = Residency.Device });
        _optimizer = new Optimizer(hostOptimizer.Algorithm, _groups, _backend)
        {
            MaxGradNorm = hostOptimizer.MaxGradNorm, InvScale = hostOptimizer.InvScale, NonFinite = hostOptimizer.NonFinite,
        };
        try
        {
            _gemm = DeviceGemm.For(device);
            _net = new DeviceSequential(model, _backend, _gemm, dropoutSeed);
            _loss = new DeviceSoftmaxCrossEntropy(device);
            _x = device.Allocate<float>((long)maxRows * features);
            _y = device.Allocate<int>(maxRows);
        }
        catch
        {
            Dispose();
            throw;
        }
        MaxRows = maxRows;
        Description = $"{(device.Kind == DeviceKind.Cuda ? "cuda" : "emulator")}: {device.Name}, GEMM {_gemm.Name}";
    }

    public string Description { get; }
    public IDevice Device => _device;
    public int MaxRows { get; }
    /// <summary>The optimizer that steps on the device (its device-resident backend's arenas hold the parameters and gradients).</summary>
    public Optimizer Optimizer => _optimizer;

    /// <summary>The device-resident backend of <see cref="Optimizer"/>.</summary>
    public DeviceBackend Backend => _backend;
    /// <summary>The device model.</summary>
    public DeviceSequential Network => _net;

    public (double Loss, long Correct) TrainStep(ReadOnlySpan<float> inputs, ReadOnlySpan<byte> labels, int rows, long step, IReadOnlyList<double> lrs)
    {
        var x = Upload(inputs, labels, rows);
        _net.Step = step;
        var logits = _net.Forward(x, training: true);
        logits.CheckMatrix(rows, _classes, "model output");
        var result = _loss.Compute(logits, _y, withGradient: true);
        _net.Backward(_loss.Gradient!);
        for (int g = 0; g < lrs.Count; g++) _groups[g].Hyperparameters = _groups[g].Hyperparameters with { Lr = lrs[g] };
        foreach (var g in _groups)
            foreach (var p in g.Params) p.Grad = null;   // the gradients are the device arena's (the backward wrote them)
        var r = _optimizer.Step();
        // A finite loss with a non-finite gradient: the step was skipped; the run must not go on as if it had not been.
        if (r.Skipped && double.IsFinite(result.Loss))
            throw new TrainingDivergedException(step, result.Loss, string.Create(CultureInfo.InvariantCulture,
                $"a gradient is not finite while the minibatch loss is {result.Loss} (the device's fused step skipped the step: {r.Reason})"));
        return result;
    }

    public (double Loss, long Correct) Evaluate(ReadOnlySpan<float> inputs, ReadOnlySpan<byte> labels, int rows)
    {
        var x = Upload(inputs, labels, rows);
        var logits = _net.Forward(x, training: false);
        logits.CheckMatrix(rows, _classes, "model output");
        return _loss.Compute(logits, _y, withGradient: false);
    }

    private DeviceTensor Upload(ReadOnlySpan<float> inputs, ReadOnlySpan<byte> labels, int rows)
    {
        if (rows < 1 || rows > MaxRows) throw new ArgumentOutOfRangeException(nameof(rows), rows, $"a batch has 1 to {MaxRows} rows here");
        if (inputs.Length < rows * _features || labels.Length < rows)
            throw new ArgumentException($"{rows} rows need {rows * _features} inputs and {rows} labels, got {inputs.Length} and {labels.Length}");
        if (_labels.Length < rows) _labels = new int[MaxRows];
        for (int i = 0; i < rows; i++)
        {
            if (labels[i] >= _classes)
                throw new ArgumentException($"cross-entropy: label {labels[i]} in row {i} is not below the {_classes} classes");
            _labels[i] = labels[i];
        }
        _device.CopyToDevice<float>(inputs[..(rows * _features)], _x);
        _device.CopyToDevice<int>(_labels.AsSpan(0, rows), _y);
        return new DeviceTensor(_x, 0, rows, _features);
    }

    public void PullToHost()
    {
        _optimizer.DownloadParameters();
        foreach (var p in _groups.SelectMany(g => g.Params))
        {
            var s = _optimizer.State(p)!;
            // Before its first step the host optimizer has no state for p (as on the CPU path); keep it that way.
            if (s.Step > 0) _hostOptimizer.SetState(p, s);
        }
    }

    public void PushFromHost()
    {
        _optimizer.UploadParameters();
        foreach (var group in _hostOptimizer.Groups)
            foreach (var p in group.Params)
                _optimizer.SetState(p, _hostOptimizer.State(p)
                                       ?? ParamState.Create(_hostOptimizer.Algorithm, group.Hyperparameters, p.Data.Length));
    }

    public void Dispose()
    {
        _net?.Dispose();
        _loss?.Dispose();
        _x?.Dispose();
        _y?.Dispose();
        (_gemm as IDisposable)?.Dispose();
        _optimizer.Dispose();
    }
}
