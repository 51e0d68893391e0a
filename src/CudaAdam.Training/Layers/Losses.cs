using CudaAdam.Training.Tensors;

namespace CudaAdam.Training.Layers;

/// <summary>
/// Softmax cross-entropy over logits z [batch, classes] with integer labels y (torch.nn.CrossEntropyLoss, mean):
/// <c>L = (1/B) Σ_b [ logΣ_c exp(z_bc) − z_b,y_b ]</c>, <c>∂L/∂z_bc = (softmax(z_b)_c − [c = y_b]) / B</c>.
/// Each row is evaluated in double with the max subtracted (log-sum-exp), so large logits do not overflow.
/// </summary>
public static class SoftmaxCrossEntropy
{
    /// <summary>The mean loss and the number of rows whose arg-max equals the label; writes ∂L/∂z into
    /// <paramref name="gradient"/> when it is not null (same shape as <paramref name="logits"/>).</summary>
    /// <exception cref="ArgumentException">Shapes disagree, or a label is outside [0, classes).</exception>
    public static (double Loss, int Correct) Compute(Tensor logits, ReadOnlySpan<byte> labels, Tensor? gradient)
    {
        int batch = logits.Rows, classes = logits.Cols;
        if (labels.Length != batch)
            throw new ArgumentException($"cross-entropy: {batch} rows of logits but {labels.Length} labels");
        if (gradient is not null && gradient.Length != logits.Length)
            throw new ArgumentException($"cross-entropy: gradient has {gradient.Length} elements, logits {logits.Length}");
        double total = 0;
        int correct = 0;
        var p = new double[classes];
        for (int b = 0; b < batch; b++)
        {
            int y = labels[b];
            if (y >= classes) throw new ArgumentException($"cross-entropy: label {y} in row {b} is not below the {classes} classes");
            var z = logits.Row(b);
            int argmax = 0;
            for (int c = 1; c < classes; c++) if (z[c] > z[argmax]) argmax = c;
            if (argmax == y) correct++;
            double max = z[argmax], sum = 0;
            for (int c = 0; c < classes; c++) sum += p[c] = Math.Exp(z[c] - max);
            double logSum = Math.Log(sum) + max;
            total += logSum - z[y];
            if (gradient is null) continue;
            var g = gradient.Row(b);
            for (int c = 0; c < classes; c++) g[c] = (float)((p[c] / sum - (c == y ? 1.0 : 0.0)) / batch);
        }
        return (batch == 0 ? 0 : total / batch, correct);
    }
}

/// <summary>
/// Mean squared error over every element (torch.nn.MSELoss, mean): <c>L = (1/N) Σ_i (ŷ_i − t_i)²</c>,
/// <c>∂L/∂ŷ_i = 2(ŷ_i − t_i)/N</c>. Accumulated in double.
/// </summary>
public static class MeanSquaredError
{
    /// <summary>The mean loss; writes ∂L/∂ŷ into <paramref name="gradient"/> when not null.</summary>
    public static double Compute(Tensor prediction, Tensor target, Tensor? gradient)
    {
        if (prediction.Length != target.Length)
            throw new ArgumentException($"mse: prediction has {prediction.Length} elements, target {target.Length}");
        if (gradient is not null && gradient.Length != prediction.Length)
            throw new ArgumentException($"mse: gradient has {gradient.Length} elements, prediction {prediction.Length}");
        int n = prediction.Length;
        double total = 0;
        for (int i = 0; i < n; i++)
        {
            double d = (double)prediction.Data[i] - target.Data[i];
            total += d * d;
            if (gradient is not null) gradient.Data[i] = (float)(2 * d / n);
        }
        return n == 0 ? 0 : total / n;
    }
}
