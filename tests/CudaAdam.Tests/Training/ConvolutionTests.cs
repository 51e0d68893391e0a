using CudaAdam.Training;
using CudaAdam.Training.Jobs;
using CudaAdam.Training.Layers;
using CudaAdam.Training.Models;
using CudaAdam.Training.Tensors;
using static CudaAdam.Tests.Training.GradientCheckTests;

namespace CudaAdam.Tests.Training;

/// <summary>Conv2d, MaxPool2d, Flatten and the DeepOBS fmnist_2c2d model: forward against direct loops and hand
/// examples, backward against finite differences (<see cref="GradientCheckTests.Check"/>), a few training steps.</summary>
public class ConvolutionTests
{
    /// <summary>The convolution by its definition, in double: y[n,o,i,j] = b[o] + Σ W[o,c,u,v]·x[n,c,i+u−p,j+v−p],
    /// p = (k−1)/2 for 'same' (TensorFlow, stride 1: the smaller half before), 0 for 'valid'.</summary>
    private static double[] DirectConv(Conv2d conv, Tensor x)
    {
        int k = conv.Kernel, p = conv.Padding == Padding.Same ? (k - 1) / 2 : 0;
        int oh = conv.Padding == Padding.Same ? conv.Height : conv.Height - k + 1;
        int ow = conv.Padding == Padding.Same ? conv.Width : conv.Width - k + 1;
        int batch = x.Rows, C = conv.InChannels, H = conv.Height, W = conv.Width, O = conv.OutChannels;
        var y = new double[batch * O * oh * ow];
        for (int n = 0; n < batch; n++)
        for (int o = 0; o < O; o++)
        for (int i = 0; i < oh; i++)
        for (int j = 0; j < ow; j++)
        {
            double s = conv.Bias.Data[o];
            for (int c = 0; c < C; c++)
            for (int u = 0; u < k; u++)
            for (int v = 0; v < k; v++)
            {
                int yy = i + u - p, xx = j + v - p;
                if (yy < 0 || yy >= H || xx < 0 || xx >= W) continue;
                s += (double)conv.Weight.Data[((o * C + c) * k + u) * k + v] * x.Data[((n * C + c) * H + yy) * W + xx];
            }
            y[((n * O + o) * oh + i) * ow + j] = s;
        }
        return y;
    }

    [TestCase(5, Padding.Same, 6, 6)]
    [TestCase(3, Padding.Same, 5, 7)]
    [TestCase(3, Padding.Valid, 5, 4)]
    [TestCase(2, Padding.Same, 4, 5)]
    public void Conv2d_Forward_MatchesTheDefinition(int k, Padding padding, int h, int w)
    {
        var rng = new Rng(11);
        foreach (var gemm in new IGemm[] { new ManagedGemm(), Gemm.Default })
        {
            var conv = new Conv2d("c", 2, 3, k, h, w, padding, rng, gemm);
            var x = RandomInput(2, 2 * h * w, rng);
            var y = conv.Forward(x, training: true);
            var expected = DirectConv(conv, x);
            Assert.That(y.Shape, Is.EqualTo(new[] { 2, expected.Length / 2 }));
            Assert.That(conv.OutHeight, Is.EqualTo(padding == Padding.Same ? h : h - k + 1));
            for (int i = 0; i < expected.Length; i++)
                Assert.That(y.Data[i], Is.EqualTo(expected[i]).Within(1e-5 + 1e-5 * Math.Abs(expected[i])), $"{gemm.Name} y[{i}]");
        }
    }

    [Test]
    public void Conv2d_Accepts4dInput_AndRejectsAWrongShape()
    {
        var rng = new Rng(3);
        var conv = new Conv2d("c", 2, 1, 3, 4, 4, Padding.Same, rng);
        var flat = RandomInput(1, 32, rng);
        var y2 = (float[])conv.Forward(flat, true).Data.Clone();
        var y4 = conv.Forward(new Tensor(flat.Data, 1, 2, 4, 4), true);
        Assert.That(y4.Data, Is.EqualTo(y2));
        var e = Assert.Throws<ArgumentException>(() => conv.Forward(Tensor.Zeros(1, 31), true));
        Assert.That(e!.Message, Does.Contain("[batch, 32] or [batch, 2, 4, 4]"));
        Assert.Throws<ArgumentException>(() => _ = new Conv2d("v", 1, 1, 5, 4, 4, Padding.Valid, rng));
    }

    [TestCase(5, Padding.Same)]
    [TestCase(3, Padding.Valid)]
    public void Conv2d_Backward_MatchesFiniteDifferences(int k, Padding padding)
    {
        // Linear in x and in θ, smooth loss: no kinks to avoid.
        var rng = new Rng(21);
        var conv = new Conv2d("conv", 2, 3, k, 6, 5, padding, rng);
        var target = RandomInput(2, conv.OutFeatures, rng);
        Check(new Sequential("m", [conv]), RandomInput(2, 2 * 6 * 5, rng), (y, g) => MeanSquaredError.Compute(y, target, g));
    }

    [TestCase(5, Padding.Same)]
    [TestCase(3, Padding.Valid)]
    public void Conv2d_BlocksOfImages_GiveTheOneBlockResult(int k, Padding padding)
    {
        // 7 images in blocks of 1, 2 (4 blocks: 2+2+2+1) and 3, against the whole batch in one block: forward, ∂x, ∂b
        // equal bit for bit (each image's columns are the same dot products); ∂W sums the blocks' products in
        // another order, so within float rounding.
        var rng = new Rng(31);
        var x = RandomInput(7, 3 * 6 * 5, rng);
        Conv2d Make() => new("c", 3, 4, k, 6, 5, padding, new Rng(32), new ManagedGemm());
        var one = Make();
        var g = RandomInput(7, one.OutFeatures, rng);
        Assert.That(one.ImagesPerBlock(7), Is.EqualTo(7));
        var y1 = (float[])one.Forward(x, true).Data.Clone();
        var dx1 = (float[])one.Backward(g).Data.Clone();
        foreach (int images in new[] { 1, 2, 3 })
        {
            var conv = Make();
            conv.MaxBlockFloats = images * 3 * k * k * conv.OutHeight * conv.OutWidth;
            Assert.That(conv.ImagesPerBlock(7), Is.EqualTo(images == 3 ? 3 : images == 2 ? 2 : 1));
            Assert.That(conv.Forward(x, true).Data, Is.EqualTo(y1), $"forward, blocks of {images}");
            Assert.That(conv.Backward(g).Data, Is.EqualTo(dx1), $"input gradient, blocks of {images}");
            Assert.That(conv.Bias.Grad, Is.EqualTo(one.Bias.Grad), $"bias gradient, blocks of {images}");
            for (int i = 0; i < one.Weight.Grad!.Length; i++)
                Assert.That(conv.Weight.Grad![i], Is.EqualTo(one.Weight.Grad[i]).Within(1e-5 + 1e-5 * Math.Abs(one.Weight.Grad[i])),
                    $"weight gradient [{i}], blocks of {images}");
        }
    }

    [Test]
    public void MaxPool2d_HandExamples_2x2And3x3Same()
    {
        // x[r, c] = −(5r + c) on 5×5: each window's maximum is its top-left element inside the image.
        var x = new Tensor(Enumerable.Range(0, 25).Select(i => -(float)i).ToArray(), 1, 25);
        var p2 = new MaxPool2d("p", 1, 5, 5, 2, 2, Padding.Same);   // 3×3 out, pad 0 before, 1 after
        Assert.That(p2.Forward(x, true).Data, Is.EqualTo(new float[] { 0, -2, -4, -10, -12, -14, -20, -22, -24 }));
        var p3 = new MaxPool2d("p", 1, 5, 5, 3, 2, Padding.Same);   // 3×3 out, pad 1 before, 1 after
        Assert.That(p3.Forward(x, true).Data, Is.EqualTo(new float[] { 0, -1, -3, -5, -6, -8, -15, -16, -18 }));
        // Each output's gradient goes to its window's maximum: elements 0, 1, 3, 5, 6, 8, 15, 16, 18.
        var g = p3.Backward(new Tensor([1, 2, 3, 4, 5, 6, 7, 8, 9], 1, 9));
        var expected = new float[25];
        int[] at = [0, 1, 3, 5, 6, 8, 15, 16, 18];
        for (int i = 0; i < 9; i++) expected[at[i]] += i + 1;
        Assert.That(g.Data, Is.EqualTo(expected));
        var valid = new MaxPool2d("p", 1, 5, 5, 3, 2, Padding.Valid);  // 2×2 out
        Assert.That(valid.Forward(x, true).Data, Is.EqualTo(new float[] { 0, -2, -10, -12 }));
    }

    [Test]
    public void MaxPool2d_TiesGoToTheFirstElement_AndAllMaximaGetTheirGradient()
    {
        var x = new Tensor([1, 1, 1, 1, 2, 0, 0, 2], 2, 4); // two 1×2×2 images
        var p = new MaxPool2d("p", 1, 2, 2, 2, 2, Padding.Valid);
        Assert.That(p.Forward(x, true).Data, Is.EqualTo(new float[] { 1, 2 }));
        Assert.That(p.Backward(new Tensor([5, 7], 2, 1)).Data, Is.EqualTo(new float[] { 5, 0, 0, 0, 7, 0, 0, 0 }));
    }

    [Test]
    public void MaxPool2d_2x2OnEvenSizes_FollowsTheRule_WithTiesNaNsAndInfinities()
    {
        // The unrolled 2×2 path (even sizes) against the rule: the first maximum in row-major window order, the first
        // NaN over numbers, −∞ kept when the window holds nothing else.
        var rng = new Rng(9);
        float[] pool = [0f, 1f, 1f, -1f, float.NaN, float.NegativeInfinity, float.PositiveInfinity, -0f];
        const int c = 3, h = 4, w = 6, batch = 2;
        var x = new Tensor(Enumerable.Range(0, batch * c * h * w).Select(_ => pool[(int)(rng.NextDouble() * pool.Length)]).ToArray(), batch, c * h * w);
        var p = new MaxPool2d("p", c, h, w, 2, 2, Padding.Same);
        var y = p.Forward(x, true);
        var g = p.Backward(new Tensor(Enumerable.Range(1, y.Length).Select(i => (float)i).ToArray(), batch, y.Cols));
        var expectedGrad = new float[x.Length];
        for (int plane = 0, o = 0; plane < batch * c; plane++)
        for (int i = 0; i < h / 2; i++)
        for (int j = 0; j < w / 2; j++, o++)
        {
            int at = -1;
            foreach (int idx in new[] { 0, 1, w, w + 1 }.Select(d => plane * h * w + 2 * i * w + 2 * j + d))
            {
                float e = x.Data[idx];
                if (at < 0 || e > x.Data[at] || float.IsNaN(e) && !float.IsNaN(x.Data[at])) at = idx;
            }
            Assert.That(BitConverter.SingleToInt32Bits(y.Data[o]), Is.EqualTo(BitConverter.SingleToInt32Bits(x.Data[at])).Or.Matches<int>(
                _ => float.IsNaN(y.Data[o]) && float.IsNaN(x.Data[at])), $"y[{o}]");
            expectedGrad[at] += o + 1;
        }
        Assert.That(g.Data, Is.EqualTo(expectedGrad));
    }

    [TestCase(2)]
    [TestCase(3)]
    public void MaxPool2d_Backward_MatchesFiniteDifferences(int k)
    {
        // Distinct inputs 0.1 apart: a perturbation of 0.01 never changes which element is the maximum.
        var rng = new Rng(5);
        const int c = 2, h = 6, w = 5, batch = 2;
        int n = batch * c * h * w;
        var perm = Enumerable.Range(0, n).ToArray();
        rng.Shuffle(perm.AsSpan());
        var x = new Tensor(perm.Select(i => (float)(0.1 * (i - n / 2))).ToArray(), batch, c * h * w);
        var pool = new MaxPool2d("pool", c, h, w, k, 2, Padding.Same);
        var target = RandomInput(batch, pool.OutFeatures, rng);
        Check(new Sequential("m", [pool]), x, (y, g) => MeanSquaredError.Compute(y, target, g));
    }

    [Test]
    public void ConvSoftplusPoolFlattenLinear_WithCrossEntropy_MatchesFiniteDifferences()
    {
        // The max's choice must not flip under a perturbation: a weight's step moves a conv output by ≤ h·|x| ≤ 0.02,
        // an input's by ≤ h·|W|; take the first seed whose pooling windows keep a gap of 0.05 between first and second.
        for (ulong seed = 1; seed < 1000; seed++)
        {
            var rng = new Rng(seed);
            var conv = new Conv2d("conv", 1, 2, 3, 5, 5, Padding.Valid, rng);
            var soft = new Softplus();
            var pool = new MaxPool2d("pool", 2, 3, 3, 2, 2, Padding.Same);
            var fc = new Linear("fc", pool.OutFeatures, 3, rng);
            var x = RandomInput(2, 25, rng);
            if (x.Data.Any(v => Math.Abs(v) > 2)) continue;
            var a = soft.Forward(conv.Forward(x, true), true);
            if (MinPoolGap(a, 2 * 2, 3, 3) < 0.05) continue;
            var model = new Sequential("m", [conv, soft, pool, new Flatten(), fc]);
            Check(model, x, (y, g) => SoftmaxCrossEntropy.Compute(y, [2, 0], g).Loss);
            Assert.Pass($"checked with seed {seed}");
        }
        Assert.Fail("no seed below 1000 keeps the pooling windows' maxima apart");
    }

    /// <summary>The smallest gap between the largest and second largest element over the 2×2 stride-2 'same'
    /// windows of <paramref name="planes"/> h×w planes.</summary>
    private static double MinPoolGap(Tensor a, int planes, int h, int w)
    {
        double min = double.PositiveInfinity;
        for (int pl = 0; pl < planes; pl++)
        for (int i = 0; i < h; i += 2)
        for (int j = 0; j < w; j += 2)
        {
            var v = new List<float>();
            for (int u = i; u < Math.Min(i + 2, h); u++)
            for (int t = j; t < Math.Min(j + 2, w); t++) v.Add(a.Data[pl * h * w + u * w + t]);
            if (v.Count < 2) continue;
            v.Sort();
            min = Math.Min(min, v[^1] - v[^2]);
        }
        return min;
    }

    [Test]
    public void Flatten_ReshapesForwardAndBack()
    {
        var f = new Flatten();
        var x = new Tensor(Enumerable.Range(0, 24).Select(i => (float)i).ToArray(), 2, 3, 2, 2);
        var y = f.Forward(x, true);
        Assert.That(y.Shape, Is.EqualTo(new[] { 2, 12 }));
        Assert.That(y.Data, Is.SameAs(x.Data));
        var g = f.Backward(new Tensor(new float[24], 2, 12));
        Assert.That(g.Shape, Is.EqualTo(new[] { 2, 3, 2, 2 }));
        Assert.Throws<ArgumentException>(() => f.Backward(new Tensor(new float[24], 3, 8)));
    }

    [Test]
    public void Cnn_IsDeepObsFmnist2c2d_ShapesParametersAndInitialization()
    {
        var model = ModelZoo.Cnn(28, 28, 10, new Rng(1));
        Assert.That(model.Describe(), Is.EqualTo(
            "conv 1x28x28->32x28x28 k5 same | relu | maxpool 2x2/2 same 32x28x28->32x14x14 | conv 32x14x14->64x14x14 k5 same | relu"
            + " | maxpool 2x2/2 same 64x14x14->64x7x7 | flatten | linear 3136->1024 | relu | linear 1024->10"));
        Assert.That(model.ParameterCount, Is.EqualTo(3_274_634));
        Assert.That(model.Parameters.Select(p => p.Name), Is.EqualTo(new[]
            { "conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias", "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias" }));
        foreach (var p in model.Parameters.Where(p => p.Name.EndsWith(".bias")))
            Assert.That(p.Data, Is.All.EqualTo(0.05f), p.Name);
        var w = model.Parameters.First(p => p.Name == "fc1.weight").Data;
        double mean = w.Average(v => (double)v), sd = Math.Sqrt(w.Average(v => (v - mean) * (double)(v - mean)));
        Assert.That(w.Max(Math.Abs), Is.LessThanOrEqualTo(0.1f), "truncated at two standard deviations (0.1)");
        // A standard normal truncated at ±2 has standard deviation 0.8796; over 3.2 M draws the estimate is within 1e-3.
        Assert.That(sd, Is.EqualTo(0.05 * 0.8796).Within(2e-4));
        Assert.That(mean, Is.EqualTo(0).Within(1e-4));
        var y = model.Forward(Tensor.Zeros(3, 784), training: false);
        Assert.That(y.Shape, Is.EqualTo(new[] { 3, 10 }));
    }

    [Test]
    public void Cnn_TrainsAFewSteps_OnTheEmbeddedSubset_AndTheLossGoesDown()
    {
        // Eight Adam steps (lr 1e-3) with minibatches of 32 from 64 images: the loss on those 64 falls from about
        // ln 10 = 2.30. Deterministic (seeded) and a few seconds on 2 cores with OpenBLAS.
        var train = TrainingFixtures.Train(64);
        var model = ModelZoo.Cnn(28, 28, 10, new Rng(1));
        using var opt = new Optimizer(Algorithm.Adam, model.Parameters, Hyperparameters.Defaults(Algorithm.Adam));
        var trainer = new Trainer(model, opt, train, null, new TrainerOptions { Epochs = 4, BatchSize = 32 }, new Rng(2), null);
        var x = new Tensor(train.Inputs, 64, 784);
        double before = SoftmaxCrossEntropy.Compute(model.Forward(x, false), train.Labels, null).Loss;
        var losses = new List<double>();
        while (!trainer.Finished) losses.Add(trainer.TrainStep().Loss);
        double after = SoftmaxCrossEntropy.Compute(model.Forward(x, false), train.Labels, null).Loss;
        Assert.That(losses, Has.Count.EqualTo(8));
        Assert.That(before, Is.EqualTo(Math.Log(10)).Within(0.5), "near chance at initialization");
        Assert.That(after, Is.LessThan(0.8 * before), $"step losses: {string.Join(", ", losses.Select(l => l.ToString("F3")))}");
        Assert.That(losses.All(double.IsFinite));
    }

    [Test]
    public void TrainConfig_KindCnn_BuildsTheModel_AndTheShippedConfigResolves()
    {
        var config = TrainConfig.Load(TestPaths.InRepo("configs", "cnn-fmnist.json")).Resolve();
        Assert.That(config.Model.Kind, Is.EqualTo("cnn"));
        Assert.That(config.Model.Hidden, Is.Null);
        var (model, dropout) = TrainJob.BuildModel(config, new ManagedGemm());
        Assert.That(model.ParameterCount, Is.EqualTo(3_274_634));
        Assert.That(dropout, Is.Null);
        var (again, _) = TrainJob.BuildModel(config, new ManagedGemm());
        Assert.That(again.Parameters.SelectMany(p => p.Data), Is.EqualTo(model.Parameters.SelectMany(p => p.Data)), "seeded initialization");

        using var bad = new MemoryStream("""{ "model": { "kind": "cnn", "hidden": [10] }, "optimizers": [ { "name": "adam" } ] }"""u8.ToArray());
        var e = Assert.Throws<ConfigException>(() => TrainConfig.Load(bad, "test").Resolve());
        Assert.That(e!.Message, Does.Contain("model.hidden").And.Contain("fixed architecture"));
    }
}
