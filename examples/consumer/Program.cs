// A user's own training loop over CudaAdam's packages: an MLP on the Fashion-MNIST subset that CudaAdam.Training
// embeds, trained with AdamW from one initialization on each backend named on the command line (default: cpu and
// emulator). It checks what a user relies on and exits 1 naming what failed:
//   - the loss falls: the least-squares slope of the minibatch loss over the steps, with its 95% interval
//     (CudaAdam.Experiments' SlopeFit), lies below 0, and the test accuracy beats chance (10%) by far (> 50%);
//   - every backend ends with the same bits (CudaAdam's numerical contract: the fused kernels on the emulator and the
//     SIMD CPU step both equal the CPU reference bit for bit).
//   dotnet run --project examples/consumer [-- cpu emulator]
using CudaAdam;
using CudaAdam.Experiments.Statistics;
using CudaAdam.Training;
using CudaAdam.Training.Data;
using CudaAdam.Training.Layers;
using CudaAdam.Training.Models;
using CudaAdam.Training.Tensors;

const int Steps = 60, Batch = 50;
string[] backends = args.Length > 0 ? args : ["cpu", "emulator"];
var (train, test) = FashionMnist.LoadEmbedded();
var failures = new List<string>();
float[]? firstFinal = null;

foreach (var backendName in backends)
{
    var model = ModelZoo.Mlp(train.Features, [64], train.Classes, dropout: 0, inputDropout: 0,
        init: new Rng(1), dropoutRng: new Rng(2), gemm: new ManagedGemm());
    var hp = Hyperparameters.For(Algorithm.AdamW, lr: 3e-3);   // AdamW's own defaults (weight decay 1e-2), lr changed
    using var opt = new Optimizer(Algorithm.AdamW, model.Parameters, hp, Backends.Create(backendName));

    var sampler = new MinibatchSampler(train.Count, Batch, new Rng(3));
    var x = Tensor.Zeros(Batch, train.Features);
    var labels = new byte[Batch];
    var losses = new List<double>();
    for (int step = 0; step < Steps; step++)
    {
        train.Gather(sampler.NextBatch(), x.Data, labels);
        var logits = model.Forward(x, training: true);
        var dLogits = Tensor.Zeros(Batch, train.Classes);
        var (loss, _) = SoftmaxCrossEntropy.Compute(logits, labels, dLogits);
        model.Backward(dLogits);            // fills every Parameter.Grad
        var r = opt.Step();
        if (r.Skipped) failures.Add($"{backendName}: step {step + 1} was skipped: {r.Reason}");
        losses.Add(loss);
    }

    var all = new Tensor(test.Inputs, test.Count, test.Features);
    var (testLoss, correct) = SoftmaxCrossEntropy.Compute(model.Forward(all, training: false), test.Labels, null);
    double accuracy = (double)correct / test.Count;
    var fit = SlopeFit.Linear(Enumerable.Range(1, Steps).Select(i => (double)i).ToArray(), losses);
    Console.WriteLine($"{backendName}: {Steps} AdamW steps, minibatch loss {losses[0]:F4} -> {losses[^1]:F4} " +
                      $"(slope {fit.Slope:E3} per step, 95% CI [{fit.SlopeLow:E3}, {fit.SlopeHigh:E3}]), " +
                      $"test loss {testLoss:F4}, test accuracy {100 * accuracy:F1}%");
    if (!(fit.SlopeHigh < 0)) failures.Add($"{backendName}: the loss did not fall (slope CI [{fit.SlopeLow}, {fit.SlopeHigh}])");
    if (!(accuracy > 0.5)) failures.Add($"{backendName}: test accuracy {100 * accuracy:F1}% is not above 50%");

    var final = model.Parameters.SelectMany(p => p.Data).ToArray();
    if (firstFinal is null) firstFinal = final;
    else
    {
        int diff = Enumerable.Range(0, final.Length).Count(i => BitConverter.SingleToInt32Bits(final[i]) != BitConverter.SingleToInt32Bits(firstFinal[i]));
        Console.WriteLine($"{backendName}: {diff} of {final.Length} parameters differ in their bits from {backends[0]}'s");
        if (diff != 0) failures.Add($"{backendName}: {diff} parameters differ from {backends[0]}'s");
    }
}

if (failures.Count > 0)
{
    foreach (var f in failures) Console.Error.WriteLine($"consumer: FAILED: {f}");
    return 1;
}
Console.WriteLine($"consumer: OK ({string.Join(", ", backends)})");
return 0;
