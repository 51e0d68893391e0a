using CudaAdam.Device;

namespace CudaAdam.Tests.Kernels;

/// <summary>The conformance registry covers what it must, and its comparison rule means what it says.</summary>
public class ConformanceRegistryTests
{
    [Test]
    public void EveryAlgorithmRunsEveryEdgeCaseWithItsDefaults()
    {
        foreach (var a in AlgorithmNames.All)
        foreach (var e in Conformance.Edges)
            Assert.That(Conformance.Cases.Any(c => c.Algorithm == a && c.HpName == "default" && c.Edge == e),
                Is.EqualTo(!e.Options.Diagnostics || Hyperparameters.HasSecondMoment(a)),
                $"{a.Name()} × {e.Name} (the diagnostics edges: the algorithms with Adam's moments only)");
    }

    [Test]
    public void NamesAreUniqueAndHyperparametersValid()
    {
        Assert.That(Conformance.Cases.Select(c => c.Name), Is.Unique);
        foreach (var c in Conformance.Cases)
            Assert.DoesNotThrow(() => c.Hyperparameters.Validate(c.Algorithm), c.Name);
        Assert.That(Conformance.Cases.Count, Is.GreaterThan(200));
    }

    [Test]
    public void EdgeCasesCoverTheBrief()
    {
        var byName = Conformance.Edges.ToDictionary(e => e.Name);
        Assert.That(byName["zero-size"].Lengths, Does.Contain(0));
        Assert.That(byName["many-tensors"].Lengths, Has.Length.EqualTo(1000));
        Assert.That(byName["single-odd"].Lengths, Has.Length.EqualTo(1));
        Assert.That(byName["misaligned"].Options.Alignment, Is.EqualTo(1));
        Assert.That(byName["misaligned"].Options.BaseOffset, Is.EqualTo(1));
        Assert.That(byName["skipped-grad"].HasGrad!(2, 1), Is.False);
        Assert.That(byName["non-finite"].Poison.Select(p => p.Value),
            Has.Some.NaN.And.Some.EqualTo(float.PositiveInfinity).And.Some.EqualTo(float.NegativeInfinity));
        Assert.That(byName["many-steps"].Steps, Is.GreaterThanOrEqualTo(100));
    }

    [Test]
    public void SelectFiltersByName()
    {
        var lion = Conformance.Select("lion/default/");
        Assert.That(lion, Has.Count.EqualTo(Conformance.Edges.Count(e => !e.Options.Diagnostics)), "lion has no diagnostics-enabled kernel");
        Assert.That(Conformance.Select("adam/default/"), Has.Count.EqualTo(4 * Conformance.Edges.Count), "substring: adam, nadam, radam, signadam");
        Assert.That(Conformance.Select(null), Has.Count.EqualTo(Conformance.Cases.Count));
        Assert.That(Conformance.Find("lion/default/zero-size").Algorithm, Is.EqualTo(Algorithm.Lion));
        Assert.Throws<ArgumentException>(() => Conformance.Find("nope"));
    }

    [Test]
    public void UlpDistance()
    {
        Assert.That(Conformance.Ulps(1f, MathF.BitIncrement(1f)), Is.EqualTo(1));
        Assert.That(Conformance.Ulps(-1f, MathF.BitDecrement(-1f)), Is.EqualTo(1));
        Assert.That(Conformance.Ulps(0f, -0f), Is.EqualTo(1), "a sign-of-zero difference must show");
        Assert.That(Conformance.Ulps(float.Epsilon, -float.Epsilon), Is.EqualTo(3));
        Assert.That(Conformance.Ulps(float.NaN, BitConverter.Int32BitsToSingle(0x7fffffff)), Is.EqualTo(0), "any two NaNs");
        Assert.That(Conformance.Ulps(float.NaN, 1f), Is.EqualTo(long.MaxValue));
        Assert.That(Conformance.Ulps(float.PositiveInfinity, float.MaxValue), Is.EqualTo(1));
    }
}
