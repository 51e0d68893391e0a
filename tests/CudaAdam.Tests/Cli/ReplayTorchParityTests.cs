using CudaAdam.IO;

namespace CudaAdam.Tests.Cli;

/// <summary>
/// <c>cudaadam replay</c> against PyTorch: for every algorithm torch.optim has, a few hyperparameter sets, the same
/// random init/grads replayed by our CLI (in-process, CPU reference) and by <c>tests/oracle/replay_torch.py</c>
/// (torch 1.13 under /usr/bin/python3, single-tensor float32), compared coordinate-wise with
/// |ref − x| ≤ atol + rtol·|ref|, ref = torch, atol = 1e-6, rtol = 1e-5.
/// </summary>
/// <remarks>
/// Tolerance: both sides do float32 element-wise math and the reference follows torch's operation order, so many
/// cases agree bit for bit; the rest differ by a few ulps where torch rounds a scalar differently (NAdam's μ-product
/// is float32 in torch 1.13, float64 here; torch's foreach NAdam divides by sqrt(bc2) after the sqrt). Measured on
/// this suite (T = 25, |x| ≲ 2): at most 3e-7 absolute. The bound atol = 1e-6, rtol = 1e-5 leaves room for that
/// and still catches an algorithmic difference (a wrong bias correction, ε inside the sqrt), which is ≥ 1e-4 here.
/// NAdam is compared with torch 1.13's foreach path (see replay_torch.py: pytorch/pytorch#92699).
/// </remarks>
public class ReplayTorchParityTests
{
    private const double Atol = 1e-6, Rtol = 1e-5;
    private const int N = 33, T = 25;

    /// <summary>Our flag (torch has no such switch: it always propagates); stripped from the torch side.</summary>
    private static readonly string[] Propagate = ["--nonfinite", "propagate"];

    private static readonly (string Optimizer, string[] Flags)[] Table =
    [
        ("adam", []),
        ("adam", ["--lr", "0.01", "--weight-decay", "0.1", "--amsgrad"]),
        ("adam", ["--maximize", "--beta1", "0.5", "--beta2", "0.9", "--eps", "1e-6"]),
        ("adamw", []),
        ("adamw", ["--lr", "0.01", "--weight-decay", "0.1", "--amsgrad"]),
        ("adamw", ["--maximize", "--lr", "0.003"]),
        ("adamax", []),
        ("adamax", ["--lr", "0.01", "--weight-decay", "0.05"]),
        ("adamax", ["--maximize", "--beta1", "0.8"]),
        ("nadam", []),
        ("nadam", ["--lr", "0.01", "--weight-decay", "0.05", "--momentum-decay", "0.01"]),
        ("radam", []),
        ("radam", ["--lr", "0.01", "--weight-decay", "0.05", "--beta2", "0.99"]),
        ("sgd", ["--lr", "0.01"]),
        ("sgd", ["--lr", "0.01", "--momentum", "0.9", "--dampening", "0.1", "--weight-decay", "0.01"]),
        ("sgd", ["--lr", "0.01", "--momentum", "0.9", "--nesterov", "--maximize"]),
        ("adagrad", []),
        ("adagrad", ["--lr", "0.1", "--lr-decay", "0.01", "--weight-decay", "0.01", "--initial-accumulator-value", "0.1"]),
        ("adagrad", ["--maximize"]),
        ("rmsprop", []),
        ("rmsprop", ["--momentum", "0.9", "--centered", "--weight-decay", "0.01"]),
        ("rmsprop", ["--alpha", "0.9", "--maximize", "--lr", "0.001"]),
        ("adadelta", []),
        ("adadelta", ["--lr", "0.5", "--rho", "0.95", "--weight-decay", "0.01", "--maximize"]),
        // torch.optim lets non-finite values through; so does --nonfinite propagate (the gradients of these cases carry
        // a NaN at step 4 and a +inf at step 9: the NaN/inf positions of the trajectories must agree, the rest within tolerance).
        ("adam", [.. Propagate, "--weight-decay", "0.01"]),
        ("sgd", [.. Propagate, "--lr", "0.01", "--momentum", "0.9"]),
        ("rmsprop", [.. Propagate, "--centered"]),
        // issue 12 (h12a). Rprop's adversarial streams: step sizes that hit both clamps (lr 0.02 in [0.005, 0.03]), and
        // non-finite gradients going through (a NaN makes the step size NaN for good, as in torch).
        ("rprop", []),
        ("rprop", ["--etaminus", "0.3", "--etaplus", "1.5", "--maximize"]),
        ("rprop", ["--lr", "0.02", "--step-size-min", "0.005", "--step-size-max", "0.03"]),
        ("rprop", [.. Propagate, "--lr", "0.05"]),
        // ASGD: the defaults (t0 = 1e6: ax copies x), averaging from step 3 with a fast decay, and non-finite values.
        ("asgd", []),
        ("asgd", ["--lr", "0.05", "--lambd", "0.1", "--alpha", "0.5", "--t0", "3", "--weight-decay", "0.01", "--maximize"]),
        ("asgd", [.. Propagate, "--t0", "5"]),
    ];

    private static bool Poisoned(int i) => Table[i].Flags.Contains("--nonfinite");

    public static IEnumerable<TestCaseData> Cases() => Table.Select((c, i) =>
        new TestCaseData(c.Optimizer, c.Flags, i).SetArgDisplayNames(c.Optimizer, c.Flags.Length == 0 ? "defaults" : string.Join(" ", c.Flags)));

    private static string Script => Path.Combine(PythonOracle.RepoRoot, "tests", "oracle", "replay_torch.py");

    [Test]
    public void TableCoversEveryTorchAlgorithm()
    {
        var torchAlgorithms = AlgorithmNames.All.Where(a => a.TorchClass() is not null).Select(a => a.Name());
        Assert.That(Table.Select(c => c.Optimizer).Distinct(), Is.EquivalentTo(torchAlgorithms));
    }

    private TempDirectory? _dir;
    private string? _skipReason;

    private string CaseFile(int i, string what) => _dir!.File($"case{i:D2}-{what}.npy");

    /// <summary>
    /// Writes every case's random init/grads and runs replay_torch.py ONCE over all of them (<c>--batch</c>: torch
    /// imports once, ~2 s, instead of once per case); each test then replays with our CLI and compares.
    /// </summary>
    [OneTimeSetUp]
    public void RunTorchOnEveryCase()
    {
        try { PythonOracle.RequireModules("numpy", "torch"); }
        catch (IgnoreException e) { _skipReason = e.Message; return; }
        _dir = new TempDirectory();
        var lines = new List<string>();
        for (int i = 0; i < Table.Length; i++)
        {
            var rng = new Random(1000 + i);
            float[] x0 = Enumerable.Range(0, N).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
            // Gradients of mixed scale (1e-3 .. 10), with exact zeros and one coordinate always zero.
            float[] g = Enumerable.Range(0, T * N).Select(j =>
                j % N == 0 || j % 11 == 0 ? 0f : (float)((rng.NextDouble() * 2 - 1) * Math.Pow(10, rng.Next(-3, 2)))).ToArray();
            if (Poisoned(i))
            {
                g[3 * N + 5] = float.NaN;
                g[8 * N + 7] = float.PositiveInfinity;
            }
            Npy.Write(CaseFile(i, "init"), x0);
            Npy.Write(CaseFile(i, "grads"), g, T, N);
            string[] args = [.. Common(i).Where((a, k) => !IsPropagateFlag(Common(i), k)), "--out", CaseFile(i, "torch"), "--trajectory", CaseFile(i, "torch-traj")];
            lines.Add(System.Text.Json.JsonSerializer.Serialize(args));
        }
        string batch = _dir.File("batch.jsonl");
        File.WriteAllLines(batch, lines);
        var (code, stdout, stderr) = PythonOracle.Run([Script, "--batch", batch], TimeSpan.FromMinutes(5));
        Assert.That(code, Is.EqualTo(0), $"replay_torch.py --batch failed:\n{stdout}\n{stderr}");
    }

    [OneTimeTearDown]
    public void Cleanup() => _dir?.Dispose();

    private static bool IsPropagateFlag(string[] args, int k) =>
        args[k] == "--nonfinite" || (k > 0 && args[k - 1] == "--nonfinite");

    private string[] Common(int i) =>
        ["--optimizer", Table[i].Optimizer, "--params", CaseFile(i, "init"), "--grads", CaseFile(i, "grads"), .. Table[i].Flags];

    [TestCaseSource(nameof(Cases))]
    public void ReplayMatchesTorch(string optimizer, string[] flags, int index)
    {
        if (_skipReason is not null) Assert.Ignore(_skipReason);
        string oursTraj = CaseFile(index, "ours-traj");
        var r = CliRunner.Invoke(["replay", .. Common(index), "--out", CaseFile(index, "ours"), "--trajectory", oursTraj]);
        Assert.That(r.Code, Is.EqualTo(0), r.ToString());

        float[] a = Npy.Read(oursTraj).Data, b = Npy.Read(CaseFile(index, "torch-traj")).Data;
        Assert.That(a.Length, Is.EqualTo(b.Length));
        if (Poisoned(index) && optimizer == "rprop")
            // Rprop reads only torch's sign of g, which is 0 for NaN: the NaN of step 4 (coordinate 5) freezes that coordinate.
            Assert.That(a[4 * N + 5], Is.EqualTo(a[3 * N + 5]), "rprop: a NaN gradient leaves its coordinate where it was (torch's sign(NaN) = 0)");
        else if (Poisoned(index)) Assert.That(a.Count(float.IsNaN), Is.GreaterThan(0), "the poisoned steps went through (else this proves nothing)");
        int worst = -1;
        double worstExcess = 0, maxAbs = 0;
        for (int i = 0; i < a.Length; i++)
        {
            double diff = Math.Abs((double)a[i] - b[i]);
            if (float.IsNaN(a[i]) || float.IsNaN(b[i]))
            {
                if (float.IsNaN(a[i]) != float.IsNaN(b[i])) { worst = i; break; }
                continue;
            }
            maxAbs = Math.Max(maxAbs, diff);
            double excess = diff - (Atol + Rtol * Math.Abs(b[i]));
            if (excess > worstExcess) { worstExcess = excess; worst = i; }
        }
        Assert.That(worst, Is.EqualTo(-1),
            () => $"step {worst / N}, coordinate {worst % N}: ours {a[worst]:R} vs torch {b[worst]:R} " +
                  $"(|diff| > {Atol} + {Rtol}·|torch|)");
        TestContext.Out.WriteLine($"{optimizer} {string.Join(" ", flags)}: max |ours - torch| over the trajectory = {maxAbs:G3}");
        Assert.That(Npy.Read1D(CaseFile(index, "torch")), Is.EqualTo(b[^N..]), "torch's --out is its last trajectory row");
    }

    [Test]
    public void OracleRefusesOptionsTorchLacks()
    {
        PythonOracle.RequireModules("numpy", "torch");
        using var dir = new TempDirectory();
        Npy.Write(dir.File("i.npy"), new float[2]);
        Npy.Write(dir.File("g.npy"), new float[2], 1, 2);
        var (code, _, stderr) = PythonOracle.Run([Script, "--optimizer", "radam", "--decoupled-weight-decay",
            "--params", dir.File("i.npy"), "--grads", dir.File("g.npy"), "--out", dir.File("o.npy")], TimeSpan.FromMinutes(1));
        Assert.That(code, Is.EqualTo(2));
        Assert.That(stderr, Does.Contain("does not accept decoupled_weight_decay"));
        Assert.That(File.Exists(dir.File("o.npy")), Is.False);
    }
}
