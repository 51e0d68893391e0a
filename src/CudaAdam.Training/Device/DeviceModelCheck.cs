#pragma warning disable CS1591 // CS1591 backlog (issue 13): 3 public members here have no XML doc yet; document them, then delete this line
using CudaAdam.Cuda;
using CudaAdam.Training.Layers;
using CudaAdam.Training.Models;
using CudaAdam.Training.Tensors;

namespace CudaAdam.Training.Device;

/// <summary>One compared quantity of <see cref="DeviceModelCheck"/>: the largest |device − cpu| / (atol + rtol·|cpu|)
/// over its elements; it passes at ≤ 1.</summary>
public sealed record DeviceModelCheckRow(string Model, string Quantity, int Values, double WorstRatio)
{
    public bool Passed => WorstRatio <= 1;
    public override string ToString() => FormattableString.Invariant(
        $"{Model,-6} {Quantity,-16} {Values,8}  worst |Δ|/tol {WorstRatio,9:G4}  {(Passed ? "pass" : "FAIL")}");
}

/// <summary>
/// Every kernel of <c>kernels/train.cu</c> against the CPU layers in one call, so that a GPU machine checks the device
/// training path with one command (<c>cudaadam check --train --backend cuda</c>): a tiny DeepOBS-shaped CNN (conv
/// 'same', max-pool, conv, pool, flatten, dense, ReLU, softmax cross-entropy) and an MLP, forward and backward on the
/// device (its GEMM: cuBLAS on CUDA, <c>train_sgemm</c> on the emulator) against the same model on the CPU; the
/// <c>train_sgemm</c> kernel against <see cref="ManagedGemm"/> (so CUDA checks it too); dropout masks bitwise against
/// <see cref="DropoutMask.Value"/>. Tolerance 1e-6 + 1e-5·|cpu| (float sums in other orders), 0 for the masks.
/// The NUnit tests (DeviceTrainingTests) check the same layers one by one in more shapes.
/// </summary>
public static class DeviceModelCheck
{
    private const double Atol = 1e-6, Rtol = 1e-5;

    public static IReadOnlyList<DeviceModelCheckRow> Run(IDevice device)
    {
        var rows = new List<DeviceModelCheckRow>();
        rows.AddRange(CompareModel(device, "cnn", ModelZoo.Cnn(8, 8, 3, new Rng(41), new ManagedGemm(), channels: (2, 3), hidden: 5), 3, 64, 3));
        rows.AddRange(CompareModel(device, "mlp", ModelZoo.Mlp(20, [7, 6], 4, 0, 0, new Rng(51), new Rng(52), new ManagedGemm()), 5, 20, 4));
        rows.Add(CompareKernelGemm(device));
        rows.Add(CompareDropout(device));
        return rows;
    }

    private static float[] Normal(int n, ulong seed, double scale = 1)
    {
        var rng = new Rng(seed);
        var a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float)(scale * rng.NextNormal());
        return a;
    }

    /// <summary>The largest |actual − expected| / (atol + rtol·|expected|); NaN counts as +∞.</summary>
    internal static double Worst(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, double atol = Atol, double rtol = Rtol)
    {
        if (expected.Length != actual.Length) return double.PositiveInfinity;
        double worst = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            double d = Math.Abs((double)actual[i] - expected[i]);
            double r = d == 0 ? 0 : d / (atol + rtol * Math.Abs(expected[i]));   // a zero tolerance gives +∞
            worst = double.IsNaN(r) ? double.PositiveInfinity : Math.Max(worst, r);
        }
        return worst;
    }

    private static IEnumerable<DeviceModelCheckRow> CompareModel(IDevice device, string name, Sequential model, int rows, int features, int classes)
    {
        var rng = new Rng(42);
        foreach (var p in model.Parameters)
            for (int i = 0; i < p.Data.Length; i++) p.Data[i] = (float)(0.5 * rng.NextNormal());
        var x = Normal(rows * features, 43);
        var labels = Enumerable.Range(0, rows).Select(i => (byte)(i % classes)).ToArray();
        var logits = model.Forward(new Tensor((float[])x.Clone(), rows, features), training: true);
        var cpuLogits = (float[])logits.Data.Clone();
        var grad = Tensor.Zeros(rows, classes);
        var (cpuLoss, _) = SoftmaxCrossEntropy.Compute(logits, labels, grad);
        model.Backward(grad);
        var cpuGrads = model.Parameters.Select(p => (float[])p.Grad!.Clone()).ToArray();

        using var host = new Optimizer(Algorithm.Adam, model.Parameters);
        using var engine = new DeviceEngine(device, model, host, features, classes, rows, dropoutSeed: 1);
        using var xb = device.Allocate<float>(x.Length);
        device.CopyToDevice<float>(x, xb);
        using var yb = device.Allocate<int>(rows);
        device.CopyToDevice<int>(labels.Select(b => (int)b).ToArray(), yb);
        using var ce = new DeviceSoftmaxCrossEntropy(device);
        var dlogits = engine.Network.Forward(new DeviceTensor(xb, 0, rows, features), training: true);
        var result = new List<DeviceModelCheckRow> { new(name, "logits", cpuLogits.Length, Worst(cpuLogits, dlogits.ToHost())) };
        var (loss, _) = ce.Compute(dlogits, yb, withGradient: true);
        result.Add(new(name, "loss", 1, Worst([(float)cpuLoss], [(float)loss], 0, Rtol)));
        engine.Network.Backward(ce.Gradient!);
        var grads = new float[engine.Backend.Gradients.Length];
        device.CopyToHost(engine.Backend.Gradients, grads.AsSpan());
        for (int k = 0; k < model.Parameters.Count; k++)
        {
            var p = model.Parameters[k];
            result.Add(new(name, "∂" + p.Name, p.Data.Length, Worst(cpuGrads[k], grads.AsSpan((int)engine.Backend.Offset(p), p.Data.Length))));
        }
        return result;
    }

    /// <summary>train_sgemm (the emulator's GEMM; on CUDA the engine uses cuBLAS) against ManagedGemm, A·Bᵀ and A·B.</summary>
    private static DeviceModelCheckRow CompareKernelGemm(IDevice device)
    {
        const int m = 37, n = 19, k = 23;
        var a = Normal(m * k, 1);
        var b = Normal(k * n, 2);
        using var gemm = new KernelGemm(device);
        using var ab = device.Allocate<float>(a.Length);
        using var bb = device.Allocate<float>(b.Length);
        using var cb = device.Allocate<float>(m * n);
        device.CopyToDevice<float>(a, ab);
        device.CopyToDevice<float>(b, bb);
        double worst = 0;
        foreach (bool transB in new[] { false, true })
        {
            var expected = new float[m * n];
            new ManagedGemm().Sgemm(false, transB, m, n, k, 1f, a, k, b, transB ? k : n, 0f, expected, n);
            var c = new DeviceTensor(cb, 0, m, n);
            gemm.Sgemm(false, transB, m, n, k, 1f, new DeviceTensor(ab, 0, m, k), new DeviceTensor(bb, 0, transB ? n : k, transB ? k : n), 0f, c);
            worst = Math.Max(worst, Worst(expected, c.ToHost(), 1e-5, Rtol));
        }
        return new("gemm", "train_sgemm", 2 * m * n, worst);
    }

    /// <summary>train_dropout_forward/backward against the counter hash in C#, bitwise.</summary>
    private static DeviceModelCheckRow CompareDropout(IDevice device)
    {
        const int rows = 20, cols = 50;
        const double p = 0.3;
        var x = Normal(rows * cols, 8);
        using var dropout = new DeviceDropout(device, "drop", p, seed: 12345, layerIndex: 2) { Step = 7 };
        using var xb = device.Allocate<float>(x.Length);
        device.CopyToDevice<float>(x, xb);
        var y = dropout.Forward(new DeviceTensor(xb, 0, rows, cols), training: true).ToHost();
        var expected = new float[x.Length];
        for (int i = 0; i < x.Length; i++) expected[i] = x[i] * DropoutMask.Value(12345, 7, 2, i, p);
        bool bitwise = System.Runtime.InteropServices.MemoryMarshal.Cast<float, int>(expected.AsSpan())
            .SequenceEqual(System.Runtime.InteropServices.MemoryMarshal.Cast<float, int>(y.AsSpan()));
        return new("drop", "mask (bitwise)", x.Length, bitwise ? 0 : double.PositiveInfinity);
    }
}
