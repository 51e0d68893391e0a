using CudaAdam.Cuda;
using CudaAdam.Device;
using CudaAdam.Tests.Emulator;
using CudaAdam.Tests.Kernels;
using CudaAdam.Training;
using CudaAdam.Training.Data;
using CudaAdam.Training.Device;
using CudaAdam.Training.Layers;
using CudaAdam.Training.Models;
using CudaAdam.Training.Tensors;

namespace CudaAdam.Tests.Training;

/// <summary>
/// The device training path (kernels/train.cu, src/CudaAdam.Training/Device/): the GEMM, each device layer against
/// its CPU layer (conv and max-pool included), finite-difference gradient checks of the device MLP and CNN, short
/// training runs, bitwise resume from a checkpoint (MLP, CNN) and a corrupt checkpoint. One body, two devices: <see cref="DeviceTrainingEmulatorTests"/> (every run;
/// skipped with the reason when .build/native/libcudaadam_emu.so is missing) and <see cref="DeviceTrainingGpuTests"/>
/// ([Category("Gpu")], skipped without a GPU). Sizes are tiny: the emulator runs a few tens of M elements/s.
/// </summary>
public abstract class DeviceTrainingTests
{
    /// <summary>"emulator" or "cuda".</summary>
    protected abstract string Backend { get; }

    private IDevice Open() => KernelDevices.OpenOrIgnore(Backend);

    private static float[] Normal(int n, ulong seed, double scale = 1)
    {
        var rng = new Rng(seed);
        var a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float)(scale * rng.NextNormal());
        return a;
    }

    private static DeviceTensor Upload(IDevice device, List<IDisposable> owned, float[] values, int rows, int cols)
    {
        var b = device.Allocate<float>(Math.Max(1, values.Length));
        owned.Add(b);
        var t = new DeviceTensor(b, 0, rows, cols);
        t.Upload(values);
        return t;
    }

    // ---------------------------------------------------------------------------------------------------------
    // GEMM
    // ---------------------------------------------------------------------------------------------------------

    public static IEnumerable<TestCaseData> GemmCases()
    {
        foreach (var (m, n, k) in new[] { (37, 19, 23), (1, 33, 17), (16, 16, 16), (5, 3, 1), (40, 2, 70) })
            foreach (bool ta in new[] { false, true })
                foreach (bool tb in new[] { false, true })
                    yield return new TestCaseData(ta, tb, m, n, k).SetArgDisplayNames($"{(ta ? "T" : "N")}{(tb ? "T" : "N")} {m}x{n}x{k}");
    }

    /// <summary>
    /// Against <see cref="ManagedGemm"/> with alpha = 1.5, beta = −0.5 over a non-zero C. Tolerance: the float
    /// summation bound |Δ| ≤ 2·k·u·Σ_p |a_ip b_pj| + 2u·|ref| (u = 2⁻²⁴), both GEMMs sum in float in different orders.
    /// The train.cu kernel sums in k order like ManagedGemm's AXPY path, so with B not transposed they agree bit for
    /// bit (asserted for the kernel; cuBLAS splits k its own way).
    /// </summary>
    [TestCaseSource(nameof(GemmCases))]
    public void GemmMatchesManagedGemm(bool transA, bool transB, int m, int n, int k)
    {
        using var device = Open();
        var owned = new List<IDisposable>();
        try
        {
            var a = Normal(m * k, 1);
            var b = Normal(k * n, 2);
            var c = Normal(m * n, 3);
            var expected = (float[])c.Clone();
            int lda = transA ? m : k, ldb = transB ? k : n;
            new ManagedGemm().Sgemm(transA, transB, m, n, k, 1.5f, a, lda, b, ldb, -0.5f, expected, n);
            var da = Upload(device, owned, a, transA ? k : m, transA ? m : k);
            var db = Upload(device, owned, b, transB ? n : k, transB ? k : n);
            var dc = Upload(device, owned, c, m, n);
            var gemms = new List<IDeviceGemm> { new KernelGemm(device) };
            if (device is CudaDevice cuda) gemms.Add(new CublasGemm(cuda));
            foreach (var gemm in gemms)
            {
                dc.Upload(c);
                gemm.Sgemm(transA, transB, m, n, k, 1.5f, da, db, -0.5f, dc);
                var got = dc.ToHost();
                const double u = 1.0 / (1 << 24);
                for (int i = 0; i < m; i++)
                    for (int j = 0; j < n; j++)
                    {
                        double sumAbs = 0;
                        for (int p = 0; p < k; p++)
                            sumAbs += Math.Abs((double)a[transA ? p * lda + i : i * lda + p] * b[transB ? j * ldb + p : p * ldb + j]);
                        double r = expected[i * n + j];
                        double tol = 2 * k * u * 1.5 * sumAbs + 2 * u * Math.Abs(r) + 1e-30;
                        Assert.That(got[i * n + j], Is.EqualTo(r).Within(tol), $"{gemm.Name} C[{i},{j}]");
                    }
                if (gemm is KernelGemm && !transB)
                    EmulatorTestSupport.AssertBitwiseEqual(expected, got, $"{gemm.Name} with B not transposed sums in ManagedGemm's order");
                (gemm as IDisposable)?.Dispose();
            }
        }
        finally { owned.ForEach(o => o.Dispose()); }
    }

    [Test]
    public void GemmWithBetaZeroDoesNotReadC()
    {
        using var device = Open();
        var owned = new List<IDisposable>();
        try
        {
            var a = Normal(6 * 4, 4);
            var b = Normal(4 * 5, 5);
            var nan = Enumerable.Repeat(float.NaN, 30).ToArray();
            var dc = Upload(device, owned, nan, 6, 5);
            using var gemm = new KernelGemm(device);
            gemm.Sgemm(false, false, 6, 5, 4, 1f, Upload(device, owned, a, 6, 4), Upload(device, owned, b, 4, 5), 0f, dc);
            Assert.That(dc.ToHost(), Has.All.Not.NaN);
            Assert.That(() => gemm.Sgemm(false, false, 6, 5, 3, 1f, Upload(device, owned, a, 6, 4), Upload(device, owned, b, 4, 5), 0f, dc),
                Throws.ArgumentException.With.Message.Contains("A must be [6, 3]"));
        }
        finally { owned.ForEach(o => o.Dispose()); }
    }

    // ---------------------------------------------------------------------------------------------------------
    // Layers against the CPU layers
    // ---------------------------------------------------------------------------------------------------------

    /// <summary>DeviceLinear vs Linear (ManagedGemm) on the same weights: forward and ∂x, ∂W within the GEMM bound
    /// above (k ≤ 13 here: 1e-5 relative + 1e-6 absolute covers it), ∂b bit for bit (the same loop).</summary>
    [Test]
    public void LinearMatchesTheCpuLayer()
    {
        using var device = Open();
        var owned = new List<IDisposable>();
        try
        {
            var cpu = new Linear("fc", 13, 7, new Rng(3), new ManagedGemm());
            using var opt = new DeviceBackend(device, new DeviceBackendOptions { Residency = Residency.Device });
            using var holder = new Optimizer(Algorithm.Adam, cpu.Parameters, null, opt);
            var gemm = DeviceGemm.For(device);
            using var dev = new DeviceLinear(cpu, opt, gemm);
            var x = Normal(9 * 13, 4);
            var g = Normal(9 * 7, 5);
            var y = cpu.Forward(new Tensor(x, 9, 13), true).Data;
            var dx = cpu.Backward(new Tensor(g, 9, 7)).Data;
            var dy = dev.Forward(Upload(device, owned, x, 9, 13), true).ToHost();
            var ddx = dev.Backward(Upload(device, owned, g, 9, 7))!.ToHost();
            AssertClose(y, dy, "forward");
            AssertClose(dx, ddx, "input gradient");
            AssertClose(cpu.Weight.Grad!, dev.WeightGrad.ToHost(), "weight gradient");
            EmulatorTestSupport.AssertBitwiseEqual(cpu.Bias.Grad!, dev.BiasGrad.ToHost(), "bias gradient");
            Assert.That(dev.Backward(Upload(device, owned, g, 9, 7), needInputGradient: false), Is.Null);
            (gemm as IDisposable)?.Dispose();
        }
        finally { owned.ForEach(o => o.Dispose()); }
    }

    private static void AssertClose(float[] expected, float[] actual, string what)
    {
        Assert.That(actual, Has.Length.EqualTo(expected.Length), what);
        for (int i = 0; i < expected.Length; i++)
            Assert.That(actual[i], Is.EqualTo(expected[i]).Within(1e-6 + 1e-5 * Math.Abs(expected[i])), $"{what}[{i}]");
    }

    [Test]
    public void ReluIsBitwiseTheCpuLayer()
    {
        using var device = Open();
        var owned = new List<IDisposable>();
        try
        {
            var x = Normal(11 * 6, 6);
            x[0] = 0f;
            x[1] = -0f;
            var g = Normal(11 * 6, 7);
            var cpu = new Relu();
            var y = cpu.Forward(new Tensor(x, 11, 6), true).Data;
            var dx = cpu.Backward(new Tensor(g, 11, 6)).Data;
            using var dev = new DeviceRelu(device);
            EmulatorTestSupport.AssertBitwiseEqual(y, dev.Forward(Upload(device, owned, x, 11, 6), true).ToHost(), "forward");
            EmulatorTestSupport.AssertBitwiseEqual(dx, dev.Backward(Upload(device, owned, g, 11, 6))!.ToHost(), "backward");
        }
        finally { owned.ForEach(o => o.Dispose()); }
    }

    /// <summary>The device mask is bitwise its C# twin <see cref="DropoutMask"/>; forward and backward use the same
    /// mask; another step draws another mask; evaluation is the identity; about 1−p of the elements survive.</summary>
    [Test]
    public void DropoutMasksAreTheCounterBasedHash()
    {
        using var device = Open();
        var owned = new List<IDisposable>();
        try
        {
            const int rows = 20, cols = 50;
            const double p = 0.3;
            var x = Normal(rows * cols, 8);
            var g = Normal(rows * cols, 9);
            using var dev = new DeviceDropout(device, "drop", p, seed: 12345, layerIndex: 2) { Step = 7 };
            var dx = Upload(device, owned, x, rows, cols);
            var y = dev.Forward(dx, training: true).ToHost();
            var back = dev.Backward(Upload(device, owned, g, rows, cols))!.ToHost();
            var yExpected = new float[x.Length];
            var bExpected = new float[x.Length];
            int kept = 0;
            for (int i = 0; i < x.Length; i++)
            {
                float mask = DropoutMask.Value(12345, 7, 2, i, p);
                yExpected[i] = x[i] * mask;
                bExpected[i] = g[i] * mask;
                if (mask != 0) kept++;
            }
            EmulatorTestSupport.AssertBitwiseEqual(yExpected, y, "forward");
            EmulatorTestSupport.AssertBitwiseEqual(bExpected, back, "backward");
            // 1000 Bernoulli(0.7): sd ≈ 14.5; 5 sd.
            Assert.That(kept, Is.InRange(700 - 73, 700 + 73));
            dev.Step = 8;
            var y8 = dev.Forward(dx, training: true).ToHost();
            Assert.That(y8.Zip(y).Count(t => (t.First == 0) != (t.Second == 0)), Is.GreaterThan(100), "step 8 draws a new mask");
            Assert.That(dev.Forward(dx, training: false), Is.SameAs(dx), "evaluation is the identity");
        }
        finally { owned.ForEach(o => o.Dispose()); }
    }

    /// <summary>Against <see cref="SoftmaxCrossEntropy"/>: same per-row math in double, so the loss agrees to 1e-12
    /// relative (the sums run in different orders), hits exactly, the float gradient within 1e-7 absolute (double exp
    /// on the GPU is not always libm's to the last bit).</summary>
    [Test]
    public void SoftmaxCrossEntropyMatchesTheCpuLoss()
    {
        using var device = Open();
        var owned = new List<IDisposable>();
        try
        {
            const int rows = 300, classes = 10;
            var z = Normal(rows * classes, 10, scale: 4);
            z[5] = 80f;   // large logits do not overflow
            var labels = new byte[rows];
            var rng = new Rng(11);
            for (int i = 0; i < rows; i++) labels[i] = (byte)rng.NextInt(classes);
            var grad = Tensor.Zeros(rows, classes);
            var (loss, correct) = SoftmaxCrossEntropy.Compute(new Tensor(z, rows, classes), labels, grad);
            using var ce = new DeviceSoftmaxCrossEntropy(device);
            using var dl = device.Allocate<int>(rows);
            device.CopyToDevice<int>(labels.Select(b => (int)b).ToArray(), dl);
            var (dloss, dcorrect) = ce.Compute(Upload(device, owned, z, rows, classes), dl, withGradient: true);
            Assert.That(dloss, Is.EqualTo(loss).Within(1e-12 * Math.Abs(loss)));
            Assert.That(dcorrect, Is.EqualTo(correct));
            var dg = ce.Gradient!.ToHost();
            for (int i = 0; i < dg.Length; i++) Assert.That(dg[i], Is.EqualTo(grad.Data[i]).Within(1e-7), $"gradient[{i}]");
            var (eloss, ecorrect) = ce.Compute(Upload(device, owned, z, rows, classes), dl, withGradient: false);
            Assert.That((eloss, ecorrect), Is.EqualTo((dloss, dcorrect)), "evaluation gives the same numbers");
            Assert.That(ce.Gradient, Is.Null);
        }
        finally { owned.ForEach(o => o.Dispose()); }
    }

    // ---------------------------------------------------------------------------------------------------------
    // The device MLP: gradient check
    // ---------------------------------------------------------------------------------------------------------

    /// <summary>
    /// Every parameter gradient of a device MLP 6-5-4-3 (dropout 0.25 on the input and hidden layers, fixed step so the
    /// mask is fixed) against central differences of the device loss, perturbing the parameter arena in place:
    /// h = 1e-2 and |fd − analytic| ≤ 2e-3 + 2e-2·|analytic| (GradientCheckTests' reasoning: the model computes in float).
    /// </summary>
    [Test]
    public void DeviceMlpPassesAGradientCheck()
    {
        using var device = Open();
        const int rows = 8, features = 6, classes = 3;
        var dropRng = new Rng(5);
        var model = ModelZoo.Mlp(features, [5, 4], classes, dropout: 0.25, inputDropout: 0.25, new Rng(4), dropRng, new ManagedGemm());
        using var host = new Optimizer(Algorithm.Adam, model.Parameters);
        using var engine = new DeviceEngine(device, model, host, features, classes, rows, dropoutSeed: 99);
        var x = Normal(rows * features, 6);
        var labels = new byte[rows];
        for (int i = 0; i < rows; i++) labels[i] = (byte)(i % classes);
        using var xb = device.Allocate<float>(x.Length);
        device.CopyToDevice<float>(x, xb);
        using var yb = device.Allocate<int>(rows);
        device.CopyToDevice<int>(labels.Select(b => (int)b).ToArray(), yb);
        var input = new DeviceTensor(xb, 0, rows, features);
        using var ce = new DeviceSoftmaxCrossEntropy(device);
        var net = engine.Network;
        net.Step = 3;

        var (_, _) = ce.Compute(net.Forward(input, training: true), yb, withGradient: true);
        net.Backward(ce.Gradient!);
        var opt = engine.Backend;
        var grads = new float[opt.Gradients.Length];
        device.CopyToHost(opt.Gradients, grads.AsSpan());
        var values = new float[opt.Values.Length];
        device.CopyToHost(opt.Values, values.AsSpan());
        const double h = 1e-2, atol = 2e-3, rtol = 2e-2;
        int checkedCount = 0;
        foreach (var p in model.Parameters)
        {
            long off = opt.Offset(p);
            for (int i = 0; i < p.Data.Length; i++)
            {
                float orig = values[off + i];
                float plus = (float)(orig + h), minus = (float)(orig - h);
                device.CopyToDevice<float>([plus], opt.Values, off + i);
                double lp = ce.Compute(net.Forward(input, training: true), yb, withGradient: false).Loss;
                device.CopyToDevice<float>([minus], opt.Values, off + i);
                double lm = ce.Compute(net.Forward(input, training: true), yb, withGradient: false).Loss;
                device.CopyToDevice<float>([orig], opt.Values, off + i);
                double fd = (lp - lm) / ((double)plus - minus);
                Assert.That(grads[off + i], Is.EqualTo(fd).Within(atol + rtol * Math.Abs(fd)), $"{p.Name}[{i}]");
                checkedCount++;
            }
        }
        Assert.That(checkedCount, Is.EqualTo(model.ParameterCount));
        Assert.That(grads.Any(v => v != 0), "some gradient is non-zero");
    }

    // ---------------------------------------------------------------------------------------------------------
    // Training, checkpoints
    // ---------------------------------------------------------------------------------------------------------

    private sealed class Run(Trainer trainer, DeviceEngine engine, Optimizer host) : IDisposable
    {
        public Trainer Trainer { get; } = trainer;
        public DeviceEngine Engine { get; } = engine;

        public void Dispose()
        {
            Engine.Dispose();
            host.Dispose();
        }
    }

    private const int DeviceMlpStepsPerEpoch = 96 / 32;

    /// <summary>A tiny MLP 784-12-10 (dropout 0.3, input dropout 0.1) on the device, from the fixtures' seeds.</summary>
    private static Run DeviceMlp(IDevice device, Algorithm algorithm, Hyperparameters hp, int epochs = 2, int trainCount = 96, int batch = 32)
    {
        const ulong seed = 7;
        var dropRng = Rng.ForStream(seed, 2);
        var model = ModelZoo.Mlp(784, [12], 10, dropout: 0.3, inputDropout: 0.1, Rng.ForStream(seed, 0), dropRng);
        var host = new Optimizer(algorithm, model.Parameters, hp);
        var options = new TrainerOptions { Epochs = epochs, BatchSize = batch, EvalBatchSize = 64, Scheduler = LrScheduler.ForKind("cosine", warmup: 2) };
        var engine = new DeviceEngine(device, model, host, 784, 10, Math.Max(batch, 64), DropoutMask.SeedOf(dropRng));
        var trainer = new Trainer(model, host, TrainingFixtures.Train(trainCount), TrainingFixtures.Test(64), options,
            Rng.ForStream(seed, 1), dropRng, engine);
        return new Run(trainer, engine, host);
    }

    [Test]
    public void ShortDeviceRunReducesTheLoss()
    {
        using var device = Open();
        using var run = DeviceMlp(device, Algorithm.Adam, Hyperparameters.Defaults(Algorithm.Adam) with { Lr = 3e-3 }, epochs: 3);
        var t = run.Trainer;
        var (loss0, _) = TrainingFixtures.Of(t).Evaluate(TrainingFixtures.Of(t).Test!);
        var epochs = new List<EpochRecord>();
        t.Run(onEpoch: epochs.Add);
        Assert.That(t.Finished);
        Assert.That(epochs, Has.Count.EqualTo(3));
        Assert.That(epochs[^1].TrainLoss, Is.LessThan(epochs[0].TrainLoss), "training loss falls from epoch 1 to 3");
        Assert.That(epochs[^1].TestLoss, Is.LessThan(loss0), "test loss falls below the initial model's");
        Assert.That(run.Engine.Backend.DeviceCounters(), Is.EqualTo((t.Step, 0L)), "every step was taken");
    }

    public static IEnumerable<TestCaseData> ResumeCases()
    {
        yield return new TestCaseData(Algorithm.Adam, Hyperparameters.Defaults(Algorithm.Adam) with { Amsgrad = true }).SetArgDisplayNames("amsgrad");
        yield return new TestCaseData(Algorithm.Sgd, Hyperparameters.For(Algorithm.Sgd, lr: 0.05, momentum: 0.9, nesterov: true)).SetArgDisplayNames("sgd-nesterov");
        yield return new TestCaseData(Algorithm.Lion, Hyperparameters.Defaults(Algorithm.Lion)).SetArgDisplayNames("lion");
        // eval()/train() around the epoch's evaluation move the device values through the host (x, then y back).
        yield return new TestCaseData(Algorithm.AdamWScheduleFree, Hyperparameters.Defaults(Algorithm.AdamWScheduleFree) with { WarmupSteps = 2 })
            .SetArgDisplayNames("schedulefree-adamw");
    }

    /// <summary>8 steps straight vs 4 steps, checkpoint, a fresh trainer loads it, 4 more: parameters, optimizer state
    /// (buffers, step, β powers), the sampler and the epoch sums are bitwise equal, and so are the files the two
    /// runs save at the end.</summary>
    [TestCaseSource(nameof(ResumeCases))]
    public void ResumeIsBitwise(Algorithm algorithm, Hyperparameters hp)
    {
        using var device = Open();
        using var dir = new TempDirectory();
        string straightFile = Path.Combine(dir.Path, "straight.ckpt"), half = Path.Combine(dir.Path, "half.ckpt"),
            resumedFile = Path.Combine(dir.Path, "resumed.ckpt");
        Assert.That(DeviceMlpStepsPerEpoch, Is.EqualTo(3), "8 steps cross an epoch boundary (the epoch sums reset)");
        using (var straight = DeviceMlp(device, algorithm, hp, epochs: 3))
        {
            straight.Trainer.Run(stopAfterStep: 8);
            Checkpoint.Save(straightFile, straight.Trainer);
        }
        byte[] firstBits, firstState;
        (long, double, long, long) counters;
        int position;
        using (var first = DeviceMlp(device, algorithm, hp, epochs: 3))
        {
            first.Trainer.Run(stopAfterStep: 4);
            Checkpoint.Save(half, first.Trainer);
        }
        using (var second = DeviceMlp(device, algorithm, hp, epochs: 3))
        {
            Checkpoint.Load(half, second.Trainer);
            Assert.That(second.Trainer.Step, Is.EqualTo(4));
            second.Trainer.Run(stopAfterStep: 8);
            Checkpoint.Save(resumedFile, second.Trainer);
            firstBits = TrainingFixtures.Bits(second.Trainer);
            firstState = TrainingFixtures.StateBits(second.Trainer);
            var (step, lossSum, correct, seen, _) = second.Trainer.Counters;
            counters = (step, lossSum, correct, seen);
            position = second.Trainer.Sampler!.Position;
        }
        using (var reference = DeviceMlp(device, algorithm, hp, epochs: 3))
        {
            Checkpoint.Load(straightFile, reference.Trainer);
            Assert.That(TrainingFixtures.Bits(reference.Trainer), Is.EqualTo(firstBits), "parameters");
            Assert.That(TrainingFixtures.StateBits(reference.Trainer), Is.EqualTo(firstState), "optimizer state");
            var (step, lossSum, correct, seen, _) = reference.Trainer.Counters;
            Assert.That((step, lossSum, correct, seen), Is.EqualTo(counters), "step and the epoch's running sums");
            Assert.That(reference.Trainer.Sampler!.Position, Is.EqualTo(position), "sampler position");
        }
    }

    /// <summary>UploadParameters/SetState on a device-resident optimizer (what a checkpoint load does): an optimizer
    /// restored from another's downloaded parameters and state continues bitwise like it; a state that does not fit is refused.</summary>
    [TestCase(Algorithm.AdamW, false)]
    [TestCase(Algorithm.Adam, true)]
    [TestCase(Algorithm.Sgd, false)]
    public void OptimizerStateRoundTripsThroughTheHost(Algorithm algorithm, bool amsgrad)
    {
        using var device = Open();
        var hp = algorithm == Algorithm.Sgd ? Hyperparameters.For(Algorithm.Sgd, lr: 0.05, momentum: 0.9) : Hyperparameters.Defaults(algorithm) with { Amsgrad = amsgrad };
        Parameter[] Make() => [new Parameter("a", Normal(37, 1)), new Parameter("b", Normal(5, 2))];
        var pa = Make();
        var pb = Make();
        DeviceBackend Resident() => new(device, new DeviceBackendOptions { Residency = Residency.Device });
        using var a = new Optimizer(algorithm, pa, hp, Resident());
        using var b = new Optimizer(algorithm, pb, hp, Resident());
        void Grads(Parameter[] ps, int step)
        {
            for (int i = 0; i < ps.Length; i++) ps[i].Grad = Normal(ps[i].Data.Length, (ulong)(100 * step + i));
        }
        for (int t = 1; t <= 3; t++) { Grads(pa, t); a.Step(); }
        a.DownloadParameters();
        for (int i = 0; i < pa.Length; i++)
        {
            pa[i].Data.CopyTo(pb[i].Data, 0);
            b.SetState(pb[i], a.State(pa[i])!);
        }
        b.UploadParameters();
        for (int t = 4; t <= 5; t++)
        {
            Grads(pa, t); a.Step();
            Grads(pb, t); b.Step();
        }
        a.DownloadParameters();
        b.DownloadParameters();
        for (int i = 0; i < pa.Length; i++)
        {
            EmulatorTestSupport.AssertBitwiseEqual(pa[i].Data, pb[i].Data, $"{pa[i].Name} after 5 steps");
            var (sa, sb) = (a.State(pa[i])!, b.State(pb[i])!);
            Assert.That((sb.Step, sb.Beta1Power, sb.Beta2Power), Is.EqualTo((sa.Step, sa.Beta1Power, sa.Beta2Power)));
            Assert.That(sb.M, Is.EqualTo(sa.M));
        }
        Assert.That(() => b.SetState(pb[0], new ParamState { M = new float[3], V = new float[3] }), Throws.InstanceOf<InvalidOperationException>().With.Message.Contains("3 long"));
        Assert.That(() => b.SetState(pb[0], new ParamState { Aux = new float[37] }), Throws.InstanceOf<InvalidOperationException>().With.Message.Contains("slot"));
    }

    /// <summary>A checkpoint with one flipped byte is rejected and leaves the device run as it was.</summary>
    [Test]
    public void CorruptCheckpointIsRejected()
    {
        using var device = Open();
        using var dir = new TempDirectory();
        string path = Path.Combine(dir.Path, "run.ckpt");
        var hp = Hyperparameters.Defaults(Algorithm.AdamW);
        using (var run = DeviceMlp(device, Algorithm.AdamW, hp))
        {
            run.Trainer.Run(stopAfterStep: 3);
            Checkpoint.Save(path, run.Trainer);
        }
        var bytes = File.ReadAllBytes(path);
        bytes[bytes.Length / 2] ^= 0x40;
        File.WriteAllBytes(path, bytes);
        using var other = DeviceMlp(device, Algorithm.AdamW, hp);
        other.Trainer.Run(stopAfterStep: 1);
        other.Trainer.SyncToHost();
        var before = TrainingFixtures.Bits(other.Trainer);
        Assert.That(() => Checkpoint.Load(path, other.Trainer), Throws.TypeOf<CheckpointException>().With.Message.Contains("corrupt"));
        Assert.That(other.Trainer.Step, Is.EqualTo(1));
        other.Engine.Optimizer.DownloadParameters();
        Assert.That(TrainingFixtures.Bits(other.Trainer), Is.EqualTo(before), "device parameters unchanged");
    }

    /// <summary>A model with a layer that has no device twin (softplus) is refused, saying to use the CPU.</summary>
    [Test]
    public void ModelWithoutDeviceLayersIsRefusedWithAClearError()
    {
        using var device = Open();
        var model = new Sequential("soft", [new Linear("fc", 4, 3, new Rng(1), new ManagedGemm()), new Softplus()]);
        using var host = new Optimizer(Algorithm.Adam, model.Parameters);
        Assert.That(() => new DeviceEngine(device, model, host, 4, 3, 8, 1),
            Throws.TypeOf<NotSupportedException>().With.Message.Contains("no device implementation").And.Message.Contains("backend \"cpu\""));
    }

    // ---------------------------------------------------------------------------------------------------------
    // The CNN's layers (Conv2d, MaxPool2d, Flatten) and the device CNN
    // ---------------------------------------------------------------------------------------------------------

    /// <summary>
    /// DeviceConv2d vs Conv2d (ManagedGemm) on the same weights, batch 2. Forward, ∂x and ∂W within 1e-5 relative +
    /// 1e-6 absolute (the GEMM bound with k ≤ 75 on values of order 1 is below it); ∂b bit for bit (the CPU loop). With
    /// the train.cu GEMM (the emulator) forward and ∂x are bitwise too: the same k-ordered sums and the same col2im
    /// order (∂W sums images and pixels in one sequence, so only within rounding).
    /// </summary>
    [TestCase(1, 3, 5, Padding.Same, 8, 8)]
    [TestCase(3, 2, 3, Padding.Valid, 8, 8)]
    [TestCase(2, 3, 4, Padding.Same, 7, 6)]   // even kernel: TensorFlow's uneven split of the padding
    [TestCase(3, 2, 5, Padding.Valid, 5, 6)]
    public void ConvMatchesTheCpuLayer(int inC, int outC, int k, Padding padding, int h, int w)
    {
        using var device = Open();
        var owned = new List<IDisposable>();
        try
        {
            const int batch = 2;
            var cpu = new Conv2d("conv", inC, outC, k, h, w, padding, new Rng(21), new ManagedGemm());
            using var opt = new DeviceBackend(device, new DeviceBackendOptions { Residency = Residency.Device });
            using var holder = new Optimizer(Algorithm.Adam, cpu.Parameters, null, opt);
            var gemm = DeviceGemm.For(device);
            using var dev = new DeviceConv2d(cpu, opt, gemm);
            Assert.That((dev.OutHeight, dev.OutWidth, dev.OutFeatures), Is.EqualTo((cpu.OutHeight, cpu.OutWidth, cpu.OutFeatures)));
            int inF = inC * h * w;
            var x = Normal(batch * inF, 22);
            var g = Normal(batch * cpu.OutFeatures, 23);
            var y = cpu.Forward(new Tensor(x, batch, inF), true).Data;
            var dx = cpu.Backward(new Tensor(g, batch, cpu.OutFeatures)).Data;
            var dy = dev.Forward(Upload(device, owned, x, batch, inF), true).ToHost();
            var ddx = dev.Backward(Upload(device, owned, g, batch, cpu.OutFeatures))!.ToHost();
            AssertClose(y, dy, "forward");
            AssertClose(dx, ddx, "input gradient");
            AssertClose(cpu.Weight.Grad!, dev.WeightGrad.ToHost(), "weight gradient");
            EmulatorTestSupport.AssertBitwiseEqual(cpu.Bias.Grad!, dev.BiasGrad.ToHost(), "bias gradient");
            if (gemm is KernelGemm)
            {
                EmulatorTestSupport.AssertBitwiseEqual(y, dy, "forward with the train.cu GEMM");
                EmulatorTestSupport.AssertBitwiseEqual(dx, ddx, "input gradient with the train.cu GEMM");
            }
            Assert.That(dev.Backward(Upload(device, owned, g, batch, cpu.OutFeatures), needInputGradient: false), Is.Null);
            Assert.That(() => dev.Forward(Upload(device, owned, Normal(batch * (inF + 1), 28), batch, inF + 1), true),
                Throws.ArgumentException.With.Message.Contains("conv"));
            (gemm as IDisposable)?.Dispose();
        }
        finally { owned.ForEach(o => o.Dispose()); }
    }

    /// <summary>DeviceMaxPool2d vs MaxPool2d: forward, argmax and backward bit for bit, on inputs rounded to a few
    /// values (ties: the first maximum wins) with a NaN and a −∞, for overlapping (k = 3, s = 2) and padded windows.</summary>
    [TestCase(2, 2, Padding.Same, 8, 8)]
    [TestCase(2, 2, Padding.Same, 7, 5)]
    [TestCase(3, 2, Padding.Same, 7, 7)]
    [TestCase(3, 2, Padding.Valid, 8, 7)]
    [TestCase(3, 1, Padding.Same, 5, 5)]
    public void MaxPoolIsBitwiseTheCpuLayer(int k, int stride, Padding padding, int h, int w)
    {
        using var device = Open();
        var owned = new List<IDisposable>();
        try
        {
            const int batch = 2, channels = 3;
            int inF = channels * h * w;
            var x = Normal(batch * inF, 24).Select(v => MathF.Round(v * 2) / 2).ToArray();
            x[3] = float.NaN;
            x[inF + 1] = float.NegativeInfinity;
            var cpu = new MaxPool2d("pool", channels, h, w, k, stride, padding);
            var g = Normal(batch * cpu.OutFeatures, 25);
            var y = cpu.Forward(new Tensor(x, batch, inF), true).Data;
            var dx = cpu.Backward(new Tensor(g, batch, cpu.OutFeatures)).Data;
            using var dev = new DeviceMaxPool2d(cpu, device);
            EmulatorTestSupport.AssertBitwiseEqual(y, dev.Forward(Upload(device, owned, x, batch, inF), true).ToHost(), "forward");
            EmulatorTestSupport.AssertBitwiseEqual(dx, dev.Backward(Upload(device, owned, g, batch, cpu.OutFeatures))!.ToHost(), "backward");
            Assert.That(y, Has.Some.NaN, "the NaN reaches the output");
            Assert.That(dx.Count(v => v != 0), Is.LessThanOrEqualTo(g.Length), "each output routes to one input");
        }
        finally { owned.ForEach(o => o.Dispose()); }
    }

    /// <summary>Flatten is the identity on device tensors (already [batch, C·H·W] in NCHW order).</summary>
    [Test]
    public void FlattenPassesThrough()
    {
        using var device = Open();
        var owned = new List<IDisposable>();
        try
        {
            var t = Upload(device, owned, Normal(12, 26), 3, 4);
            using var f = new DeviceFlatten();
            Assert.That(f.Forward(t, true), Is.SameAs(t));
            Assert.That(f.Backward(t), Is.SameAs(t));
            Assert.That(() => f.Backward(Upload(device, owned, Normal(12, 27), 4, 3)), Throws.ArgumentException);
        }
        finally { owned.ForEach(o => o.Dispose()); }
    }

    /// <summary>
    /// Every parameter gradient of a tiny device CNN (ModelZoo.Cnn on 1×8×8 images: conv 5×5 'same' → 2 channels, pool,
    /// conv 5×5 → 3, pool, dense 12-4-3, batch 4) against central differences of the device loss, h = 1e-2 and
    /// |fd − analytic| ≤ 2e-3 + 2e-2·|analytic| as the MLP's check. ReLU and max-pool kinks can sit within h of a
    /// parameter's value and make the difference quotient wrong there, so at most 2% of the checks may miss; any real
    /// error in a layer's backward misses on most of its parameters (measured: 0 of 272 miss on the emulator).
    /// </summary>
    [Test]
    public void DeviceCnnPassesAGradientCheck()
    {
        using var device = Open();
        const int rows = 4, side = 8, features = side * side, classes = 3;
        var model = ModelZoo.Cnn(side, side, classes, new Rng(31), new ManagedGemm(), channels: (2, 3), hidden: 4);
        // DeepOBS's init (σ 0.05, biases 0.05) leaves the loss nearly flat in the conv weights; larger weights test more.
        var rng = new Rng(32);
        foreach (var p in model.Parameters)
            for (int i = 0; i < p.Data.Length; i++) p.Data[i] = (float)(0.5 * rng.NextNormal());
        using var host = new Optimizer(Algorithm.Adam, model.Parameters);
        using var engine = new DeviceEngine(device, model, host, features, classes, rows, dropoutSeed: 1);
        var x = Normal(rows * features, 33);
        using var xb = device.Allocate<float>(x.Length);
        device.CopyToDevice<float>(x, xb);
        using var yb = device.Allocate<int>(rows);
        device.CopyToDevice<int>(Enumerable.Range(0, rows).Select(i => i % classes).ToArray(), yb);
        var input = new DeviceTensor(xb, 0, rows, features);
        using var ce = new DeviceSoftmaxCrossEntropy(device);
        var net = engine.Network;
        Assert.That(net.Layers.Select(l => l.GetType().Name), Does.Contain(nameof(DeviceConv2d)).And.Contain(nameof(DeviceMaxPool2d)));

        ce.Compute(net.Forward(input, training: true), yb, withGradient: true);
        net.Backward(ce.Gradient!);
        var opt = engine.Backend;
        var grads = new float[opt.Gradients.Length];
        device.CopyToHost(opt.Gradients, grads.AsSpan());
        var values = new float[opt.Values.Length];
        device.CopyToHost(opt.Values, values.AsSpan());
        const double h = 1e-2, atol = 2e-3, rtol = 2e-2;
        int checkedCount = 0;
        var misses = new List<string>();
        foreach (var p in model.Parameters)
        {
            long off = opt.Offset(p);
            for (int i = 0; i < p.Data.Length; i++)
            {
                float orig = values[off + i];
                float plus = (float)(orig + h), minus = (float)(orig - h);
                device.CopyToDevice<float>([plus], opt.Values, off + i);
                double lp = ce.Compute(net.Forward(input, training: true), yb, withGradient: false).Loss;
                device.CopyToDevice<float>([minus], opt.Values, off + i);
                double lm = ce.Compute(net.Forward(input, training: true), yb, withGradient: false).Loss;
                device.CopyToDevice<float>([orig], opt.Values, off + i);
                double fd = (lp - lm) / ((double)plus - minus);
                if (!(Math.Abs(grads[off + i] - fd) <= atol + rtol * Math.Abs(fd)))
                    misses.Add($"{p.Name}[{i}]: analytic {grads[off + i]:G6}, fd {fd:G6}");
                checkedCount++;
            }
        }
        Assert.That(checkedCount, Is.EqualTo(model.ParameterCount));
        TestContext.Out.WriteLine($"{misses.Count} of {checkedCount} difference quotients outside the tolerance");
        Assert.That(misses.Count, Is.LessThanOrEqualTo(checkedCount / 50), string.Join("\n", misses));
        foreach (var name in new[] { "conv1.weight", "conv2.weight", "conv1.bias" })
        {
            var p = model.Parameters.Single(q => q.Name == name);
            Assert.That(grads.AsSpan((int)opt.Offset(p), p.Data.Length).ToArray(), Has.Some.Not.EqualTo(0f), $"{name} gets a gradient");
        }
    }

    /// <summary>
    /// The whole tiny CNN on the device vs the same host model on the CPU layers (ManagedGemm): logits, loss and every
    /// parameter gradient within 1e-5 relative + 1e-6 absolute (the dense layers' GEMMs and conv ∂W sum in other orders
    /// than the CPU's; everything else is bitwise), so the device model is the CPU model.
    /// </summary>
    [Test]
    public void DeviceCnnMatchesTheCpuModel()
    {
        using var device = Open();
        const int rows = 3, side = 8, features = side * side, classes = 3;
        var model = ModelZoo.Cnn(side, side, classes, new Rng(41), new ManagedGemm(), channels: (2, 3), hidden: 5);
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
        AssertClose(cpuLogits, dlogits.ToHost(), "logits");
        var (loss, _) = ce.Compute(dlogits, yb, withGradient: true);
        Assert.That(loss, Is.EqualTo(cpuLoss).Within(1e-5 * Math.Abs(cpuLoss)));
        engine.Network.Backward(ce.Gradient!);
        var grads = new float[engine.Backend.Gradients.Length];
        device.CopyToHost(engine.Backend.Gradients, grads.AsSpan());
        for (int k = 0; k < model.Parameters.Count; k++)
        {
            var p = model.Parameters[k];
            AssertClose(cpuGrads[k], grads.AsSpan((int)engine.Backend.Offset(p), p.Data.Length).ToArray(), p.Name);
        }
    }

    /// <summary>What <c>cudaadam check --train</c> runs on a GPU: every quantity within its tolerance.</summary>
    [Test]
    public void ModelCheckPassesEveryQuantity()
    {
        using var device = Open();
        var rows = DeviceModelCheck.Run(device);
        Assert.That(rows.Select(r => r.Model).Distinct(), Is.EquivalentTo(new[] { "cnn", "mlp", "gemm", "drop" }));
        Assert.That(rows.Where(r => !r.Passed).Select(r => r.ToString()), Is.Empty);
    }

    private const int DeviceCnnStepsPerEpoch = 96 / 32;

    /// <summary>A tiny DeepOBS-shaped CNN (conv 5×5 → 2, pool, conv 5×5 → 3, pool, dense 147-8-10) on 28×28 images.</summary>
    private static Run DeviceCnn(IDevice device, Algorithm algorithm, Hyperparameters hp, int epochs = 2, int trainCount = 96, int batch = 32)
    {
        const ulong seed = 11;
        var dropRng = Rng.ForStream(seed, 2);
        var model = ModelZoo.Cnn(28, 28, 10, Rng.ForStream(seed, 0), channels: (2, 3), hidden: 8);
        var host = new Optimizer(algorithm, model.Parameters, hp);
        var options = new TrainerOptions { Epochs = epochs, BatchSize = batch, EvalBatchSize = 64 };
        var engine = new DeviceEngine(device, model, host, 784, 10, Math.Max(batch, 64), DropoutMask.SeedOf(dropRng));
        var trainer = new Trainer(model, host, TrainingFixtures.Train(trainCount), TrainingFixtures.Test(64), options,
            Rng.ForStream(seed, 1), dropRng, engine);
        return new Run(trainer, engine, host);
    }

    [Test]
    public void ShortDeviceCnnRunReducesTheLoss()
    {
        using var device = Open();
        using var run = DeviceCnn(device, Algorithm.Adam, Hyperparameters.Defaults(Algorithm.Adam) with { Lr = 1e-2 }, epochs: 3);
        var t = run.Trainer;
        // 9 steps on 96 images: the loss on those images falls (the 64 test images need a longer run than ~30 s of emulator).
        var (loss0, _) = TrainingFixtures.Of(t).Evaluate(TrainingFixtures.Of(t).Train);
        var epochs = new List<EpochRecord>();
        t.Run(onEpoch: epochs.Add);
        Assert.That(epochs, Has.Count.EqualTo(3));
        Assert.That(epochs[^1].TrainLoss, Is.LessThan(epochs[0].TrainLoss), "training loss falls from epoch 1 to 3");
        Assert.That(TrainingFixtures.Of(t).Evaluate(TrainingFixtures.Of(t).Train).Loss, Is.LessThan(loss0 - 0.05), "the loss on the training images falls below the initial model's");
        Assert.That(run.Engine.Backend.DeviceCounters(), Is.EqualTo((t.Step, 0L)), "every step was taken");
    }

    /// <summary>The tiny CNN: 5 steps straight vs 2 steps, checkpoint, a fresh trainer loads it, 3 more: parameters,
    /// optimizer state, counters and sampler bitwise equal (crosses an epoch boundary at step 3).</summary>
    [Test]
    public void CnnResumeIsBitwise()
    {
        using var device = Open();
        using var dir = new TempDirectory();
        var hp = Hyperparameters.Defaults(Algorithm.AdamW) with { Lr = 1e-2 };
        string straightFile = Path.Combine(dir.Path, "straight.ckpt"), half = Path.Combine(dir.Path, "half.ckpt");
        Assert.That(DeviceCnnStepsPerEpoch, Is.EqualTo(3));
        using (var straight = DeviceCnn(device, Algorithm.AdamW, hp, epochs: 2))
        {
            straight.Trainer.Run(stopAfterStep: 5);
            Checkpoint.Save(straightFile, straight.Trainer);
        }
        using (var first = DeviceCnn(device, Algorithm.AdamW, hp, epochs: 2))
        {
            first.Trainer.Run(stopAfterStep: 2);
            Checkpoint.Save(half, first.Trainer);
        }
        using var second = DeviceCnn(device, Algorithm.AdamW, hp, epochs: 2);
        Checkpoint.Load(half, second.Trainer);
        second.Trainer.Run(stopAfterStep: 5);
        second.Trainer.SyncToHost();
        using var reference = DeviceCnn(device, Algorithm.AdamW, hp, epochs: 2);
        Checkpoint.Load(straightFile, reference.Trainer);
        Assert.That(TrainingFixtures.Bits(second.Trainer), Is.EqualTo(TrainingFixtures.Bits(reference.Trainer)), "parameters");
        Assert.That(TrainingFixtures.StateBits(second.Trainer), Is.EqualTo(TrainingFixtures.StateBits(reference.Trainer)), "optimizer state");
        var (s1, l1, c1, n1, _) = second.Trainer.Counters;
        var (s2, l2, c2, n2, _) = reference.Trainer.Counters;
        Assert.That((s1, l1, c1, n1), Is.EqualTo((s2, l2, c2, n2)), "step and the epoch's running sums");
        Assert.That(second.Trainer.Sampler!.Position, Is.EqualTo(reference.Trainer.Sampler!.Position), "sampler position");
    }
}

[TestFixture]
public class DeviceTrainingEmulatorTests : DeviceTrainingTests
{
    protected override string Backend => "emulator";
}

[TestFixture, Category("Gpu")]
public class DeviceTrainingGpuTests : DeviceTrainingTests
{
    protected override string Backend => "cuda";
}

public class DeviceModelCheckToleranceTests
{
    [Test]
    public void CheckTrainCommand_PrintsEveryQuantity_AndPasses()
    {
        using (KernelDevices.OpenOrIgnore("emulator")) { }
        var r = CudaAdam.Tests.Cli.CliRunner.Invoke("check", "--train");
        Assert.That(r.Code, Is.EqualTo(0), r.ToString());
        Assert.That(r.Out, Does.Contain("cnn    ∂conv1.weight").And.Contain("drop   mask (bitwise)").And.Contain("20 of 20 quantities passed, 0 failed"));
    }

    [Test]
    public void Worst_IsTheLargestRatioToTheTolerance_AndNaNFails()
    {
        Assert.That(DeviceModelCheck.Worst([1f, 100f], [1f, 100.0005f]), Is.EqualTo(((double)100.0005f - 100) / (1e-6 + 1e-3)).Within(1e-12));
        Assert.That(DeviceModelCheck.Worst([1f], [1.001f]), Is.GreaterThan(1), "a 1e-3 relative error fails the 1e-5 tolerance");
        Assert.That(DeviceModelCheck.Worst([1f], [float.NaN]), Is.EqualTo(double.PositiveInfinity));
        Assert.That(DeviceModelCheck.Worst([0f], [1e-9f], 0, 0), Is.EqualTo(double.PositiveInfinity), "a zero tolerance admits only equality");
    }
}
