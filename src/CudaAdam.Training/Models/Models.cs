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

    /// <summary>
    /// DeepOBS's fmnist_2c2d (Schneider, Balles &amp; Hennig 2019, after the TensorFlow CNN tutorial) on 1×28×28 images:
    /// <c>conv 32@5×5 'same' → relu → maxpool 2×2/2 'same' → conv 64@5×5 'same' → relu → maxpool 2×2/2 'same'
    /// → linear 3136→1024 → relu → linear 1024→classes</c>, softmax cross-entropy, no regularization.
    /// Shapes: 1×28×28 → 32×28×28 → 32×14×14 → 64×14×14 → 64×7×7 (3,136) → 1,024 → 10; 3,274,634 parameters.
    /// Initialization as DeepOBS documents (its TensorFlow definition): every weight from a normal with standard
    /// deviation 0.05 truncated at two standard deviations (tf.truncated_normal_initializer, redrawn outside), every
    /// bias 0.05. (DeepOBS's PyTorch port uses Xavier weights and zero biases instead.)
    /// </summary>
    /// <param name="height">Image height (28 for Fashion-MNIST); must be a multiple of 4 for the 7×7 arithmetic above
    /// to be exact, though any size ≥ 1 works ('same' pooling rounds up).</param>
    /// <param name="width">Image width (28).</param>
    /// <param name="classes">Outputs (10).</param>
    /// <param name="init">Initial weights, layer by layer (weights then bias; the layers' own draws come first).</param>
    /// <param name="gemm">The GEMM (<see cref="Gemm.Default"/> when null).</param>
    /// <param name="channels">Filters of the two convolutions (DeepOBS: 32, 64); smaller for fast tests.</param>
    /// <param name="hidden">Width of the hidden dense layer (DeepOBS: 1024).</param>
    public static Sequential Cnn(int height, int width, int classes, Rng init, IGemm? gemm = null,
        (int First, int Second)? channels = null, int hidden = 1024)
    {
        var (c1, c2) = channels ?? (32, 64);
        var conv1 = new Conv2d("conv1", 1, c1, 5, height, width, Padding.Same, init, gemm);
        var pool1 = new MaxPool2d("pool1", c1, conv1.OutHeight, conv1.OutWidth, 2, 2, Padding.Same);
        var conv2 = new Conv2d("conv2", c1, c2, 5, pool1.OutHeight, pool1.OutWidth, Padding.Same, init, gemm);
        var pool2 = new MaxPool2d("pool2", c2, conv2.OutHeight, conv2.OutWidth, 2, 2, Padding.Same);
        var fc1 = new Linear("fc1", pool2.OutFeatures, hidden, init, gemm);
        var fc2 = new Linear("fc2", hidden, classes, init, gemm);
        var model = new Sequential("cnn",
            [conv1, new Relu("relu1"), pool1, conv2, new Relu("relu2"), pool2, new Flatten(), fc1, new Relu("relu3"), fc2]);
        foreach (var p in model.Parameters)
        {
            if (p.Name.EndsWith(".bias", StringComparison.Ordinal)) Array.Fill(p.Data, 0.05f);
            else for (int i = 0; i < p.Data.Length; i++) p.Data[i] = (float)(0.05 * TruncatedNormal(init));
        }
        return model;
    }

    /// <summary>A standard normal draw conditioned on |z| ≤ 2 (redrawn outside), as TensorFlow's truncated normal.</summary>
    private static double TruncatedNormal(Rng rng)
    {
        while (true)
        {
            double z = rng.NextNormal();
            if (Math.Abs(z) <= 2) return z;
        }
    }
}
