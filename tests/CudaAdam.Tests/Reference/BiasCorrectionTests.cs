namespace CudaAdam.Tests.Reference;

/// <summary>
/// <see cref="Hyperparameters.BiasCorrection"/> off (Kingma &amp; Ba 2015, Fig. 4): Adam becomes RMSProp with momentum on
/// the running mean, <c>m ← β1 m + (1−β1) g, v ← β2 v + (1−β2) g², x ← x − γ m/(sqrt(v) + ε)</c>. Checked against a
/// float32 transcription in the reference's operation order (bitwise), against float64 over many steps (tolerance), and
/// for the first step's size, the effect the paper's Fig. 4 is about.
/// </summary>
public class BiasCorrectionTests
{
    private static float[] Grad(Random rng, int n, int t) =>
        Enumerable.Range(0, n).Select(i => i % 11 == 3 ? 0f : (float)((rng.NextDouble() - 0.5) * (1 + i % 4) * (t % 3 == 0 ? 10 : 1))).ToArray();

    [TestCase(0.9, 0.999, false)]
    [TestCase(0.0, 0.9999, false)]
    [TestCase(0.9, 0.99, true)]
    public void AdamWithoutBiasCorrection_IsBitwiseTheHandWrittenRmsPropWithMomentum(double beta1, double beta2, bool amsgrad)
    {
        const int n = 37;
        var rng = new Random(11);
        float[] x0 = Enumerable.Range(0, n).Select(_ => (float)rng.NextDouble() - 0.5f).ToArray();
        var hp = Hyperparameters.Defaults(Algorithm.Adam) with { Lr = 0.01, Beta1 = beta1, Beta2 = beta2, BiasCorrection = false, Amsgrad = amsgrad };
        var p = new Parameter("x", (float[])x0.Clone());
        using var opt = new Optimizer(Algorithm.Adam, [p], hp);
        // The same update written out, float32, in the reference's order (m, v, then x − lr·(m/(sqrt(v) + eps))).
        float[] x = (float[])x0.Clone(), m = new float[n], v = new float[n], vmax = new float[n];
        float b1 = (float)beta1, b2 = (float)beta2, omb1 = (float)(1 - beta1), omb2 = (float)(1 - beta2), lr = (float)hp.Lr, eps = (float)hp.Eps;
        for (int t = 1; t <= 6; t++)
        {
            var g = Grad(rng, n, t);
            p.Grad = g;
            opt.Step();
            for (int i = 0; i < n; i++)
            {
                m[i] = m[i] * b1 + omb1 * g[i];
                v[i] = v[i] * b2 + omb2 * g[i] * g[i];
                vmax[i] = MathF.Max(vmax[i], v[i]);
                float d = MathF.Sqrt(amsgrad ? vmax[i] : v[i]) + eps;
                x[i] = x[i] - lr * (m[i] / d);
            }
            Assert.That(p.Data.Select(BitConverter.SingleToInt32Bits), Is.EqualTo(x.Select(BitConverter.SingleToInt32Bits)), $"step {t}");
            var s = opt.State(p)!;
            Assert.That(s.M!.Select(BitConverter.SingleToInt32Bits), Is.EqualTo(m.Select(BitConverter.SingleToInt32Bits)), $"m, step {t}");
            Assert.That(s.Beta1Power, Is.EqualTo(Math.Pow(beta1, t)).Within(1e-15), "the running products still advance");
        }
    }

    [Test]
    public void OverManySteps_MatchesFloat64Transcription()
    {
        // Tolerance as MultiStepDoubleTests: |x_float − x_double| ≤ 1e-4·P + 1e-6·|x|, P the path length Σ|Δx|.
        const int n = 16, steps = 40;
        var rng = new Random(5);
        var hp = Hyperparameters.Defaults(Algorithm.AdamW) with { Lr = 0.003, Beta2 = 0.99, WeightDecay = 0.1, BiasCorrection = false };
        float[] x0 = Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        var p = new Parameter("x", (float[])x0.Clone());
        using var opt = new Optimizer(Algorithm.AdamW, [p], hp);
        double[] x = x0.Select(f => (double)f).ToArray(), m = new double[n], v = new double[n], path = new double[n];
        for (int t = 1; t <= steps; t++)
        {
            float[] g = Enumerable.Range(0, n).Select(_ => (float)((rng.Next(2) * 2 - 1) * (0.5 + 1.5 * rng.NextDouble()))).ToArray();
            p.Grad = g;
            opt.Step();
            for (int i = 0; i < n; i++)
            {
                double before = x[i];
                x[i] *= 1 - hp.Lr * hp.WeightDecay;
                m[i] = hp.Beta1 * m[i] + (1 - hp.Beta1) * g[i];
                v[i] = hp.Beta2 * v[i] + (1 - hp.Beta2) * g[i] * g[i];
                x[i] -= hp.Lr * m[i] / (Math.Sqrt(v[i]) + hp.Eps);
                path[i] += Math.Abs(x[i] - before);
            }
        }
        for (int i = 0; i < n; i++)
            Assert.That(p.Data[i], Is.EqualTo(x[i]).Within(1e-4 * path[i] + 1e-6 * Math.Abs(x[i])), $"coordinate {i}");
    }

    [Test]
    public void FirstStep_IsLrTimesOneMinusBeta1OverSqrtOneMinusBeta2_InsteadOfLr()
    {
        // Kingma & Ba §3: at t = 1, m = (1−β1)g, v = (1−β2)g², so without correction |Δx| = γ(1−β1)/sqrt(1−β2) ≈ 3.16γ
        // (β1 = 0.9, β2 = 0.999), and for β2 = 0.9999, β1 = 0: 100γ: the large initial steps that Fig. 4 shows diverging.
        foreach (var (b1, b2) in new[] { (0.9, 0.999), (0.0, 0.9999) })
        {
            var on = new Parameter("on", new float[3]) { Grad = [2f, -0.5f, 1e3f] };
            var off = new Parameter("off", new float[3]) { Grad = [2f, -0.5f, 1e3f] };
            var hp = Hyperparameters.Defaults(Algorithm.Adam) with { Lr = 1e-3, Beta1 = b1, Beta2 = b2, Eps = 1e-12 };
            using (var a = new Optimizer(Algorithm.Adam, [on], hp)) a.Step();
            using (var a = new Optimizer(Algorithm.Adam, [off], hp with { BiasCorrection = false })) a.Step();
            double expected = 1e-3 * (1 - b1) / Math.Sqrt(1 - b2);
            for (int i = 0; i < 3; i++)
            {
                Assert.That(Math.Abs(on.Data[i]), Is.EqualTo(1e-3).Within(1e-8), $"corrected, β=({b1},{b2}), {i}");
                Assert.That(Math.Abs(off.Data[i]), Is.EqualTo(expected).Within(1e-6 * expected), $"uncorrected, β=({b1},{b2}), {i}");
                Assert.That(Math.Sign(off.Data[i]), Is.EqualTo(-Math.Sign(off.Grad![i])));
            }
        }
    }

    [Test]
    public void SignAdamStaysBitwiseAdam_AndAdaMaxDropsItsOneCorrection()
    {
        var rng = new Random(3);
        float[] x0 = Enumerable.Range(0, 64).Select(_ => (float)rng.NextDouble() - 0.5f).ToArray();
        var hp = Hyperparameters.Defaults(Algorithm.Adam) with { BiasCorrection = false, WeightDecay = 0.01 };
        var a = new Parameter("a", (float[])x0.Clone());
        var b = new Parameter("b", (float[])x0.Clone());
        var c = new Parameter("c", (float[])x0.Clone());
        using var adam = new Optimizer(Algorithm.Adam, [a], hp);
        using var sign = new Optimizer(Algorithm.SignAdam, [b], hp);
        var hm = Hyperparameters.Defaults(Algorithm.AdaMax) with { BiasCorrection = false };
        using var adamax = new Optimizer(Algorithm.AdaMax, [c], hm);
        float[] x = (float[])x0.Clone(), m = new float[64], u = new float[64];
        for (int t = 1; t <= 10; t++)
        {
            var g = Grad(rng, 64, t);
            (a.Grad, b.Grad, c.Grad) = (g, g, g);
            adam.Step();
            sign.Step();
            adamax.Step();
            for (int i = 0; i < 64; i++)
            {
                // AdaMax without correction: x ← x + (−γ)·m/u (torch's addcdiv order, StepSize = γ/1).
                m[i] = m[i] * (float)hm.Beta1 + (float)(1 - hm.Beta1) * g[i];
                u[i] = MathF.Max(u[i] * (float)hm.Beta2, MathF.Abs(g[i]) + (float)hm.Eps);
                x[i] = x[i] + (float)-hm.Lr * m[i] / u[i];
            }
        }
        Assert.That(b.Data.Select(BitConverter.SingleToInt32Bits), Is.EqualTo(a.Data.Select(BitConverter.SingleToInt32Bits)));
        Assert.That(c.Data.Select(BitConverter.SingleToInt32Bits), Is.EqualTo(x.Select(BitConverter.SingleToInt32Bits)));
    }

    [Test]
    public void StepScalars_AreExactlyOneWhenOff_AndTheDefaultIsOn()
    {
        Assert.That(Hyperparameters.Defaults(Algorithm.Adam).BiasCorrection, Is.True);
        var state = new ParamState();
        var hp = Hyperparameters.Defaults(Algorithm.Adam) with { BiasCorrection = false, Lr = 0.3 };
        for (int t = 1; t <= 3; t++)
        {
            var k = StepScalars.Advance(Algorithm.Adam, hp, state);
            Assert.That((k.BiasCorrection1, k.BiasCorrection2, k.BiasCorrection2Sqrt, k.StepSize), Is.EqualTo((1.0, 1.0, 1.0, 0.3)));
        }
        Assert.That(state.Beta2Power, Is.EqualTo(0.999 * 0.999 * 0.999).Within(1e-16));
    }
}
