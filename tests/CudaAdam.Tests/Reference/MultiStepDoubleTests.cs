namespace CudaAdam.Tests.Reference;

/// <summary>
/// Several steps of each algorithm against an independent float64 transcription of its textbook equations (the
/// doc comment of each reference), so that the step-dependent parts (bias corrections, NAdam's μ schedule and
/// products, RAdam's switch to the rectified step, AdaGrad's lr decay, buffers carried between steps) are checked
/// beyond the first step.
/// </summary>
/// <remarks>
/// Tolerance: |x_float − x_double| ≤ 1e-4·P + 1e-6·|x|, P the coordinate's path length Σ|Δx|. Gradients have
/// |g| ∈ [0.5, 2] so that no EMA is near cancellation relative to its scale; then each step's float32 error is a few
/// hundred u (EMA rounding ≤ 2u/(1−β) with β ≤ 0.999) ≈ 1e-5 relative, and x's own rounding adds u·|x| per step.
/// </remarks>
public class MultiStepDoubleTests
{
    private const int N = 16, Steps = 25;

    public delegate void DoubleStep(double[] x, double[] g, int t, Hyperparameters hp, double[][] s);

    private static double Sign(double v) => Math.Sign(v);

    public static IEnumerable<TestCaseData> Cases()
    {
        TestCaseData C(Algorithm a, Func<Hyperparameters, Hyperparameters> f, DoubleStep step, string name) =>
            new TestCaseData(a, f(Hyperparameters.Defaults(a)), step).SetName($"MultiStep_{a}_{name}");

        yield return C(Algorithm.AdaMax, h => h with { WeightDecay = 0.05, Maximize = true }, (x, g, t, h, s) =>
        {
            for (int i = 0; i < N; i++)
            {
                double gi = -g[i] + h.WeightDecay * x[i];
                s[0][i] = h.Beta1 * s[0][i] + (1 - h.Beta1) * gi;
                s[1][i] = Math.Max(h.Beta2 * s[1][i], Math.Abs(gi) + h.Eps);
                x[i] -= h.Lr / (1 - Math.Pow(h.Beta1, t)) * s[0][i] / s[1][i];
            }
        }, "wd_maximize");
        foreach (bool decoupled in new[] { false, true })
        {
            yield return C(Algorithm.NAdam, h => h with { WeightDecay = 0.05, DecoupledWeightDecay = decoupled, MomentumDecay = 0.05 },
                (x, g, t, h, s) =>
                {
                    double Mu(int k) => h.Beta1 * (1 - 0.5 * Math.Pow(0.96, k * h.MomentumDecay));
                    double prod = 1;
                    for (int k = 1; k <= t; k++) prod *= Mu(k);
                    double prodNext = prod * Mu(t + 1);
                    for (int i = 0; i < N; i++)
                    {
                        double gi = g[i];
                        if (decoupled) x[i] *= 1 - h.Lr * h.WeightDecay; else gi += h.WeightDecay * x[i];
                        s[0][i] = h.Beta1 * s[0][i] + (1 - h.Beta1) * gi;
                        s[1][i] = h.Beta2 * s[1][i] + (1 - h.Beta2) * gi * gi;
                        double d = Math.Sqrt(s[1][i] / (1 - Math.Pow(h.Beta2, t))) + h.Eps;
                        x[i] -= h.Lr * (1 - Mu(t)) / (1 - prod) * gi / d + h.Lr * Mu(t + 1) / (1 - prodNext) * s[0][i] / d;
                    }
                }, decoupled ? "decoupled" : "coupled");
            yield return C(Algorithm.RAdam, h => h with { WeightDecay = 0.05, DecoupledWeightDecay = decoupled, Beta2 = 0.95 },
                (x, g, t, h, s) =>
                {
                    double rhoInf = 2 / (1 - h.Beta2) - 1, b2t = Math.Pow(h.Beta2, t);
                    double rhoT = rhoInf - 2 * t * b2t / (1 - b2t);
                    for (int i = 0; i < N; i++)
                    {
                        double gi = g[i];
                        if (decoupled) x[i] *= 1 - h.Lr * h.WeightDecay; else gi += h.WeightDecay * x[i];
                        s[0][i] = h.Beta1 * s[0][i] + (1 - h.Beta1) * gi;
                        s[1][i] = h.Beta2 * s[1][i] + (1 - h.Beta2) * gi * gi;
                        double mHat = s[0][i] / (1 - Math.Pow(h.Beta1, t));
                        if (rhoT > 5)
                        {
                            double r = Math.Sqrt((rhoT - 4) * (rhoT - 2) * rhoInf / ((rhoInf - 4) * (rhoInf - 2) * rhoT));
                            x[i] -= h.Lr * mHat * Math.Sqrt(1 - b2t) / (Math.Sqrt(s[1][i]) + h.Eps) * r;
                        }
                        else x[i] -= h.Lr * mHat;
                    }
                }, decoupled ? "decoupled" : "coupled");
        }
        yield return C(Algorithm.Sgd, h => h with { Lr = 0.05, Momentum = 0.8, Dampening = 0.2, WeightDecay = 0.05 }, (x, g, t, h, s) =>
        {
            for (int i = 0; i < N; i++)
            {
                double gi = g[i] + h.WeightDecay * x[i];
                s[0][i] = t == 1 ? gi : h.Momentum * s[0][i] + (1 - h.Dampening) * gi;
                x[i] -= h.Lr * s[0][i];
            }
        }, "momentum_dampening");
        yield return C(Algorithm.Sgd, h => h with { Lr = 0.05, Momentum = 0.8, Nesterov = true }, (x, g, t, h, s) =>
        {
            for (int i = 0; i < N; i++)
            {
                s[0][i] = t == 1 ? g[i] : h.Momentum * s[0][i] + g[i];
                x[i] -= h.Lr * (g[i] + h.Momentum * s[0][i]);
            }
        }, "nesterov");
        yield return C(Algorithm.AdaGrad, h => h with { LrDecay = 0.1, InitialAccumulatorValue = 0.1, WeightDecay = 0.05 }, (x, g, t, h, s) =>
        {
            if (t == 1) Array.Fill(s[0], h.InitialAccumulatorValue);
            for (int i = 0; i < N; i++)
            {
                double gi = g[i] + h.WeightDecay * x[i];
                s[0][i] += gi * gi;
                x[i] -= h.Lr / (1 + (t - 1) * h.LrDecay) * gi / (Math.Sqrt(s[0][i]) + h.Eps);
            }
        }, "lr_decay");
        yield return C(Algorithm.RmsProp, h => h with { Centered = true, Momentum = 0.5, WeightDecay = 0.05 }, (x, g, t, h, s) =>
        {
            for (int i = 0; i < N; i++)
            {
                double gi = g[i] + h.WeightDecay * x[i];
                s[0][i] = h.Alpha * s[0][i] + (1 - h.Alpha) * gi * gi;
                s[1][i] = h.Alpha * s[1][i] + (1 - h.Alpha) * gi;
                double d = Math.Sqrt(s[0][i] - s[1][i] * s[1][i]) + h.Eps;
                s[2][i] = h.Momentum * s[2][i] + gi / d;
                x[i] -= h.Lr * s[2][i];
            }
        }, "centered_momentum");
        yield return C(Algorithm.AdaDelta, h => h with { WeightDecay = 0.05 }, (x, g, t, h, s) =>
        {
            for (int i = 0; i < N; i++)
            {
                double gi = g[i] + h.WeightDecay * x[i];
                s[0][i] = h.Rho * s[0][i] + (1 - h.Rho) * gi * gi;
                double delta = Math.Sqrt(s[1][i] + h.Eps) / Math.Sqrt(s[0][i] + h.Eps) * gi;
                s[1][i] = h.Rho * s[1][i] + (1 - h.Rho) * delta * delta;
                x[i] -= h.Lr * delta;
            }
        }, "wd");
        yield return C(Algorithm.Signum, h => h with { WeightDecay = 0.05 }, (x, g, t, h, s) =>
        {
            for (int i = 0; i < N; i++)
            {
                s[0][i] = h.Momentum * s[0][i] + (1 - h.Momentum) * (g[i] + h.WeightDecay * x[i]);
                x[i] -= h.Lr * Sign(s[0][i]);
            }
        }, "wd");
        yield return C(Algorithm.Lion, h => h with { WeightDecay = 0.5, Lr = 1e-3 }, (x, g, t, h, s) =>
        {
            for (int i = 0; i < N; i++)
            {
                double c = h.Beta1 * s[0][i] + (1 - h.Beta1) * g[i];
                x[i] = x[i] * (1 - h.Lr * h.WeightDecay) - h.Lr * Sign(c);
                s[0][i] = h.Beta2 * s[0][i] + (1 - h.Beta2) * g[i];
            }
        }, "wd");
    }

    [TestCaseSource(nameof(Cases))]
    public void StepsMatchFloat64Transcription(Algorithm algorithm, Hyperparameters hp, DoubleStep reference)
    {
        var rng = new Random(4242);
        float[] x0 = Enumerable.Range(0, N).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        var p = new Parameter("x", (float[])x0.Clone());
        double[] xd = x0.Select(v => (double)v).ToArray();
        double[][] s = [new double[N], new double[N], new double[N]];
        double[] path = new double[N];
        using var opt = new Optimizer(algorithm, [p], hp);
        for (int t = 1; t <= Steps; t++)
        {
            float[] g = Enumerable.Range(0, N).Select(_ => (float)((rng.Next(2) == 0 ? -1 : 1) * (0.5 + 1.5 * rng.NextDouble()))).ToArray();
            double[] before = (double[])xd.Clone();
            p.Grad = g;
            opt.Step();
            reference(xd, g.Select(v => (double)v).ToArray(), t, hp, s);
            for (int i = 0; i < N; i++)
            {
                path[i] += Math.Abs(xd[i] - before[i]);
                Assert.That((double)p.Data[i], Is.EqualTo(xd[i]).Within(1e-4 * path[i] + 1e-6 * Math.Abs(xd[i])),
                    $"{algorithm} step {t}, coordinate {i}");
            }
        }
    }
}
