#pragma warning disable CS1591 // CS1591 backlog (issue 13): 30 public members here have no XML doc yet; document them, then delete this line
using CudaAdam.Cuda;
using CudaAdam.Device;
using CudaAdam.Training.Layers;

namespace CudaAdam.Training.Device;

/// <summary>
/// The device twin of <see cref="ILayer"/>: forward and backward on <see cref="DeviceTensor"/>s [batch, features].
/// <see cref="Forward"/> keeps what <see cref="Backward"/> needs; <see cref="Backward"/> takes ∂L/∂output, writes
/// ∂L/∂θ into the <see cref="DeviceBackend.Gradients"/> arena at <see cref="DeviceBackend.Offset"/> of each
/// parameter (overwriting) and returns ∂L/∂input, or null when its needInputGradient argument is false.
/// Returned tensors are owned by the layer and overwritten on the next call. Launches are queued on the device's
/// stream: nothing here synchronizes with the host.
/// </summary>
public interface IDeviceLayer : IDisposable
{
    string Name { get; }
    DeviceTensor Forward(DeviceTensor x, bool training);
    DeviceTensor? Backward(DeviceTensor gradOutput, bool needInputGradient = true);
    string Describe();
}

/// <summary>
/// <see cref="Linear"/> on the device: <c>y = x Wᵀ + b</c> with W [out, in] and b [out] read from the optimizer's
/// parameter arena (<see cref="DeviceBackend.Values"/>), so the fused step updates what the next forward reads.
/// Forward: <c>train_bias_broadcast</c> then GEMM with beta = 1 (the CPU layer's order). Backward:
/// <c>∂W = gᵀ x</c> (GEMM straight into the gradient arena), <c>∂b = Σ_rows g</c> (<c>train_bias_grad</c>, bitwise the
/// CPU loop), <c>∂x = g W</c>.
/// </summary>
public sealed class DeviceLinear : IDeviceLayer
{
    private readonly IDevice _device;
    private readonly IDeviceGemm _gemm;
    private readonly Kernel _broadcast, _biasGrad;
    private readonly KernelArgs _args = new();
    private readonly DeviceScratch _out, _gradIn;
    private DeviceTensor? _input;

    /// <param name="host">The host layer: its sizes, names and the parameters the optimizer holds.</param>
    /// <param name="optimizer">Holds <c>host.Weight</c> and <c>host.Bias</c>.</param>
    /// <param name="gemm">The device GEMM.</param>
    public DeviceLinear(Linear host, DeviceBackend optimizer, IDeviceGemm gemm)
    {
        ArgumentNullException.ThrowIfNull(host);
        ArgumentNullException.ThrowIfNull(optimizer);
        _device = optimizer.Device;
        _gemm = gemm ?? throw new ArgumentNullException(nameof(gemm));
        Name = host.Name;
        In = host.In;
        Out = host.Out;
        long w = optimizer.Offset(host.Weight), b = optimizer.Offset(host.Bias);
        Weight = new DeviceTensor(optimizer.Values, w, Out, In);
        Bias = new DeviceTensor(optimizer.Values, b, 1, Out);
        WeightGrad = new DeviceTensor(optimizer.Gradients, w, Out, In);
        BiasGrad = new DeviceTensor(optimizer.Gradients, b, 1, Out);
        _broadcast = _device.GetKernel("train", "train_bias_broadcast");
        _biasGrad = _device.GetKernel("train", "train_bias_grad");
        _out = new DeviceScratch(_device);
        _gradIn = new DeviceScratch(_device);
    }

    public string Name { get; }
    public int In { get; }
    public int Out { get; }
    /// <summary>W [out, in] in the parameter arena.</summary>
    public DeviceTensor Weight { get; }
    /// <summary>b [1, out] in the parameter arena.</summary>
    public DeviceTensor Bias { get; }
    /// <summary>∂L/∂W in the gradient arena.</summary>
    public DeviceTensor WeightGrad { get; }
    /// <summary>∂L/∂b in the gradient arena.</summary>
    public DeviceTensor BiasGrad { get; }

    public DeviceTensor Forward(DeviceTensor x, bool training)
    {
        x.CheckMatrix(-1, In, $"{Name} (linear {In}->{Out}) input");
        _input = x;
        int batch = x.Rows;
        var y = _out.Get(batch, Out);
        if (batch == 0) return y;
        _args.Clear().Add(Bias.Pointer).Add(y.Pointer).Add(batch).Add(Out);
        _device.Launch(_broadcast, Launches.Grid(_device, y.Length), Launches.Block, _args);
        // y[batch, out] = x[batch, in] · Wᵀ + y
        _gemm.Sgemm(false, true, batch, Out, In, 1f, x, Weight, 1f, y);
        return y;
    }

    public DeviceTensor? Backward(DeviceTensor gradOutput, bool needInputGradient = true)
    {
        var x = _input ?? throw new InvalidOperationException($"{Name}: Backward before Forward");
        gradOutput.CheckMatrix(x.Rows, Out, $"{Name} (linear {In}->{Out}) output gradient");
        int batch = x.Rows;
        // ∂W[out, in] = gᵀ[out, batch] · x[batch, in]
        _gemm.Sgemm(true, false, Out, In, batch, 1f, gradOutput, x, 0f, WeightGrad);
        _args.Clear().Add(gradOutput.Pointer).Add(BiasGrad.Pointer).Add(batch).Add(Out);
        _device.Launch(_biasGrad, (uint)((Out + Launches.Block - 1) / Launches.Block), Launches.Block, _args);
        if (!needInputGradient) return null;
        // ∂x[batch, in] = g[batch, out] · W[out, in]
        var dx = _gradIn.Get(batch, In);
        _gemm.Sgemm(false, false, batch, In, Out, 1f, gradOutput, Weight, 0f, dx);
        return dx;
    }

    public string Describe() => $"linear {In}->{Out}";

    public void Dispose()
    {
        _out.Dispose();
        _gradIn.Dispose();
        _args.Dispose();
    }
}

/// <summary><see cref="Relu"/> on the device (<c>train_relu_forward/backward</c>): bitwise the CPU layer.</summary>
public sealed class DeviceRelu : IDeviceLayer
{
    private readonly IDevice _device;
    private readonly Kernel _forward, _backward;
    private readonly KernelArgs _args = new();
    private readonly DeviceScratch _out, _gradIn;
    private DeviceTensor? _input;

    public DeviceRelu(IDevice device, string name = "relu")
    {
        _device = device ?? throw new ArgumentNullException(nameof(device));
        Name = name;
        _forward = device.GetKernel("train", "train_relu_forward");
        _backward = device.GetKernel("train", "train_relu_backward");
        _out = new DeviceScratch(device);
        _gradIn = new DeviceScratch(device);
    }

    public string Name { get; }

    public DeviceTensor Forward(DeviceTensor x, bool training)
    {
        _input = x;
        var y = _out.Get(x.Rows, x.Cols);
        if (y.Length == 0) return y;
        _args.Clear().Add(x.Pointer).Add(y.Pointer).Add(y.Length);
        _device.Launch(_forward, Launches.Grid(_device, y.Length), Launches.Block, _args);
        return y;
    }

    public DeviceTensor? Backward(DeviceTensor gradOutput, bool needInputGradient = true)
    {
        var x = _input ?? throw new InvalidOperationException($"{Name}: Backward before Forward");
        gradOutput.CheckMatrix(x.Rows, x.Cols, $"{Name} output gradient");
        if (!needInputGradient) return null;
        var dx = _gradIn.Get(x.Rows, x.Cols);
        if (dx.Length == 0) return dx;
        _args.Clear().Add(x.Pointer).Add(gradOutput.Pointer).Add(dx.Pointer).Add(dx.Length);
        _device.Launch(_backward, Launches.Grid(_device, dx.Length), Launches.Block, _args);
        return dx;
    }

    public string Describe() => "relu";

    public void Dispose()
    {
        _out.Dispose();
        _gradIn.Dispose();
        _args.Dispose();
    }
}

/// <summary>
/// Inverted dropout on the device (<c>train_dropout_forward/backward</c>). The mask of element i is a function of
/// (<see cref="Seed"/>, <see cref="Step"/>, <see cref="LayerIndex"/>, i) — <see cref="DropoutMask"/> — with no device
/// RNG state: the backward pass recomputes it, and a resumed run at the same step draws the same mask. Not the CPU
/// <see cref="Dropout"/>'s masks (that one draws from a sequential <see cref="Rng"/>); the same distribution.
/// </summary>
public sealed class DeviceDropout : IDeviceLayer
{
    private readonly IDevice _device;
    private readonly Kernel _forward, _backward;
    private readonly KernelArgs _args = new();
    private readonly DeviceScratch _out, _gradIn;
    private readonly float _p, _scale;
    private bool _masked;
    private long _maskStep;
    private int _rows, _cols;

    /// <param name="device">The device.</param>
    /// <param name="name">For messages.</param>
    /// <param name="p">Drop probability in [0, 1).</param>
    /// <param name="seed">The run's dropout seed.</param>
    /// <param name="layerIndex">Position of the layer in its model (separates the layers' masks).</param>
    public DeviceDropout(IDevice device, string name, double p, ulong seed, int layerIndex)
    {
        _device = device ?? throw new ArgumentNullException(nameof(device));
        if (!(p >= 0 && p < 1)) throw new ArgumentOutOfRangeException(nameof(p), p, "dropout probability must be in [0, 1)");
        Name = name;
        P = p;
        Seed = seed;
        LayerIndex = layerIndex;
        _p = (float)p;
        _scale = (float)(1.0 / (1.0 - p));   // the CPU Dropout's scale
        _forward = device.GetKernel("train", "train_dropout_forward");
        _backward = device.GetKernel("train", "train_dropout_backward");
        _out = new DeviceScratch(device);
        _gradIn = new DeviceScratch(device);
    }

    public string Name { get; }
    public double P { get; }
    public ulong Seed { get; }
    public int LayerIndex { get; }
    /// <summary>The training step whose mask the next training forward draws (set by <see cref="DeviceSequential"/>).</summary>
    public long Step { get; set; }

    public DeviceTensor Forward(DeviceTensor x, bool training)
    {
        _masked = training && P > 0;
        (_rows, _cols) = (x.Rows, x.Cols);
        if (!_masked) return x;
        _maskStep = Step;
        var y = _out.Get(x.Rows, x.Cols);
        if (y.Length == 0) return y;
        _args.Clear().Add(x.Pointer).Add(y.Pointer).Add(y.Length).Add(Seed).Add(_maskStep).Add(LayerIndex).Add(_p).Add(_scale);
        _device.Launch(_forward, Launches.Grid(_device, y.Length), Launches.Block, _args);
        return y;
    }

    public DeviceTensor? Backward(DeviceTensor gradOutput, bool needInputGradient = true)
    {
        gradOutput.CheckMatrix(_rows, _cols, $"{Name} output gradient");
        if (!needInputGradient) return null;
        if (!_masked) return gradOutput;
        var dx = _gradIn.Get(gradOutput.Rows, gradOutput.Cols);
        if (dx.Length == 0) return dx;
        _args.Clear().Add(gradOutput.Pointer).Add(dx.Pointer).Add(dx.Length).Add(Seed).Add(_maskStep).Add(LayerIndex).Add(_p).Add(_scale);
        _device.Launch(_backward, Launches.Grid(_device, dx.Length), Launches.Block, _args);
        return dx;
    }

    public string Describe() => FormattableString.Invariant($"dropout p={P}");

    public void Dispose()
    {
        _out.Dispose();
        _gradIn.Dispose();
        _args.Dispose();
    }
}

/// <summary>The C# twin of <c>ca_dropout_bits</c>/<c>ca_dropout_mask</c> in kernels/train.cu (tests check the device
/// masks against it bit for bit).</summary>
public static class DropoutMask
{
    /// <summary>SplitMix64's finalizer.</summary>
    public static ulong Mix64(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>64 random bits for element <paramref name="i"/> of (seed, step, layer).</summary>
    public static ulong Bits(ulong seed, long step, int layer, long i)
    {
        ulong key = Mix64(seed ^ Mix64(unchecked((ulong)step * 0x9E3779B97F4A7C15UL + (ulong)(long)layer)));
        return Mix64(key ^ unchecked((ulong)i * 0xD1B54A32D192ED03UL + 0x632BE59BD9B4E019UL));
    }

    /// <summary>The mask value: (float)(1/(1−p)) when u = bits·2⁻²⁴ (top 24 bits) is at least p, else 0.</summary>
    public static float Value(ulong seed, long step, int layer, long i, double p)
    {
        float u = (Bits(seed, step, layer, i) >> 40) * (1.0f / 16777216.0f);
        return u >= (float)p ? (float)(1.0 / (1.0 - p)) : 0f;
    }

    /// <summary>A dropout seed from a generator's state, without drawing from it (so the generator a checkpoint
    /// stores stays as the CPU path leaves it).</summary>
    public static ulong SeedOf(Rng rng)
    {
        var s = rng.GetState();
        return Mix64(s[0] ^ Mix64(s[1] ^ Mix64(s[2] ^ Mix64(s[3]))));
    }
}

/// <summary>
/// Softmax cross-entropy and accuracy on the device (<c>train_softmax_ce</c> + <c>train_ce_reduce</c>): the CPU
/// <see cref="SoftmaxCrossEntropy"/>'s per-row math in double, ∂L/∂z written in place of the logits' gradient, and
/// the loss sum and hit count reduced in a fixed order on the device; two numbers come back to the host.
/// </summary>
public sealed class DeviceSoftmaxCrossEntropy : IDisposable
{
    private const uint ReduceThreads = 256;   // CA_REDUCE_THREADS
    private readonly IDevice _device;
    private readonly Kernel _ce, _reduce;
    private readonly KernelArgs _args = new();
    private readonly DeviceScratch _grad;
    private readonly DeviceBuffer<double> _result;
    private DeviceBuffer<double>? _rowLoss;
    private DeviceBuffer<int>? _rowCorrect;

    public DeviceSoftmaxCrossEntropy(IDevice device)
    {
        _device = device ?? throw new ArgumentNullException(nameof(device));
        _ce = device.GetKernel("train", "train_softmax_ce");
        _reduce = device.GetKernel("train", "train_ce_reduce");
        _grad = new DeviceScratch(device);
        _result = device.Allocate<double>(2);
    }

    /// <summary>The mean loss over the rows of <paramref name="logits"/> and the number of
    /// rows whose arg-max is the label; with <paramref name="withGradient"/>, also ∂L/∂z (mean over the rows) in
    /// <see cref="Gradient"/>. Synchronizes (reads two numbers back).</summary>
    /// <param name="logits">[rows, classes].</param>
    /// <param name="labels">At least rows labels in [0, classes) (the caller checks the range on the host).</param>
    /// <param name="withGradient">Write ∂L/∂z.</param>
    public (double Loss, long Correct) Compute(DeviceTensor logits, DeviceBuffer<int> labels, bool withGradient)
    {
        int rows = logits.Rows, classes = logits.Cols;
        if (labels.Length < rows) throw new ArgumentException($"cross-entropy: {rows} rows of logits but {labels.Length} labels");
        Gradient = withGradient ? _grad.Get(rows, classes) : null;
        if (rows == 0) return (0, 0);
        if (_rowLoss is null || _rowLoss.Length < rows)
        {
            _rowLoss?.Dispose();
            _rowCorrect?.Dispose();
            _rowLoss = null;
            _rowCorrect = null;
            _rowLoss = _device.Allocate<double>(rows);
            _rowCorrect = _device.Allocate<int>(rows);
        }
        _args.Clear().Add(logits.Pointer).Add(labels).Add(rows).Add(classes).Add(rows).Add(_rowLoss).Add(_rowCorrect!)
            .Add(Gradient is null ? (nint)0 : Gradient.Pointer);
        _device.Launch(_ce, (uint)((rows + Launches.Block - 1) / Launches.Block), Launches.Block, _args);
        _args.Clear().Add(_rowLoss).Add(_rowCorrect!).Add(rows).Add(_result);
        _device.Launch(_reduce, 1, ReduceThreads, _args);
        Span<double> r = stackalloc double[2];
        _device.CopyToHost(_result, r);
        return (r[0] / rows, (long)r[1]);
    }

    /// <summary>∂L/∂logits of the last <see cref="Compute"/> with a gradient.</summary>
    public DeviceTensor? Gradient { get; private set; }

    public void Dispose()
    {
        _grad.Dispose();
        _result.Dispose();
        _rowLoss?.Dispose();
        _rowCorrect?.Dispose();
        _args.Dispose();
    }
}

/// <summary>
/// A host <see cref="Sequential"/> (mlp, logreg or cnn: <see cref="Linear"/>, <see cref="Relu"/>, <see cref="Dropout"/>,
/// <see cref="Conv2d"/>, <see cref="MaxPool2d"/>, <see cref="Flatten"/>)
/// rebuilt on the device: its parameters are the device-resident <see cref="DeviceBackend"/>'s arena and its backward writes the
/// optimizer's gradient arena, so a training step moves only the batch in and the loss out.
/// </summary>
public sealed class DeviceSequential : IDisposable
{
    private readonly bool[] _needInputGradient;

    /// <exception cref="NotSupportedException">A layer has no device implementation (softplus, the vae's).</exception>
    public DeviceSequential(Sequential model, DeviceBackend optimizer, IDeviceGemm gemm, ulong dropoutSeed)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(optimizer);
        var device = optimizer.Device;
        var layers = new List<IDeviceLayer>();
        try
        {
            for (int i = 0; i < model.Layers.Count; i++)
            {
                var l = model.Layers[i];
                layers.Add(l switch
                {
                    Linear lin => new DeviceLinear(lin, optimizer, gemm),
                    Relu => new DeviceRelu(device, l.Name),
                    Dropout d => new DeviceDropout(device, d.Name, d.P, dropoutSeed, i),
                    Conv2d conv => new DeviceConv2d(conv, optimizer, gemm),
                    MaxPool2d pool => new DeviceMaxPool2d(pool, device),
                    Flatten f => new DeviceFlatten(f.Name),
                    _ => throw new NotSupportedException(
                        $"layer '{l.Name}' ({l.Describe()}) has no device implementation: the device path runs linear, relu, " +
                        "dropout, conv2d, maxpool2d and flatten (mlp, logreg, cnn); train this model with backend \"cpu\""),
                });
            }
        }
        catch
        {
            foreach (var l in layers) l.Dispose();
            throw;
        }
        Layers = layers;
        Description = model.Describe();
        // The first layers' input gradient is not needed: nothing before them has parameters.
        _needInputGradient = new bool[layers.Count];
        bool seen = false;
        for (int i = 0; i < model.Layers.Count; i++)
        {
            _needInputGradient[i] = seen;
            seen |= model.Layers[i].Parameters.Count > 0;
        }
    }

    public IReadOnlyList<IDeviceLayer> Layers { get; }
    /// <summary>The host model's <see cref="Sequential.Describe"/>.</summary>
    public string Description { get; }

    /// <summary>The training step whose dropout masks the next training forward draws.</summary>
    public long Step
    {
        set { foreach (var d in Layers.OfType<DeviceDropout>()) d.Step = value; }
    }

    public DeviceTensor Forward(DeviceTensor x, bool training)
    {
        foreach (var l in Layers) x = l.Forward(x, training);
        return x;
    }

    /// <summary>Backward through every layer; writes every parameter's gradient into the optimizer's arena.</summary>
    public void Backward(DeviceTensor gradOutput)
    {
        DeviceTensor? g = gradOutput;
        for (int i = Layers.Count - 1; i >= 0 && g is not null; i--) g = Layers[i].Backward(g, _needInputGradient[i]);
    }

    public void Dispose()
    {
        foreach (var l in Layers) l.Dispose();
    }
}
