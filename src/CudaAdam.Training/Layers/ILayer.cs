using CudaAdam.Training.Tensors;

namespace CudaAdam.Training.Layers;

/// <summary>
/// A layer with a forward and a backward pass on 2-D host tensors [batch, features]. <see cref="Forward"/> keeps what
/// <see cref="Backward"/> needs (the input, a mask); <see cref="Backward"/> takes ∂L/∂output, writes ∂L/∂θ into each
/// parameter's <see cref="Parameter.Grad"/> (overwriting, not accumulating) and returns ∂L/∂input.
/// One Forward, then at most one Backward, per step. The returned tensors are owned by the layer and overwritten on
/// the next call: copy what you keep.
/// </summary>
/// <remarks>The seam for a device implementation: a GPU layer implements the same calls on device tensors.</remarks>
public interface ILayer
{
    /// <summary>For messages and parameter names (<c>fc1</c>, <c>relu</c>, ...).</summary>
    string Name { get; }
    /// <summary>The trainable parameters (empty for activations).</summary>
    IReadOnlyList<Parameter> Parameters { get; }
    /// <summary>The output for input <paramref name="x"/>; <paramref name="training"/> switches dropout on.</summary>
    Tensor Forward(Tensor x, bool training);
    /// <summary>∂L/∂input from ∂L/∂output of the last <see cref="Forward"/>; sets the parameters' gradients.</summary>
    Tensor Backward(Tensor gradOutput);
    /// <summary>A one-line description for logs and checkpoints (<c>linear 784-&gt;256</c>).</summary>
    string Describe();
}

/// <summary>Reuses an output buffer across steps while the batch size stays the same.</summary>
internal struct Buffer
{
    private Tensor? _t;

    public Tensor Get(int rows, int cols)
    {
        if (_t is null || _t.Shape[0] != rows || _t.Shape[1] != cols) _t = Tensor.Zeros(rows, cols);
        return _t;
    }
}
