using CudaAdam.Reference;

namespace CudaAdam.Tests.Reference;

/// <summary>Properties of Adam and AMSGrad that the theory states, checked on the CPU reference.</summary>
public class AdamPropertyTests
{
    private static float[] RandomStream(Random rng, int n, double scale) =>
        Enumerable.Range(0, n).Select(_ => (float)((rng.NextDouble() * 2 - 1) * scale)).ToArray();

    /// <summary>Runs <paramref name="steps"/> steps of <paramref name="algorithm"/> on gradients gradient(t, i)
    /// and returns the final x and the path length Σ_t |x_t − x_{t−1}| per coordinate.</summary>
    private static (float[] X, double[] Path) Trajectory(Algorithm algorithm, Hyperparameters hp, float[] x0, int steps,
        Func<int, int, float> gradient)
    {
        var p = new Parameter("x", (float[])x0.Clone());
        var path = new double[x0.Length];
        using var opt = new Optimizer(algorithm, [p], hp);
        for (int t = 0; t < steps; t++)
        {
            float[] before = (float[])p.Data.Clone();
            p.Grad = Enumerable.Range(0, x0.Length).Select(i => gradient(t, i)).ToArray();
            opt.Step();
            for (int i = 0; i < x0.Length; i++) path[i] += Math.Abs((double)p.Data[i] - before[i]);
        }
        return (p.Data, path);
    }

    /// <summary>
    /// Adam is invariant to a diagonal rescaling of the gradients: g_i → c_i·g_i multiplies m_i by c_i and v_i by c_i²,
    /// so m_i/sqrt(v_i) and the trajectory do not change, up to ε (here 1e-30, negligible against sqrt(v̂) ≥ ~1e-3).
    /// </summary>
    /// <remarks>
    /// Tolerance, relative to each coordinate's path length P_i = Σ_t |Δx_i,t|: the scales c_i ∈ [1e-3, 1e3] are not
    /// powers of two, so the two runs round differently. Every |g| lies in a band [0.5, 2]·c_i, so the absolute
    /// rounding error of the EMA m (≤ 2u/(1−β1)·max|g|, u = 2^-24) is ≤ 80u relative to min sqrt(v̂); v's relative
    /// error is ≤ 2u/(1−β2) in the worst case (errors all aligned), but its rounding errors are independent-signed and
    /// grow like u·sqrt(1/(1−β2)) ≈ 2e-6; x + Δ adds u·|x| per step. Measured: max deviation 3.7e-7·P_i. We allow
    /// 2e-5·P_i (50× the measurement, within the worst case 1e-4). The counterpart shows that with ε = 0.1 the
    /// comparison fails by orders of magnitude, so the tolerance does not hide a broken invariance.
    /// </remarks>
    [TestCase(false)]
    [TestCase(true)]
    public void AdamTrajectoryIsInvariantToDiagonalGradientRescaling(bool amsgrad)
    {
        const int n = 48, steps = 200;
        var rng = new Random(2024);
        double[] c = Enumerable.Range(0, n).Select(_ => Math.Pow(10, rng.NextDouble() * 6 - 3)).ToArray();
        // |g| ∈ [0.5, 2], random signs, fixed in advance so both runs see the same stream.
        float[,] g = new float[steps, n];
        for (int t = 0; t < steps; t++)
        for (int i = 0; i < n; i++)
            g[t, i] = (float)((rng.Next(2) == 0 ? -1 : 1) * (0.5 + 1.5 * rng.NextDouble()));
        float[] x0 = RandomStream(rng, n, 1);
        var hp = Hyperparameters.Defaults(Algorithm.Adam) with { Lr = 1e-2, Eps = 1e-30, Amsgrad = amsgrad };

        var (xa, path) = Trajectory(Algorithm.Adam, hp, x0, steps, (t, i) => g[t, i]);
        var (xb, _) = Trajectory(Algorithm.Adam, hp, x0, steps, (t, i) => (float)(c[i] * g[t, i]));
        for (int i = 0; i < n; i++)
        {
            Assert.That(path[i], Is.GreaterThan(0.1), "the trajectory moves");
            Assert.That(xb[i], Is.EqualTo(xa[i]).Within(2e-5 * path[i]), $"coordinate {i}, c = {c[i]:G3}");
        }

        // Counterpart: with a large ε the scaling visibly changes the trajectory (the test can fail).
        var hpEps = hp with { Eps = 0.1 };
        var (ya, _) = Trajectory(Algorithm.Adam, hpEps, x0, steps, (t, i) => g[t, i]);
        var (yb, _) = Trajectory(Algorithm.Adam, hpEps, x0, steps, (t, i) => (float)(c[i] * g[t, i]));
        int broken = Enumerable.Range(0, n).Count(i => Math.Abs(yb[i] - ya[i]) > 100 * 2e-5 * path[i]);
        Assert.That(broken, Is.GreaterThan(n / 4), "with eps = 0.1 the invariance must break for the small scales");
    }

    [Test]
    public void AmsgradVMaxNeverDecreasesAndBoundsV()
    {
        const int n = 64;
        var rng = new Random(99);
        var hp = Hyperparameters.Defaults(Algorithm.Adam) with { Amsgrad = true, Lr = 1e-2 };
        var p = new Parameter("x", RandomStream(rng, n, 1));
        using var opt = new Optimizer(Algorithm.Adam, [p], hp);
        float[] previous = new float[n];
        int increases = 0, holds = 0;
        for (int t = 0; t < 300; t++)
        {
            // Bursty magnitudes so that v rises and falls: a scale drawn per step over four orders of magnitude.
            double scale = Math.Pow(10, rng.NextDouble() * 4 - 2);
            p.Grad = RandomStream(rng, n, scale);
            opt.Step();
            var s = opt.State(p)!;
            for (int i = 0; i < n; i++)
            {
                Assert.That(s.VMax![i], Is.GreaterThanOrEqualTo(previous[i]), $"step {t + 1}, coordinate {i}");
                Assert.That(s.VMax[i], Is.GreaterThanOrEqualTo(s.V![i]), $"step {t + 1}, coordinate {i}");
                if (s.VMax[i] > previous[i]) increases++;
                if (s.VMax[i] > s.V[i]) holds++;
            }
            previous = (float[])s.VMax!.Clone();
        }
        Assert.That(increases, Is.GreaterThan(0));
        Assert.That(holds, Is.GreaterThan(n * 100), "the stream must make v fall below its maximum often, or the test says nothing");
    }

    [Test]
    public void AmsgradStepIsNeverLargerThanAdamsFromTheSameState()
    {
        // From the same (m, v) and gradient, AMSGrad divides by sqrt(max(v̄, v)) ≥ sqrt(v): |Δ_ams| ≤ |Δ_adam|, exactly
        // in float32 too (division and rounding are monotone), and both move in the same direction.
        const int n = 64;
        var rng = new Random(5);
        var hp = Hyperparameters.Defaults(Algorithm.Adam) with { Amsgrad = true, Lr = 1e-2, WeightDecay = 1e-3 };
        var adamHp = hp with { Amsgrad = false };
        float[] x = RandomStream(rng, n, 1);
        var ams = ParamState.Create(Algorithm.Adam, hp, n);
        int strictlySmaller = 0;
        for (int t = 0; t < 200; t++)
        {
            float[] g = RandomStream(rng, n, Math.Pow(10, rng.NextDouble() * 4 - 2));
            var adam = ams.Clone();
            adam.VMax = null;
            float[] xAms = (float[])x.Clone(), xAdam = (float[])x.Clone();
            var kAdam = StepScalars.Advance(Algorithm.Adam, adamHp, adam);
            AdamReference.Step(xAdam, g, adam, adamHp, kAdam);
            var kAms = StepScalars.Advance(Algorithm.Adam, hp, ams);
            AdamReference.Step(xAms, g, ams, hp, kAms);
            for (int i = 0; i < n; i++)
            {
                double dAms = (double)xAms[i] - x[i], dAdam = (double)xAdam[i] - x[i];
                Assert.That(Math.Abs(dAms), Is.LessThanOrEqualTo(Math.Abs(dAdam)), $"step {t + 1}, coordinate {i}");
                Assert.That(dAms * dAdam, Is.GreaterThanOrEqualTo(0), $"same direction, step {t + 1}, coordinate {i}");
                if (Math.Abs(dAms) < Math.Abs(dAdam)) strictlySmaller++;
            }
            x = xAms; // continue along the AMSGrad trajectory
        }
        Assert.That(strictlySmaller, Is.GreaterThan(n * 50), "the stream must make v̄ > v often, or the test says nothing");
    }

    public static IEnumerable<TestCaseData> BetaPairs()
    {
        yield return new TestCaseData(0.9, 0.999).SetName("SignBound_b1_0.9_b2_0.999");
        yield return new TestCaseData(0.9, 0.99).SetName("SignBound_b1_0.9_b2_0.99");
        yield return new TestCaseData(0.5, 0.3).SetName("SignBound_b1_0.5_b2_0.3");
        yield return new TestCaseData(0.99, 0.999).SetName("SignBound_b1_0.99_b2_0.999");
        yield return new TestCaseData(0.0, 0.5).SetName("SignBound_b1_0_b2_0.5");
    }

    /// <summary>Streams of <paramref name="steps"/> gradients (one coordinate), random and adversarial.</summary>
    private static IEnumerable<(string Name, float[] G)> Streams(double beta1, double beta2, int steps, Random rng)
    {
        yield return ("uniform", RandomStream(rng, steps, 1));
        yield return ("heavy-tailed", Enumerable.Range(0, steps).Select(_ =>
            (float)(Math.Tan(Math.PI * (rng.NextDouble() - 0.5)) % 1e6)).ToArray());
        yield return ("sign-alternating", Enumerable.Range(0, steps).Select(t => t % 2 == 0 ? 1f : -1f).ToArray());
        yield return ("constant", Enumerable.Repeat(3f, steps).ToArray());
        yield return ("one-spike", Enumerable.Range(0, steps).Select(t => t == steps / 3 ? 1000f : 0f).ToArray());
        yield return ("spike-then-noise", Enumerable.Range(0, steps).Select(t => t == 5 ? 1000f : (float)(1e-3 * (rng.NextDouble() - 0.5))).ToArray());
        // The extremal stream of the Cauchy–Schwarz bound: g_k ∝ (β2/β1)^k (see SignBoundIsNearlyAttained).
        if (beta1 > 0)
            yield return ("geometric", Enumerable.Range(0, steps).Select(t => (float)Math.Pow(beta2 / beta1, t % 60)).ToArray());
    }

    /// <summary>
    /// For β1 &lt; sqrt(β2), the uncorrected moments satisfy |m_t|/sqrt(v_t) ≤ R = (1−β1)/(sqrt(1−β2)·sqrt(1−β1²/β2))
    /// (Cauchy–Schwarz on m_t = (1−β1)Σ β1^j g_{t−j} against v_t = (1−β2)Σ β2^j g²_{t−j}).
    /// </summary>
    /// <remarks>Tolerance 1e-4 relative: v is an EMA with β2 up to 0.999 whose float32 rounding error is ≤ 2u/(1−β2)
    /// ≈ 1.2e-4 relative in the worst case (6e-5 after the sqrt); m's is ≤ 2u/(1−β1) ≤ 1.2e-5.</remarks>
    [TestCaseSource(nameof(BetaPairs))]
    public void UncorrectedMomentRatioNeverExceedsSignBound(double beta1, double beta2)
    {
        var hp = Hyperparameters.Defaults(Algorithm.Adam) with { Beta1 = beta1, Beta2 = beta2, Lr = 0 };
        double bound = hp.SignBound;
        Assert.That(bound, Is.GreaterThan(0).And.LessThan(double.PositiveInfinity));
        var rng = new Random(17);
        foreach (var (name, stream) in Streams(beta1, beta2, 400, rng))
        {
            var state = ParamState.Create(Algorithm.Adam, hp, 1);
            float[] x = [0f];
            double worst = 0;
            foreach (float g in stream)
            {
                var k = StepScalars.Advance(Algorithm.Adam, hp, state);
                AdamReference.Step(x, [g], state, hp, k);
                if (state.V![0] == 0) continue; // m = v = 0 before the first non-zero gradient
                worst = Math.Max(worst, Math.Abs((double)state.M![0]) / Math.Sqrt(state.V[0]));
            }
            Assert.That(worst, Is.LessThanOrEqualTo(bound * (1 + 1e-4)), $"stream {name}: max |m|/sqrt(v) = {worst:R}, R = {bound:R}");
            Assert.That(worst, Is.GreaterThan(0), $"stream {name}");
        }
    }

    /// <summary>
    /// The same R bounds the bias-corrected ratio |m̂_t|/sqrt(v̂_t) that Adam's step uses (and that SignAdam hands
    /// back as u with ε = 0): the finite-t factor sqrt(1−β2^t)·sqrt(1−(β1²/β2)^t)/(1−β1^t) is ≤ 1 (see
    /// <see cref="Hyperparameters.SignBound"/>). Same streams and tolerance as the uncorrected test.
    /// </summary>
    [TestCaseSource(nameof(BetaPairs))]
    public void BiasCorrectedMomentRatioNeverExceedsSignBound(double beta1, double beta2)
    {
        var hp = Hyperparameters.Defaults(Algorithm.Adam) with { Beta1 = beta1, Beta2 = beta2, Lr = 0 };
        double bound = hp.SignBound;
        var rng = new Random(23);
        foreach (var (name, stream) in Streams(beta1, beta2, 400, rng))
        {
            var state = ParamState.Create(Algorithm.Adam, hp, 1);
            float[] x = [0f];
            double worst = 0;
            int t = 0;
            foreach (float g in stream)
            {
                var k = StepScalars.Advance(Algorithm.Adam, hp, state);
                AdamReference.Step(x, [g], state, hp, k);
                t++;
                if (state.V![0] == 0) continue;
                double mHat = state.M![0] / (1 - Math.Pow(beta1, t));
                double vHat = state.V[0] / (1 - Math.Pow(beta2, t));
                worst = Math.Max(worst, Math.Abs(mHat) / Math.Sqrt(vHat));
            }
            Assert.That(worst, Is.LessThanOrEqualTo(bound * (1 + 1e-4)), $"stream {name}: max |m̂|/sqrt(v̂) = {worst:R}, R = {bound:R}");
            Assert.That(worst, Is.GreaterThan(0), $"stream {name}");
        }
    }

    /// <summary>
    /// The bound is tight: equality in Cauchy–Schwarz needs β2^{j/2} g_{t−j} ∝ (β1/sqrt(β2))^j, i.e. g_k ∝ (β2/β1)^k,
    /// and then |m_t|/sqrt(v_t) = R·sqrt(1 − (β1²/β2)^t) → R. After 80 steps the deficit is below 1e-3 for these betas.
    /// </summary>
    [TestCaseSource(nameof(BetaPairs))]
    public void SignBoundIsNearlyAttained(double beta1, double beta2)
    {
        var hp = Hyperparameters.Defaults(Algorithm.Adam) with { Beta1 = beta1, Beta2 = beta2, Lr = 0 };
        int steps = beta1 == 0 ? 1 : 80;
        if (beta1 >= 0.99) steps = 1200; // β1²/β2 ≈ 0.981: the deficit decays slowly; g grows only by 1.009 per step
        var state = ParamState.Create(Algorithm.Adam, hp, 1);
        float[] x = [0f];
        for (int t = 0; t < steps; t++)
        {
            float g = beta1 == 0 ? 1f : (float)Math.Pow(beta2 / beta1, t);
            var k = StepScalars.Advance(Algorithm.Adam, hp, state);
            AdamReference.Step(x, [g], state, hp, k);
        }
        double ratio = Math.Abs((double)state.M![0]) / Math.Sqrt(state.V![0]);
        double expected = hp.SignBound * Math.Sqrt(1 - Math.Pow(beta1 * beta1 / beta2, steps));
        Assert.That(ratio, Is.EqualTo(expected).Within(1e-4 * expected), "the closed form of the extremal stream");
        Assert.That(ratio, Is.GreaterThan(0.999 * hp.SignBound), $"ratio {ratio:R} vs R = {hp.SignBound:R}");
    }

    [Test]
    public void SignBoundIsInfiniteWhenBeta1ReachesSqrtBeta2()
    {
        Assert.That(Hyperparameters.For(Algorithm.Adam, beta1: 0.9, beta2: 0.81).SignBound, Is.EqualTo(double.PositiveInfinity));
        Assert.That(Hyperparameters.For(Algorithm.Adam, beta1: 0.95, beta2: 0.81).SignBound, Is.EqualTo(double.PositiveInfinity));
        // β1 = 0: m = (1−β1)g, v = (1−β2)g², so |m|/sqrt(v) = 1/sqrt(1−β2) exactly.
        Assert.That(Hyperparameters.For(Algorithm.Adam, beta1: 0, beta2: 0.75).SignBound, Is.EqualTo(2.0).Within(1e-15));
        // β1 = β2 = 0 (SignSGD): |m|/sqrt(v) = |g|/|g| = 1; the formula is 0/0 there, the bound is 1, and no warning.
        var sign = Hyperparameters.Defaults(Algorithm.Adam) with { Beta1 = 0, Beta2 = 0 };
        Assert.That(sign.SignBound, Is.EqualTo(1.0));
        Assert.That(sign.Validate(Algorithm.Adam), Is.Empty);
        // β2 = 0 with β1 > 0: v = g² forgets at once while m remembers, so |m|/sqrt(v) is unbounded.
        Assert.That(Hyperparameters.For(Algorithm.Adam, beta1: 0.1, beta2: 0).SignBound, Is.EqualTo(double.PositiveInfinity));
    }
}
