using CudaAdam.Problems;
using CudaAdam.Tests.Cli;
using CudaAdam.Training;
using CudaAdam.Training.Jobs;

namespace CudaAdam.Tests.Training;

/// <summary>Issue 11, items 2, 3, 8 and 9: a resume never discards a valid checkpoint; a checkpoint records what
/// determines its run and refuses a mismatch naming the field; its state is checked semantically even when its
/// checksum matches; one writer per run folder; the trainer checks gradients, not only the loss.</summary>
public class RunIntegrityTests
{
    /// <summary>Two optimizers on noisy Rosenbrock (20 steps per epoch), or an MLP on 100 embedded images.</summary>
    private const string Problem = """
        { "name": "ri", "model": { "kind": "rosenbrock" }, "problem": { "dimension": 4, "steps_per_epoch": 20 },
          "training": { "epochs": 3, "batch_size": 2, "seed": 4 },
          "optimizers": [ { "name": "adam", "lr": 0.01 }, { "name": "sgd", "lr": 0.001, "momentum": 0.9 } ] }
        """;

    private const string Model = """
        { "name": "ri", "model": { "hidden": [8] }, "data": { "source": "embedded", "train_limit": 100, "test_limit": 40 },
          "training": { "epochs": 2, "batch_size": 25, "seed": 5 }, "optimizers": [ { "name": "adam" } ] }
        """;

    private static TrainConfig Config(string json, string output)
    {
        var c = TrainConfig.Load(new MemoryStream(System.Text.Encoding.UTF8.GetBytes(json)), "test config");
        c.Output = output;
        return c;
    }

    /// <summary>Cancels the job after step <paramref name="step"/> of optimizer <paramref name="id"/>.</summary>
    private sealed class CancelAt(string id, long step, CancellationTokenSource cts) : ITrainProgress
    {
        public void Begin(string i, long d, long t) { }
        public void Advance(string i, StepRecord s)
        {
            if (i == id && s.Step == step) cts.Cancel();
        }
        public void Epoch(string i, EpochRecord e) { }
        public void End(string i) { }
    }

    /// <summary>A job stopped inside its run of <paramref name="id"/> at <paramref name="step"/>: its folder.</summary>
    private static string Cut(string json, string output, string id, long step)
    {
        using var cts = new CancellationTokenSource();
        var cut = TrainJob.Run(Config(json, output), TextWriter.Null, cancel: cts.Token, progress: new CancelAt(id, step, cts));
        Assert.That(cut.Interrupted, Is.True);
        return cut.Folder;
    }

    private static Dictionary<string, byte[]> Checkpoints(string folder) =>
        Directory.GetFiles(Path.Combine(folder, "checkpoints")).ToDictionary(f => Path.GetFileName(f), File.ReadAllBytes);

    // ---- item 2: resume never discards a valid checkpoint ----

    [TestCase("missing", "epochs.csv is missing", "adam")]
    [TestCase("empty", "epochs.csv is empty", "adam")]
    [TestCase("lacking", "epochs.csv has no rows of 'sgd'", "sgd")]
    public void ResumeWithoutTheRecordsBeforeACheckpoint_IsRefused_AndTheCheckpointKept(string damage, string said, string who)
    {
        using var dir = new TempDirectory();
        string folder = Cut(Problem, dir.File("runs"), "sgd", 25);
        string epochsCsv = Path.Combine(folder, "epochs.csv");
        switch (damage)
        {
            case "missing": File.Delete(epochsCsv); break;
            case "empty": File.WriteAllBytes(epochsCsv, []); break;
            default: File.WriteAllLines(epochsCsv, File.ReadAllLines(epochsCsv).Where(l => !l.StartsWith("sgd,", StringComparison.Ordinal))); break;
        }
        var checkpoints = Checkpoints(folder);
        var steps = File.ReadAllBytes(Path.Combine(folder, "steps.csv"));

        var r = CliRunner.Invoke("train", "--resume", folder);
        Assert.That(r.Code, Is.EqualTo(2), r.ToString());
        var lines = r.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.That(lines, Has.Length.EqualTo(1), r.Err);
        Assert.That(lines[0], Does.Contain($"{who}: checkpoints/{who}.ckpt is at step").And.Contain(said)
            .And.Contain("the checkpoint is kept"));
        Assert.That(Checkpoints(folder), Is.EqualTo(checkpoints), "no checkpoint overwritten");
        Assert.That(File.ReadAllBytes(Path.Combine(folder, "steps.csv")), Is.EqualTo(steps), "no record rewritten");
    }

    // ---- item 3: the checkpoint records what determines the run, and refuses a mismatch naming the field ----

    [TestCase("\"seed\": 5", "\"seed\": 6", "its seed is '5', this run's is '6'")]
    [TestCase("\"test_limit\": 40", "\"test_limit\": 30", "its test set size is '40', this run's is '30'")]
    [TestCase("\"seed\": 5", "\"seed\": 5, \"max_grad_norm\": 1", "its max gradient norm is 'none', this run's is '1'")]
    [TestCase("\"dropout\": 0.5", "\"dropout\": 0.4", "its model is")]
    public void CheckpointOfARunWithOtherSettings_IsRefused_NamingTheField(string setting, string changed, string said)
    {
        using var dir = new TempDirectory();
        string folder = Cut(Model, dir.File("runs"), "adam", 6);
        string configPath = Path.Combine(folder, "config.json");
        string config = File.ReadAllText(configPath);
        Assert.That(config, Does.Contain(setting));
        File.WriteAllText(configPath, config.Replace(setting, changed));
        var checkpoints = Checkpoints(folder);

        var r = CliRunner.Invoke("train", "--resume", folder);
        Assert.That(r.Code, Is.EqualTo(2), r.ToString());
        Assert.That(r.Err, Does.Contain("does not belong to this run").And.Contain(said));
        Assert.That(Checkpoints(folder), Is.EqualTo(checkpoints));

        File.WriteAllText(configPath, config);
        Assert.That(TrainJob.Resume(folder, TextWriter.Null).Interrupted, Is.False, "the unchanged config resumes");
    }

    /// <summary>The config fingerprint is of one optimizer's run: an optimizer added to an interrupted job does not make the
    /// others' checkpoints foreign, while a change of the interrupted one's settings does.</summary>
    [Test]
    public void TheConfigFingerprint_IsOfOneOptimizersRun()
    {
        using var dir = new TempDirectory();
        string folder = Cut(Problem, dir.File("runs"), "sgd", 25);
        string configPath = Path.Combine(folder, "config.json");
        var config = TrainConfig.Load(configPath);
        var checkpoints = Checkpoints(folder);
        config.Optimizers = [.. config.Optimizers!, new OptimizerConfig { Name = "lion", Settings = { ("lr", ["1e-4"]) } }];
        File.WriteAllText(configPath, config.Resolve().ToJson());
        var r = TrainJob.Resume(folder, TextWriter.Null);
        Assert.That(r.Interrupted, Is.False);
        Assert.That(r.Runs.Select(run => run.Steps.Count), Is.EqualTo(new[] { 60, 60, 60 }), "adam and sgd resumed, lion trained");
        Assert.That(checkpoints.Keys, Is.EquivalentTo(new[] { "adam.ckpt", "sgd.ckpt" }));
    }

    /// <summary>The config fingerprint holds the settings that differ from their defaults only: a config.json that
    /// lacks a key at its default (as one written by a build before that key existed does) resumes the same run, so a
    /// hyperparameter added to the schema does not make older checkpoints foreign; a changed setting is named by its path.</summary>
    [Test]
    public void AConfigWithoutAKeyAtItsDefault_ResumesTheRun_AndAChangedSettingIsNamedByItsPath()
    {
        using var dir = new TempDirectory();
        string folder = Cut(Problem, dir.File("runs"), "sgd", 25);
        string configPath = Path.Combine(folder, "config.json");
        var json = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(configPath))!.AsObject();
        var sgd = json["optimizers"]![1]!.AsObject();
        Assert.That(sgd["dampening"]!.GetValue<double>(), Is.EqualTo(0), "the saved config states every key, resolved");
        sgd.Remove("dampening");
        sgd.Remove("nesterov");
        json["training"]!.AsObject().Remove("max_grad_norm");
        File.WriteAllText(configPath, json.ToJsonString());
        var r = TrainJob.Resume(folder, TextWriter.Null);
        Assert.That(r.Interrupted, Is.False);
        Assert.That(r.Runs.Select(run => run.Steps.Count), Is.EqualTo(new[] { 60, 60 }), "sgd resumed from its checkpoint");

        var config = Config(Problem, "runs").Resolve();
        string mine = TrainJob.ConfigFingerprint(config, config.Optimizers![1]);
        Assert.That(mine, Is.EqualTo("{\"problem\":{\"dimension\":4,\"steps_per_epoch\":20},\"training\":{\"batch_size\":2,\"seed\":4},\"optimizers\":[{\"momentum\":0.9}]}"),
            "what differs from a default rosenbrock config with sgd (torch's lr 0.001 and rosenbrock's sigma 1 are defaults)");
        var other = Config(Problem.Replace("\"seed\": 4", "\"seed\": 4, \"max_grad_norm\": 2"), "runs").Resolve();
        Assert.That(CudaAdam.Training.Checkpoint.ConfigDifference(mine, TrainJob.ConfigFingerprint(other, other.Optimizers![1])),
            Is.EqualTo("has training.max_grad_norm = its default, this run's 2"));
        var other2 = Config(Problem.Replace("\"dimension\": 4", "\"dimension\": 5"), "runs").Resolve();
        Assert.That(CudaAdam.Training.Checkpoint.ConfigDifference(mine, TrainJob.ConfigFingerprint(other2, other2.Optimizers![1])),
            Is.EqualTo("has problem.dimension = 4, this run's 5"));
    }

    /// <summary>A checkpoint of a build that recorded a hash of every config key (before the fingerprint kept non-defaults
    /// only) is refused in one line that says why and what to do, and is left as it was.</summary>
    [Test]
    public void ACheckpointWithAnOlderBuildsConfigHash_IsRefusedSayingWhy()
    {
        using var dir = new TempDirectory();
        var problem = new NoisyRosenbrock(4, 1);
        Trainer Make(string field, string value)
        {
            var x = new Parameter("x", problem.InitialPoint());
            var o = new Optimizer(Algorithm.Adam, [x], Hyperparameters.Defaults(Algorithm.Adam));
            return new Trainer(problem, o, x, new TrainerOptions { Epochs = 1, BatchSize = 1, StepsPerEpoch = 5, Run = [(field, value)] }, new Rng(1));
        }
        var old = Make("config hash", "0123456789abcdef");
        old.Run(_ => { }, _ => { });
        string path = dir.File("old.ckpt");
        Checkpoint.Save(path, old);
        byte[] before = File.ReadAllBytes(path);
        var e = Assert.Throws<CheckpointException>(() => Checkpoint.Load(path, Make("config", "{}")));
        Assert.That(e!.Message, Does.Contain("was written by an older CudaAdam build").And.Contain("resume it with the build that wrote it, or start a new run"));
        Assert.That(e.Message, Does.Not.Contain("\n"));
        Assert.That(File.ReadAllBytes(path), Is.EqualTo(before));
    }

    // ---- item 3: semantic validation, the checksum recomputed over nonsense ----

    private static IEnumerable<TestCaseData> Nonsense()
    {
        yield return new TestCaseData(new Action<Trainer>(t => Mutate(t, s => s.Step = -7)), "is at step -7").SetArgDisplayNames("state step -7");
        yield return new TestCaseData(new Action<Trainer>(t => Mutate(t, s => s.Beta1Power = 2)), "parameter 0 ('fc1.weight'): the running product β1^t is 2, outside [0, 1]").SetArgDisplayNames("beta1^t = 2");
        yield return new TestCaseData(new Action<Trainer>(t => Mutate(t, s => s.V![3] = -1)), "exp_avg_sq of 'fc1.weight' holds -1 at element 3").SetArgDisplayNames("negative v");
        yield return new TestCaseData(new Action<Trainer>(t => Mutate(t, s => s.M![0] = float.NaN)), "exp_avg of 'fc1.weight' holds NaN at element 0").SetArgDisplayNames("NaN m");
        yield return new TestCaseData(new Action<Trainer>(t => t.Parameters[0].Data[2] = float.PositiveInfinity), "parameter 'fc1.weight' holds Infinity at element 2").SetArgDisplayNames("inf parameter");
        yield return new TestCaseData(new Action<Trainer>(t => Counters(t, lossSum: double.NaN)), "loss sum is NaN").SetArgDisplayNames("NaN loss sum");
        yield return new TestCaseData(new Action<Trainer>(t => Counters(t, seen: -4)), "count -4 samples").SetArgDisplayNames("negative count");
        yield return new TestCaseData(new Action<Trainer>(t => Counters(t, correct: 1000)), "count 1000 correct").SetArgDisplayNames("more correct than seen");
    }

    private static void Mutate(Trainer t, Action<ParamState> change)
    {
        var p = t.Parameters[0];
        var s = t.Optimizer.State(p)!.Clone();
        change(s);
        t.Optimizer.SetState(p, s);   // SetState checks the layout only
    }

    private static void Counters(Trainer t, double? lossSum = null, long? seen = null, long? correct = null)
    {
        var c = t.Counters;
        t.RestoreCounters(c.Step, lossSum ?? c.LossSum, correct ?? c.Correct, seen ?? c.Seen, c.Elapsed);
    }

    [TestCaseSource(nameof(Nonsense))]
    public void CheckpointHoldingAStateNoRunReaches_IsRefused_AndTheTrainerUnchanged(Action<Trainer> spoil, string said)
    {
        using var dir = new TempDirectory();
        var hp = Hyperparameters.Defaults(Algorithm.Adam);
        var t = TrainingFixtures.Mlp(Algorithm.Adam, hp);
        t.Run(stopAfterStep: 3);
        spoil(t);
        string path = dir.File("c.ckpt");
        Checkpoint.Save(path, t);   // a valid file with a correct checksum over the nonsense

        var other = TrainingFixtures.Mlp(Algorithm.Adam, hp, seed: 9);
        other.Run(stopAfterStep: 1);
        var before = (TrainingFixtures.Bits(other), TrainingFixtures.StateBits(other), other.Step);
        var e = Assert.Throws<CheckpointException>(() => Checkpoint.Load(path, other))!;
        Assert.That(e.Message, Does.Contain("holds a state no run can reach").And.Contain(said));
        Assert.That((TrainingFixtures.Bits(other), TrainingFixtures.StateBits(other), other.Step), Is.EqualTo(before));
    }

    /// <summary>An array length past 2^29 floats (a 32-bit byte count would overflow) is refused as malformed, not
    /// with an OverflowException.</summary>
    [Test]
    public void AnArrayLengthPastTheSection_IsRefusedAsMalformed()
    {
        using var dir = new TempDirectory();
        var p = new NoisyRosenbrock(2);
        var x = new Parameter("x", p.InitialPoint());
        using var opt = new Optimizer(Algorithm.Adam, [x], Hyperparameters.Defaults(Algorithm.Adam));
        var t = new Trainer(p, opt, x, new TrainerOptions { BatchSize = 1, StepsPerEpoch = 2 }, new Rng(1));
        string path = dir.File("c.ckpt");
        Checkpoint.Save(path, t);
        var bytes = File.ReadAllBytes(path);
        // Header 28, section count 4, "fingerprint" (4 + 11) and its i64 length, then "parameters" (4 + 10), its i64
        // length, the parameter count 4 and "x" (4 + 1): the float count of x.
        int fingerprint = 28 + 4 + 4 + 11;
        int at = fingerprint + 8 + (int)BitConverter.ToInt64(bytes, fingerprint) + 4 + 10 + 8 + 4 + 4 + 1;
        Assert.That(BitConverter.ToInt32(bytes, at), Is.EqualTo(2), "the float count of x");
        BitConverter.TryWriteBytes(bytes.AsSpan(at), 1 << 30);
        System.Security.Cryptography.SHA256.HashData(bytes.AsSpan(0, bytes.Length - 32)).CopyTo(bytes, bytes.Length - 32);
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<CheckpointException>(() => Checkpoint.Load(path, t))!;
        Assert.That(e.Message, Does.Contain("an array of 1073741824 floats").And.Contain("runs past the end of its section"));
    }

    // ---- item 8: one writer per run folder ----

    [Test]
    public void ASecondWriterOfARunFolder_IsRefused_NamingTheHolder()
    {
        using var dir = new TempDirectory();
        string folder = Cut(Problem, dir.File("runs"), "adam", 5);
        var checkpoints = Checkpoints(folder);
        using (RunFolderLock.Acquire(folder))
        {
            var r = CliRunner.Invoke("train", "--resume", folder);
            Assert.That(r.Code, Is.EqualTo(2), r.ToString());
            Assert.That(r.Err.Trim(), Is.EqualTo(
                $"cudaadam train: run folder '{folder}' is in use by another cudaadam process (pid {Environment.ProcessId}): " +
                "one writer at a time; wait for it to end, or stop it"));
            Assert.That(Checkpoints(folder), Is.EqualTo(checkpoints));
            Assert.That(() => RunFolderLock.Acquire(folder), Throws.TypeOf<RunFolderLockedException>(), "a second lock in the same process too");
        }
        Assert.That(TrainJob.Resume(folder, TextWriter.Null).Interrupted, Is.False, "released: the resume runs");
        Assert.That(File.Exists(Path.Combine(folder, ".lock.pid")), Is.False, "the holder's pid goes with it");
    }

    // ---- item 9: the trainer checks gradients, not only the loss ----

    /// <summary>F(x) = |x|²/2 with gradient x, except that at step <c>badStep</c> the gradient overflows to +∞ while
    /// the loss stays finite.</summary>
    private sealed class OverflowingGradient(long badStep) : IStochasticProblem
    {
        public string Name => "overflow";
        public string Description => "overflow test problem";
        public int Dimension => 2;
        public int? DataSize => null;
        public float[] InitialPoint() => [1, 2];
        public double Loss(ReadOnlySpan<float> x) => 0.5 * ((double)x[0] * x[0] + (double)x[1] * x[1]);
        public void Gradient(ReadOnlySpan<float> x, Span<double> grad) { grad[0] = x[0]; grad[1] = x[1]; }

        public double StochasticGradient(ReadOnlySpan<float> x, Span<float> grad, Minibatch batch, Rng rng)
        {
            grad[0] = batch.Step == badStep ? float.PositiveInfinity : x[0];
            grad[1] = batch.Step == badStep ? float.PositiveInfinity : x[1];
            return Loss(x);
        }

        public void Project(Span<float> x) { }
        public double[]? Optimum => [0, 0];
        public double? OptimalLoss => 0;
    }

    [Test]
    public void AGradientThatOverflowedWhileTheLossIsFinite_StopsTheRunBeforeTheStep_AndNoCheckpointHoldsIt()
    {
        using var dir = new TempDirectory();
        var problem = new OverflowingGradient(badStep: 3);
        var x = new Parameter("x", problem.InitialPoint());
        using var opt = new Optimizer(Algorithm.Sgd, [x], Hyperparameters.For(Algorithm.Sgd, lr: 0.1));
        var t = new Trainer(problem, opt, x, new TrainerOptions { Epochs = 3, BatchSize = 1, StepsPerEpoch = 2 }, new Rng(1));
        string path = dir.File("x.ckpt");
        float[]? afterTwo = null;
        var e = Assert.Throws<TrainingDivergedException>(() => t.Run(onEpoch: _ =>
        {
            afterTwo = (float[])x.Data.Clone();
            Checkpoint.Save(path, t);
        }))!;

        Assert.That(e.Step, Is.EqualTo(3));
        Assert.That(e.Message, Does.Contain("diverged at step 3: non-finite gradient: x[0] = +inf while the minibatch loss is")
            .And.Contain("the step was not taken"));
        Assert.That(x.Data, Is.EqualTo(afterTwo), "x is that of step 2");
        Assert.That(x.Data.All(float.IsFinite));
        var fresh = new Parameter("x", problem.InitialPoint());
        using var opt2 = new Optimizer(Algorithm.Sgd, [fresh], Hyperparameters.For(Algorithm.Sgd, lr: 0.1));
        var resumed = new Trainer(problem, opt2, fresh, new TrainerOptions { Epochs = 3, BatchSize = 1, StepsPerEpoch = 2 }, new Rng(1));
        Checkpoint.Load(path, resumed);
        Assert.That(fresh.Data, Is.EqualTo(afterTwo), "the checkpoint holds the finite x of step 2");
    }
}
