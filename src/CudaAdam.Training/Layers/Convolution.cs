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
/// Computed with im2col and one <see cref="IGemm"/> call per block of images (as many as have 8 MB of patches, see
/// <see cref="ImagesPerBlock"/>): <c>cols[C·k·k, images·OH·OW]</c> holds the block's input
/// patches side by side, <c>Yb[O, images·OH·OW] = W[O, C·k·k] · cols</c>, then each image's [O, OH·OW] slice plus b.
/// Backward: <c>∂W = Σ_blocks ∂Yb · colsᵀ</c>, <c>∂b[o] = Σ_{n,i,j} ∂Y[n, o, i, j]</c>,
/// <c>∂x = col2im(Wᵀ · ∂Yb)</c> per image (overlapping patches add up).
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
    private readonly float[] _gradW, _gradB;
    private float[] _cols = [], _dcols = [], _blockOut = [];
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
        Weight = new Parameter($"{name}.weight", w, [outChannels, inChannels, kernel, kernel]);
        Bias = new Parameter($"{name}.bias", b);
        _gradW = new float[w.Length];
        _gradB = new float[b.Length];
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

    /// <summary>Whether <see cref="Backward"/> computes ∂L/∂x (a GEMM per block and a col2im per image). A network's first
    /// layer needs none, its input being data: <see cref="Training.Classifier"/> turns it off there. Off, Backward
    /// computes the parameter gradients only and returns an empty tensor.</summary>
    public bool InputGradient { get; set; } = true;

    private static readonly Tensor NoInputGradient = new([], 0, 0);

    private int PatchSize => InChannels * Kernel * Kernel;
    private int OutPixels => OutHeight * OutWidth;

    /// <summary>The most floats one block's patch matrix holds (default 2²¹, 8 MB): a block is as many images as
    /// fit, at least one. Tests make it small to run several blocks.</summary>
    internal long MaxBlockFloats { get; set; } = 1L << 21;

    /// <summary>Images per block for a batch: as many as fit in <see cref="MaxBlockFloats"/>, spread evenly over the
    /// blocks (128 images of DeepOBS's conv2 make 10 blocks of 13, its conv1 2 blocks of 64). Blocks of 8 MB measured
    /// as fast as 32 MB and 4 MB ones, and up to 8% faster than one image at a time (fmnist_2c2d, batch 128, 2 threads).</summary>
    internal int ImagesPerBlock(int batch)
    {
        long fit = Math.Max(1, MaxBlockFloats / ((long)PatchSize * OutPixels));
        if (batch <= fit) return Math.Max(batch, 1);
        int blocks = (int)((batch + fit - 1) / fit);
        return (batch + blocks - 1) / blocks;
    }

    /// <summary>Grows the block buffers (patches, their gradient, the output in [O, images·OH·OW] order) to a block
    /// of <paramref name="images"/>.</summary>
    private void Reserve(int images, bool inputGradient)
    {
        int patches = PatchSize * images * OutPixels, outputs = OutChannels * images * OutPixels;
        if (_cols.Length < patches) _cols = new float[patches];
        if (inputGradient && _dcols.Length < patches) _dcols = new float[patches];
        if (_blockOut.Length < outputs) _blockOut = new float[outputs];
    }

    public Tensor Forward(Tensor x, bool training)
    {
        ImageShape.Check(x, InChannels, Height, Width, $"{Name} ({Describe()}) input");
        _input = x;
        int batch = x.Rows, inSize = InChannels * Height * Width, pixels = OutPixels, per = ImagesPerBlock(batch);
        var y = _out.Get(batch, OutFeatures);
        Reserve(per, inputGradient: false);
        for (int n0 = 0; n0 < batch; n0 += per)
        {
            int images = Math.Min(per, batch - n0), ld = images * pixels;
            // cols[C·k·k, images·OH·OW]: image b's patches in columns b·OH·OW …
            Im2ColBlock(x.Data, n0, images, ld);
            // Yb[O, images·OH·OW] = W[O, C·k·k] · cols
            _gemm.Sgemm(false, false, OutChannels, ld, PatchSize, 1f, Weight.Data, PatchSize, _cols, ld, 0f, _blockOut, ld);
            // y[n0 + b, o, :] = Yb[o, b·OH·OW …] + b[o]
            for (int b = 0; b < images; b++)
            for (int o = 0; o < OutChannels; o++)
            {
                var src = _blockOut.AsSpan(o * ld + b * pixels, pixels);
                var dst = y.Data.AsSpan((n0 + b) * OutFeatures + o * pixels, pixels);
                float bias = Bias.Data[o];
                for (int p = 0; p < pixels; p++) dst[p] = src[p] + bias;
            }
        }
        return y;
    }

    public Tensor Backward(Tensor gradOutput)
    {
        var x = _input ?? throw new InvalidOperationException($"{Name}: Backward before Forward");
        gradOutput.CheckMatrix(x.Rows, OutFeatures, $"{Name} ({Describe()}) output gradient");
        int batch = x.Rows, inSize = InChannels * Height * Width, pixels = OutPixels, per = ImagesPerBlock(batch);
        var dx = InputGradient ? _gradIn.Get(batch, inSize) : NoInputGradient;
        Array.Clear(_gradB);
        for (int n = 0; n < batch; n++)
        for (int o = 0; o < OutChannels; o++)
        {
            float s = 0;
            foreach (float g in gradOutput.Data.AsSpan(n * OutFeatures + o * pixels, pixels)) s += g;
            _gradB[o] += s;
        }
        if (batch == 0) Array.Clear(_gradW);
        Reserve(per, InputGradient);
        for (int n0 = 0; n0 < batch; n0 += per)
        {
            int images = Math.Min(per, batch - n0), ld = images * pixels;
            Im2ColBlock(x.Data, n0, images, ld);
            // ∂Yb[o, b·OH·OW …] = ∂y[n0 + b, o, :]
            for (int b = 0; b < images; b++)
            for (int o = 0; o < OutChannels; o++)
                gradOutput.Data.AsSpan((n0 + b) * OutFeatures + o * pixels, pixels).CopyTo(_blockOut.AsSpan(o * ld + b * pixels));
            // ∂W[O, C·k·k] (+)= ∂Yb[O, images·OH·OW] · colsᵀ
            _gemm.Sgemm(false, true, OutChannels, PatchSize, ld, 1f, _blockOut, ld, _cols, ld, n0 == 0 ? 0f : 1f, _gradW, PatchSize);
            if (!InputGradient) continue;
            // ∂cols[C·k·k, images·OH·OW] = Wᵀ[C·k·k, O] · ∂Yb
            _gemm.Sgemm(true, false, PatchSize, ld, OutChannels, 1f, Weight.Data, PatchSize, _blockOut, ld, 0f, _dcols, ld);
            float[] dxData = dx.Data, dcols = _dcols;
            Parallel.For(0, images, b => Col2Im(dcols.AsSpan(b * pixels), ld, dxData.AsSpan((n0 + b) * inSize, inSize)));
        }
        Weight.Grad = _gradW;
        Bias.Grad = _gradB;
        return dx;
    }

    /// <summary>The patches of images n0 … n0 + images − 1 side by side in <c>_cols</c> (row stride ld), the images in
    /// parallel (each writes its own columns, so the result does not depend on the threads).</summary>
    private void Im2ColBlock(float[] x, int n0, int images, int ld)
    {
        int inSize = InChannels * Height * Width, pixels = OutPixels;
        float[] cols = _cols;
        Parallel.For(0, images, b => Im2Col(x.AsSpan((n0 + b) * inSize, inSize), cols.AsSpan(b * pixels), ld));
    }

    /// <summary>cols[(c·k + u)·k + v, i·OW + j] = x[c, i + u − p, j + v − p], 0 outside the image; row r of the
    /// patch matrix starts at <c>r · ld</c>.</summary>
    private void Im2Col(ReadOnlySpan<float> image, Span<float> cols, int ld)
    {
        int k = Kernel, oh = OutHeight, ow = OutWidth, ph = _h.PadBefore, pw = _w.PadBefore;
        for (int c = 0; c < InChannels; c++)
        for (int u = 0; u < k; u++)
        for (int v = 0; v < k; v++)
        {
            var row = cols.Slice(((c * k + u) * k + v) * ld, oh * ow);
            int j0 = Math.Max(0, pw - v), j1 = Math.Min(ow, Width + pw - v);
            for (int i = 0; i < oh; i++)
            {
                int yy = i + u - ph;
                var dst = row.Slice(i * ow, ow);
                if (yy < 0 || yy >= Height || j0 >= j1) { dst.Clear(); continue; }
                // dst[j] = x[c, yy, j + v − pw] for j0 ≤ j < j1, 0 outside.
                dst[..j0].Clear();
                image.Slice((c * Height + yy) * Width + j0 + v - pw, j1 - j0).CopyTo(dst[j0..]);
                dst[j1..].Clear();
            }
        }
    }

    /// <summary>The adjoint of <see cref="Im2Col"/>: each patch entry adds into the pixel it was read from.</summary>
    private void Col2Im(ReadOnlySpan<float> cols, int ld, Span<float> image)
    {
        image.Clear();
        int k = Kernel, oh = OutHeight, ow = OutWidth, ph = _h.PadBefore, pw = _w.PadBefore;
        for (int c = 0; c < InChannels; c++)
        for (int u = 0; u < k; u++)
        for (int v = 0; v < k; v++)
        {
            var row = cols.Slice(((c * k + u) * k + v) * ld, oh * ow);
            int j0 = Math.Max(0, pw - v), j1 = Math.Min(ow, Width + pw - v);
            for (int i = 0; i < oh; i++)
            {
                int yy = i + u - ph;
                if (yy < 0 || yy >= Height || j0 >= j1) continue;
                var dst = image.Slice((c * Height + yy) * Width + j0 + v - pw, j1 - j0);
                var src = row.Slice(i * ow + j0, j1 - j0);
                for (int j = 0; j < dst.Length; j++) dst[j] += src[j];
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
        float[] data = x.Data, yd = y.Data;
        int[] argmax = _argmax;
        int k = Kernel, s = Stride, h = Height, w = Width, ph = _h.PadBefore, pw = _w.PadBefore;
        if (k == 2 && s == 2 && ph == 0 && pw == 0 && h == 2 * oh && w == 2 * ow)
        {
            // Every window is a whole 2×2 block (DeepOBS's pools on even sizes): the same choice, unrolled.
            for (int plane = 0, o = 0; plane < batch * Channels * h * w; plane += h * w)
            for (int i = 0; i < oh; i++)
            for (int j = 0; j < ow; j++, o++)
            {
                int first = plane + 2 * i * w + 2 * j, at = first;
                float best = data[first];
                Take(data[first + 1], first + 1, ref best, ref at);
                Take(data[first + w], first + w, ref best, ref at);
                Take(data[first + w + 1], first + w + 1, ref best, ref at);
                yd[o] = best;
                argmax[o] = at;
            }
            return y;
        }
        for (int n = 0; n < batch; n++)
        for (int c = 0; c < Channels; c++)
        {
            int plane = n * inSize + c * h * w;
            for (int i = 0; i < oh; i++)
            for (int j = 0; j < ow; j++)
            {
                int y0 = i * s - ph, x0 = j * s - pw;
                int u0 = Math.Max(y0, 0), u1 = Math.Min(y0 + k, h);
                int v0 = Math.Max(x0, 0), v1 = Math.Min(x0 + k, w);
                // The window's first element, even if it is −∞ or NaN; then '>' keeps the first maximum, and the first
                // NaN wins over numbers. Selects, not branches: random data mispredicts a branch half the time.
                int at = plane + u0 * w + v0;
                float best = data[at];
                for (int u = u0; u < u1; u++)
                for (int v = v0; v < v1; v++)
                {
                    int idx = plane + u * w + v;
                    Take(data[idx], idx, ref best, ref at);
                }
                int o = (n * Channels + c) * oh * ow + i * ow + j;
                yd[o] = best;
                argmax[o] = at;
            }
        }
        return y;
    }

    /// <summary>Takes <paramref name="e"/> as the window's maximum if it is larger, or the first NaN after numbers.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    private static void Take(float e, int idx, ref float best, ref int at)
    {
        bool take = (e > best) | (float.IsNaN(e) & !float.IsNaN(best));
        // As masks, not branches: random data would mispredict a branch half the time.
        int mask = -System.Runtime.CompilerServices.Unsafe.BitCast<bool, byte>(take);
        best = BitConverter.Int32BitsToSingle(BitConverter.SingleToInt32Bits(e) & mask | BitConverter.SingleToInt32Bits(best) & ~mask);
        at = idx & mask | at & ~mask;
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
