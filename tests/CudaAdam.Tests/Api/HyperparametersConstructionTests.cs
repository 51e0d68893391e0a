using System.Reflection;

namespace CudaAdam.Tests.Api;

/// <summary>
/// How hyperparameters are made: only from an algorithm's own defaults (<see cref="Hyperparameters.For"/>,
/// <see cref="Hyperparameters.Defaults"/>), never from a constructor that silently takes Adam's; and copied with
/// <see cref="Hyperparameters.With"/>, C#'s <c>with</c> for F#. The F# side runs in <see cref="FSharpSampleTests"/>.
/// </summary>
public class HyperparametersConstructionTests
{
    private static readonly PropertyInfo[] Fields = typeof(Hyperparameters)
        .GetProperties(BindingFlags.Public | BindingFlags.Instance)
        .Where(p => p.SetMethod is not null).ToArray();

    private static string Camel(string name) => char.ToLowerInvariant(name[0]) + name[1..];

    [Test]
    public void ThereIsNoPublicConstructorToTakeAdamsDefaultsFrom()
    {
        Assert.That(typeof(Hyperparameters).GetConstructors(BindingFlags.Public | BindingFlags.Instance), Is.Empty,
            "a public constructor would give Adam's field initializers to any algorithm (Lion's beta2 0.999, AdamW's weight decay 0)");
    }

    [Test]
    public void LionAndAdamWGetTheirOwnDefaultsNotAdams()
    {
        // The two cases: torch/paper defaults that differ from Adam's.
        var lion = Hyperparameters.For(Algorithm.Lion, lr: 3e-4);
        Assert.That((lion.Lr, lion.Beta1, lion.Beta2), Is.EqualTo((3e-4, 0.9, 0.99)), "Lion (Chen et al. 2023): betas (0.9, 0.99)");
        Assert.That(Hyperparameters.For(Algorithm.AdamW, lr: 1e-3).WeightDecay, Is.EqualTo(1e-2), "torch.optim.AdamW: weight_decay 1e-2");
    }

    [TestCaseSource(typeof(AlgorithmNames), nameof(AlgorithmNames.All))]
    public void ForIsTheDescriptorsDefaultsWithTheNamedValuesChanged(Algorithm algorithm)
    {
        var d = algorithm.Info().Defaults;
        Assert.That(Hyperparameters.For(algorithm), Is.EqualTo(d));
        Assert.That(Hyperparameters.Defaults(algorithm), Is.EqualTo(d));
        Assert.That(Hyperparameters.For(algorithm, lr: d.Lr / 4, maximize: true), Is.EqualTo(d with { Lr = d.Lr / 4, Maximize = true }));
    }

    [Test]
    public void ForValidatesForItsAlgorithm()
    {
        Assert.That(() => Hyperparameters.For(Algorithm.Lion, lr: -1), Throws.ArgumentException.With.Message.Contains("learning rate"));
        Assert.That(() => Hyperparameters.For(Algorithm.Adam, beta2: 1.0), Throws.ArgumentException.With.Message.Contains("beta"));
        Assert.That(() => Hyperparameters.For(Algorithm.Lion, amsgrad: true), Throws.ArgumentException.With.Message.Contains("amsgrad"));
        Assert.That(() => Hyperparameters.For(Algorithm.Adam, amsgrad: true), Throws.Nothing);
    }

    /// <summary>For and With name every field, in declaration order, each nullable with default null: a field added to
    /// the record without them fails here.</summary>
    [TestCase(nameof(Hyperparameters.For))]
    [TestCase(nameof(Hyperparameters.With))]
    public void ForAndWithNameEveryField(string method)
    {
        var m = typeof(Hyperparameters).GetMethod(method)!;
        var ps = m.GetParameters().Where(p => p.ParameterType != typeof(Algorithm)).ToArray();
        Assert.That(ps.Select(p => p.Name), Is.EqualTo(Fields.Select(f => Camel(f.Name))), $"{method}'s parameters against the record's fields");
        foreach (var (p, f) in ps.Zip(Fields))
        {
            Assert.That(p.ParameterType, Is.EqualTo(typeof(Nullable<>).MakeGenericType(f.PropertyType)), p.Name);
            Assert.That(p.HasDefaultValue && p.DefaultValue is null, Is.True, $"{p.Name} must default to null (keep the value)");
        }
    }

    [Test]
    public void WithChangesExactlyTheNamedFieldAndKeepsEveryOther()
    {
        var original = Hyperparameters.For(Algorithm.Adam, lr: 0.01, momentum: 0.5, rho: 0.7);
        var with = typeof(Hyperparameters).GetMethod(nameof(Hyperparameters.With))!;
        foreach (var field in Fields)
        {
            object changed = field.GetValue(original) switch
            {
                bool b => !b,
                int i => i + 3,   // the step counts (warmups)
                var v => (double)v! + 0.125,
            };
            var args = with.GetParameters().Select(p => p.Name == Camel(field.Name) ? changed : null).ToArray();
            var copy = (Hyperparameters)with.Invoke(original, args)!;
            foreach (var other in Fields)
                Assert.That(other.GetValue(copy), Is.EqualTo(other == field ? changed : other.GetValue(original)),
                    $"With({Camel(field.Name)}: …) -> {other.Name}");
        }
        Assert.That(original.With(), Is.EqualTo(original).And.Not.SameAs(original));
    }
}
