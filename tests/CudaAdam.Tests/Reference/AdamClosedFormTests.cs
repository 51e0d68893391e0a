using CudaAdam.Reference;

namespace CudaAdam.Tests.Reference;

public class AdamClosedFormTests
{
    [Test]
    public void FirstAdamStepMovesEachCoordinateByLrTimesGOverAbsGPlusEps()
    {
        // At t = 1: m̂ = g, v̂ = g², so Δx = −lr·g/(|g| + eps).
        var hp = Hyperparameters.Defaults(Algorithm.Adam) with { Lr = 0.01 };
        float[] g = [1f, -2f, 1e-3f, 0f, 300f];
        var p = new Parameter("x", new float[g.Length]) { Grad = g };
        using var opt = new Optimizer(Algorithm.Adam, [p], hp);
        opt.Step();
        for (int i = 0; i < g.Length; i++)
        {
            double expected = -hp.Lr * g[i] / (Math.Abs(g[i]) + hp.Eps);
            Assert.That(p.Data[i], Is.EqualTo(expected).Within(1e-6 * Math.Abs(expected) + 1e-12), $"coordinate {i}");
        }
    }

    [Test]
    public void SignAdamIsBitwiseAdam()
    {
        var rng = new Random(7);
        float[] x0 = Enumerable.Range(0, 257).Select(_ => (float)rng.NextDouble() - 0.5f).ToArray();
        var a = new Parameter("a", (float[])x0.Clone());
        var b = new Parameter("b", (float[])x0.Clone());
        var hp = Hyperparameters.Defaults(Algorithm.Adam) with { WeightDecay = 0.01, Amsgrad = true };
        using var adam = new Optimizer(Algorithm.Adam, [a], hp);
        using var sign = new Optimizer(Algorithm.SignAdam, [b], hp);
        for (int t = 0; t < 50; t++)
        {
            float[] g = Enumerable.Range(0, x0.Length).Select(i => i % 17 == 0 ? 0f : (float)(rng.NextDouble() - 0.5) * (i % 5 + 1)).ToArray();
            a.Grad = g;
            b.Grad = g;
            adam.Step();
            sign.Step();
        }
        Assert.That(b.Data.Select(BitConverter.SingleToInt32Bits), Is.EqualTo(a.Data.Select(BitConverter.SingleToInt32Bits)));
    }
}
