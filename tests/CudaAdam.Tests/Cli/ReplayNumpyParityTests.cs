using CudaAdam.IO;

namespace CudaAdam.Tests.Cli;

/// <summary>
/// <c>cudaadam replay</c> against the independent NumPy transcriptions of tests/oracle/numpy_optim/ (issue 12: the
/// optimizers torch 1.13 lacks — AdaBelief, AdEMAMix, Adan, LAMB, LARS), run by <c>tests/oracle/replay_numpy.py</c> in
/// float32 on the same random init/grads, compared coordinate-wise over the whole trajectory with
/// |ref − x| ≤ atol + rtol·|ref|, ref = NumPy, atol = 1e-6, rtol = 1e-5: the rule of <see cref="ReplayTorchParityTests"/>.
/// </summary>
/// <remarks>
/// Tolerance: the transcriptions follow the papers' algorithm boxes (bias corrections applied to the moments, one
/// numerator, decay inside the lr product), not our kernels' order of float32 operations, so a step differs by a few
/// ulps; over T = 25 steps with |x| ≲ 2 that stays far below the bound, which still catches an algorithmic difference
/// (ε in the wrong place, a missing bias correction, a wrong schedule: ≥ 1e-4 here). Measured values are printed.
/// </remarks>
public class ReplayNumpyParityTests
{
    private const double Atol = 1e-6, Rtol = 1e-5;
    private const int N = 33, T = 25;

    private static readonly (string Optimizer, string[] Flags)[] Table =
    [
        ("adabelief", []),
        ("adabelief", ["--lr", "0.01", "--weight-decay", "0.1", "--amsgrad", "--eps", "1e-8"]),
        ("adabelief", ["--decoupled-weight-decay=false", "--weight-decay", "0.05", "--maximize", "--beta1", "0.5", "--beta2", "0.9"]),
        ("ademamix", []),
        ("ademamix", ["--lr", "0.01", "--alpha", "5", "--alpha-warmup", "20", "--beta3-warmup", "30", "--weight-decay", "0.1"]),
        ("ademamix", ["--maximize", "--beta1", "0", "--beta3", "0.99", "--beta3-warmup", "10"]),
        ("adan", []),
        ("adan", ["--lr", "0.01", "--weight-decay", "0.02", "--maximize"]),
        ("adan", ["--beta1", "0.9", "--beta2", "0.5", "--beta3", "0.999", "--eps", "1e-6"]),
    ];

    public static IEnumerable<TestCaseData> Cases() => Table.Select((c, i) =>
        new TestCaseData(c.Optimizer, c.Flags, i).SetArgDisplayNames(c.Optimizer, c.Flags.Length == 0 ? "defaults" : string.Join(" ", c.Flags)));

    private static string Script => Path.Combine(PythonOracle.RepoRoot, "tests", "oracle", "replay_numpy.py");

    [Test]
    public void TableCoversEveryAlgorithmWithANumpyTranscription()
    {
        var transcribed = Directory.GetFiles(Path.Combine(PythonOracle.RepoRoot, "tests", "oracle", "numpy_optim"), "*.py")
            .Select(Path.GetFileNameWithoutExtension).Where(n => n != "__init__");
        Assert.That(Table.Select(c => c.Optimizer).Distinct(), Is.EquivalentTo(transcribed));
        foreach (var name in transcribed)
            Assert.That(AlgorithmNames.Parse(name!).TorchClass(), Is.Null, $"{name} has a torch class: its oracle is torch (ReplayTorchParityTests)");
    }

    private TempDirectory? _dir;
    private string? _skipReason;

    private string CaseFile(int i, string what) => _dir!.File($"case{i:D2}-{what}.npy");

    private string[] Common(int i) =>
        ["--optimizer", Table[i].Optimizer, "--params", CaseFile(i, "init"), "--grads", CaseFile(i, "grads"), .. Table[i].Flags];

    [OneTimeSetUp]
    public void RunNumpyOnEveryCase()
    {
        try { PythonOracle.RequireModules("numpy"); }
        catch (IgnoreException e) { _skipReason = e.Message; return; }
        _dir = new TempDirectory();
        var lines = new List<string>();
        for (int i = 0; i < Table.Length; i++)
        {
            var rng = new Random(2000 + i);
            float[] x0 = Enumerable.Range(0, N).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
            float[] g = Enumerable.Range(0, T * N).Select(j =>
                j % N == 0 || j % 11 == 0 ? 0f : (float)((rng.NextDouble() * 2 - 1) * Math.Pow(10, rng.Next(-3, 2)))).ToArray();
            Npy.Write(CaseFile(i, "init"), x0);
            Npy.Write(CaseFile(i, "grads"), g, T, N);
            lines.Add(System.Text.Json.JsonSerializer.Serialize<string[]>([.. Common(i), "--out", CaseFile(i, "numpy"), "--trajectory", CaseFile(i, "numpy-traj")]));
        }
        string batch = _dir.File("batch.jsonl");
        File.WriteAllLines(batch, lines);
        var (code, stdout, stderr) = PythonOracle.Run([Script, "--batch", batch], TimeSpan.FromMinutes(5));
        Assert.That(code, Is.EqualTo(0), $"replay_numpy.py --batch failed:\n{stdout}\n{stderr}");
    }

    [OneTimeTearDown]
    public void Cleanup() => _dir?.Dispose();

    [TestCaseSource(nameof(Cases))]
    public void ReplayMatchesNumpy(string optimizer, string[] flags, int index)
    {
        if (_skipReason is not null) Assert.Ignore(_skipReason);
        string oursTraj = CaseFile(index, "ours-traj");
        var r = CliRunner.Invoke(["replay", .. Common(index), "--out", CaseFile(index, "ours"), "--trajectory", oursTraj]);
        Assert.That(r.Code, Is.EqualTo(0), r.ToString());
        float[] a = Npy.Read(oursTraj).Data, b = Npy.Read(CaseFile(index, "numpy-traj")).Data;
        Assert.That(a.Length, Is.EqualTo(b.Length));
        int worst = -1;
        double worstExcess = 0, maxAbs = 0;
        for (int i = 0; i < a.Length; i++)
        {
            if (float.IsNaN(a[i]) || float.IsNaN(b[i]))
            {
                if (float.IsNaN(a[i]) != float.IsNaN(b[i])) { worst = i; break; }
                continue;
            }
            double diff = Math.Abs((double)a[i] - b[i]);
            maxAbs = Math.Max(maxAbs, diff);
            double excess = diff - (Atol + Rtol * Math.Abs(b[i]));
            if (excess > worstExcess) { worstExcess = excess; worst = i; }
        }
        Assert.That(worst, Is.EqualTo(-1),
            () => $"step {worst / N}, coordinate {worst % N}: ours {a[worst]:R} vs numpy {b[worst]:R} (|diff| > {Atol} + {Rtol}·|numpy|)");
        Assert.That(a[^N..], Is.Not.EqualTo(a[..N]), "the parameters moved (else this proves nothing)");
        TestContext.Out.WriteLine($"{optimizer} {string.Join(" ", flags)}: max |ours - numpy| over the trajectory = {maxAbs:G3}");
    }
}
