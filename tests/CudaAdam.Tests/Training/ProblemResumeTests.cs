using CudaAdam.Problems;
using CudaAdam.Training;
using CudaAdam.Tests.Cli;
using CudaAdam.Training.Jobs;

namespace CudaAdam.Tests.Training;

/// <summary>Checkpoints of problem runs (<see cref="Trainer"/> over a <see cref="ProblemObjective"/>, <c>cudaadam train</c> with a problem kind):
/// an interrupted and resumed run is bitwise the uninterrupted one; a corrupt or mismatched checkpoint is rejected
/// and left as it was.</summary>
public class ProblemResumeTests
{
    /// <summary>quadratic_deep: a finite sum (sampler permutation and position); reddi-online: projection onto
    /// [−1, 1], the slope fixed by the step; rosenbrock: a stream with Gaussian noise from the generator.</summary>
    private static readonly string[] ProblemSections =
    [
        """ "model": { "kind": "quadratic_deep" }, "training": { "epochs": 3, "batch_size": 128, "seed": 4 } """,
        """ "model": { "kind": "reddi-online" }, "problem": { "steps_per_epoch": 101 }, "training": { "epochs": 3, "batch_size": 1, "seed": 4 } """,
        """ "model": { "kind": "rosenbrock" }, "problem": { "dimension": 4, "steps_per_epoch": 20 }, "training": { "epochs": 3, "batch_size": 2, "seed": 4 } """,
    ];

    private static TrainConfig Config(string section, string output, string backend = "cpu")
    {
        string json = $$"""
            { "name": "pr", {{section}}, "schedule": { "kind": "cosine", "warmup": 3 },
              "optimizers": [ { "name": "adam", "label": "amsgrad", "lr": 0.01, "amsgrad": true },
                              { "name": "sgd", "label": "sgd-momentum", "lr": 0.001, "momentum": 0.9 } ] }
            """;
        var c = TrainConfig.Load(new MemoryStream(System.Text.Encoding.UTF8.GetBytes(json)), "test config");
        c.Output = output;
        c.Backend = backend;
        return c;
    }

    /// <summary>The CSV without the wall-clock column (the only thing a resume may change).</summary>
    private static string[] WithoutWallClock(string path) =>
        File.ReadAllLines(path).Select(l => string.Join(',', l.Split(',')[..^1])).ToArray();

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

    /// <summary>x and its optimizer state from a run folder's checkpoint, loaded into a trainer built like the job's.</summary>
    internal static (float[] X, float[] M, float[] V, long Step) FinalOf(string folder, string id)
    {
        var config = TrainConfig.Load(Path.Combine(folder, "config.json")).Resolve();
        var oc = config.Optimizers!.Single(o => o.Id == id);
        var problem = config.Problem!.Create(config.Model.Kind);
        var x = new Parameter("x", problem.InitialPoint());
        using var opt = new Optimizer(oc.Algorithm, [new ParamGroup([x], oc.Hyperparameters())]);
        var t = new Trainer(problem, opt, x, TrainJob.Options(config, oc, TrainJob.ProblemBackend(config)), Rng.ForStream(config.Training.Seed, 1));
        Checkpoint.Load(Path.Combine(folder, "checkpoints", id + ".ckpt"), t);
        var s = opt.State(x)!;
        return (x.Data, s.M!, s.V ?? s.M!, t.Step);
    }

    [TestCase(0, 10)]   // quadratic_deep: 7 steps per epoch, cut in epoch 2 of the second optimizer
    [TestCase(1, 150)]  // reddi-online: 101 steps per epoch
    [TestCase(2, 33)]   // rosenbrock: 20 steps per epoch
    public void InterruptedProblemJob_ResumedFromItsCheckpoints_IsBitwiseTheUninterruptedOne(int problem, int cutAfter) =>
        CutResumeAndCompare(problem, cutAfter, "cpu");

    /// <summary>The optimizer step in the emulated fused kernel: its state lives in the host arrays the checkpoint holds.</summary>
    [Test]
    public void InterruptedProblemJob_OnTheEmulatorBackend_ResumesBitwise()
    {
        using (Kernels.KernelDevices.OpenOrIgnore("emulator")) { }
        CutResumeAndCompare(0, 10, "emulator");
    }

    private static void CutResumeAndCompare(int problem, int cutAfter, string backend)
    {
        using var dir = new TempDirectory();
        var straight = TrainJob.Run(Config(ProblemSections[problem], dir.File("a"), backend), TextWriter.Null);
        Assert.That(straight.Interrupted, Is.False);
        Assert.That(straight.Files, Does.Contain(Path.Combine("checkpoints", "amsgrad.ckpt")).And.Contain(Path.Combine("checkpoints", "sgd-momentum.ckpt")));

        using var cts = new CancellationTokenSource();
        var log = new StringWriter();
        var cut = TrainJob.Run(Config(ProblemSections[problem], dir.File("b"), backend), log, cancel: cts.Token,
            progress: new CancelAt("sgd-momentum", cutAfter, cts));
        Assert.That(cut.Interrupted, Is.True);
        Assert.That(log.ToString(), Does.Contain("interrupted: checkpoints saved; continue with: cudaadam train --resume"));
        Assert.That(cut.Runs.Select(r => r.Steps.Count), Is.EqualTo(new[] { straight.Runs[0].Steps.Count, cutAfter }));
        Assert.That(cutAfter % (straight.Runs[0].Steps.Count / 3), Is.Not.Zero, "the cut is inside an epoch");
        Assert.That(File.Exists(Path.Combine(cut.Folder, "summary.md")), Is.False);

        var resumed = CliRunner.Invoke("train", "--resume", cut.Folder);
        Assert.That(resumed.Code, Is.EqualTo(0), resumed.ToString());
        Assert.That(resumed.Out, Does.Contain($"sgd-momentum: resumed from its checkpoint at step {cutAfter} of"));

        foreach (var csv in new[] { "steps.csv", "epochs.csv" })
            Assert.That(WithoutWallClock(Path.Combine(cut.Folder, csv)), Is.EqualTo(WithoutWallClock(Path.Combine(straight.Folder, csv))), csv);
        foreach (var id in new[] { "amsgrad", "sgd-momentum" })
        {
            var a = FinalOf(straight.Folder, id);
            var b = FinalOf(cut.Folder, id);
            Assert.That(b.Step, Is.EqualTo(a.Step), id);
            Assert.That(Bits(b.X), Is.EqualTo(Bits(a.X)), $"{id}: final x");
            Assert.That((Bits(b.M), Bits(b.V)), Is.EqualTo((Bits(a.M), Bits(a.V))), $"{id}: optimizer state");
        }
        Assert.That(File.Exists(Path.Combine(cut.Folder, "summary.md")));
    }

    private static int[] Bits(float[] a) => a.Select(BitConverter.SingleToInt32Bits).ToArray();

    /// <summary>The trainer alone: cancelled after k steps (mid-epoch), saved, loaded into a trainer with another
    /// seed and start (all must come from the file), finished: records, x, state and generator bitwise equal.</summary>
    [Test]
    public void ProblemRun_CancelledAfterKSteps_SavedAndLoaded_FinishesBitwiseLikeAnUninterruptedOne()
    {
        using var dir = new TempDirectory();
        var p = new QuadraticDeep();
        (Trainer T, Parameter X, Optimizer O) Make(ulong seed)
        {
            var x = new Parameter("x", p.InitialPoint());
            if (seed != 1) x.Data.AsSpan().Fill(0.5f);
            var o = new Optimizer(Algorithm.AdamW, [x], Hyperparameters.Defaults(Algorithm.AdamW) with { Lr = 0.01 });
            var options = new TrainerOptions { Epochs = 3, BatchSize = 100, Scheduler = LrScheduler.ForKind("cosine", warmup: 2), Run = [("seed", "1")] };
            return (new Trainer(p, o, x, options, new Rng(seed)), x, o);
        }
        var a = Make(1);
        var stepsA = new List<StepRecord>();
        var epochsA = new List<EpochRecord>();
        a.T.Run(stepsA.Add, epochsA.Add);

        var b = Make(1);
        var stepsB = new List<StepRecord>();
        var epochsB = new List<EpochRecord>();
        using var cts = new CancellationTokenSource();
        b.T.Run(s => { stepsB.Add(s); if (s.Step == 13) cts.Cancel(); }, epochsB.Add, cancel: cts.Token);
        Assert.That(b.T.Step, Is.EqualTo(13), "10 steps per epoch: stopped inside epoch 2");
        string path = dir.File("q.ckpt");
        Checkpoint.Save(path, b.T);

        var c = Make(7);
        Checkpoint.Load(path, c.T);
        Assert.That((c.T.Step, c.T.WallSeconds), Is.EqualTo((13L, b.T.WallSeconds)));
        c.T.Run(stepsB.Add, epochsB.Add);

        Assert.That(Bits(c.X.Data), Is.EqualTo(Bits(a.X.Data)), "x");
        var (sa, sc) = (a.O.State(a.X)!, c.O.State(c.X)!);
        Assert.That((sc.Step, sc.Beta1Power, sc.Beta2Power, Bits(sc.M!), Bits(sc.V!)), Is.EqualTo((sa.Step, sa.Beta1Power, sa.Beta2Power, Bits(sa.M!), Bits(sa.V!))));
        Assert.That(stepsB.Select(s => (s.Step, s.Epoch, s.Lr, s.Loss)), Is.EqualTo(stepsA.Select(s => (s.Step, s.Epoch, s.Lr, s.Loss))));
        Assert.That(epochsB.Select(e => (e.Epoch, e.Step, e.TrainLoss, e.TestLoss)), Is.EqualTo(epochsA.Select(e => (e.Epoch, e.Step, e.TrainLoss, e.TestLoss))));
        Assert.That(((ProblemObjective)c.T.Objective).Rng.GetState(), Is.EqualTo(((ProblemObjective)a.T.Objective).Rng.GetState()));
        foreach (var o in new[] { a.O, b.O, c.O }) o.Dispose();
    }

    [Test]
    public void CorruptOrTruncatedCheckpoint_IsRejectedOnResume_AndLeftAsItWas()
    {
        using var dir = new TempDirectory();
        using var cts = new CancellationTokenSource();
        var cut = TrainJob.Run(Config(ProblemSections[0], dir.File("runs")), TextWriter.Null, cancel: cts.Token,
            progress: new CancelAt("amsgrad", 9, cts));
        Assert.That(cut.Interrupted, Is.True);
        string ckpt = Path.Combine(cut.Folder, "checkpoints", "amsgrad.ckpt");
        var good = File.ReadAllBytes(ckpt);

        var corrupt = (byte[])good.Clone();
        corrupt[corrupt.Length / 2] ^= 0x04;
        File.WriteAllBytes(ckpt, corrupt);
        var e = Assert.Throws<CheckpointException>(() => TrainJob.Resume(cut.Folder, TextWriter.Null));
        Assert.That(e!.Message, Does.Contain("corrupt").And.Contain("SHA-256").And.Contain("amsgrad.ckpt"));
        Assert.That(File.ReadAllBytes(ckpt), Is.EqualTo(corrupt), "a rejected checkpoint is not overwritten");

        File.WriteAllBytes(ckpt, good[..(good.Length - 40)]);
        e = Assert.Throws<CheckpointException>(() => TrainJob.Resume(cut.Folder, TextWriter.Null));
        Assert.That(e!.Message, Does.Contain("truncated"));
        Assert.That(File.ReadAllBytes(ckpt), Has.Length.EqualTo(good.Length - 40));

        File.WriteAllBytes(ckpt, corrupt);
        var cli = CliRunner.Invoke("train", "--resume", cut.Folder);
        Assert.That(cli.Code, Is.EqualTo(2), cli.ToString());
        Assert.That(cli.Err, Does.Contain($"cudaadam train: checkpoint '{ckpt}' is corrupt: its SHA-256 checksum does not match its content"));
        Assert.That(File.ReadAllBytes(ckpt), Is.EqualTo(corrupt));

        File.WriteAllBytes(ckpt, good);
        var r = TrainJob.Resume(cut.Folder, TextWriter.Null);
        Assert.That(r.Interrupted, Is.False, "the intact checkpoint resumes");
    }

    [Test]
    public void MismatchedCheckpoint_IsRejected_NamingWhatDiffers_AndLeftAsItWas()
    {
        using var dir = new TempDirectory();
        using var cts = new CancellationTokenSource();
        var cut = TrainJob.Run(Config(ProblemSections[2], dir.File("runs")), TextWriter.Null, cancel: cts.Token,
            progress: new CancelAt("amsgrad", 25, cts));
        string configPath = Path.Combine(cut.Folder, "config.json");
        string ckpt = Path.Combine(cut.Folder, "checkpoints", "amsgrad.ckpt");
        var good = File.ReadAllBytes(ckpt);
        string config = File.ReadAllText(configPath);

        // Another seed: the generator's state alone would not tell.
        File.WriteAllText(configPath, config.Replace("\"seed\": 4", "\"seed\": 5"));
        Assert.That(File.ReadAllText(configPath), Is.Not.EqualTo(config), "the config names the seed");
        var e = Assert.Throws<CheckpointException>(() => TrainJob.Resume(cut.Folder, TextWriter.Null));
        Assert.That(e!.Message, Does.Contain("does not belong to this run").And.Contain("its seed is '4', this run's is '5'"));
        Assert.That(File.ReadAllBytes(ckpt), Is.EqualTo(good));

        // Another problem (dimension 4 -> 6), another lr.
        File.WriteAllText(configPath, config.Replace("\"dimension\": 4", "\"dimension\": 6"));
        e = Assert.Throws<CheckpointException>(() => TrainJob.Resume(cut.Folder, TextWriter.Null));
        Assert.That(e!.Message, Does.Contain("problem description"));
        File.WriteAllText(configPath, config.Replace("\"lr\": 0.01", "\"lr\": 0.02"));
        e = Assert.Throws<CheckpointException>(() => TrainJob.Resume(cut.Folder, TextWriter.Null));
        Assert.That(e!.Message, Does.Contain("hyperparameters"));
        Assert.That(File.ReadAllBytes(ckpt), Is.EqualTo(good));

        // A problem run's checkpoint is not a model run's, and the other way round.
        var model = TrainingFixtures.Mlp(Algorithm.Adam, Hyperparameters.Defaults(Algorithm.Adam));
        e = Assert.Throws<CheckpointException>(() => Checkpoint.Load(ckpt, model));
        Assert.That(e!.Message, Does.Contain("is of a problem run, this run is a model run"));
        string modelCkpt = dir.File("model.ckpt");
        Checkpoint.Save(modelCkpt, model);
        var p = new NoisyRosenbrock(4);
        var x = new Parameter("x", p.InitialPoint());
        using var opt = new Optimizer(Algorithm.Adam, [x], Hyperparameters.Defaults(Algorithm.Adam));
        var t = new Trainer(p, opt, x, new TrainerOptions { BatchSize = 1, StepsPerEpoch = 5 }, new Rng(1));
        e = Assert.Throws<CheckpointException>(() => Checkpoint.Load(modelCkpt, t));
        Assert.That(e!.Message, Does.Contain("is of a model run, this run is a problem run"));

        File.WriteAllText(configPath, config);
        Assert.That(TrainJob.Resume(cut.Folder, TextWriter.Null).Interrupted, Is.False);
    }

    /// <summary>Format 3 records the whole run in a fingerprint; a file of versions 1 and 2 cannot show that it belongs
    /// to this run, so it is refused with a message that says why and what to do, as is a later version.</summary>
    [TestCase(1u)]
    [TestCase(2u)]
    [TestCase(4u)]
    public void CheckpointOfAnotherFormatVersion_IsRefused_SayingWhy(uint version)
    {
        using var dir = new TempDirectory();
        var t = TrainingFixtures.Mlp(Algorithm.Adam, Hyperparameters.Defaults(Algorithm.Adam));
        t.Run(stopAfterStep: 3);
        string path = dir.File("c.ckpt");
        Checkpoint.Save(path, t);
        var bytes = File.ReadAllBytes(path);
        Assert.That(BitConverter.ToUInt32(bytes, 16), Is.EqualTo(3u));
        BitConverter.TryWriteBytes(bytes.AsSpan(16), version);
        System.Security.Cryptography.SHA256.HashData(bytes.AsSpan(0, bytes.Length - 32)).CopyTo(bytes, bytes.Length - 32);
        File.WriteAllBytes(path, bytes);
        var fresh = TrainingFixtures.Mlp(Algorithm.Adam, Hyperparameters.Defaults(Algorithm.Adam), seed: 8);
        var e = Assert.Throws<CheckpointException>(() => Checkpoint.Load(path, fresh))!;
        Assert.That(e.Message, version < 3
            ? Does.Contain($"has format version {version}, written before checkpoints recorded the whole run").And.Contain("start the run again")
            : Does.Contain("has format version 4; this build reads version 3"));
        Assert.That(fresh.Step, Is.Zero);
    }
}
