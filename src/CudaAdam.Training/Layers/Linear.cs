using CudaAdam.Training.Tensors;

namespace CudaAdam.Training.Layers;

/// <summary>
/// A fully connected layer, torch.nn.Linear's layout and initialization:
/// <c>y = x Wᵀ + b</c>, W is [out, in] (row-major), b is [out].
/// Backward: <c>∂L/∂W = (∂L/∂y)ᵀ x</c>, <c>∂L/∂b = Σ_rows ∂L/∂y</c>, <c>∂L/∂x = (∂L/∂y) W</c>.
/// Initialization: W, b ~ U(−1/√in, 1/√in) (torch's kaiming_uniform_(a=√5) for W and its bias rule).
/// </summary>
public sealed class Linear : ILayer
{
    private readonly IGemm _gemm;
    private readonly float[] _gradW, _gradB;
    private Tensor? _input;
    private Buffer _out, _gradIn;
    private static readonly Tensor NoInputGradient = new([], 0, 0);

    /// <param name="name">Prefix of the parameter names: <c>{name}.weight</c>, <c>{name}.bias</c>.</param>
    /// <param name="inFeatures">Input features.</param>
    /// <param name="outFeatures">Output features.</param>
    /// <param name="init">Draws the initial weights (consumed: in·out + out uniforms, weights first).</param>
    /// <param name="gemm">The GEMM; <see cref="Gemm.Default"/> when null.</param>
    public Linear(string name, int inFeatures, int outFeatures, Rng init, IGemm? gemm = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(inFeatures, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(outFeatures, 1);
        ArgumentNullException.ThrowIfNull(init);
        Name = name;
        In = inFeatures;
        Out = outFeatures;
        _gemm = gemm ?? Gemm.Default;
        double bound = 1.0 / Math.Sqrt(inFeatures);
        var w = new float[outFeatures * inFeatures];
        for (int i = 0; i < w.Length; i++) w[i] = (float)((2 * init.NextDouble() - 1) * bound);
        var b = new float[outFeatures];
        for (int i = 0; i < b.Length; i++) b[i] = (float)((2 * init.NextDouble() - 1) * bound);
        Weight = new Parameter($"{name}.weight", w, [outFeatures, inFeatures]);
        Bias = new Parameter($"{name}.bias", b);
        _gradW = new float[w.Length];
        _gradB = new float[b.Length];
        Parameters = [Weight, Bias];
    }

    public string Name { get; }
    public int In { get; }
    public int Out { get; }
    /// <summary>W, [out, in] row-major.</summary>
    public Parameter Weight { get; }
    /// <summary>b, [out].</summary>
    public Parameter Bias { get; }
    public IReadOnlyList<Parameter> Parameters { get; }

    /// <summary>Whether <see cref="Backward"/> computes ∂L/∂x (one GEMM, batch·in·out multiply-adds). A network's first
    /// layer needs none, its input being data: <see cref="Training.Classifier"/> turns it off there. Off, Backward
    /// computes the parameter gradients only and returns an empty tensor.</summary>
    public bool InputGradient { get; set; } = true;

    public Tensor Forward(Tensor x, bool training)
    {
        x.CheckMatrix(-1, In, $"{Name} (linear {In}->{Out}) input");
        _input = x;
        int batch = x.Rows;
        var y = _out.Get(batch, Out);
        for (int r = 0; r < batch; r++) Bias.Data.CopyTo(y.Row(r));
        // y[batch, out] = x[batch, in] · Wᵀ + y
        _gemm.Sgemm(false, true, batch, Out, In, 1f, x.Data, In, Weight.Data, In, batch == 0 ? 0f : 1f, y.Data, Out);
        return y;
    }

    public Tensor Backward(Tensor gradOutput)
    {
        var x = _input ?? throw new InvalidOperationException($"{Name}: Backward before Forward");
        gradOutput.CheckMatrix(x.Rows, Out, $"{Name} (linear {In}->{Out}) output gradient");
        int batch = x.Rows;
        // ∂W[out, in] = gᵀ[out, batch] · x[batch, in]
        _gemm.Sgemm(true, false, Out, In, batch, 1f, gradOutput.Data, Out, x.Data, In, 0f, _gradW, In);
        Array.Clear(_gradB);
        for (int r = 0; r < batch; r++)
        {
            var g = gradOutput.Row(r);
            for (int j = 0; j < Out; j++) _gradB[j] += g[j];
        }
        Weight.Grad = _gradW;
        Bias.Grad = _gradB;
        if (!InputGradient) return NoInputGradient;
        // ∂x[batch, in] = g[batch, out] · W[out, in]
        var dx = _gradIn.Get(batch, In);
        _gemm.Sgemm(false, false, batch, In, Out, 1f, gradOutput.Data, Out, Weight.Data, In, 0f, dx.Data, In);
        return dx;
    }

    public string Describe() => $"linear {In}->{Out}";
}
