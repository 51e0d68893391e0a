using CudaAdam.Training.Tensors;

namespace CudaAdam.Training.Layers;

/// <summary>
/// TensorFlow's padding modes (DeepOBS defines its test problems in TensorFlow's terms).
/// <c>Valid</c>: no padding, output <c>H − k + 1</c> (stride 1) or <c>⌊(H − k)/s⌋ + 1</c>.
/// <c>Same</c>: output <c>⌈H / s⌉</c>; the total padding <c>max((out − 1)·s + k − H, 0)</c> is split with the smaller
/// half before (top/left) and the larger half after (bottom/right), as TensorFlow does.
/// </summary>
public enum Padding
{
    Valid,
    Same,
}

/// <summary>One spatial dimension of a window operation: input size, window, stride, padding → output size, pad before.</summary>
internal readonly record struct Window(int In, int Kernel, int Stride, Padding Padding)
{
    /// <summary>The output size.</summary>
    public int Out => Padding == Padding.Same ? (In + Stride - 1) / Stride : (In - Kernel) / Stride + 1;

    /// <summary>Padding before the first input element (TensorFlow: ⌊total/2⌋).</summary>
    public int PadBefore => Padding == Padding.Same ? Math.Max((Out - 1) * Stride + Kernel - In, 0) / 2 : 0;

    public static Window Create(string what, int size, int kernel, int stride, Padding padding)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(kernel, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(stride, 1);
        if (size < 1) throw new ArgumentException($"{what}: input size {size} must be >= 1");
        if (padding == Padding.Valid && size < kernel)
            throw new ArgumentException($"{what}: input size {size} is smaller than the {kernel}-wide window with 'valid' padding; use 'same' or a smaller kernel");
        return new Window(size, kernel, stride, padding);
    }
}

/// <summary>Accepts an input either as [batch, C·H·W] or [batch, C, H, W] (NCHW).</summary>
internal static class ImageShape
{
    public static void Check(Tensor x, int c, int h, int w, string what)
    {
        bool flat = x.Shape.Count == 2 && x.Shape[1] == c * h * w;
        bool nchw = x.Shape.Count == 4 && x.Shape[1] == c && x.Shape[2] == h && x.Shape[3] == w;
        if (!flat && !nchw)
            throw new ArgumentException(
                $"{what}: expected a [batch, {c * h * w}] or [batch, {c}, {h}, {w}] (NCHW) tensor, got [{string.Join(", ", x.Shape)}]");
    }
}

/// <summary>
/// A 2-D convolution (cross-correlation, as torch.nn.Conv2d and tf.nn.conv2d) on NCHW images, stride 1, odd or even
/// square kernels, TensorFlow 'same' or 'valid' padding (zeros):
/// <c>y[n, o, i, j] = b[o] + Σ_{c,u,v} W[o, c, u, v] · x[n, c, i + u − p, j + v − p]</c>, p = the pad before.
/// Computed with im2col and the <see cref="IGemm"/>, one image at a time:
/// <c>cols[c·k·k, OH·OW]</c> holds the input patches, <c>Y_n[O, OH·OW] = W[O, C·k·k] · cols + b</c>.
/// Backward: <c>∂W = Σ_n ∂Y_n · colsᵀ</c>, <c>∂b[o] = Σ_{n,i,j} ∂Y_n[o, i, j]</c>,
/// <c>∂x = col2im(Wᵀ · ∂Y_n)</c> (overlapping patches add up).
/// </summary>
/// <remarks>
/// Tensors stay 2-D for the other layers: the input may be [batch, C·H·W] or [batch, C, H, W]; the output is
/// [batch, O·OH·OW] in NCHW order (what a <see cref="Flatten"/> of torch's [batch, O, OH, OW] gives).
/// Layout of W: torch's [out, in, kH, kW]. Initialization: U(−1/√fanIn, 1/√fanIn) for W and b with
/// fanIn = C·k·k (torch's default); models may overwrite it (<see cref="Models.ModelZoo.Cnn"/> does).
/// </remarks>
public sealed class Conv2d : ILayer
{
    private readonly IGemm _gemm;
    private readonly Window _h, _w;
    private readonly float[] _gradW, _gradB, _cols, _dcols;
    private Tensor? _input;
    private Buffer _out, _gradIn;

    /// <param name="name">Prefix of the parameter names: <c>{name}.weight</c>, <c>{name}.bias</c>.</param>
    /// <param name="inChannels">C.</param>
    /// <param name="outChannels">O, the number of filters.</param>
    /// <param name="kernel">k (square kernel k×k).</param>
    /// <param name="height">Input height H.</param>
    /// <param name="width">Input width W.</param>
    /// <param name="padding">'same' (output H×W) or 'valid' (output (H−k+1)×(W−k+1)).</param>
    /// <param name="init">Draws the initial weights (consumed: O·C·k·k + O uniforms, weights first).</param>
    /// <param name="gemm">The GEMM; <see cref="Gemm.Default"/> when null.</param>
    public Conv2d(string name, int inChannels, int outChannels, int kernel, int height, int width, Padding padding, Rng init,
        IGemm? gemm = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(inChannels, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(outChannels, 1);
        ArgumentNullException.ThrowIfNull(init);
        Name = name;
        InChannels = inChannels;
        OutChannels = outChannels;
        Kernel = kernel;
        Height = height;
        Width = width;
        Padding = padding;
        _h = Window.Create($"{name} height", height, kernel, 1, padding);
        _w = Window.Create($"{name} width", width, kernel, 1, padding);
        _gemm = gemm ?? Gemm.Default;
        int fanIn = inChannels * kernel * kernel;
        double bound = 1.0 / Math.Sqrt(fanIn);
        var w = new float[outChannels * fanIn];
        for (int i = 0; i < w.Length; i++) w[i] = (float)((2 * init.NextDouble() - 1) * bound);
        var b = new float[outChannels];
        for (int i = 0; i < b.Length; i++) b[i] = (float)((2 * init.NextDouble() - 1) * bound);
        Weight = new Parameter($"{name}.weight", w);
        Bias = new Parameter($"{name}.bias", b);
        _gradW = new float[w.Length];
        _gradB = new float[b.Length];
        _cols = new float[fanIn * OutHeight * OutWidth];
        _dcols = new float[_cols.Length];
        Parameters = [Weight, Bias];
    }

    public string Name { get; }
    public int InChannels { get; }
    public int OutChannels { get; }
    public int Kernel { get; }
    public int Height { get; }
    public int Width { get; }
    public Padding Padding { get; }
    public int OutHeight => _h.Out;
    public int OutWidth => _w.Out;
    /// <summary>Features per output row: O·OH·OW.</summary>
    public int OutFeatures => OutChannels * OutHeight * OutWidth;
    /// <summary>W, [out, in, k, k] row-major.</summary>
    public Parameter Weight { get; }
    /// <summary>b, [out].</summary>
    public Parameter Bias { get; }
    public IReadOnlyList<Parameter> Parameters { get; }

    /// <summary>Whether <see cref="Backward"/> computes ∂L/∂x (a GEMM and a col2im per image). A network's first
    /// layer needs none, its input being data: <see cref="Training.Classifier"/> turns it off there. Off, Backward
    /// computes the parameter gradients only and returns an empty tensor.</summary>
    public bool InputGradient { get; set; } = true;

    private static readonly Tensor NoInputGradient = new([], 0, 0);

    private int PatchSize => InChannels * Kernel * Kernel;
    private int OutPixels => OutHeight * OutWidth;

    public Tensor Forward(Tensor x, bool training)
    {
        ImageShape.Check(x, InChannels, Height, Width, $"{Name} ({Describe()}) input");
        _input = x;
        int batch = x.Rows, inSize = InChannels * Height * Width, pixels = OutPixels;
        var y = _out.Get(batch, OutFeatures);
        for (int n = 0; n < batch; n++)
        {
            Im2Col(x.Data.AsSpan(n * inSize, inSize), _cols);
            var yn = y.Data.AsSpan(n * OutFeatures, OutFeatures);
            for (int o = 0; o < OutChannels; o++) yn.Slice(o * pixels, pixels).Fill(Bias.Data[o]);
            // Y_n[O, OH·OW] = W[O, C·k·k] · cols[C·k·k, OH·OW] + Y_n
            _gemm.Sgemm(false, false, OutChannels, pixels, PatchSize, 1f, Weight.Data, PatchSize, _cols, pixels, 1f, yn, pixels);
        }
        return y;
    }

    public Tensor Backward(Tensor gradOutput)
    {
        var x = _input ?? throw new InvalidOperationException($"{Name}: Backward before Forward");
        gradOutput.CheckMatrix(x.Rows, OutFeatures, $"{Name} ({Describe()}) output gradient");
        int batch = x.Rows, inSize = InChannels * Height * Width, pixels = OutPixels;
        var dx = InputGradient ? _gradIn.Get(batch, inSize) : NoInputGradient;
        Array.Clear(_gradB);
        if (batch == 0) Array.Clear(_gradW);
        for (int n = 0; n < batch; n++)
        {
            var gn = gradOutput.Data.AsSpan(n * OutFeatures, OutFeatures);
            Im2Col(x.Data.AsSpan(n * inSize, inSize), _cols);
            // ∂W[O, C·k·k] (+)= ∂Y_n[O, OH·OW] · colsᵀ[OH·OW, C·k·k]
            _gemm.Sgemm(false, true, OutChannels, PatchSize, pixels, 1f, gn, pixels, _cols, pixels, n == 0 ? 0f : 1f, _gradW, PatchSize);
            for (int o = 0; o < OutChannels; o++)
            {
                float s = 0;
                foreach (float g in gn.Slice(o * pixels, pixels)) s += g;
                _gradB[o] += s;
            }
            if (!InputGradient) continue;
            // ∂cols[C·k·k, OH·OW] = Wᵀ[C·k·k, O] · ∂Y_n[O, OH·OW]
            _gemm.Sgemm(true, false, PatchSize, pixels, OutChannels, 1f, Weight.Data, PatchSize, gn, pixels, 0f, _dcols, pixels);
            Col2Im(_dcols, dx.Data.AsSpan(n * inSize, inSize));
        }
        Weight.Grad = _gradW;
        Bias.Grad = _gradB;
        return dx;
    }

    /// <summary>cols[(c·k + u)·k + v, i·OW + j] = x[c, i + u − p, j + v − p], 0 outside the image.</summary>
    private void Im2Col(ReadOnlySpan<float> image, Span<float> cols)
    {
        int k = Kernel, oh = OutHeight, ow = OutWidth, ph = _h.PadBefore, pw = _w.PadBefore;
        for (int c = 0; c < InChannels; c++)
        for (int u = 0; u < k; u++)
        for (int v = 0; v < k; v++)
        {
            var row = cols.Slice(((c * k + u) * k + v) * oh * ow, oh * ow);
            for (int i = 0; i < oh; i++)
            {
                int yy = i + u - ph;
                var dst = row.Slice(i * ow, ow);
                if (yy < 0 || yy >= Height) { dst.Clear(); continue; }
                var src = image.Slice((c * Height + yy) * Width, Width);
                for (int j = 0; j < ow; j++)
                {
                    int xx = j + v - pw;
                    dst[j] = xx >= 0 && xx < Width ? src[xx] : 0f;
                }
            }
        }
    }

    /// <summary>The adjoint of <see cref="Im2Col"/>: each patch entry adds into the pixel it was read from.</summary>
    private void Col2Im(ReadOnlySpan<float> cols, Span<float> image)
    {
        image.Clear();
        int k = Kernel, oh = OutHeight, ow = OutWidth, ph = _h.PadBefore, pw = _w.PadBefore;
        for (int c = 0; c < InChannels; c++)
        for (int u = 0; u < k; u++)
        for (int v = 0; v < k; v++)
        {
            var row = cols.Slice(((c * k + u) * k + v) * oh * ow, oh * ow);
            for (int i = 0; i < oh; i++)
            {
                int yy = i + u - ph;
                if (yy < 0 || yy >= Height) continue;
                var dst = image.Slice((c * Height + yy) * Width, Width);
                var src = row.Slice(i * ow, ow);
                for (int j = 0; j < ow; j++)
                {
                    int xx = j + v - pw;
                    if (xx >= 0 && xx < Width) dst[xx] += src[j];
                }
            }
        }
    }

    public string Describe() =>
        $"conv {InChannels}x{Height}x{Width}->{OutChannels}x{OutHeight}x{OutWidth} k{Kernel} {Padding.ToString().ToLowerInvariant()}";
}

/// <summary>
/// Max pooling on NCHW images (tf.nn.max_pool / torch.nn.MaxPool2d): <c>y[n, c, i, j] = max over the k×k window at
/// (i·s − p, j·s − p)</c>, padded positions ignored (TensorFlow pads with −∞ for 'same'). Backward routes each
/// output's gradient to the input element that attained the maximum (the first in row-major window order on ties,
/// as torch does); gradients of overlapping windows (k &gt; s) add up.
/// Input [batch, C·H·W] or [batch, C, H, W]; output [batch, C·OH·OW].
/// </summary>
public sealed class MaxPool2d : ILayer
{
    private readonly Window _h, _w;
    private int[] _argmax = [];
    private Tensor? _input;
    private Buffer _out, _gradIn;

    /// <param name="name">For messages.</param>
    /// <param name="channels">C.</param>
    /// <param name="height">Input height H.</param>
    /// <param name="width">Input width W.</param>
    /// <param name="kernel">Window k×k (2 or 3 in DeepOBS).</param>
    /// <param name="stride">Stride s (2 in DeepOBS).</param>
    /// <param name="padding">'same' (output ⌈H/s⌉) or 'valid'.</param>
    public MaxPool2d(string name, int channels, int height, int width, int kernel, int stride, Padding padding)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(channels, 1);
        Name = name;
        Channels = channels;
        Height = height;
        Width = width;
        Kernel = kernel;
        Stride = stride;
        Padding = padding;
        _h = Window.Create($"{name} height", height, kernel, stride, padding);
        _w = Window.Create($"{name} width", width, kernel, stride, padding);
    }

    public string Name { get; }
    public int Channels { get; }
    public int Height { get; }
    public int Width { get; }
    public int Kernel { get; }
    public int Stride { get; }
    public Padding Padding { get; }
    public int OutHeight => _h.Out;
    public int OutWidth => _w.Out;
    public int OutFeatures => Channels * OutHeight * OutWidth;
    public IReadOnlyList<Parameter> Parameters => [];

    public Tensor Forward(Tensor x, bool training)
    {
        ImageShape.Check(x, Channels, Height, Width, $"{Name} ({Describe()}) input");
        _input = x;
        int batch = x.Rows, inSize = Channels * Height * Width, oh = OutHeight, ow = OutWidth;
        var y = _out.Get(batch, OutFeatures);
        if (_argmax.Length != y.Length) _argmax = new int[y.Length];
        for (int n = 0; n < batch; n++)
        for (int c = 0; c < Channels; c++)
        {
            int plane = n * inSize + c * Height * Width;
            for (int i = 0; i < oh; i++)
            for (int j = 0; j < ow; j++)
            {
                float best = float.NegativeInfinity;
                int at = -1;
                int y0 = i * Stride - _h.PadBefore, x0 = j * Stride - _w.PadBefore;
                for (int u = Math.Max(y0, 0); u < Math.Min(y0 + Kernel, Height); u++)
                for (int v = Math.Max(x0, 0); v < Math.Min(x0 + Kernel, Width); v++)
                {
                    int idx = plane + u * Width + v;
                    // '>' keeps the first maximum; 'at < 0' takes the first element even if it is −∞ or NaN.
                    if (at < 0 || x.Data[idx] > best || float.IsNaN(x.Data[idx]) && !float.IsNaN(best))
                    {
                        best = x.Data[idx];
                        at = idx;
                    }
                }
                int o = (n * Channels + c) * oh * ow + i * ow + j;
                y.Data[o] = best;
                _argmax[o] = at;
            }
        }
        return y;
    }

    public Tensor Backward(Tensor gradOutput)
    {
        var x = _input ?? throw new InvalidOperationException($"{Name}: Backward before Forward");
        gradOutput.CheckMatrix(x.Rows, OutFeatures, $"{Name} ({Describe()}) output gradient");
        var dx = _gradIn.Get(x.Rows, Channels * Height * Width);
        Array.Clear(dx.Data);
        for (int o = 0; o < gradOutput.Length; o++) dx.Data[_argmax[o]] += gradOutput.Data[o];
        return dx;
    }

    public string Describe() =>
        $"maxpool {Kernel}x{Kernel}/{Stride} {Padding.ToString().ToLowerInvariant()} {Channels}x{Height}x{Width}->{Channels}x{OutHeight}x{OutWidth}";
}

/// <summary>
/// Flattens [batch, d1, d2, ...] to [batch, d1·d2·...] (a view: the buffer is shared, not copied); backward gives
/// the gradient the input's shape back. torch.nn.Flatten's row-major order. A 2-D input passes through unchanged.
/// </summary>
public sealed class Flatten(string name = "flatten") : ILayer
{
    private Tensor? _input;

    public string Name { get; } = name;
    public IReadOnlyList<Parameter> Parameters => [];

    public Tensor Forward(Tensor x, bool training)
    {
        _input = x;
        return x.Shape.Count == 2 ? x : new Tensor(x.Data, x.Rows, x.Cols);
    }

    public Tensor Backward(Tensor gradOutput)
    {
        var x = _input ?? throw new InvalidOperationException($"{Name}: Backward before Forward");
        gradOutput.CheckMatrix(x.Rows, x.Cols, $"{Name} output gradient");
        return x.Shape.Count == 2 ? gradOutput : new Tensor(gradOutput.Data, [.. x.Shape]);
    }

    public string Describe() => "flatten";
}
