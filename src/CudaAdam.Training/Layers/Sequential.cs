#pragma warning disable CS1591 // CS1591 backlog (issue 13): 6 public members here have no XML doc yet; document them, then delete this line
using CudaAdam.Training.Tensors;

namespace CudaAdam.Training.Layers;

/// <summary>Layers applied in order; backward runs them in reverse. Its parameters are the layers' in order.</summary>
public sealed class Sequential : ILayer
{
    public Sequential(string name, IEnumerable<ILayer> layers)
    {
        Name = name;
        Layers = layers.ToArray();
        Parameters = Layers.SelectMany(l => l.Parameters).ToArray();
        var dup = Parameters.GroupBy(p => p.Name).FirstOrDefault(g => g.Count() > 1);
        if (dup is not null) throw new ArgumentException($"{name}: two parameters are named '{dup.Key}'");
    }

    public string Name { get; }
    public IReadOnlyList<ILayer> Layers { get; }
    public IReadOnlyList<Parameter> Parameters { get; }
    /// <summary>The dropout layers (their generators go into checkpoints).</summary>
    public IEnumerable<Dropout> Dropouts => Layers.OfType<Dropout>();
    /// <summary>Total number of trainable scalars.</summary>
    public long ParameterCount => Parameters.Sum(p => (long)p.Data.Length);

    public Tensor Forward(Tensor x, bool training)
    {
        foreach (var l in Layers) x = l.Forward(x, training);
        return x;
    }

    public Tensor Backward(Tensor gradOutput)
    {
        for (int i = Layers.Count - 1; i >= 0; i--) gradOutput = Layers[i].Backward(gradOutput);
        return gradOutput;
    }

    /// <summary>The architecture in one line, e.g. <c>linear 784->256 | relu | dropout p=0.5 | linear 256->10</c>;
    /// checkpoints store it to reject a mismatched model.</summary>
    public string Describe() => string.Join(" | ", Layers.Select(l => l.Describe()));
}
