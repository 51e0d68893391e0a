namespace CudaAdam.Tests.Reference;

/// <summary>
/// The first step of every algorithm against its closed form, derived by hand from the update equations with the
/// state at its initial value (m = v = 0, ...) and evaluated in double. Each case runs through the public
/// <see cref="Optimizer"/> (so <see cref="StepScalars.Advance"/> is exercised too), with and without maximize and
/// weight decay.
/// </summary>
/// <remarks>
/// Tolerance: the reference evaluates at most ~8 float32 operations per coordinate, each with relative error
/// ≤ u = 2^-24 ≈ 6e-8 of its result, and rounds the Python-float scalars to float32 (another u each). The result
/// x1 = x0 + Δ therefore lies within ~16u·(|x0| + |Δ|) ≈ 1e-6·(|x0| + |Δ|) of the double closed form; we use
/// 2e-6·(|x0| + |Δ|), a few ulps of the largest quantity involved.
/// </remarks>
public class FirstStepClosedFormTests
{
    /// <summary>A closed form: x1 as a function of x0, the raw gradient g and the hyperparameters.</summary>
    public delegate double ClosedForm(double x0, double g, Hyperparameters hp);

    /// <summary>The gradient the algorithm sees: −g under maximize, plus λ·x0 when weight decay is coupled.</summary>
    private static double Eff(double x0, double g, Hyperparameters hp, bool coupled = true) =>
        (hp.Maximize ? -g : g) + (coupled ? hp.WeightDecay * x0 : 0);

    private static double Sign(double x) => Math.Sign(x);

    public static IEnumerable<TestCaseData> Cases()
    {
        var variants = new (string Name, Func<Hyperparameters, Hyperparameters> Apply)[]
        {
            ("plain", h => h),
            ("maximize", h => h with { Maximize = true }),
            ("weight-decay", h => h with { WeightDecay = 0.1 }),
            ("maximize+weight-decay", h => h with { Maximize = true, WeightDecay = 0.05 }),
        };
        var forms = new (Algorithm A, Func<Hyperparameters, Hyperparameters> Hp, ClosedForm X1)[]
        {
            // Adam, t = 1: m̂ = g, v̂ = g²  ⇒  x1 = x0 − γ g/(|g| + ε).
            (Algorithm.Adam, h => h with { Lr = 0.01 },
                (x, g, h) => { var e = Eff(x, g, h); return x - h.Lr * e / (Math.Abs(e) + h.Eps); }),
            (Algorithm.SignAdam, h => h with { Lr = 0.01 },
                (x, g, h) => { var e = Eff(x, g, h); return x - h.Lr * e / (Math.Abs(e) + h.Eps); }),
            // AdamW: x1 = x0(1 − γλ) − γ g/(|g| + ε), g without λ·x.
            (Algorithm.AdamW, h => h with { Lr = 0.01 },
                (x, g, h) => { var e = Eff(x, g, h, coupled: false); return x * (1 - h.Lr * h.WeightDecay) - h.Lr * e / (Math.Abs(e) + h.Eps); }),
            // AdaMax: m = (1−β1)g, u = max(0, |g|+ε)  ⇒  x1 = x0 − γ/(1−β1)·(1−β1)g/(|g|+ε).
            (Algorithm.AdaMax, h => h with { Lr = 0.02 },
                (x, g, h) => { var e = Eff(x, g, h); return x - h.Lr / (1 - h.Beta1) * ((1 - h.Beta1) * e) / (Math.Abs(e) + h.Eps); }),
            // NAdam: μ1 = β1(1 − ½·0.96^ψ), μ2 = β1(1 − ½·0.96^(2ψ)), d = sqrt((1−β2)g²/(1−β2)) + ε = |g| + ε,
            //   x1 = x0 − γ(1−μ1)/(1−μ1)·g/d − γμ2/(1−μ1μ2)·(1−β1)g/d.
            (Algorithm.NAdam, h => h with { Lr = 0.02 },
                (x, g, h) =>
                {
                    var e = Eff(x, g, h);
                    double mu1 = h.Beta1 * (1 - 0.5 * Math.Pow(0.96, h.MomentumDecay));
                    double mu2 = h.Beta1 * (1 - 0.5 * Math.Pow(0.96, 2 * h.MomentumDecay));
                    double d = Math.Abs(e) + h.Eps;
                    return x - h.Lr * e / d - h.Lr * mu2 / (1 - mu1 * mu2) * (1 - h.Beta1) * e / d;
                }),
            // NAdam with decoupled weight decay: x0 is first scaled by (1 − γλ), g carries no λ·x.
            (Algorithm.NAdam, h => h with { Lr = 0.02, DecoupledWeightDecay = true },
                (x, g, h) =>
                {
                    var e = Eff(x, g, h, coupled: false);
                    double mu1 = h.Beta1 * (1 - 0.5 * Math.Pow(0.96, h.MomentumDecay));
                    double mu2 = h.Beta1 * (1 - 0.5 * Math.Pow(0.96, 2 * h.MomentumDecay));
                    double d = Math.Abs(e) + h.Eps;
                    return x * (1 - h.Lr * h.WeightDecay) - h.Lr * e / d - h.Lr * mu2 / (1 - mu1 * mu2) * (1 - h.Beta1) * e / d;
                }),
            // RAdam: ρ1 = ρ∞ − 2β2/(1−β2) = 1 ≤ 5 for every β2, so the first step is x1 = x0 − γ·m̂ = x0 − γ g.
            (Algorithm.RAdam, h => h with { Lr = 0.01 }, (x, g, h) => x - h.Lr * Eff(x, g, h)),
            (Algorithm.RAdam, h => h with { Lr = 0.01, DecoupledWeightDecay = true },
                (x, g, h) => x * (1 - h.Lr * h.WeightDecay) - h.Lr * Eff(x, g, h, coupled: false)),
            // SGD: no momentum: x1 = x0 − γ g; momentum: b = g (copy, no dampening) ⇒ same; Nesterov: x0 − γ(g + μg).
            (Algorithm.Sgd, h => h with { Lr = 0.1 }, (x, g, h) => x - h.Lr * Eff(x, g, h)),
            (Algorithm.Sgd, h => h with { Lr = 0.1, Momentum = 0.9, Dampening = 0.5 }, (x, g, h) => x - h.Lr * Eff(x, g, h)),
            (Algorithm.Sgd, h => h with { Lr = 0.1, Momentum = 0.9, Nesterov = true },
                (x, g, h) => x - h.Lr * (Eff(x, g, h) + h.Momentum * Eff(x, g, h))),
            // AdaGrad: s = s0 + g²  ⇒  x1 = x0 − γ g/(sqrt(s0 + g²) + ε) (lr_decay has no effect at t = 1).
            (Algorithm.AdaGrad, h => h with { InitialAccumulatorValue = 0.25, LrDecay = 0.5 },
                (x, g, h) => { var e = Eff(x, g, h); return x - h.Lr * e / (Math.Sqrt(h.InitialAccumulatorValue + e * e) + h.Eps); }),
            // RMSProp: s = (1−α)g²  ⇒  x1 = x0 − γ g/(sqrt(1−α)|g| + ε); momentum: b = g/d, same x1.
            (Algorithm.RmsProp, h => h,
                (x, g, h) => { var e = Eff(x, g, h); return x - h.Lr * e / (Math.Sqrt(1 - h.Alpha) * Math.Abs(e) + h.Eps); }),
            (Algorithm.RmsProp, h => h with { Momentum = 0.5 },
                (x, g, h) => { var e = Eff(x, g, h); return x - h.Lr * e / (Math.Sqrt(1 - h.Alpha) * Math.Abs(e) + h.Eps); }),
            // centered: ḡ = (1−α)g, s − ḡ² = α(1−α)g²  ⇒  d = sqrt(α(1−α))|g| + ε.
            (Algorithm.RmsProp, h => h with { Centered = true },
                (x, g, h) => { var e = Eff(x, g, h); return x - h.Lr * e / (Math.Sqrt(h.Alpha * (1 - h.Alpha)) * Math.Abs(e) + h.Eps); }),
            // AdaDelta: s = (1−ρ)g², Δ = sqrt(ε)/sqrt(s + ε)·g  ⇒  x1 = x0 − γΔ.
            (Algorithm.AdaDelta, h => h,
                (x, g, h) => { var e = Eff(x, g, h); return x - h.Lr * Math.Sqrt(h.Eps) / Math.Sqrt((1 - h.Rho) * e * e + h.Eps) * e; }),
            // signSGD: x1 = x0 − γ sign(g + λx0).
            (Algorithm.SignSgd, h => h with { Lr = 0.01 }, (x, g, h) => x - h.Lr * Sign(Eff(x, g, h))),
            // Signum: m = (1−β)(g + λx0)  ⇒  x1 = x0 − γ sign(g + λx0).
            (Algorithm.Signum, h => h with { Lr = 0.01 }, (x, g, h) => x - h.Lr * Sign(Eff(x, g, h))),
            // Lion: c = (1−β1)g  ⇒  x1 = x0(1 − γλ) − γ sign(g).
            (Algorithm.Lion, h => h with { Lr = 0.01 },
                (x, g, h) => x * (1 - h.Lr * h.WeightDecay) - h.Lr * Sign(Eff(x, g, h, coupled: false))),
        };
        int n = 0;
        foreach (var (a, hpf, x1) in forms)
        foreach (var (vn, vf) in variants)
        {
            var hp = vf(hpf(Hyperparameters.Defaults(a)));
            yield return new TestCaseData(a, hp, x1).SetName($"FirstStep_{a}_{n}_{vn}");
            n++;
        }
    }

    [TestCaseSource(nameof(Cases))]
    public void FirstStepMatchesClosedForm(Algorithm algorithm, Hyperparameters hp, ClosedForm x1)
    {
        var rng = new Random(1234);
        const int n = 64;
        float[] x0 = new float[n], g = new float[n];
        for (int i = 0; i < n; i++)
        {
            x0[i] = (float)(rng.NextDouble() * 4 - 2);
            // Gradients over six orders of magnitude, both signs; never 0 (sign(0) is tested elsewhere).
            g[i] = (float)((rng.Next(2) == 0 ? -1 : 1) * Math.Pow(10, rng.NextDouble() * 6 - 3));
        }
        var p = new Parameter("x", (float[])x0.Clone()) { Grad = g };
        using var opt = new Optimizer(algorithm, [p], hp);
        opt.Step();
        Assert.That(opt.State(p)!.Step, Is.EqualTo(1));
        for (int i = 0; i < n; i++)
        {
            double expected = x1(x0[i], g[i], hp);
            double tol = 2e-6 * (Math.Abs(x0[i]) + Math.Abs(expected - x0[i]));
            Assert.That((double)p.Data[i], Is.EqualTo(expected).Within(tol),
                $"{algorithm} coordinate {i}: x0 = {x0[i]:R}, g = {g[i]:R}");
        }
    }

    [Test]
    public void SgdSecondStepAppliesMomentumAndDampening()
    {
        // Step 1: b = g1 (copy). Step 2: b = μ·g1 + (1−τ)·g2, x2 = x1 − γ b.
        var hp = Hyperparameters.Defaults(Algorithm.Sgd) with { Lr = 0.1, Momentum = 0.9, Dampening = 0.25 };
        var p = new Parameter("x", [1f, -2f]);
        using var opt = new Optimizer(Algorithm.Sgd, [p], hp);
        Assert.That(opt.State(p), Is.Null, "no state before the first step");
        p.Grad = [0.5f, -1.5f];
        opt.Step();
        Assert.That(opt.State(p)!.M, Is.EqualTo(new[] { 0.5f, -1.5f }), "the buffer is a copy of the first gradient");
        float[] x1 = (float[])p.Data.Clone();
        p.Grad = [2f, 4f];
        opt.Step();
        double[] b = [0.9 * 0.5 + 0.75 * 2, 0.9 * -1.5 + 0.75 * 4];
        for (int i = 0; i < 2; i++)
        {
            Assert.That(opt.State(p)!.M![i], Is.EqualTo(b[i]).Within(1e-6 * Math.Abs(b[i])), $"buffer {i}");
            Assert.That(p.Data[i], Is.EqualTo(x1[i] - 0.1 * b[i]).Within(1e-6 * (Math.Abs(x1[i]) + 0.1 * Math.Abs(b[i]))), $"x {i}");
        }
    }

    [Test]
    public void AdaGradSecondStepDecaysTheLearningRate()
    {
        // Step 2: clr = γ/(1 + η), s = g1² + g2²; x2 = x1 − clr·g2/(sqrt(s) + ε).
        var hp = Hyperparameters.Defaults(Algorithm.AdaGrad) with { Lr = 0.1, LrDecay = 0.5 };
        var p = new Parameter("x", [0f]);
        using var opt = new Optimizer(Algorithm.AdaGrad, [p], hp);
        p.Grad = [3f];
        opt.Step();
        double x1 = -0.1 * 3 / (3 + hp.Eps);
        Assert.That(p.Data[0], Is.EqualTo(x1).Within(1e-7));
        p.Grad = [4f];
        opt.Step();
        double x2 = x1 - 0.1 / 1.5 * 4 / (5 + hp.Eps);
        Assert.That(p.Data[0], Is.EqualTo(x2).Within(1e-6 * Math.Abs(x2)));
    }

    [Test]
    public void RAdamUnderConstantGradientFollowsTheRectifiedClosedForm()
    {
        // With a constant gradient g: m_t = (1−β1^t)g so m̂ = g, v_t = (1−β2^t)g², hence
        //   ρ_t ≤ 5:  Δ_t = −γ g
        //   ρ_t > 5:  Δ_t = −γ g · sqrt(1−β2^t)/(sqrt(1−β2^t)|g| + ε) · r_t.
        // β2 = 0.9 makes ρ∞ = 19 so that the rectified branch starts at t = 6 (ρ_6 ≈ 5.6) inside 12 steps.
        var hp = Hyperparameters.Defaults(Algorithm.RAdam) with { Lr = 0.01, Beta2 = 0.9, Beta1 = 0.8 };
        const float g = -0.75f;
        var p = new Parameter("x", [0.5f]);
        using var opt = new Optimizer(Algorithm.RAdam, [p], hp);
        double rhoInf = 2 / (1 - hp.Beta2) - 1;
        int rectifiedSteps = 0;
        for (int t = 1; t <= 12; t++)
        {
            double before = p.Data[0];
            p.Grad = [g];
            opt.Step();
            double b2t = Math.Pow(hp.Beta2, t), bc2 = 1 - b2t;
            double rhoT = rhoInf - 2 * t * b2t / bc2;
            double delta;
            if (rhoT > 5)
            {
                rectifiedSteps++;
                double r = Math.Sqrt((rhoT - 4) * (rhoT - 2) * rhoInf / ((rhoInf - 4) * (rhoInf - 2) * rhoT));
                delta = -hp.Lr * g * Math.Sqrt(bc2) / (Math.Sqrt(bc2) * Math.Abs(g) + hp.Eps) * r;
            }
            else
            {
                delta = -hp.Lr * g;
            }
            Assert.That(p.Data[0] - before, Is.EqualTo(delta).Within(1e-6 * Math.Abs(before) + 1e-5 * Math.Abs(delta)),
                $"step {t} (rho_t = {rhoT:F3})");
        }
        Assert.That(rectifiedSteps, Is.EqualTo(7), "steps 6..12 are rectified when beta2 = 0.9");
    }

    [Test]
    public void SignFamilyLeavesCoordinatesWithZeroDirectionUnchanged()
    {
        // sign(±0) = ±0: a zero gradient (and zero momentum) moves nothing.
        foreach (var a in new[] { Algorithm.SignSgd, Algorithm.Signum, Algorithm.Lion })
        {
            var p = new Parameter("x", [0f, -0f, 1.5f, -2.5f]) { Grad = [0f, -0f, -0f, 0f] };
            using var opt = new Optimizer(a, [p], Hyperparameters.Defaults(a));
            opt.Step();
            // Values, not bits: x − γ·sign(−0) = −0 − (−0) = +0 for x = −0 is IEEE's sum of opposite zeros.
            Assert.That(p.Data, Is.EqualTo(new[] { 0f, 0f, 1.5f, -2.5f }), a.Name());
        }
    }
}
