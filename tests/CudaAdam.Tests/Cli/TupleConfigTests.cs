using CudaAdam.IO;

namespace CudaAdam.Tests.Cli;

/// <summary>
/// torch's tuple-valued keywords in <c>replay --config</c> (issue 12): <c>"etas": [a, b]</c> and <c>"step_sizes"</c> for
/// Rprop, <c>"betas"</c> of two or three values, each the same as its component keys given one by one; a malformed tuple
/// or a component given twice is one line and exit 2.
/// </summary>
public class TupleConfigTests
{
    private static (TempDirectory Dir, string[] Files) Inputs()
    {
        var dir = new TempDirectory();
        var rng = new Random(12);
        float[] x0 = Enumerable.Range(0, 9).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray();
        float[] g = Enumerable.Range(0, 6 * 9).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray();
        Npy.Write(dir.File("init.npy"), x0);
        Npy.Write(dir.File("grads.npy"), g, 6, 9);
        return (dir, ["--params", dir.File("init.npy"), "--grads", dir.File("grads.npy")]);
    }

    [TestCase("rprop", """{ "etas": [0.3, 1.5], "step_sizes": [0.001, 0.05] }""",
        new[] { "--etaminus", "0.3", "--etaplus", "1.5", "--step-size-min", "0.001", "--step-size-max", "0.05" })]
    [TestCase("adam", """{ "betas": [0.5, 0.9] }""", new[] { "--beta1", "0.5", "--beta2", "0.9" })]
    [TestCase("adan", """{ "betas": [0.9, 0.95, 0.98] }""", new[] { "--beta1", "0.9", "--beta2", "0.95", "--beta3", "0.98" })]
    [TestCase("ademamix", """{ "betas": [0.8, 0.99, 0.999] }""", new[] { "--beta1", "0.8", "--beta2", "0.99", "--beta3", "0.999" })]
    public void ATupleIsItsComponents(string optimizer, string json, string[] flags)
    {
        var (dir, files) = Inputs();
        using var _ = dir;
        File.WriteAllText(dir.File("hp.json"), json);
        var a = CliRunner.Invoke(["replay", "--optimizer", optimizer, .. files, "--config", dir.File("hp.json"), "--out", dir.File("a.npy")]);
        var b = CliRunner.Invoke(["replay", "--optimizer", optimizer, .. files, .. flags, "--out", dir.File("b.npy")]);
        var c = CliRunner.Invoke(["replay", "--optimizer", optimizer, .. files, "--out", dir.File("c.npy")]);
        Assert.That((a.Code, b.Code, c.Code), Is.EqualTo((0, 0, 0)), $"{a}\n{b}\n{c}");
        Assert.That(Npy.Read1D(dir.File("a.npy")), Is.EqualTo(Npy.Read1D(dir.File("b.npy"))));
        Assert.That(Npy.Read1D(dir.File("a.npy")), Is.Not.EqualTo(Npy.Read1D(dir.File("c.npy"))), "the tuple changed something (else this proves nothing)");
    }

    [TestCase("""{ "etas": [0.3] }""", "key 'etas': torch's etas is a pair (etaminus, etaplus)")]
    [TestCase("""{ "etas": 0.3 }""", "key 'etas': torch's etas is a pair (etaminus, etaplus)")]
    [TestCase("""{ "etas": [0.3, [1.5]] }""", "key 'etas' must be a single value (a number, a string, true or false) or [etaminus, etaplus]")]
    [TestCase("""{ "etas": [0.3, 1.5], "etaminus": 0.4 }""", "both set etaminus; give one")]
    [TestCase("""{ "betas": [0.1, 0.2, 0.3, 0.4] }""", "key 'betas': torch's betas is a pair (beta1, beta2)")]
    [TestCase("""{ "betas": [0.1, 0.2, 0.3] }""", "key 'betas': torch's betas is a pair (beta1, beta2)", "adam")]
    [TestCase("""{ "betas": [0.1, 0.2] }""", "key 'betas': adan's betas is 3 values (beta1, beta2, beta3); give [x, x, x]", "adan")]
    public void AMalformedTupleIsOneLine(string json, string message, string optimizer = "rprop")
    {
        var (dir, files) = Inputs();
        using var _ = dir;
        File.WriteAllText(dir.File("hp.json"), json);
        var r = CliRunner.Invoke(["replay", "--optimizer", optimizer, .. files, "--config", dir.File("hp.json"), "--out", dir.File("o.npy")]);
        Assert.That(r.Code, Is.EqualTo(2), r.ToString());
        Assert.That(r.Err.TrimEnd('\n'), Does.Not.Contain('\n'));
        Assert.That(r.Err, Does.Contain(message));
        Assert.That(File.Exists(dir.File("o.npy")), Is.False);
    }
}
