#pragma warning disable CS1591 // CS1591 backlog (issue 13): 16 public members here have no XML doc yet; document them, then delete this line
using System.Numerics;
using CudaAdam.Training.Tensors;

namespace CudaAdam.Training.Layers;

/// <summary>ReLU: <c>y = max(x, 0)</c>; ∂y/∂x = 1 where x &gt; 0, else 0 (0 at x = 0, as torch).</summary>
public sealed class Relu(string name = "relu") : ILayer
{
    private Tensor? _input;
    private Buffer _out, _gradIn;

    public string Name { get; } = name;
    public IReadOnlyList<Parameter> Parameters => [];

    public Tensor Forward(Tensor x, bool training)
    {
        _input = x;
        var y = _out.Get(x.Rows, x.Cols);
        Select(x.Data.AsSpan(0, x.Length), x.Data, y.Data);
        return y;
    }

    public Tensor Backward(Tensor gradOutput)
    {
        var x = _input ?? throw new InvalidOperationException($"{Name}: Backward before Forward");
        gradOutput.CheckMatrix(x.Rows, x.Cols, $"{Name} output gradient");
        var dx = _gradIn.Get(x.Rows, x.Cols);
        Select(x.Data.AsSpan(0, x.Length), gradOutput.Data, dx.Data);
        return dx;
    }

    /// <summary><c>dst[i] = x[i] &gt; 0 ? v[i] : 0</c> (so NaN and −0 give +0), with vectors: a branch per element
    /// mispredicts half the time on random signs (9 ms vs under 1 ms for 3.2M elements here).</summary>
    private static void Select(ReadOnlySpan<float> x, ReadOnlySpan<float> v, Span<float> dst)
    {
        int i = 0, w = Vector<float>.Count;
        v = v[..x.Length];
        dst = dst[..x.Length];
        for (; i <= x.Length - w; i += w)
        {
            var positive = Vector.GreaterThan(new Vector<float>(x[i..]), Vector<float>.Zero);
            Vector.ConditionalSelect(positive, new Vector<float>(v[i..]), Vector<float>.Zero).CopyTo(dst[i..]);
        }
        for (; i < x.Length; i++) dst[i] = x[i] > 0 ? v[i] : 0f;
    }

    public string Describe() => "relu";
}

/// <summary>
/// Softplus, torch.nn.Softplus(beta=1, threshold=20): <c>y = log(1 + eˣ)</c>, and <c>y = x</c> where x &gt; 20
/// (where log(1+eˣ) = x in float). ∂y/∂x = σ(x) = 1/(1 + e⁻ˣ) (1 above the threshold).
/// Evaluated as <c>max(x,0) + log1p(e^−|x|)</c> in double, then rounded: no overflow for large |x|.
/// </summary>
public sealed class Softplus(string name = "softplus") : ILayer
{
    /// <summary>torch's threshold above which softplus is the identity.</summary>
    public const float Threshold = 20f;
    private Tensor? _input;
    private Buffer _out, _gradIn;

    public string Name { get; } = name;
    public IReadOnlyList<Parameter> Parameters => [];

    public Tensor Forward(Tensor x, bool training)
    {
        _input = x;
        var y = _out.Get(x.Rows, x.Cols);
        for (int i = 0; i < x.Length; i++)
        {
            double v = x.Data[i];
            y.Data[i] = v > Threshold ? (float)v : (float)(Math.Max(v, 0) + Log1P(Math.Exp(-Math.Abs(v))));
        }
        return y;
    }

    public Tensor Backward(Tensor gradOutput)
    {
        var x = _input ?? throw new InvalidOperationException($"{Name}: Backward before Forward");
        gradOutput.CheckMatrix(x.Rows, x.Cols, $"{Name} output gradient");
        var dx = _gradIn.Get(x.Rows, x.Cols);
        for (int i = 0; i < x.Length; i++)
        {
            double v = x.Data[i];
            double s = v > Threshold ? 1.0 : 1.0 / (1.0 + Math.Exp(-v));
            dx.Data[i] = (float)(gradOutput.Data[i] * s);
        }
        return dx;
    }

    public string Describe() => "softplus";

    /// <summary>log(1 + u) accurate for tiny u (Goldberg 1991, "What every computer scientist should know about
    /// floating-point arithmetic", Theorem 4): u·log(w)/(w − 1) with w = 1 + u rounded. .NET has no log1p.</summary>
    internal static double Log1P(double u)
    {
        double w = 1.0 + u;
        return w == 1.0 ? u : u * Math.Log(w) / (w - 1.0);
    }
}

/// <summary>
/// Inverted dropout (Srivastava et al., 2014; torch.nn.Dropout): in training each element is zeroed with probability
/// p and the kept ones are scaled by 1/(1−p), so evaluation is the identity. The mask comes from the layer's own
/// seeded <see cref="Rng"/> (one uniform per element, row-major; element kept when u ≥ p), so runs and resumed runs
/// draw the same masks. p = 0 draws nothing.
/// </summary>
public sealed class Dropout : ILayer
{
    private readonly float _scale;
    private float[] _mask = [];
    private bool _masked;
    private Buffer _out, _gradIn;

    /// <param name="name">For messages.</param>
    /// <param name="p">Drop probability in [0, 1).</param>
    /// <param name="rng">The mask generator (owned by the caller, saved in checkpoints).</param>
    public Dropout(string name, double p, Rng rng)
    {
        if (!(p >= 0 && p < 1)) throw new ArgumentOutOfRangeException(nameof(p), p, "dropout probability must be in [0, 1)");
        Name = name;
        P = p;
        Rng = rng ?? throw new ArgumentNullException(nameof(rng));
        _scale = (float)(1.0 / (1.0 - p));
    }

    public string Name { get; }
    public double P { get; }
    /// <summary>The mask generator.</summary>
    public Rng Rng { get; }
    public IReadOnlyList<Parameter> Parameters => [];

    public Tensor Forward(Tensor x, bool training)
    {
        _masked = training && P > 0;
        if (!_masked) return x;
        if (_mask.Length != x.Length) _mask = new float[x.Length];
        var y = _out.Get(x.Rows, x.Cols);
        float p = (float)P;
        for (int i = 0; i < x.Length; i++)
        {
            _mask[i] = Rng.NextFloat() >= p ? _scale : 0f;
            y.Data[i] = x.Data[i] * _mask[i];
        }
        return y;
    }

    public Tensor Backward(Tensor gradOutput)
    {
        if (!_masked) return gradOutput;
        if (gradOutput.Length != _mask.Length)
            throw new ArgumentException($"{Name}: output gradient has {gradOutput.Length} elements, the last forward had {_mask.Length}");
        var dx = _gradIn.Get(gradOutput.Rows, gradOutput.Cols);
        for (int i = 0; i < dx.Length; i++) dx.Data[i] = gradOutput.Data[i] * _mask[i];
        return dx;
    }

    public string Describe() => FormattableString.Invariant($"dropout p={P}");
}
