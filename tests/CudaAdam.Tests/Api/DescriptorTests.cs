using System.Text.RegularExpressions;
using CudaAdam.Device;

namespace CudaAdam.Tests.Api;

/// <summary>
/// The algorithm descriptors (<see cref="Algorithms"/>): one row per algorithm, whose facts every other part reads.
/// These tests pin what the structure promises: the generated scalar header is current, each kernel and its
/// reference name each other, and the state, scalars and names the descriptor states are what the code does.
/// </summary>
public class DescriptorTests
{
    private static string Repo(params string[] parts) => TestPaths.InRepo(parts);

    [Test]
    public void TheGeneratedScalarHeaderIsCurrent()
    {
        string committed = File.ReadAllText(Repo("kernels", "scalars.gen.cuh"));
        Assert.That(committed, Is.EqualTo(KernelScalarHeader.Generate()),
            "kernels/scalars.gen.cuh is stale: run ./build.sh gen");
    }

    [Test]
    public void TheAlgorithmEnumsDocumentationIsTheDescriptorsAndCurrent()
    {
        string committed = File.ReadAllText(Repo(AlgorithmEnumSource.RepositoryPath.Split('/')));
        Assert.That(committed, Is.EqualTo(AlgorithmEnumSource.Generate()),
            $"{AlgorithmEnumSource.RepositoryPath} is stale: run ./build.sh gen");
        foreach (var info in Algorithms.All)
            Assert.That(committed, Does.Contain(info.Equations.Replace("&", "&amp;").Replace("<", "&lt;").Replace(">", "&gt;")), $"{info.Name}'s equations");
    }

    [Test]
    public void TheExportedTorchCaseListIsCurrent()
    {
        string committed = File.ReadAllText(Repo("tests", "oracle", "cases.json"));
        Assert.That(committed, Is.EqualTo(Conformance.ExportTorchCases()),
            "tests/oracle/cases.json is stale: run ./build.sh gen, then /usr/bin/python3 tests/oracle/make_golden.py");
    }

    [Test]
    public void NoKernelIndexesItsScalarsByNumber()
    {
        foreach (var file in Directory.GetFiles(Repo("kernels"), "*.cu*"))
            Assert.That(Regex.IsMatch(File.ReadAllText(file), @"\bt\.s\[\d+\]"), Is.False,
                $"{Path.GetFileName(file)} reads a scalar slot by number; use the CA_S_* name of scalars.gen.cuh");
    }

    [Test]
    public void ASlotNameWithTwoIndicesIsRefused()
    {
        // A made-up row whose slots are shifted by one: CA_S_BETA1 would be slot 0 for Adam and slot 1 for it.
        var shifted = Algorithm.Adam.Info() with { Name = "shifted", Scalars = [null, .. Algorithm.Adam.Info().Scalars] };
        Assert.That(() => KernelScalarHeader.Generate([Algorithm.Adam.Info(), shifted]),
            Throws.InvalidOperationException.With.Message.EqualTo("CA_S_BETA1 is slot 0 for adam but slot 1 for shifted"));
        var tooMany = Algorithm.Adam.Info() with { Name = "wide", Scalars = [.. Enumerable.Repeat<KernelScalar?>(null, CaTensor.ScalarCount + 1)] };
        Assert.That(() => KernelScalarHeader.Generate([tooMany]), Throws.InvalidOperationException.With.Message.Contains("CaTensor holds 14"));
    }

    public static IEnumerable<AlgorithmInfo> Rows() => Algorithms.All;

    [TestCaseSource(nameof(Rows))]
    public void TheKernelAndTheReferenceNameEachOther(AlgorithmInfo info)
    {
        var (family, name) = info.Kernel;
        string kernels = File.ReadAllText(Repo("kernels", family + ".cu"));
        var m = Regex.Match(kernels, @"/// Reference: ([^\n]*)\n(?:[^\n]*\n)?extern ""C"" __global__ (?:__launch_bounds__\([A-Z_]+\) )?void " + name + @"\(");
        Assert.That(m.Success, Is.True, $"kernels/{family}.cu: {name} is not preceded by a '/// Reference: ...' line");
        string cls = info.Reference.Method.DeclaringType!.Name;
        Assert.That(m.Groups[1].Value, Does.Contain(cls + ".Step"), $"{name}'s Reference line names {cls}");
        var file = Directory.GetFiles(Repo("src", "CudaAdam", "Reference"), "*.cs").Single(f => File.ReadAllText(f).Contains($"public static class {cls}"));
        Assert.That(m.Groups[1].Value, Does.Contain("Reference/" + Path.GetFileName(file)));
        string source = File.ReadAllText(file);
        int at = source.IndexOf($"public static class {cls}", StringComparison.Ordinal);
        Assert.That(source[..at], Does.Contain($"<c>kernels/{family}.cu</c>, <c>{name}</c>"), $"{cls}'s doc names its kernel");
    }

    [TestCaseSource(nameof(Rows))]
    public void CreatedStateHasExactlyTheDescriptorsSlots(AlgorithmInfo info)
    {
        foreach (var (_, hp) in Conformance.HyperparameterSets(info.Algorithm))
        {
            var s = ParamState.Create(info.Algorithm, hp, 3);
            foreach (var b in Enum.GetValues<StateBuffer>())
            {
                var slot = info.StateWith(hp).SingleOrDefault(x => x.Buffer == b);
                bool q8 = slot?.QuantizedWith(hp) == true;   // state_bits = 8: the slot is 8-bit (ParamState.M8/V8)
                bool expected = slot is not null && !slot.OnFirstStep && !q8;
                Assert.That(s[b] is not null, Is.EqualTo(expected), $"{info.Name}: buffer {b}");
                Assert.That(s.Quantized(b) is not null, Is.EqualTo(q8), $"{info.Name}: 8-bit buffer {b}");
                if (slot is not null && expected) Assert.That(s.ByTorchName(info.Algorithm, slot.TorchName), Is.SameAs(s[b]));
            }
        }
    }

    [TestCaseSource(nameof(Rows))]
    public void PackedScalarsAreTheDescriptorsExpressionsRoundedOnce(AlgorithmInfo info)
    {
        var hp = info.Defaults with { WeightDecay = 0.03 };
        var k = StepScalars.Advance(info.Algorithm, hp, new ParamState());
        Span<float> s = stackalloc float[CaTensor.ScalarCount];
        KernelScalars.Pack(info.Algorithm, hp, k, s);
        for (int i = 0; i < CaTensor.ScalarCount; i++)
        {
            float expected = i < info.Scalars.Count && info.Scalars[i] is { } sc ? (float)sc.Value(hp, k) : 0f;
            Assert.That(BitConverter.SingleToInt32Bits(s[i]), Is.EqualTo(BitConverter.SingleToInt32Bits(expected)), $"{info.Name} slot {i}");
        }
        Assert.That(s[0], Is.Not.EqualTo(0f), $"{info.Name}: slot 0 holds something (else this test proves little)");
    }

    [Test]
    public void NamesAreUniqueAndParseBack()
    {
        Assert.That(Algorithms.All.Select(i => i.Name).Distinct().Count(), Is.EqualTo(Algorithms.All.Count));
        Assert.That(Algorithms.All.Select(i => i.Algorithm), Is.EquivalentTo(Enum.GetValues<Algorithm>()), "one row per Algorithm member");
        foreach (var i in Algorithms.All) Assert.That(AlgorithmNames.Parse(i.Name.ToUpperInvariant()), Is.EqualTo(i.Algorithm));
    }
}
