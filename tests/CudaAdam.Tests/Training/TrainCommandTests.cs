using CudaAdam.Tests.Cli;
using CudaAdam.Training;
using CudaAdam.Training.Jobs;

namespace CudaAdam.Tests.Training;

public class TrainCommandTests
{
    private static string TinyConfig(string output, string extra = "") => $$"""
        { "name": "tiny", "model": { "hidden": [16] }, "data": { "source": "embedded", "train_limit": 200, "test_limit": 100 },
          "training": { "epochs": 2, "batch_size": 50, "seed": 3 }, "schedule": { "kind": "linear", "warmup": 2 },
          "optimizers": [ { "name": "adam" }, { "name": "sgd", "label": "sgd-nesterov", "lr": 0.05, "momentum": 0.9, "nesterov": true } ],
          "output": "{{output.Replace("\\", "\\\\")}}" {{extra}} }
        """;

    [Test]
    public void Train_WritesTheRunFolder_WithCsvPlotsSummaryAndCheckpoints()
    {
        using var dir = new TempDirectory();
        string config = dir.File("tiny.json");
        File.WriteAllText(config, TinyConfig(dir.File("runs")));
        var r = CliRunner.Invoke("train", config);
        Assert.That(r.Code, Is.EqualTo(0), r.ToString());
        Assert.That(r.Out, Does.Contain("adam           epoch 2/2  step 8/8").And.Contain("ETA"));
        string folder = Directory.GetDirectories(dir.File("runs")).Single();
        Assert.That(r.Out, Does.Contain($"run folder: {folder}"));
        Assert.That(Path.GetFileName(folder), Does.Match(@"^\d{8}-\d{6}-tiny$"));

        var steps = File.ReadAllLines(Path.Combine(folder, "steps.csv"));
        Assert.That(steps[0], Is.EqualTo("optimizer,step,epoch,lr,loss,wall_s"));
        Assert.That(steps, Has.Length.EqualTo(1 + 2 * 8), "header + 2 optimizers x 8 steps");
        Assert.That(steps[1], Does.StartWith("adam,1,1,0.0005,"), "linear warmup: step 1 of 2 at half the base lr");
        var epochs = File.ReadAllLines(Path.Combine(folder, "epochs.csv"));
        Assert.That(epochs, Has.Length.EqualTo(1 + 2 * 3), "epochs 0 (before training), 1, 2 per optimizer");

        foreach (var png in new[] { "loss_vs_step.png", "loss_vs_time.png", "test_accuracy.png" })
        {
            var bytes = File.ReadAllBytes(Path.Combine(folder, png));
            Assert.That(bytes.Length, Is.GreaterThan(5000), png);
            Assert.That(bytes[..8], Is.EqualTo(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G', 13, 10, 26, 10 }), png);
        }
        string summary = File.ReadAllText(Path.Combine(folder, "summary.md"));
        Assert.That(summary, Does.Contain("| adam | adam lr 0.001").And.Contain("| sgd-nesterov | sgd lr 0.05"));

        // The resolved config loads back and states every hyperparameter.
        var resolved = TrainConfig.Load(Path.Combine(folder, "config.json")).Resolve();
        Assert.That(resolved.Optimizers!.Select(o => (o.Id, o.Lr, o.Beta2)), Is.EqualTo(new[] { ("adam", (double?)0.001, (double?)0.999), ("sgd-nesterov", 0.05, 0.999) }));
        Assert.That(resolved.Model.Hidden, Is.EqualTo(new[] { 16 }));

        // The checkpoint is the end of the run and loads into a trainer built from the same config.
        var (model, dropout) = TrainJob.BuildModel(resolved, CudaAdam.Training.Tensors.Gemm.Default);
        var adam = resolved.Optimizers![0];
        var opt = new Optimizer(adam.Algorithm, model.Parameters, adam.Hyperparameters());
        var (train, test) = resolved.Data.Load();
        var trainer = new Trainer(model, opt, train, test,
            TrainJob.Options(resolved, adam, "cpu"), new Rng(0), dropout);
        Checkpoint.Load(Path.Combine(folder, "checkpoints", "adam.ckpt"), trainer);
        Assert.That(trainer.Finished, Is.True);
        Assert.That(opt.State(model.Parameters[0])!.Step, Is.EqualTo(8));
    }

    [Test]
    public void Train_BothOptimizers_StartFromTheSameInitialization()
    {
        using var dir = new TempDirectory();
        var config = TrainConfig.Load(new MemoryStream(System.Text.Encoding.UTF8.GetBytes(TinyConfig(dir.File("runs")))), "test");
        var result = TrainJob.Run(config, TextWriter.Null);
        Assert.That(result.Runs, Has.Count.EqualTo(2));
        Assert.That(result.Runs[0].Epochs[0].TestLoss, Is.EqualTo(result.Runs[1].Epochs[0].TestLoss), "same weights before training");
        Assert.That(result.Runs[0].Steps[0].Loss, Is.EqualTo(result.Runs[1].Steps[0].Loss), "same first minibatch and dropout mask");
        Assert.That(result.Runs[0].Steps[1].Loss, Is.Not.EqualTo(result.Runs[1].Steps[1].Loss), "different optimizers diverge");
    }

    [Test]
    public void UnknownKey_IsAnErrorNamingIt()
    {
        using var dir = new TempDirectory();
        string config = dir.File("bad.json");
        File.WriteAllText(config, TinyConfig(dir.File("runs"), ", \"learning_rate\": 0.1"));
        var r = CliRunner.Invoke("train", config);
        Assert.That(r.Code, Is.EqualTo(2), r.ToString());
        Assert.That(r.Err, Does.Contain("cudaadam train: config file").And.Contain("'learning_rate'"));
        Assert.That(Directory.Exists(dir.File("runs")), Is.False, "nothing written for a bad config");

        File.WriteAllText(config, TinyConfig(dir.File("runs")).Replace("\"batch_size\": 50", "\"batch_sise\": 50"));
        r = CliRunner.Invoke("train", config);
        Assert.That(r.Err, Does.Contain("'batch_sise'"));
    }

    [TestCase("\"epochs\": 2", "\"epochs\": 0", "training.epochs: 0 must be >= 1")]
    [TestCase("{ \"name\": \"adam\" }", "{ \"name\": \"adamm\" }", "unknown optimizer 'adamm'")]
    [TestCase("\"kind\": \"linear\"", "\"kind\": \"cosin\"", "unknown schedule 'cosin'")]
    [TestCase("\"hidden\": [16]", "\"hidden\": [16], \"dropout\": 1.5", "model.dropout: 1.5 must be in [0, 1)")]
    [TestCase("\"epochs\": 2", "\"epochs\": \"two\"", "'two' at 'Training:Epochs'")]
    [TestCase("\"source\": \"embedded\"", "\"source\": \"/nonexistent/fmnist\"", "dataset-fashion-mnist")]
    public void BadValues_AreErrorsNamingTheSetting(string from, string to, string message)
    {
        using var dir = new TempDirectory();
        string config = dir.File("bad.json");
        string text = TinyConfig(dir.File("runs"));
        Assert.That(text, Does.Contain(from));
        File.WriteAllText(config, text.Replace(from, to));
        var r = CliRunner.Invoke("train", config);
        Assert.That(r.Code, Is.EqualTo(2), r.ToString());
        Assert.That(r.Err, Does.Contain(message));
    }

    [Test]
    public void MissingConfigFile_AndBadJson_AreUsageErrors()
    {
        using var dir = new TempDirectory();
        var r = CliRunner.Invoke("train", dir.File("nope.json"));
        Assert.That(r.Code, Is.EqualTo(2));
        Assert.That(r.Err, Does.Contain("not found"));
        File.WriteAllText(dir.File("broken.json"), "{ \"name\": ");
        r = CliRunner.Invoke("train", dir.File("broken.json"));
        Assert.That(r.Code, Is.EqualTo(2));
        Assert.That(r.Err, Does.Contain("not valid JSON"));
    }

    [Test]
    public void DefaultConfig_AndShippedConfigs_Resolve()
    {
        var d = TrainConfig.Default().Resolve();
        Assert.That(d.Optimizers!.Select(o => o.Id), Is.EqualTo(new[] { "adam", "adamw", "amsgrad", "signadam", "lion", "sgd-nesterov", "schedulefree-adamw" }));
        var sf = d.Optimizers!.Single(o => o.Id == "schedulefree-adamw");
        Assert.That((sf.ScheduleFree, sf.Hyperparameters().WarmupSteps, sf.R, sf.WeightLrPower), Is.EqualTo((true, 20, (double?)0.0, (double?)2.0)),
            "the Schedule-Free keys are written back for it");
        Assert.That(TrainJob.Options(d, sf, "cpu").Scheduler, Is.Null, "Schedule-Free ignores the job's schedule");
        Assert.That(TrainJob.Options(d, d.Optimizers![0], "cpu").Scheduler, Is.Not.Null, "the others run the job's cosine schedule");
        Assert.That(d.Optimizers![0].WarmupSteps, Is.Null, "and only for it");
        Assert.That(d.Model.Hidden, Is.EqualTo(new[] { 256, 256 }));
        Assert.That(d.Optimizers!.Single(o => o.Id == "amsgrad").Hyperparameters().Amsgrad, Is.True);
        Assert.That(d.Optimizers!.Single(o => o.Id == "sgd-nesterov").Hyperparameters().Nesterov, Is.True);
        foreach (var name in new[] { "mlp-fmnist.json", "logreg-fmnist.json" })
        {
            var c = TrainConfig.Load(Path.Combine(TestPaths.RepoRoot, "configs", name)).Resolve();
            Assert.That(c.Data.Source, Is.EqualTo("system"), name);
            Assert.That(c.Optimizers, Has.Length.EqualTo(6), name);
        }
        Assert.That(TrainConfig.Load(Path.Combine(TestPaths.RepoRoot, "configs", "mlp-fmnist.json")).Resolve().Model.Hidden, Is.EqualTo(new[] { 1000, 1000 }));
    }

    [Test]
    public void Help_ListsTrain()
    {
        var r = CliRunner.Invoke("help");
        Assert.That(r.Out, Does.Contain("train"));
        r = CliRunner.Invoke("train", "--help");
        Assert.That(r.Code, Is.EqualTo(0));
        Assert.That(r.Out, Does.StartWith("usage: cudaadam train [config.json] [--output DIR]"));
    }
}

/// <summary>Every run states the sign-like descent bound R of its β1, β2 (arXiv 2507.05966) and which side of
/// β1 = sqrt(β2) it is on.</summary>
public class TrainHyperparameterDescriptionTests
{
    private static string Describe(string json)
    {
        var oc = System.Text.Json.JsonSerializer.Deserialize<OptimizerConfig>(json,
            new System.Text.Json.JsonSerializerOptions { PropertyNameCaseInsensitive = true })!;
        var config = TrainConfig.Default();
        config.Optimizers = [oc];
        config.Resolve();
        return TrainJob.DescribeHyperparameters(oc);
    }

    [Test]
    public void AdamFamily_StatesR_AndTheSideOfTheBoundary()
    {
        // R = (1 − β1) / (sqrt(1 − β2) · sqrt(1 − β1²/β2)): 7.27 at (0.9, 0.999), 2.345 at (0.9, 0.99).
        Assert.That(Describe("""{ "name": "adam" }"""), Does.EndWith(", R 7.27 (β1 < √β2)"));
        Assert.That(Describe("""{ "name": "signadam", "beta2": 0.99 }"""), Does.EndWith(", R 2.345 (β1 < √β2)"));
        Assert.That(Describe("""{ "name": "adam", "beta1": 0.9995 }"""), Does.EndWith(", R ∞ (β1 ≥ √β2)"));
        Assert.That(Describe("""{ "name": "lion" }"""), Does.Not.Contain(", R "), "Lion has no second moment: no R");
    }
}
