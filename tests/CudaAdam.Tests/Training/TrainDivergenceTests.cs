using CudaAdam.Training;
using CudaAdam.Training.Jobs;

namespace CudaAdam.Tests.Training;

/// <summary>No silent NaN: a run whose loss stops being finite ends there, says so, and leaves the others alone;
/// gradient clipping is a config setting.</summary>
public class TrainDivergenceTests
{
    private static TrainConfig Config(string output, string sgdLr, string training = "") => TrainConfig.Load(new MemoryStream(System.Text.Encoding.UTF8.GetBytes($$"""
        { "name": "div", "model": { "hidden": [16] }, "data": { "source": "embedded", "train_limit": 120, "test_limit": 60 },
          "training": { "epochs": 2, "batch_size": 40, "seed": 7 {{training}} },
          "optimizers": [ { "name": "sgd", "lr": {{sgdLr}} }, { "name": "adam" } ],
          "output": "{{output.Replace("\\", "\\\\")}}" }
        """)), "test config");

    [Test]
    public void ARunWhoseLossIsNotFinite_StopsThere_AndTheJobGoesOn()
    {
        using var dir = new TempDirectory();
        var log = new StringWriter();
        var result = TrainJob.Run(Config(dir.File("runs"), "1e30"), log);

        Assert.That(result.Interrupted, Is.False);
        var sgd = result.Runs[0];
        Assert.That(sgd.DivergedAt, Is.Not.Null, "lr 1e30 must blow up the loss");
        Assert.That(sgd.Steps, Has.Count.EqualTo(sgd.DivergedAt - 1), "records end before the diverging step");
        Assert.That(sgd.Steps.All(s => double.IsFinite(s.Loss)), "no NaN or infinity in the records");
        Assert.That(log.ToString(), Does.Contain($"sgd: diverged at step {sgd.DivergedAt}").And.Contain("lower the lr"));

        var adam = result.Runs[1];
        Assert.That(adam.DivergedAt, Is.Null);
        Assert.That(adam.Steps, Has.Count.EqualTo(6), "the next optimizer trains normally");
        string summary = File.ReadAllText(Path.Combine(result.Folder, "summary.md"));
        Assert.That(summary, Does.Contain($"**diverged at step {sgd.DivergedAt}**").And.Contain("Highest final test accuracy: **adam**"));
        Assert.That(result.Files.Where(f => !File.Exists(Path.Combine(result.Folder, f))), Is.Empty, "every listed file exists");
    }

    [Test]
    public void TheDivergingStep_IsNotTaken()
    {
        var trainer = TrainingFixtures.Mlp(Algorithm.Sgd, Hyperparameters.Defaults(Algorithm.Sgd) with { Lr = 1e30 });
        float[][]? before = null;
        var e = Assert.Throws<TrainingDivergedException>(() =>
        {
            while (true)
            {
                before = trainer.Parameters.Select(p => p.Data.ToArray()).ToArray();
                trainer.TrainStep();
            }
        })!;
        Assert.That(e.Step, Is.EqualTo(trainer.Step + 1));
        Assert.That(double.IsFinite(e.Loss), Is.False);
        Assert.That(trainer.Parameters.Select(p => p.Data.ToArray()), Is.EqualTo(before), "weights as before the step");
    }

    [Test]
    public void MaxGradNorm_ClipsTheGradients_AndABadValueIsRejected()
    {
        using var dir = new TempDirectory();
        var plain = TrainJob.Run(Config(dir.File("a"), "0.1"), TextWriter.Null);
        var clipped = TrainJob.Run(Config(dir.File("b"), "0.1", ", \"max_grad_norm\": 0.01"), TextWriter.Null);
        Assert.That(clipped.Runs[0].Steps[0].Loss, Is.EqualTo(plain.Runs[0].Steps[0].Loss), "the first loss is before any step");
        Assert.That(clipped.Runs[0].Steps[^1].Loss, Is.Not.EqualTo(plain.Runs[0].Steps[^1].Loss), "clipping changes the trajectory");
        Assert.That(File.ReadAllText(Path.Combine(clipped.Folder, "summary.md")), Does.Contain("gradients clipped to norm 0.01"));

        var e = Assert.Throws<ConfigException>(() => Config(dir.File("c"), "0.1", ", \"max_grad_norm\": -1").Resolve())!;
        Assert.That(e.Message, Does.StartWith("training.max_grad_norm:").And.Contain("finite number > 0"));
    }

    [Test]
    public void AProblemRunThatDiverges_StopsThere_AndTheJobGoesOn()
    {
        using var dir = new TempDirectory();
        var config = TrainConfig.Load(new MemoryStream(System.Text.Encoding.UTF8.GetBytes($$"""
            { "name": "rosen", "model": { "kind": "rosenbrock" }, "problem": { "dimension": 4, "sigma": 0.1, "steps_per_epoch": 20 },
              "training": { "epochs": 3, "batch_size": 1, "seed": 2 },
              "optimizers": [ { "name": "sgd", "lr": 1e6 }, { "name": "adam", "lr": 0.01 } ],
              "output": "{{dir.File("runs").Replace("\\", "\\\\")}}" }
            """)), "test config");
        var log = new StringWriter();
        var result = TrainJob.Run(config, log);
        var sgd = result.Runs[0];
        Assert.That(sgd.DivergedAt, Is.Not.Null, "SGD at lr 1e6 on Rosenbrock must overflow");
        Assert.That(sgd.Steps.All(s => double.IsFinite(s.Loss)), "no NaN or infinity in the records");
        Assert.That(result.Runs[1].DivergedAt, Is.Null);
        Assert.That(result.Runs[1].Steps, Has.Count.EqualTo(60));
        Assert.That(File.ReadAllText(Path.Combine(result.Folder, "summary.md")), Does.Contain($"**diverged at step {sgd.DivergedAt}**"));
        Assert.That(log.ToString(), Does.Contain($"sgd: diverged at step {sgd.DivergedAt}"));
    }
}

public class TrainPlotSmoothingTests
{
    [Test]
    public void TrailingMean_AveragesTheLastWindowValues_AndWhatThereIsAtTheStart()
    {
        var y = new double[] { 1, 2, 3, 4, 5, 6 };
        Assert.That(CudaAdam.Training.Jobs.Reports.TrailingMean(y, 3), Is.EqualTo(new[] { 1, 1.5, 2, 3, 4, 5 }));
        Assert.That(CudaAdam.Training.Jobs.Reports.TrailingMean(y, 1), Is.EqualTo(y), "window 1 is the series itself");
    }
}
