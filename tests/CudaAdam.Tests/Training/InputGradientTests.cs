using CudaAdam.Training;
using CudaAdam.Training.Layers;
using CudaAdam.Training.Models;
using CudaAdam.Training.Tensors;

namespace CudaAdam.Tests.Training;

/// <summary>A <see cref="Classifier"/> does not compute its first layer's input gradient (nothing uses it), and
/// the parameter gradients stay bitwise what they were with it.</summary>
public class InputGradientTests
{
    [TestCase("mlp")]
    [TestCase("cnn")]
    public void TheFirstLayersInputGradientIsSkippedAndTheParameterGradientsAreUnchanged(string kind)
    {
        Sequential Build() => kind == "mlp"
            ? ModelZoo.Mlp(784, [64, 32], 10, 0, 0, new Rng(1), new Rng(2), new ManagedGemm())
            : ModelZoo.Cnn(28, 28, 10, new Rng(1), new ManagedGemm(), channels: (4, 8), hidden: 16);
        var plain = Build();
        var classifier = new Classifier(Build(), null);
        var rng = new Rng(3);
        var x = Tensor.Zeros(4, 784);
        for (int i = 0; i < x.Data.Length; i++) x.Data[i] = (float)rng.NextDouble();
        byte[] labels = [1, 7, 3, 0];

        // The plain network, every input gradient computed, against the classifier's.
        var logits = plain.Forward(x, training: true);
        var grad = Tensor.Zeros(logits.Rows, logits.Cols);
        SoftmaxCrossEntropy.Compute(logits, labels, grad);
        var dx = plain.Backward(grad);
        Assert.That(dx.Length, Is.EqualTo(4 * 784), "a plain network returns the input gradient");
        classifier.TrainBatch(x, labels);

        var first = classifier.Model.Layers[0];
        Assert.That(first is Linear { InputGradient: false } or Conv2d { InputGradient: false }, "the first layer computes no input gradient");
        Assert.That(classifier.Model.Layers.Skip(1).OfType<Linear>().All(l => l.InputGradient), "the others still do");
        for (int i = 0; i < plain.Parameters.Count; i++)
            Assert.That(classifier.Parameters[i].Grad, Is.EqualTo(plain.Parameters[i].Grad), plain.Parameters[i].Name);
    }
}
