using CudaAdam.Training;

namespace CudaAdam.Tests.Training;

public class RngTests
{
    [Test]
    public void SameSeed_SameStream_AndStateRoundTrips()
    {
        var a = new Rng(123);
        var b = new Rng(123);
        for (int i = 0; i < 100; i++) Assert.That(a.NextUInt64(), Is.EqualTo(b.NextUInt64()));
        var state = a.GetState();
        var next = Enumerable.Range(0, 10).Select(_ => a.NextUInt64()).ToArray();
        var c = new Rng(0);
        c.SetState(state);
        Assert.That(Enumerable.Range(0, 10).Select(_ => c.NextUInt64()), Is.EqualTo(next));
        Assert.That(new Rng(124).NextUInt64(), Is.Not.EqualTo(new Rng(123).NextUInt64()));
    }

    [Test]
    public void Xoshiro256StarStar_MatchesTheReferenceAlgorithm()
    {
        // State {1, 2, 3, 4}: outputs of Blackman & Vigna's reference C code (xoshiro256starstar.c), transcribed
        // independently in Python with 64-bit masking. First: s1 = 2 → rotl(2·5, 7)·9 = 1280·9 = 11520.
        var r = new Rng(0);
        r.SetState([1, 2, 3, 4]);
        Assert.That(r.NextUInt64(), Is.EqualTo(11520UL));
        Assert.That(r.NextUInt64(), Is.EqualTo(0UL));
        Assert.That(r.NextUInt64(), Is.EqualTo(1509978240UL));
    }

    [Test]
    public void NextInt_IsInRangeAndRoughlyUniform()
    {
        var r = new Rng(9);
        var counts = new int[7];
        for (int i = 0; i < 70_000; i++) counts[r.NextInt(7)]++;
        // Each count ~ Binomial(70000, 1/7): mean 10000, sd ≈ 93; 6 sd.
        Assert.That(counts, Is.All.InRange(10_000 - 560, 10_000 + 560));
        Assert.Throws<ArgumentOutOfRangeException>(() => r.NextInt(0));
    }

    [Test]
    public void NextNormal_HasUnitVariance()
    {
        var r = new Rng(10);
        var x = Enumerable.Range(0, 100_000).Select(_ => r.NextNormal()).ToArray();
        double mean = x.Average(), variance = x.Select(v => (v - mean) * (v - mean)).Average();
        // Standard errors: mean 0.0032, variance 0.0045; 5 se.
        Assert.That(mean, Is.EqualTo(0).Within(0.016));
        Assert.That(variance, Is.EqualTo(1).Within(0.023));
    }

    [Test]
    public void SetState_RejectsAllZero()
    {
        Assert.Throws<ArgumentException>(() => new Rng(1).SetState([0, 0, 0, 0]));
        Assert.Throws<ArgumentException>(() => new Rng(1).SetState([1, 2, 3]));
    }
}

public class LrScheduleKindTests
{
    /// <summary>The factor of step t (1-based) of T: LambdaLR's λ at epoch t − 1.</summary>
    private static double Factor(string kind, long t, long total, long warmup = 0, double final = 0, long stepSize = 1000, double gamma = 0.1) =>
        LrScheduler.KindLambda(kind, total, warmup, final, stepSize, gamma)(t - 1);

    [Test]
    public void Factors_AtKnownPoints()
    {
        Assert.That(Factor("constant", 7, 100), Is.EqualTo(1.0));
        Assert.That(Factor("inv-sqrt-t", 16, 100), Is.EqualTo(0.25));
        Assert.That(Factor("cosine", 5, 110, warmup: 10, final: 0.1), Is.EqualTo(0.5));
        Assert.That(Factor("cosine", 10, 110, warmup: 10, final: 0.1), Is.EqualTo(1.0));
        Assert.That(Factor("cosine", 60, 110, warmup: 10, final: 0.1), Is.EqualTo(0.55).Within(1e-12), "half way: f + (1-f)/2");
        Assert.That(Factor("cosine", 110, 110, warmup: 10, final: 0.1), Is.EqualTo(0.1).Within(1e-12));
        Assert.That(Factor("linear", 25, 100), Is.EqualTo(0.75));
        Assert.That(Factor("linear", 100, 100), Is.EqualTo(0.0));
        Assert.That(Factor("inverse-sqrt", 2, 100, warmup: 4), Is.EqualTo(0.5));
        Assert.That(Factor("inverse-sqrt", 16, 100, warmup: 4), Is.EqualTo(0.5));
        Assert.That(Factor("step", 10, 100, stepSize: 10, gamma: 0.5), Is.EqualTo(1.0));
        Assert.That(Factor("step", 11, 100, stepSize: 10, gamma: 0.5), Is.EqualTo(0.5));
        Assert.That(Factor("step", 21, 100, stepSize: 10, gamma: 0.5), Is.EqualTo(0.25));
    }

    [Test]
    public void Validate_NamesTheBadSetting()
    {
        var e = Assert.Throws<ArgumentException>(() => LrScheduler.ForKind("cosin"));
        Assert.That(e!.Message, Does.Contain("unknown schedule 'cosin'").And.Contain("cosine"));
        e = Assert.Throws<ArgumentException>(() => LrScheduler.ForKind("step", gamma: 2));
        Assert.That(e!.Message, Does.Contain("gamma"));
    }

    [Test]
    public void AKindIsALambdaLRThatSetsTheLrOfEachStepFromTheBase()
    {
        var w = new Parameter("w", new float[1]);
        using var opt = new Optimizer(Algorithm.Sgd, [w], Hyperparameters.Defaults(Algorithm.Sgd) with { Lr = 0.5 });
        var sched = LrScheduler.ForKind("inverse-sqrt", warmup: 4)(opt, 100);
        Assert.That(sched, Is.TypeOf<LambdaLR>());
        Assert.That(sched.ToString(), Is.EqualTo("LambdaLR(inverse-sqrt: warmup=4)"));
        var lrs = new List<double> { opt.Groups[0].Hyperparameters.Lr };
        for (int i = 0; i < 7; i++) { sched.Step(); lrs.Add(opt.Groups[0].Hyperparameters.Lr); }
        Assert.That(lrs, Is.EqualTo(Enumerable.Range(1, 8).Select(t => 0.5 * Factor("inverse-sqrt", t, 100, warmup: 4))));
    }
}
