namespace CudaAdam.Tests.Api;

/// <summary><see cref="Hyperparameters.Validate"/>: every impossible value throws, naming the value; β1 ≥ sqrt(β2)
/// only warns.</summary>
public class HyperparametersValidateTests
{
    public static IEnumerable<TestCaseData> BadInputs()
    {
        TestCaseData Case(string name, Algorithm a, Func<Hyperparameters, Hyperparameters> f, params string[] mustContain) =>
            new TestCaseData(a, f(Hyperparameters.Defaults(a)), mustContain).SetName($"Invalid_{name}_{a}");

        yield return Case("negative_lr", Algorithm.Adam, h => h with { Lr = -1e-3 }, "learning rate", "-0.001");
        yield return Case("nan_lr", Algorithm.Sgd, h => h with { Lr = double.NaN }, "learning rate", "NaN");
        yield return Case("infinite_lr", Algorithm.Lion, h => h with { Lr = double.PositiveInfinity }, "learning rate", "Infinity");
        yield return Case("beta1_one", Algorithm.Adam, h => h with { Beta1 = 1.0 }, "beta parameter at index 0", "1");
        yield return Case("beta1_negative", Algorithm.NAdam, h => h with { Beta1 = -0.1 }, "index 0", "-0.1");
        yield return Case("beta2_above_one", Algorithm.AdamW, h => h with { Beta2 = 1.5 }, "index 1", "1.5");
        yield return Case("beta2_nan", Algorithm.RAdam, h => h with { Beta2 = double.NaN }, "index 1", "NaN");
        yield return Case("lion_beta2_one", Algorithm.Lion, h => h with { Beta2 = 1.0 }, "index 1", "1");
        yield return Case("eps_zero", Algorithm.Adam, h => h with { Eps = 0 }, "epsilon", "0");
        yield return Case("eps_negative", Algorithm.AdaGrad, h => h with { Eps = -1e-10 }, "epsilon", "-1E-10");
        yield return Case("eps_nan", Algorithm.RmsProp, h => h with { Eps = double.NaN }, "epsilon", "NaN");
        yield return Case("negative_weight_decay", Algorithm.AdamW, h => h with { WeightDecay = -0.01 }, "weight_decay", "-0.01");
        yield return Case("nan_weight_decay", Algorithm.SignSgd, h => h with { WeightDecay = double.NaN }, "weight_decay", "NaN");
        yield return Case("nesterov_without_momentum", Algorithm.Sgd, h => h with { Nesterov = true }, "Nesterov", "momentum = 0");
        yield return Case("nesterov_with_dampening", Algorithm.Sgd, h => h with { Nesterov = true, Momentum = 0.9, Dampening = 0.1 },
            "Nesterov", "dampening = 0.1");
        yield return Case("negative_momentum", Algorithm.Sgd, h => h with { Momentum = -0.5 }, "momentum", "-0.5");
        yield return Case("signum_momentum_one", Algorithm.Signum, h => h with { Momentum = 1.0 }, "momentum", "1");
        yield return Case("rmsprop_negative_alpha", Algorithm.RmsProp, h => h with { Alpha = -0.9 }, "alpha", "-0.9");
        yield return Case("adadelta_rho_above_one", Algorithm.AdaDelta, h => h with { Rho = 1.1 }, "rho", "1.1");
        yield return Case("adagrad_negative_lr_decay", Algorithm.AdaGrad, h => h with { LrDecay = -1 }, "lr_decay", "-1");
        yield return Case("adagrad_negative_initial_accumulator", Algorithm.AdaGrad, h => h with { InitialAccumulatorValue = -0.1 },
            "initial_accumulator_value", "-0.1");
        yield return Case("nadam_negative_momentum_decay", Algorithm.NAdam, h => h with { MomentumDecay = -4e-3 }, "momentum_decay", "-0.004");
        yield return Case("amsgrad_on_sgd", Algorithm.Sgd, h => h with { Amsgrad = true }, "amsgrad", "sgd");
        yield return Case("amsgrad_on_nadam", Algorithm.NAdam, h => h with { Amsgrad = true }, "amsgrad", "nadam");
        yield return Case("no_bias_correction_on_nadam", Algorithm.NAdam, h => h with { BiasCorrection = false }, "bias_correction", "nadam");
        yield return Case("no_bias_correction_on_rmsprop", Algorithm.RmsProp, h => h with { BiasCorrection = false }, "bias_correction", "rmsprop");
        yield return Case("decoupled_on_adam", Algorithm.Adam, h => h with { DecoupledWeightDecay = true }, "decoupled_weight_decay", "adam");
    }

    [TestCaseSource(nameof(BadInputs))]
    public void InvalidValueThrowsNamingIt(Algorithm algorithm, Hyperparameters hp, string[] mustContain)
    {
        var ex = Assert.Throws<ArgumentException>(() => hp.Validate(algorithm));
        foreach (var s in mustContain)
            Assert.That(ex!.Message, Does.Contain(s), $"message: {ex.Message}");
        // The optimizer refuses the same values at construction.
        Assert.Throws<ArgumentException>(() => new Optimizer(algorithm, [new Parameter("x", new float[2])], hp).Dispose());
    }

    [Test]
    public void DefaultsOfEveryAlgorithmAreValidAndWarningFree()
    {
        foreach (var a in AlgorithmNames.All)
            Assert.That(Hyperparameters.Defaults(a).Validate(a), Is.Empty, a.Name());
    }

    [Test]
    public void UnusedFieldsAreNotChecked()
    {
        // SGD does not read eps or the betas; Lion does not read eps.
        var sgd = Hyperparameters.Defaults(Algorithm.Sgd) with { Eps = 0, Beta1 = 2 };
        Assert.That(sgd.Validate(Algorithm.Sgd), Is.Empty);
        var lion = Hyperparameters.Defaults(Algorithm.Lion) with { Eps = -1 };
        Assert.That(lion.Validate(Algorithm.Lion), Is.Empty);
    }

    [TestCase(0.9, 0.81)]
    [TestCase(0.95, 0.81)]
    [TestCase(0.99, 0.9)]
    public void Beta1AtOrAboveSqrtBeta2OnlyWarns(double beta1, double beta2)
    {
        var hp = Hyperparameters.Defaults(Algorithm.Adam) with { Beta1 = beta1, Beta2 = beta2 };
        var warnings = hp.Validate(Algorithm.Adam);
        Assert.That(warnings, Has.Count.EqualTo(1));
        Assert.That(warnings[0], Does.Contain($"beta1 = {beta1}").And.Contain("sqrt(beta2)"));
        Assert.That(hp.SignBound, Is.EqualTo(double.PositiveInfinity));

        // The optimizer accepts it, records the warning once, and steps.
        var p = new Parameter("x", [1f]) { Grad = [1f] };
        using var opt = new Optimizer(Algorithm.Adam, [p], hp);
        opt.Step();
        opt.Step();
        Assert.That(opt.Warnings, Has.Count.EqualTo(1));
        Assert.That(p.Data[0], Is.LessThan(1f));
    }

    [Test]
    public void Beta1BelowSqrtBeta2DoesNotWarn()
    {
        var hp = Hyperparameters.Defaults(Algorithm.Adam) with { Beta1 = 0.89, Beta2 = 0.81 };
        Assert.That(hp.Validate(Algorithm.Adam), Is.Empty);
        Assert.That(hp.SignBound, Is.GreaterThan(0).And.LessThan(double.PositiveInfinity));
    }
}
