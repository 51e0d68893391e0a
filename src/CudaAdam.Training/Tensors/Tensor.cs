#pragma warning disable CS1591 // CS1591 backlog (issue 13): 4 public members here have no XML doc yet; document them, then delete this line
namespace CudaAdam.Training.Tensors;

/// <summary>
/// A host tensor: a flat row-major <c>float[]</c> with a shape. Layers work on 2-D tensors [batch, features].
/// The buffer may be a <see cref="Parameter"/>'s <see cref="Parameter.Data"/> (shared, not copied), so the optimizer
/// steps what the layers read.
/// </summary>
public sealed class Tensor
{
    /// <summary>Wraps <paramref name="data"/> (not copied) with <paramref name="shape"/>.</summary>
    /// <exception cref="ArgumentException">The shape's product differs from the buffer's length, or a dimension is negative.</exception>
    public Tensor(float[] data, params int[] shape)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(shape);
        long n = 1;
        foreach (int d in shape)
        {
            if (d < 0) throw new ArgumentException($"negative dimension in shape [{string.Join(", ", shape)}]", nameof(shape));
            n *= d;
        }
        if (n != data.Length)
            throw new ArgumentException($"shape [{string.Join(", ", shape)}] holds {n} elements but the buffer has {data.Length}", nameof(shape));
        Data = data;
        Shape = (int[])shape.Clone();
    }

    /// <summary>A zero tensor of <paramref name="shape"/>.</summary>
    public static Tensor Zeros(params int[] shape)
    {
        long n = 1;
        foreach (int d in shape) n *= d;
        return new Tensor(new float[n], shape);
    }

    public float[] Data { get; }
    public IReadOnlyList<int> Shape { get; }
    public int Length => Data.Length;
    /// <summary>The first dimension (the batch for layer inputs).</summary>
    public int Rows => Shape.Count == 0 ? 1 : Shape[0];
    /// <summary>The product of the dimensions after the first (features per row).</summary>
    public int Cols => Rows == 0 ? 0 : Data.Length / Rows;

    /// <summary>The values of row <paramref name="r"/> of a 2-D view.</summary>
    public Span<float> Row(int r) => Data.AsSpan(r * Cols, Cols);

    /// <summary>Throws unless this tensor is 2-D [<paramref name="rows"/> or any when -1, <paramref name="cols"/>].</summary>
    public void CheckMatrix(int rows, int cols, string what)
    {
        if (Shape.Count != 2 || (rows >= 0 && Shape[0] != rows) || Shape[1] != cols)
            throw new ArgumentException(
                $"{what}: expected a [{(rows >= 0 ? rows.ToString() : "batch")}, {cols}] tensor, got [{string.Join(", ", Shape)}]");
    }

    public override string ToString() => $"Tensor[{string.Join(", ", Shape)}]";
}
