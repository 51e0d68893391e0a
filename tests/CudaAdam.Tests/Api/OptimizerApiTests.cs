namespace CudaAdam.Tests.Api;

/// <summary>The torch.optim-style <see cref="Optimizer"/> API on the CPU reference backend.</summary>
public class OptimizerApiTests
{
    private static float[] Ramp(int n, float scale) => Enumerable.Range(0, n).Select(i => scale * (i - n / 2f)).ToArray();

    [TestCaseSource(typeof(AlgorithmNames), nameof(AlgorithmNames.All))]
    public void ZeroSizeParameterStepsBesideANonEmptyOne(Algorithm algorithm)
    {
        var empty = new Parameter("empty", []) { Grad = [] };
        var full = new Parameter("full", Ramp(5, 0.5f)) { Grad = Ramp(5, 1f) };
        float[] before = (float[])full.Data.Clone();
        using var opt = new Optimizer(algorithm, [empty, full], Hyperparameters.Defaults(algorithm));
        opt.Step();
        opt.Step();
        Assert.That(empty.Data, Is.Empty);
        Assert.That(opt.State(empty)!.Step, Is.EqualTo(2), "a zero-size parameter with a gradient still counts its steps");
        Assert.That(full.Data, Is.Not.EqualTo(before), "the other parameter moves");
        Assert.That(full.Data.All(float.IsFinite), Is.True);
    }

    [TestCaseSource(typeof(AlgorithmNames), nameof(AlgorithmNames.All))]
    public void ParameterWithoutGradientIsSkippedWhileOthersStep(Algorithm algorithm)
    {
        // Decay would move it if it were stepped (Rprop has no weight decay: torch's has none, and ours refuses one).
        var hp = Hyperparameters.Defaults(algorithm) with { WeightDecay = algorithm.Info().UsesWeightDecay ? 0.1 : 0 };
        var a = new Parameter("a", Ramp(8, 0.25f)) { Grad = Ramp(8, 1f) };
        var b = new Parameter("b", Ramp(8, -0.5f)) { Grad = Ramp(8, 2f) };
        using var opt = new Optimizer(algorithm, [a, b], hp);
        opt.Step();
        var stateB = opt.State(b)!.Clone();
        float[] dataB = (float[])b.Data.Clone(), dataA = (float[])a.Data.Clone();

        b.Grad = null;
        opt.Step();
        Assert.That(b.Data, Is.EqualTo(dataB), "no gradient: data unchanged");
        var sb = opt.State(b)!;
        Assert.That(sb.Step, Is.EqualTo(1), "no gradient: step count unchanged");
        Assert.That(sb.M, Is.EqualTo(stateB.M));
        Assert.That(sb.V, Is.EqualTo(stateB.V));
        Assert.That(sb.VMax, Is.EqualTo(stateB.VMax));
        Assert.That(sb.Aux, Is.EqualTo(stateB.Aux));
        Assert.That((sb.Beta1Power, sb.Beta2Power, sb.MuProduct), Is.EqualTo((stateB.Beta1Power, stateB.Beta2Power, stateB.MuProduct)));
        Assert.That((sb.Eta, sb.Mu), Is.EqualTo((stateB.Eta, stateB.Mu)), "no gradient: ASGD's eta and mu unchanged");
        Assert.That(opt.State(a)!.Step, Is.EqualTo(2));
        Assert.That(a.Data, Is.Not.EqualTo(dataA), "the parameter with a gradient moves");
    }

    [Test]
    public void ParameterThatNeverHadAGradientHasNoState()
    {
        var a = new Parameter("a", [1f]) { Grad = [1f] };
        var b = new Parameter("b", [1f]);
        using var opt = new Optimizer(Algorithm.Adam, [a, b]);
        opt.Step();
        Assert.That(opt.State(b), Is.Null);
        Assert.That(b.Data, Is.EqualTo(new[] { 1f }));
    }

    [Test]
    public void TwoGroupsUseTheirOwnHyperparameters()
    {
        // Adam's first step is −lr·sign(g) (for |g| ≫ eps), so each group's lr shows directly.
        var fast = new Parameter("fast", [0f, 0f]) { Grad = [1f, -1f] };
        var slow = new Parameter("slow", [0f, 0f]) { Grad = [1f, -1f] };
        var hp = Hyperparameters.Defaults(Algorithm.Adam);
        using var opt = new Optimizer(Algorithm.Adam,
            [new ParamGroup([fast], hp with { Lr = 0.1 }), new ParamGroup([slow], hp with { Lr = 0.001 })]);
        opt.Step();
        Assert.That(fast.Data[0], Is.EqualTo(-0.1f).Within(1e-6));
        Assert.That(fast.Data[1], Is.EqualTo(0.1f).Within(1e-6));
        Assert.That(slow.Data[0], Is.EqualTo(-0.001f).Within(1e-8));
        Assert.That(slow.Data[1], Is.EqualTo(0.001f).Within(1e-8));
    }

    [Test]
    public void StateIsReadableWithTorchNames()
    {
        var hp = Hyperparameters.Defaults(Algorithm.Adam) with { Amsgrad = true };
        var p = new Parameter("x", [1f, 2f]);
        using var opt = new Optimizer(Algorithm.Adam, [p], hp);
        Assert.That(opt.State(p), Is.Null, "no state before the first step");
        p.Grad = [2f, -4f];
        opt.Step();
        p.Grad = [0f, 0f];
        opt.Step();
        var s = opt.State(p)!;
        Assert.That(s.Step, Is.EqualTo(2));
        // m = β1·(1−β1)·g1, v = β2·(1−β2)·g1² after a zero second gradient; v̄ = max over both steps = (1−β2)·g1².
        double[] g1 = [2, -4];
        for (int i = 0; i < 2; i++)
        {
            Assert.That(s.M![i], Is.EqualTo(0.9 * 0.1 * g1[i]).Within(1e-6 * Math.Abs(g1[i])), "M = exp_avg");
            Assert.That(s.V![i], Is.EqualTo(0.999 * 0.001 * g1[i] * g1[i]).Within(1e-6 * g1[i] * g1[i]), "V = exp_avg_sq");
            Assert.That(s.VMax![i], Is.EqualTo(0.001 * g1[i] * g1[i]).Within(1e-6 * g1[i] * g1[i]), "VMax = max_exp_avg_sq");
        }
        Assert.That(s.ByTorchName(Algorithm.Adam, "exp_avg"), Is.SameAs(s.M));
        Assert.That(s.ByTorchName(Algorithm.Adam, "exp_avg_sq"), Is.SameAs(s.V));
        Assert.That(s.ByTorchName(Algorithm.Adam, "max_exp_avg_sq"), Is.SameAs(s.VMax));
        Assert.That(s.Beta1Power, Is.EqualTo(0.9 * 0.9).Within(1e-15));
        Assert.That(s.Beta2Power, Is.EqualTo(0.999 * 0.999).Within(1e-15));
    }

    [Test]
    public void GradientLengthMismatchThrowsNamingTheParameter()
    {
        var p = new Parameter("weights", new float[4]) { Grad = new float[3] };
        using var opt = new Optimizer(Algorithm.Adam, [p]);
        var ex = Assert.Throws<ArgumentException>(() => opt.Step());
        Assert.That(ex!.Message, Does.Contain("weights").And.Contain("4").And.Contain("3"));
        Assert.That(opt.State(p), Is.Null, "a failed step creates no state");
    }

    [Test]
    public void ParameterInTwoGroupsThrows()
    {
        var p = new Parameter("shared", new float[2]);
        var hp = Hyperparameters.Defaults(Algorithm.Sgd);
        var ex = Assert.Throws<ArgumentException>(() =>
            new Optimizer(Algorithm.Sgd, [new ParamGroup([p], hp), new ParamGroup([p], hp with { Lr = 0.1 })]).Dispose());
        Assert.That(ex!.Message, Does.Contain("shared").And.Contain("more than one"));
    }

    [Test]
    public void SetStateWithAWrongLayoutThrows()
    {
        var p = new Parameter("x", new float[4]) { Grad = new float[4] };
        var other = new Parameter("y", new float[4]);
        using var opt = new Optimizer(Algorithm.Adam, [p]);

        var shortState = ParamState.Create(Algorithm.Adam, Hyperparameters.Defaults(Algorithm.Adam), 3);
        var ex = Assert.Throws<InvalidOperationException>(() => opt.SetState(p, shortState));
        Assert.That(ex!.Message, Does.Contain("'x'").And.Contain("slot M").And.Contain("3 long").And.Contain("4 elements"));

        var amsgradState = ParamState.Create(Algorithm.Adam, Hyperparameters.Defaults(Algorithm.Adam) with { Amsgrad = true }, 4);
        ex = Assert.Throws<InvalidOperationException>(() => opt.SetState(p, amsgradState));
        Assert.That(ex!.Message, Does.Contain("VMax"));

        var sgdState = new ParamState { M = new float[4] };
        ex = Assert.Throws<InvalidOperationException>(() => opt.SetState(p, sgdState));
        Assert.That(ex!.Message, Does.Contain("slot V").And.Contain("missing"));

        var ex2 = Assert.Throws<ArgumentException>(() => opt.SetState(other, ParamState.Create(Algorithm.Adam, Hyperparameters.Defaults(Algorithm.Adam), 4)));
        Assert.That(ex2!.Message, Does.Contain("'y'").And.Contain("not in this optimizer"));

        // A fitting state is accepted and used: a loaded step count continues.
        var good = ParamState.Create(Algorithm.Adam, Hyperparameters.Defaults(Algorithm.Adam), 4);
        good.Step = 7;
        opt.SetState(p, good);
        opt.Step();
        Assert.That(opt.State(p)!.Step, Is.EqualTo(8));
    }

    [Test]
    public void ChangingGroupHyperparametersBetweenStepsIsASchedule()
    {
        // SGD without momentum: x_t = x_{t−1} − lr_t·g; with a constant gradient the path records the schedule.
        var p = new Parameter("x", [0f]);
        var group = new ParamGroup([p], Hyperparameters.Defaults(Algorithm.Sgd) with { Lr = 1.0 });
        using var opt = new Optimizer(Algorithm.Sgd, [group]);
        double[] lrs = [1.0, 0.5, 0.25, 0.125];
        double expected = 0;
        foreach (double lr in lrs)
        {
            group.Hyperparameters = group.Hyperparameters with { Lr = lr };
            p.Grad = [1f];
            opt.Step();
            expected -= lr;
            Assert.That(p.Data[0], Is.EqualTo(expected), $"after the step with lr = {lr}");
        }
        // An invalid value set mid-run is caught at the next step.
        group.Hyperparameters = group.Hyperparameters with { Lr = -1 };
        Assert.Throws<ArgumentException>(() => opt.Step());
    }

    [Test]
    public void AdamScheduleChangesTheStepButNotTheMoments()
    {
        // Changing lr between steps must not disturb m, v or the running products: compare with an uninterrupted run.
        var hp = Hyperparameters.Defaults(Algorithm.Adam);
        var a = new Parameter("a", [0.5f, -0.5f]);
        var b = new Parameter("b", [0.5f, -0.5f]);
        var groupA = new ParamGroup([a], hp);
        using var optA = new Optimizer(Algorithm.Adam, [groupA]);
        using var optB = new Optimizer(Algorithm.Adam, [b], hp);
        for (int t = 0; t < 5; t++)
        {
            groupA.Hyperparameters = hp with { Lr = 1e-3 * (t + 1) };
            a.Grad = [1f + t, -2f];
            b.Grad = [1f + t, -2f];
            optA.Step();
            optB.Step();
        }
        Assert.That(optA.State(a)!.M, Is.EqualTo(optB.State(b)!.M));
        Assert.That(optA.State(a)!.V, Is.EqualTo(optB.State(b)!.V));
        Assert.That(a.Data, Is.Not.EqualTo(b.Data));
    }
}
