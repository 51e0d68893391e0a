namespace CudaAdam.Tests.Api;

/// <summary>torch.optim's habits: zero_grad, step(closure), add_param_group, schedulers over groups, GradScaler.</summary>
public class TorchHabitsTests
{
    private static Hyperparameters Sgd(double lr) => Hyperparameters.Defaults(Algorithm.Sgd) with { Lr = lr };

    [Test]
    public void ZeroGrad_SetToNone_StopsTheNextStep_ZerosKeepIt()
    {
        var a = new Parameter("a", [1f, 2f]);
        using var opt = new Optimizer(Algorithm.Sgd, [a], Sgd(0.5) with { WeightDecay = 0.1 });
        a.Grad = [1f, 1f];
        opt.Step();
        var afterFirst = (float[])a.Data.Clone();
        opt.ZeroGrad();
        Assert.That(a.Grad, Is.Null, "set_to_none (torch 2.x's default)");
        var r = opt.Step();
        Assert.That(a.Data, Is.EqualTo(afterFirst), "no gradient: the parameter does not step");
        Assert.That(r.Parameters, Is.Zero);

        a.Grad = [3f, 4f];
        var grad = a.Grad;
        opt.ZeroGrad(setToNone: false);
        Assert.That(a.Grad, Is.SameAs(grad).And.EqualTo(new[] { 0f, 0f }), "zeros in place");
        opt.Step();
        Assert.That(a.Data, Is.Not.EqualTo(afterFirst), "a zero gradient steps: weight decay moves the parameter");
    }

    [Test]
    public void StepWithAClosure_ReturnsItsLoss_AndStepsOnTheGradientItSet()
    {
        var w = new Parameter("w", [2f]);
        using var opt = new Optimizer(Algorithm.Sgd, [w], Sgd(0.25));
        int calls = 0;
        float loss = opt.Step(() =>
        {
            calls++;
            opt.ZeroGrad();
            w.Grad = [2 * w.Data[0]];          // f(w) = w², f' = 2w
            return w.Data[0] * w.Data[0];
        });
        Assert.That((loss, calls), Is.EqualTo((4f, 1)));
        Assert.That(w.Data[0], Is.EqualTo(1f), "2 − 0.25·4");
        Assert.That(opt.LastResult!.Value.Step, Is.EqualTo(1));
    }

    [Test]
    public void AddParamGroup_StepsTheNewGroupWithItsOwnHyperparameters()
    {
        var a = new Parameter("a", [1f]);
        var b = new Parameter("b", [1f]);
        using var opt = new Optimizer(Algorithm.Sgd, [a], Sgd(0.1));
        a.Grad = [1f];
        opt.Step();
        opt.AddParamGroup(new ParamGroup([b], Sgd(0.5)));
        Assert.That(opt.Groups, Has.Count.EqualTo(2));
        (a.Grad, b.Grad) = ([1f], [1f]);
        opt.Step();
        Assert.That(a.Data[0], Is.EqualTo(1f - 0.1f - 0.1f));
        Assert.That(b.Data[0], Is.EqualTo(0.5f));
        Assert.That(opt.State(b)!.Step, Is.EqualTo(1), "its state starts on its first step");
        Assert.That(opt.StateDict().ParamGroups, Has.Count.EqualTo(2));

        var e = Assert.Throws<ArgumentException>(() => opt.AddParamGroup(new ParamGroup([a], Sgd(1))));
        Assert.That(e!.Message, Does.Contain("'a' appears in more than one parameter group"));
        e = Assert.Throws<ArgumentException>(() => opt.AddParamGroup(new ParamGroup([new Parameter("c", [0f])], Sgd(-1))));
        Assert.That(e!.Message, Does.Contain("Invalid learning rate"));
        Assert.That(opt.Groups, Has.Count.EqualTo(2), "a refused group is not added");
    }

    [Test]
    public void ASchedulerRefusesToStepAGroupAddedAfterIt()
    {
        var a = new Parameter("a", [1f]);
        using var opt = new Optimizer(Algorithm.Sgd, [a], Sgd(0.1));
        var sched = new StepLR(opt, 2);
        opt.AddParamGroup(new ParamGroup([new Parameter("b", [1f])], Sgd(0.5)));
        var e = Assert.Throws<InvalidOperationException>(() => sched.Step());
        Assert.That(e!.Message, Does.Contain("2 parameter groups").And.Contain("built over 1"));
    }

    [Test]
    public void ChainedSchedulersShareTheFirstOnesInitialLr_AsTorchsDo()
    {
        var a = new Parameter("a", [1f]);
        using var opt = new Optimizer(Algorithm.Sgd, [a], Sgd(0.1));
        var warm = new LinearLR(opt, startFactor: 0.5, totalIters: 2);
        Assert.That(opt.Groups[0].InitialLr, Is.EqualTo(0.1));
        var decay = new ExponentialLR(opt, 0.5);
        Assert.That(decay.BaseLrs, Is.EqualTo(new[] { 0.1 }), "base_lrs = initial_lr, not the warmed-down lr");
        var chain = new ChainedScheduler([warm, decay]);
        chain.Step();
        Assert.That(opt.Groups[0].Hyperparameters.Lr, Is.EqualTo(0.05 * (1.0 + 0.5 / (2 * 0.5)) * 0.5), "both factors apply");
        Assert.That(chain.StateDict().Schedulers.Select(s => s.Type), Is.EqualTo(new[] { "LinearLR", "ExponentialLR" }));
    }

    [Test]
    public void ReduceLROnPlateau_StepsOnAMetricOnly()
    {
        var a = new Parameter("a", [1f]);
        using var opt = new Optimizer(Algorithm.Sgd, [a], Sgd(0.1));
        var plateau = new ReduceLROnPlateau(opt, patience: 0);
        Assert.That(opt.Groups[0].Hyperparameters.Lr, Is.EqualTo(0.1), "construction changes nothing");
        Assert.That(Assert.Throws<InvalidOperationException>(() => plateau.Step())!.Message, Does.Contain("Step(metric)"));
        plateau.Step(1.0);
        plateau.Step(1.0);
        Assert.That(opt.Groups[0].Hyperparameters.Lr, Is.EqualTo(0.1 * 0.1).Within(1e-18));
        Assert.Throws<ArgumentException>(() => new SequentialLR(opt, [plateau], []));
    }

    [Test]
    public void LoadStateDict_RefusesAnotherScheduler_AndChangesNothing()
    {
        var a = new Parameter("a", [1f]);
        using var opt = new Optimizer(Algorithm.Sgd, [a], Sgd(0.1));
        var step = new StepLR(opt, 3);
        step.Step();
        var e = Assert.Throws<ArgumentException>(() => step.LoadStateDict(new ExponentialLR(opt, 0.9).StateDict()));
        Assert.That(e!.Message, Does.Contain("it is of ExponentialLR, this scheduler is StepLR"));
        var d = step.StateDict();
        d.Values.Remove("gamma");
        d.Values["last_epoch"] = 7;
        e = Assert.Throws<ArgumentException>(() => step.LoadStateDict(d));
        Assert.That(e!.Message, Does.Contain("'gamma' is missing"));
        Assert.That(step.LastEpoch, Is.EqualTo(1), "validated whole first: last_epoch was not taken");
    }

    [Test]
    public void GradScaler_DrivesTheStepContract_AndRoundTripsItsState()
    {
        var w = new Parameter("w", [0f]);
        using var opt = new Optimizer(Algorithm.Sgd, [w], Sgd(1)) { NonFinite = NonFinitePolicy.Propagate };
        var scaler = new GradScaler(initScale: 8, growthInterval: 2);
        Assert.That(scaler.ScaleLoss(0.5f), Is.EqualTo(4f));
        Assert.That(Assert.Throws<InvalidOperationException>(() => scaler.Update())!.Message, Does.Contain("no inf checks"));
        w.Grad = [float.NaN];
        Assert.That(scaler.Step(opt).Skipped, "the scaler skips whatever the optimizer's own policy");
        Assert.That(w.Data[0], Is.EqualTo(0f));
        Assert.That(opt.NonFinite, Is.EqualTo(NonFinitePolicy.Propagate), "restored");
        scaler.Update();
        Assert.That((scaler.Scale, scaler.GrowthTracker), Is.EqualTo((4f, 0)));
        w.Grad = [8f];
        float loss = scaler.Step(opt, () => 1.5f);
        Assert.That((loss, w.Data[0]), Is.EqualTo((1.5f, -2f)), "8 · 1/4");
        scaler.Update();
        var state = scaler.StateDict();
        Assert.That(state, Is.EqualTo(new GradScalerState(4f, 2.0, 0.5, 2, 1)));
        var other = new GradScaler();
        other.LoadStateDict(state);
        Assert.That(other.StateDict(), Is.EqualTo(state));
        Assert.Throws<ArgumentException>(() => other.LoadStateDict(state with { GrowthTracker = 2 }));
        Assert.That(other.StateDict(), Is.EqualTo(state), "a refused state changes nothing");
    }
}
