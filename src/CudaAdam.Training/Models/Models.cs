using CudaAdam.Training.Layers;
using CudaAdam.Training.Tensors;

namespace CudaAdam.Training.Models;

/// <summary>The models of Kingma &amp; Ba (2015)'s experiments, built from <see cref="Layers"/>.</summary>
public static class ModelZoo
{
    /// <summary>
    /// Multinomial logistic regression (Kingma &amp; Ba 2015, Section 6.1, Fig. 1): one linear layer on the pixels,
    /// softmax cross-entropy loss. <c>p(y|x) = softmax(W x + b)</c>.
    /// </summary>
    public static Sequential LogisticRegression(int inputs, int classes, Rng init, IGemm? gemm = null) =>
        new("logreg", [new Linear("fc", inputs, classes, init, gemm)]);

    /// <summary>
    /// A multilayer perceptron with ReLU and dropout (Kingma &amp; Ba 2015, Section 6.2, Fig. 2: 784-1000-1000-10,
    /// dropout): <c>[dropout(pIn)] → (linear → relu → dropout(p)) per hidden layer → linear</c>.
    /// Every dropout layer draws from <paramref name="dropoutRng"/>.
    /// </summary>
    /// <param name="inputs">Input features (784 for 28×28 images).</param>
    /// <param name="hidden">Widths of the hidden layers, e.g. [1000, 1000].</param>
    /// <param name="classes">Outputs.</param>
    /// <param name="dropout">Drop probability after each hidden layer (0: none).</param>
    /// <param name="inputDropout">Drop probability on the input (0: none).</param>
    /// <param name="init">Initial weights, layer by layer.</param>
    /// <param name="dropoutRng">The dropout masks.</param>
    /// <param name="gemm">The GEMM (<see cref="Gemm.Default"/> when null).</param>
    public static Sequential Mlp(int inputs, IReadOnlyList<int> hidden, int classes, double dropout, double inputDropout,
        Rng init, Rng dropoutRng, IGemm? gemm = null)
    {
        if (hidden.Count == 0) throw new ArgumentException("an MLP needs at least one hidden layer (use LogisticRegression for none)");
        var layers = new List<ILayer>();
        if (inputDropout > 0) layers.Add(new Dropout("drop0", inputDropout, dropoutRng));
        int width = inputs;
        for (int i = 0; i < hidden.Count; i++)
        {
            layers.Add(new Linear($"fc{i + 1}", width, hidden[i], init, gemm));
            layers.Add(new Relu($"relu{i + 1}"));
            if (dropout > 0) layers.Add(new Dropout($"drop{i + 1}", dropout, dropoutRng));
            width = hidden[i];
        }
        layers.Add(new Linear($"fc{hidden.Count + 1}", width, classes, init, gemm));
        return new Sequential("mlp", layers);
    }
}
