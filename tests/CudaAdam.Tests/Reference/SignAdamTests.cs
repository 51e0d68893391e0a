using CudaAdam.Reference;

namespace CudaAdam.Tests.Reference;

/// <summary>
/// SignAdam (x −= γ·u∘sign(m̂), u = |m̂|/(sqrt(v̂)+ε)) is Adam written differently: in IEEE arithmetic
/// (|m|/d)·sign(m) = m/d, so the two must agree bit for bit, signed zeros included.
/// </summary>
public class SignAdamTests
{
    private static int[] Bits(float[]? a) => a is null ? [] : a.Select(BitConverter.SingleToInt32Bits).ToArray();

    [TestCase(false, 0.0)]
    [TestCase(true, 0.0)]
    [TestCase(false, 0.01)]
    [TestCase(true, 0.01)]
    public void SignAdamIsBitwiseAdamIncludingSignedZerosAndState(bool amsgrad, double weightDecay)
    {
        const int n = 300;
        var rng = new Random(31);
        // x0 holds +0 and −0 coordinates; the gradient stream keeps some coordinates at +0 or −0 forever (so m and v
        // stay ±0 and the step is (±0)/ε), some with tiny and huge magnitudes, the rest random.
        float[] x0 = Enumerable.Range(0, n).Select(i => i % 7 == 0 ? 0f : i % 7 == 1 ? -0f : (float)(rng.NextDouble() - 0.5)).ToArray();
        float Grad(int i)
        {
            switch (i % 11)
            {
                case 0: return 0f;
                case 1: return -0f;
                case 2: return (float)((rng.NextDouble() - 0.5) * 1e-20);
                case 3: return (float)((rng.NextDouble() - 0.5) * 1e15);
                default: return (float)((rng.NextDouble() - 0.5) * (i % 5 + 1));
            }
        }
        var a = new Parameter("a", (float[])x0.Clone());
        var b = new Parameter("b", (float[])x0.Clone());
        var hp = Hyperparameters.Defaults(Algorithm.Adam) with { Amsgrad = amsgrad, WeightDecay = weightDecay, Lr = 1e-2 };
        using var adam = new Optimizer(Algorithm.Adam, [a], hp);
        using var sign = new Optimizer(Algorithm.SignAdam, [b], hp);
        // Zero-initialized m can only become −0 from a −0 start (+0·β1 + (−0) = +0), so start from a state whose m is −0
        // on every third coordinate, as a loaded checkpoint may have.
        var start = ParamState.Create(Algorithm.Adam, hp, n);
        for (int i = 0; i < n; i += 3) start.M![i] = -0f;
        adam.SetState(a, start.Clone());
        sign.SetState(b, start.Clone());
        for (int t = 0; t < 60; t++)
        {
            float[] g = Enumerable.Range(0, n).Select(Grad).ToArray();
            a.Grad = g;
            b.Grad = g;
            adam.Step();
            sign.Step();
            Assert.That(Bits(b.Data), Is.EqualTo(Bits(a.Data)), $"params after step {t + 1}");
        }
        var sa = adam.State(a)!;
        var sb = sign.State(b)!;
        Assert.That(Bits(sb.M), Is.EqualTo(Bits(sa.M)), "exp_avg");
        Assert.That(Bits(sb.V), Is.EqualTo(Bits(sa.V)), "exp_avg_sq");
        Assert.That(Bits(sb.VMax), Is.EqualTo(Bits(sa.VMax)), "max_exp_avg_sq");
        Assert.That(sa.VMax is null, Is.EqualTo(!amsgrad));
        // The test exercises signed zeros: some parameters end at −0 and some at +0.
        Assert.That(a.Data.Count(x => x == 0 && float.IsNegative(x)), Is.GreaterThan(0), "some −0 survive");
        Assert.That(a.Data.Count(x => x == 0 && !float.IsNegative(x)), Is.GreaterThan(0), "some +0 survive");
        // With weight decay, x = −0 turns +0 after one step (−0 + (+0)), then g + λx = −0 + (+0) = +0 and m leaves −0.
        if (weightDecay == 0)
            Assert.That(sa.M!.Count(m => m == 0 && float.IsNegative(m)), Is.GreaterThan(0), "some m = −0");
    }

    [TestCase(false)]
    [TestCase(true)]
    public void UOutputIsAbsCorrectedMomentOverCorrectedRootVPlusEps(bool amsgrad)
    {
        // u = |m̂|/(sqrt(v̂)+ε), m̂ = m/(1−β1^t), v̂ = v̄/(1−β2^t) (v̄ = max(v) under amsgrad), from the state after the step.
        // Tolerance: the reference computes u from float32 m and v in 4 rounded operations (sqrt, /, +, /, /), so
        // |u − u_double| ≤ ~5u·|u| ≈ 3e-7·|u|; we allow 1e-6·|u| + 1e-30 (u = 0 where m = 0).
        const int n = 128;
        var rng = new Random(77);
        var hp = Hyperparameters.Defaults(Algorithm.SignAdam) with { Amsgrad = amsgrad, Lr = 1e-2, Eps = 1e-6 };
        var state = ParamState.Create(Algorithm.SignAdam, hp, n);
        float[] x = new float[n], u = new float[n];
        for (int t = 1; t <= 25; t++)
        {
            double scale = Math.Pow(10, rng.NextDouble() * 4 - 2);
            float[] g = Enumerable.Range(0, n).Select(i => i == 0 ? 0f : (float)((rng.NextDouble() - 0.5) * scale)).ToArray();
            var k = StepScalars.Advance(Algorithm.SignAdam, hp, state);
            SignAdamReference.Step(x, g, state, hp, k, u);
            double bc1 = 1 - Math.Pow(hp.Beta1, t), bc2 = 1 - Math.Pow(hp.Beta2, t);
            for (int i = 0; i < n; i++)
            {
                double vBar = amsgrad ? state.VMax![i] : state.V![i];
                double expected = Math.Abs(state.M![i] / bc1) / (Math.Sqrt(vBar / bc2) + hp.Eps);
                Assert.That((double)u[i], Is.EqualTo(expected).Within(1e-6 * expected + 1e-30), $"step {t}, coordinate {i}");
            }
        }
        Assert.That(u[0], Is.EqualTo(0f), "a coordinate that never had a gradient has u = 0");
        // Under β1 < sqrt(β2) and ε → 0, u ≤ R·sqrt(1−β2^t)/(1−β1^t) (the bound on uncorrected moments, corrected).
        Assert.That(u.Max(), Is.GreaterThan(0));
    }

    [Test]
    public void UOutputOfWrongLengthIsRejected()
    {
        var hp = Hyperparameters.Defaults(Algorithm.SignAdam);
        var state = ParamState.Create(Algorithm.SignAdam, hp, 4);
        var k = StepScalars.Advance(Algorithm.SignAdam, hp, state);
        var ex = Assert.Throws<ArgumentException>(() => SignAdamReference.Step(new float[4], new float[4], state, hp, k, new float[3]));
        Assert.That(ex!.Message, Does.Contain("3").And.Contain("4"));
    }
}
