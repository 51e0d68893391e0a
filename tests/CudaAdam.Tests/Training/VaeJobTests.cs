using CudaAdam.Tests.Cli;
using CudaAdam.Training;
using CudaAdam.Training.Jobs;
using CudaAdam.Training.Models;

namespace CudaAdam.Tests.Training;

/// <summary>The VAE (Kingma &amp; Ba Fig. 4) as a <c>cudaadam train</c> job: model kind <c>vae</c>, loss the negative
/// ELBO, no accuracy in any report, seeded reparameterization noise that a checkpoint carries (bitwise resume, also
/// from the middle of an epoch), and Adam with and without bias correction side by side.</summary>
public class VaeJobTests
{
    private static string Config(string output, int epochs = 2) => $$"""
        { "name": "vae-tiny", "model": { "kind": "vae", "hidden": [24], "latent": 4 },
          "data": { "source": "embedded", "train_limit": 200, "test_limit": 100 },
          "training": { "epochs": {{epochs}}, "batch_size": 50, "seed": 4 }, "schedule": { "kind": "constant" },
          "optimizers": [ { "name": "adam", "lr": 0.003 }, { "name": "adam", "label": "adam-no-bc", "lr": 0.003, "bias_correction": false } ],
          "output": "{{output.Replace("\\", "\\\\")}}" }
        """;

    private static TrainConfig Load(string json) => TrainConfig.Load(new MemoryStream(System.Text.Encoding.UTF8.GetBytes(json)), "test config");

    [Test]
    public void VaeJob_ReportsNegativeElbo_WithoutAccuracy()
    {
        using var dir = new TempDirectory();
        string config = dir.File("vae.json");
        File.WriteAllText(config, Config(dir.File("runs")));
        var r = CliRunner.Invoke("train", config);
        Assert.That(r.Code, Is.EqualTo(0), r.ToString());
        Assert.That(r.Out, Does.Contain("model  vae: vae linear 784->24").And.Contain("adam-no-bc: adam lr 0.003, betas (0.9, 0.999), eps 1e-08, no bias correction"));
        Assert.That(r.Out, Does.Not.Contain("test acc"), "the progress lines have no accuracy");
        string folder = Directory.GetDirectories(dir.File("runs")).Single();
        Assert.That(File.Exists(Path.Combine(folder, "test_loss.png")));
        Assert.That(File.Exists(Path.Combine(folder, "test_accuracy.png")), Is.False);

        var result = TrainJob.Run(Load(Config(dir.File("runs2"))), TextWriter.Null);
        foreach (var run in result.Runs)
        {
            Assert.That(run.Epochs.Select(e => e.Epoch), Is.EqualTo(new[] { 0, 1, 2 }));
            Assert.That(run.Epochs.All(e => double.IsNaN(e.TestAccuracy) && double.IsNaN(e.TrainAccuracy)), "no accuracy");
            // Before training the decoder's logits are small: −ELBO ≈ Σ_pixels ln 2 = 543 nats; 8 steps of Adam at
            // lr 3e-3 on this 24-unit model take tens of nats off (measured: adam 543 → 498).
            Assert.That(run.Epochs[0].TestLoss, Is.EqualTo(784 * Math.Log(2)).Within(60));
            Assert.That(run.Final.TestLoss, Is.LessThan(run.Epochs[0].TestLoss - 25), run.Config.Id);
            Assert.That(run.Final.TrainLoss, Is.GreaterThan(0).And.LessThan(run.Epochs[0].TestLoss));
            Assert.That(run.Best.Epoch, Is.EqualTo(run.Epochs.Where(e => e.Epoch > 0).MinBy(e => e.TestLoss)!.Epoch), "best = lowest test −ELBO");
        }
        Assert.That(result.Runs[0].Steps[0].Loss, Is.EqualTo(result.Runs[1].Steps[0].Loss), "same weights, batch and noise at step 1");
        Assert.That(result.Runs[0].Final.TestLoss, Is.Not.EqualTo(result.Runs[1].Final.TestLoss), "bias correction changes the run");

        string summary = File.ReadAllText(Path.Combine(result.Folder, "summary.md"));
        Assert.That(summary, Does.Contain("negative ELBO").And.Contain("| final train -ELBO | final test -ELBO |").And.Contain("Lowest final test -ELBO"));
        Assert.That(summary, Does.Not.Contain("test acc").And.Not.Contain("NaN%"));
        var epochs = File.ReadAllLines(Path.Combine(result.Folder, "epochs.csv"));
        Assert.That(epochs[1], Does.StartWith("adam,0,0,NaN,NaN,"));
        var resolved = TrainConfig.Load(Path.Combine(result.Folder, "config.json")).Resolve();
        Assert.That((resolved.Model.Kind, resolved.Model.Latent, resolved.Model.Hidden![0]), Is.EqualTo(("vae", (int?)4, 24)));
        Assert.That(resolved.Optimizers!.Select(o => o.Hyperparameters().BiasCorrection), Is.EqualTo(new[] { true, false }));
    }

    [Test]
    public void VaeTrainer_ResumedMidEpochFromACheckpoint_IsBitwiseTheUninterruptedRun()
    {
        using var dir = new TempDirectory();
        var config = Load(Config(dir.File("runs"), epochs: 3)).Resolve();
        var (train, test) = config.Data.Load();
        Trainer Make(out Optimizer opt)
        {
            var model = TrainJob.BuildTrainable(config, CudaAdam.Training.Tensors.Gemm.Default);
            opt = new Optimizer(Algorithm.Adam, model.Parameters, Hyperparameters.Defaults(Algorithm.Adam) with { Lr = 3e-3, BiasCorrection = false });
            return new Trainer(model, opt, train, test, new TrainerOptions { Epochs = 3, BatchSize = 50 }, Rng.ForStream(config.Training.Seed, 1));
        }
        var straight = Make(out var o1);
        var epochsStraight = new List<EpochRecord>();
        straight.Run(onEpoch: epochsStraight.Add);

        var first = Make(out var o2);
        first.Run(stopAfterStep: 6);   // epoch 2, step 2 of 4: the noise generator is mid-stream
        string ckpt = dir.File("vae.ckpt");
        Checkpoint.Save(ckpt, first);
        var resumed = Make(out var o3);
        Checkpoint.Load(ckpt, resumed);
        Assert.That(TrainingFixtures.Of(resumed).DropoutRng!.GetState(), Is.EqualTo(TrainingFixtures.Of(first).DropoutRng!.GetState()), "the noise generator is in the checkpoint");
        var epochsResumed = new List<EpochRecord>();
        resumed.Run(onEpoch: epochsResumed.Add);

        Assert.That(TrainingFixtures.Bits(resumed), Is.EqualTo(TrainingFixtures.Bits(straight)), "parameters");
        Assert.That(TrainingFixtures.StateBits(resumed), Is.EqualTo(TrainingFixtures.StateBits(straight)), "optimizer state");
        Assert.That(epochsResumed.Select(e => (e.Epoch, e.TrainLoss, e.TestLoss)),
            Is.EqualTo(epochsStraight.Skip(1).Select(e => (e.Epoch, e.TrainLoss, e.TestLoss))), "epochs 2 and 3: the same -ELBO bits");

        // Without restoring the noise the run differs (the check above can fail).
        var noNoise = Make(out var o4);
        Checkpoint.Load(ckpt, noNoise);
        TrainingFixtures.Of(noNoise).DropoutRng!.SetState(new Rng(99).GetState());
        noNoise.Run();
        Assert.That(TrainingFixtures.Bits(noNoise), Is.Not.EqualTo(TrainingFixtures.Bits(straight)));
        foreach (var o in new[] { o1, o2, o3, o4 }) o.Dispose();
    }

    /// <summary>Cancels the job when the log shows <paramref name="trigger"/>.</summary>
    private sealed class CancelOn(string trigger, CancellationTokenSource cts) : StringWriter
    {
        public override void WriteLine(string? value)
        {
            base.WriteLine(value);
            if (value is not null && value.Contains(trigger, StringComparison.Ordinal)) cts.Cancel();
        }
    }

    [Test]
    public void InterruptedVaeJob_ResumedWithTheCli_WritesTheSameNumbers()
    {
        using var dir = new TempDirectory();
        var straight = TrainJob.Run(Load(Config(dir.File("a"), epochs: 3)), TextWriter.Null);
        using var cts = new CancellationTokenSource();
        var cut = TrainJob.Run(Load(Config(dir.File("b"), epochs: 3)), new CancelOn("adam-no-bc     epoch 1/3", cts), cancel: cts.Token);
        Assert.That(cut.Interrupted, Is.True);
        var r = CliRunner.Invoke("train", "--resume", cut.Folder);
        Assert.That(r.Code, Is.EqualTo(0), r.ToString());
        Assert.That(r.Out, Does.Contain("adam-no-bc: resumed from its checkpoint at step 4 of 12"));
        static string[] NoWall(string path) => File.ReadAllLines(path).Select(l => string.Join(',', l.Split(',')[..^1])).ToArray();
        foreach (var csv in new[] { "steps.csv", "epochs.csv" })
            Assert.That(NoWall(Path.Combine(cut.Folder, csv)), Is.EqualTo(NoWall(Path.Combine(straight.Folder, csv))), csv);
    }

    [Test]
    public void TestElbo_IsADeterministicFunctionOfTheParameters()
    {
        var config = Load(Config("runs")).Resolve();
        var (train, test) = config.Data.Load();
        var model = (VaeObjective)TrainJob.BuildTrainable(config, CudaAdam.Training.Tensors.Gemm.Default);
        using var opt = new Optimizer(Algorithm.Adam, model.Parameters, Hyperparameters.Defaults(Algorithm.Adam));
        var t = new Trainer(model, opt, train, test, new TrainerOptions { Epochs = 1, BatchSize = 50 }, new Rng(1));
        var a = TrainingFixtures.Of(t).Evaluate(test);
        var b = TrainingFixtures.Of(t).Evaluate(test);
        Assert.That(b.Loss, Is.EqualTo(a.Loss), "the evaluation noise restarts");
        Assert.That(double.IsNaN(a.Accuracy));
        t.TrainStep();
        Assert.That(TrainingFixtures.Of(t).Evaluate(test).Loss, Is.Not.EqualTo(a.Loss));
        Assert.That(model.Vae.Latent, Is.EqualTo(4));
    }

    [TestCase("""{ "model": { "kind": "vae", "hidden": [10, 10] }, "optimizers": [ { "name": "adam" } ] }""", "one hidden width")]
    [TestCase("""{ "model": { "kind": "vae", "latent": 0 }, "optimizers": [ { "name": "adam" } ] }""", "model.latent")]
    [TestCase("""{ "model": { "kind": "mlp", "latent": 5 }, "optimizers": [ { "name": "adam" } ] }""", "only the vae has a latent space")]
    [TestCase("""{ "model": { "kind": "vae" }, "optimizers": [ { "name": "nadam", "bias_correction": false } ] }""", "bias_correction")]
    public void BadVaeConfigs_AreRefusedNamingTheKey(string json, string expected)
    {
        var e = Assert.Throws<ConfigException>(() => Load(json).Resolve());
        Assert.That(e!.Message, Does.Contain(expected));
    }

    [Test]
    public void VaeOnADeviceBackend_IsRefusedNamingTheCpuPath()
    {
        using var dir = new TempDirectory();
        var config = Load(Config(dir.File("runs")));
        config.Backend = "emulator";
        var e = Assert.Throws<ConfigException>(() => TrainJob.Run(config, TextWriter.Null));
        Assert.That(e!.Message, Does.Contain("the vae's layers and loss run on the CPU only").And.Contain("\"backend\": \"cpu\""));
    }

    [Test]
    public void ShippedVaeConfig_IsThePapersModel()
    {
        var config = TrainConfig.Load(TestPaths.InRepo("configs", "vae-fmnist.json")).Resolve();
        var model = (VaeObjective)TrainJob.BuildTrainable(config, new CudaAdam.Training.Tensors.ManagedGemm());
        Assert.That(model.ParameterCount, Is.EqualTo(Vae.KingmaBa(new Rng(1)).ParameterCount));
        Assert.That(config.Optimizers!.Count(o => !o.Hyperparameters().BiasCorrection), Is.EqualTo(2));
        Assert.Throws<ArgumentException>(() => TrainJob.BuildModel(config, new CudaAdam.Training.Tensors.ManagedGemm()));
    }
}
