using CudaAdam.Reference;

namespace CudaAdam.Tests.Reference;

/// <summary>
/// Properties of issue 12's algorithms that need no oracle: the reductions their papers state. Each runs the plain
/// references step by step on seeded random inputs and compares bit for bit.
/// </summary>
public class Issue12PropertyTests
{
    private static float[] Random(int seed, int n, double scale)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => (float)((rng.NextDouble() * 2 - 1) * scale)).ToArray();
    }

    /// <summary>Steps two optimizers on the same parameters and gradients and returns both parameter vectors.</summary>
    private static (float[] A, float[] B) Twin(Algorithm a, Hyperparameters ha, Algorithm b, Hyperparameters hb, int steps = 40)
    {
        var (pa, pb) = (new Parameter("w", Random(1, 257, 1)), new Parameter("w", Random(1, 257, 1)));
        using var oa = new Optimizer(a, [pa], ha, new CpuReferenceBackend());
        using var ob = new Optimizer(b, [pb], hb, new CpuReferenceBackend());
        for (int t = 1; t <= steps; t++)
        {
            var g = Random(100 + t, 257, Math.Pow(10, t % 4 - 2));
            (pa.Grad, pb.Grad) = (g, (float[])g.Clone());
            oa.Step();
            ob.Step();
        }
        return (pa.Data, pb.Data);
    }

    private static void AssertBitwise(float[] expected, float[] actual, string what)
    {
        for (int i = 0; i < expected.Length; i++)
            Assert.That(BitConverter.SingleToInt32Bits(actual[i]), Is.EqualTo(BitConverter.SingleToInt32Bits(expected[i])),
                $"{what}: element {i}: {actual[i]:R} vs {expected[i]:R}");
    }

    /// <summary>AdEMAMix with α = 0 is Adam (λ = 0) and AdamW (λ &gt; 0), bit for bit: its update writes the slow term as a
    /// separate product, (γ·0)·(m2/d) = ±0, and its decay as AdamW's x(1 − γλ).</summary>
    [TestCase(0.0)]
    [TestCase(0.1)]
    public void AdemamixWithAlphaZeroIsAdamW(double weightDecay)
    {
        var hp = Hyperparameters.Defaults(Algorithm.AdEMAMix) with { Alpha = 0, WeightDecay = weightDecay, Lr = 0.01, Beta3Warmup = 7 };
        var adam = weightDecay == 0 ? Algorithm.Adam : Algorithm.AdamW;
        var hAdam = Hyperparameters.Defaults(adam) with { WeightDecay = weightDecay, Lr = 0.01 };
        var (a, b) = Twin(Algorithm.AdEMAMix, hp, adam, hAdam);
        AssertBitwise(b, a, $"ademamix alpha 0 vs {adam.Name()}");
        var (c, d) = Twin(Algorithm.AdEMAMix, hp with { Alpha = 1e-3 }, adam, hAdam);
        Assert.That(c, Is.Not.EqualTo(d), "a non-zero alpha changes the step (else this proves nothing)");
    }

    /// <summary>AdEMAMix's β3 warmup starts at β1 and ends at β3 (half-life interpolation), α's rises linearly from 0.</summary>
    [Test]
    public void AdemamixSchedulesRunFromTheirStartToTheirEnd()
    {
        var hp = Hyperparameters.Defaults(Algorithm.AdEMAMix) with { Alpha = 5, AlphaWarmup = 10, Beta3Warmup = 100 };
        var s = ParamState.Create(Algorithm.AdEMAMix, hp, 0);
        var k = new List<StepScalars>();
        for (int t = 1; t <= 120; t++) k.Add(StepScalars.Advance(Algorithm.AdEMAMix, hp, s));
        Assert.That(k[0].AdemamixAlpha, Is.EqualTo(0.5).Within(1e-15));
        Assert.That(k[9].AdemamixAlpha, Is.EqualTo(5.0));
        Assert.That(k[0].AdemamixBeta3, Is.GreaterThan(0.9).And.LessThan(0.9999), "beta3(1) is between beta1 and beta3");
        Assert.That(k.Take(100).Select(x => x.AdemamixBeta3), Is.Ordered, "beta3 rises");
        Assert.That(k[99].AdemamixBeta3, Is.EqualTo(0.9999));
        // Half-life h(β) = ln ½ / ln β − 1 moves linearly: at t = T/2 it is the midpoint of h(β1) and h(β3) (up to the 1e-8).
        static double H(double b) => Math.Log(0.5) / Math.Log(b) - 1;
        Assert.That(H(k[49].AdemamixBeta3), Is.EqualTo((H(0.9) + H(0.9999)) / 2).Within(1e-3 * H(0.9999)));
    }
}
