#pragma warning disable CS1591 // CS1591 backlog (issue 13): 32 public members here have no XML doc yet; document them, then delete this line
using CudaAdam.Cuda;
using CudaAdam.Device;
using CudaAdam.Training.Layers;

namespace CudaAdam.Training.Device;

/// <summary>
/// <see cref="Conv2d"/> on the device (NCHW, stride 1, k×k, TensorFlow 'same'/'valid' zero padding):
/// <c>y[n, o, i, j] = b[o] + Σ_{c,u,v} W[o, c, u, v] · x[n, c, i + u − p, j + v − p]</c>, W [O, C, k, k] and b [O] read
/// from the optimizer's parameter arena, ∂W and ∂b written into its gradient arena.
/// The CPU layer's per-image GEMMs become one GEMM over the whole batch (kernels/train.cu):
/// <c>cols[C·k·k, N·P] = im2col(x)</c> (P = OH·OW), <c>Yt[O, N·P] = W · cols</c>, <c>y = NCHW(Yt) + b</c>
/// (<c>train_conv_output</c>). Backward: <c>gt = [O, N·P] layout of ∂y</c> (<c>train_conv_gather</c>),
/// <c>∂W = gt · colsᵀ</c>, <c>∂b[o] = Σ_n Σ_q ∂y[n, o, q]</c> (<c>train_conv_bias_grad</c>),
/// <c>∂x = col2im(Wᵀ · gt)</c> (<c>train_col2im</c>, a deterministic gather).
/// </summary>
/// <remarks>
/// With the train.cu GEMM (the emulator's), forward, ∂x and ∂b are bitwise the CPU layer over
/// <see cref="Tensors.ManagedGemm"/>; ∂W sums over images and pixels in one sequence instead of per image, so it agrees
/// within float rounding. With cuBLAS everything from a GEMM agrees within rounding only.
/// Memory: the column buffer holds C·k·k·N·OH·OW floats (and its gradient as many): for DeepOBS's conv2 (32·25 rows,
/// 14·14 pixels) 80 MB per 128 images each; an evaluation batch of 1000 needs about 630 MB each.
/// </remarks>
public sealed class DeviceConv2d : IDeviceLayer
{
    private readonly IDevice _device;
    private readonly IDeviceGemm _gemm;
    private readonly Kernel _im2col, _col2im, _output, _gather, _biasGrad;
    private readonly KernelArgs _args = new();
    private readonly DeviceScratch _cols, _dcols, _yt, _out, _gradIn;
    private readonly int _padH, _padW;
    private DeviceTensor? _input, _colsOfInput;

    /// <param name="host">The host layer: sizes, padding and the parameters the optimizer holds.</param>
    /// <param name="optimizer">Holds <c>host.Weight</c> and <c>host.Bias</c>.</param>
    /// <param name="gemm">The device GEMM.</param>
    public DeviceConv2d(Conv2d host, DeviceBackend optimizer, IDeviceGemm gemm)
    {
        ArgumentNullException.ThrowIfNull(host);
        ArgumentNullException.ThrowIfNull(optimizer);
        _device = optimizer.Device;
        _gemm = gemm ?? throw new ArgumentNullException(nameof(gemm));
        Name = host.Name;
        InChannels = host.InChannels;
        OutChannels = host.OutChannels;
        Kernel = host.Kernel;
        Height = host.Height;
        Width = host.Width;
        OutHeight = host.OutHeight;
        OutWidth = host.OutWidth;
        _padH = new Window(Height, Kernel, 1, host.Padding).PadBefore;
        _padW = new Window(Width, Kernel, 1, host.Padding).PadBefore;
        HostDescription = host.Describe();
        long w = optimizer.Offset(host.Weight), b = optimizer.Offset(host.Bias);
        Weight = new DeviceTensor(optimizer.Values, w, OutChannels, PatchSize);
        Bias = new DeviceTensor(optimizer.Values, b, 1, OutChannels);
        WeightGrad = new DeviceTensor(optimizer.Gradients, w, OutChannels, PatchSize);
        BiasGrad = new DeviceTensor(optimizer.Gradients, b, 1, OutChannels);
        _im2col = _device.GetKernel("train", "train_im2col");
        _col2im = _device.GetKernel("train", "train_col2im");
        _output = _device.GetKernel("train", "train_conv_output");
        _gather = _device.GetKernel("train", "train_conv_gather");
        _biasGrad = _device.GetKernel("train", "train_conv_bias_grad");
        _cols = new DeviceScratch(_device);
        _dcols = new DeviceScratch(_device);
        _yt = new DeviceScratch(_device);
        _out = new DeviceScratch(_device);
        _gradIn = new DeviceScratch(_device);
    }

    public string Name { get; }
    public int InChannels { get; }
    public int OutChannels { get; }
    public int Kernel { get; }
    public int Height { get; }
    public int Width { get; }
    public int OutHeight { get; }
    public int OutWidth { get; }
    /// <summary>Input features per row: C·H·W.</summary>
    public int InFeatures => InChannels * Height * Width;
    /// <summary>Output features per row: O·OH·OW.</summary>
    public int OutFeatures => OutChannels * OutHeight * OutWidth;
    /// <summary>W [O, C·k·k] in the parameter arena (torch's [O, C, k, k], row-major).</summary>
    public DeviceTensor Weight { get; }
    /// <summary>b [1, O] in the parameter arena.</summary>
    public DeviceTensor Bias { get; }
    /// <summary>∂L/∂W in the gradient arena.</summary>
    public DeviceTensor WeightGrad { get; }
    /// <summary>∂L/∂b in the gradient arena.</summary>
    public DeviceTensor BiasGrad { get; }

    private string HostDescription { get; }
    private int PatchSize => InChannels * Kernel * Kernel;
    private int Pixels => OutHeight * OutWidth;

    public DeviceTensor Forward(DeviceTensor x, bool training)
    {
        x.CheckMatrix(-1, InFeatures, $"{Name} ({HostDescription}) input");
        _input = x;
        int batch = x.Rows;
        var y = _out.Get(batch, OutFeatures);
        _colsOfInput = null;
        if (batch == 0) return y;
        int columns = checked(batch * Pixels);
        var cols = _cols.Get(PatchSize, columns);
        _args.Clear().Add(x.Pointer).Add(cols.Pointer).Add(batch).Add(InChannels).Add(Height).Add(Width).Add(Kernel)
            .Add(OutHeight).Add(OutWidth).Add(_padH).Add(_padW);
        _device.Launch(_im2col, Launches.Grid(_device, cols.Length), Launches.Block, _args);
        // Yt[O, N·P] = W[O, C·k·k] · cols[C·k·k, N·P]
        var yt = _yt.Get(OutChannels, columns);
        _gemm.Sgemm(false, false, OutChannels, columns, PatchSize, 1f, Weight, cols, 0f, yt);
        _args.Clear().Add(yt.Pointer).Add(Bias.Pointer).Add(y.Pointer).Add(batch).Add(OutChannels).Add(Pixels);
        _device.Launch(_output, Launches.Grid(_device, y.Length), Launches.Block, _args);
        _colsOfInput = cols;
        return y;
    }

    public DeviceTensor? Backward(DeviceTensor gradOutput, bool needInputGradient = true)
    {
        var x = _input ?? throw new InvalidOperationException($"{Name}: Backward before Forward");
        gradOutput.CheckMatrix(x.Rows, OutFeatures, $"{Name} ({HostDescription}) output gradient");
        int batch = x.Rows;
        var dx = needInputGradient ? _gradIn.Get(batch, InFeatures) : null;
        if (batch == 0)
        {
            // The CPU layer's gradients of an empty batch: zero.
            var zeros = new float[WeightGrad.Length];
            WeightGrad.Upload(zeros);
            BiasGrad.Upload(new float[OutChannels]);
            return dx;
        }
        var cols = _colsOfInput ?? throw new InvalidOperationException($"{Name}: Backward without the columns of its Forward");
        int columns = checked(batch * Pixels);
        var gt = _yt.Get(OutChannels, columns);
        _args.Clear().Add(gradOutput.Pointer).Add(gt.Pointer).Add(batch).Add(OutChannels).Add(Pixels);
        _device.Launch(_gather, Launches.Grid(_device, gt.Length), Launches.Block, _args);
        // ∂W[O, C·k·k] = gt[O, N·P] · colsᵀ[N·P, C·k·k]
        _gemm.Sgemm(false, true, OutChannels, PatchSize, columns, 1f, gt, cols, 0f, WeightGrad);
        _args.Clear().Add(gradOutput.Pointer).Add(BiasGrad.Pointer).Add(batch).Add(OutChannels).Add(Pixels);
        _device.Launch(_biasGrad, (uint)((OutChannels + Launches.Block - 1) / Launches.Block), Launches.Block, _args);
        if (dx is null) return null;
        // ∂cols[C·k·k, N·P] = Wᵀ[C·k·k, O] · gt[O, N·P]
        var dcols = _dcols.Get(PatchSize, columns);
        _gemm.Sgemm(true, false, PatchSize, columns, OutChannels, 1f, Weight, gt, 0f, dcols);
        _args.Clear().Add(dcols.Pointer).Add(dx.Pointer).Add(batch).Add(InChannels).Add(Height).Add(Width).Add(Kernel)
            .Add(OutHeight).Add(OutWidth).Add(_padH).Add(_padW);
        _device.Launch(_col2im, Launches.Grid(_device, dx.Length), Launches.Block, _args);
        return dx;
    }

    public string Describe() => HostDescription;

    public void Dispose()
    {
        _cols.Dispose();
        _dcols.Dispose();
        _yt.Dispose();
        _out.Dispose();
        _gradIn.Dispose();
        _args.Dispose();
    }
}

/// <summary>
/// <see cref="MaxPool2d"/> on the device (<c>train_maxpool_forward/backward</c>): the max over each k×k window at
/// stride s, padded positions ignored; the forward records each output's argmax (first maximum in row-major window
/// order, NaN wins) and the backward is a deterministic gather (each input element sums, in increasing output order,
/// the gradients of the outputs whose argmax it is; correct for overlapping windows too). Bitwise the CPU layer.
/// </summary>
public sealed class DeviceMaxPool2d : IDeviceLayer
{
    private readonly IDevice _device;
    private readonly Kernel _forward, _backward;
    private readonly KernelArgs _args = new();
    private readonly DeviceScratch _out, _gradIn;
    private readonly int _padH, _padW;
    private DeviceBuffer<int>? _argmax;
    private DeviceTensor? _input;

    public DeviceMaxPool2d(MaxPool2d host, IDevice device)
    {
        ArgumentNullException.ThrowIfNull(host);
        _device = device ?? throw new ArgumentNullException(nameof(device));
        Name = host.Name;
        Channels = host.Channels;
        Height = host.Height;
        Width = host.Width;
        Kernel = host.Kernel;
        Stride = host.Stride;
        OutHeight = host.OutHeight;
        OutWidth = host.OutWidth;
        _padH = new Window(Height, Kernel, Stride, host.Padding).PadBefore;
        _padW = new Window(Width, Kernel, Stride, host.Padding).PadBefore;
        HostDescription = host.Describe();
        _forward = device.GetKernel("train", "train_maxpool_forward");
        _backward = device.GetKernel("train", "train_maxpool_backward");
        _out = new DeviceScratch(device);
        _gradIn = new DeviceScratch(device);
    }

    public string Name { get; }
    public int Channels { get; }
    public int Height { get; }
    public int Width { get; }
    public int Kernel { get; }
    public int Stride { get; }
    public int OutHeight { get; }
    public int OutWidth { get; }
    public int InFeatures => Channels * Height * Width;
    public int OutFeatures => Channels * OutHeight * OutWidth;
    private string HostDescription { get; }

    /// <summary>The argmax of each output of the last forward (flat index into its [batch, C·H·W] input; tests).</summary>
    public int[] ArgmaxToHost(int count)
    {
        var a = new int[count];
        if (count > 0 && _argmax is not null) _device.CopyToHost(_argmax, a.AsSpan());
        return a;
    }

    public DeviceTensor Forward(DeviceTensor x, bool training)
    {
        x.CheckMatrix(-1, InFeatures, $"{Name} ({HostDescription}) input");
        if ((long)x.Rows * InFeatures > int.MaxValue)
            throw new ArgumentException($"{Name}: {x.Rows} rows of {InFeatures} features exceed the int32 argmax index; use smaller batches");
        _input = x;
        var y = _out.Get(x.Rows, OutFeatures);
        if (y.Length == 0) return y;
        if (_argmax is null || _argmax.Length < y.Length)
        {
            _argmax?.Dispose();
            _argmax = null;
            _argmax = _device.Allocate<int>(y.Length);
        }
        _args.Clear().Add(x.Pointer).Add(y.Pointer).Add(_argmax).Add(x.Rows).Add(Channels).Add(Height).Add(Width)
            .Add(Kernel).Add(Stride).Add(OutHeight).Add(OutWidth).Add(_padH).Add(_padW);
        _device.Launch(_forward, Launches.Grid(_device, y.Length), Launches.Block, _args);
        return y;
    }

    public DeviceTensor? Backward(DeviceTensor gradOutput, bool needInputGradient = true)
    {
        var x = _input ?? throw new InvalidOperationException($"{Name}: Backward before Forward");
        gradOutput.CheckMatrix(x.Rows, OutFeatures, $"{Name} ({HostDescription}) output gradient");
        if (!needInputGradient) return null;
        var dx = _gradIn.Get(x.Rows, InFeatures);
        if (dx.Length == 0) return dx;
        _args.Clear().Add(gradOutput.Pointer).Add(_argmax!).Add(dx.Pointer).Add(x.Rows).Add(Channels).Add(Height).Add(Width)
            .Add(Kernel).Add(Stride).Add(OutHeight).Add(OutWidth).Add(_padH).Add(_padW);
        _device.Launch(_backward, Launches.Grid(_device, dx.Length), Launches.Block, _args);
        return dx;
    }

    public string Describe() => HostDescription;

    public void Dispose()
    {
        _out.Dispose();
        _gradIn.Dispose();
        _argmax?.Dispose();
        _argmax = null;
        _args.Dispose();
    }
}

/// <summary><see cref="Flatten"/> on the device: device tensors are already [batch, features] in NCHW order, so
/// forward and backward pass their argument through (no copy).</summary>
public sealed class DeviceFlatten(string name = "flatten") : IDeviceLayer
{
    private int _rows = -1, _cols;

    public string Name { get; } = name;

    public DeviceTensor Forward(DeviceTensor x, bool training)
    {
        (_rows, _cols) = (x.Rows, x.Cols);
        return x;
    }

    public DeviceTensor? Backward(DeviceTensor gradOutput, bool needInputGradient = true)
    {
        if (_rows < 0) throw new InvalidOperationException($"{Name}: Backward before Forward");
        gradOutput.CheckMatrix(_rows, _cols, $"{Name} output gradient");
        return needInputGradient ? gradOutput : null;
    }

    public string Describe() => "flatten";

    public void Dispose() { }
}
