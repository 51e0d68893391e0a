using CudaAdam.Tests.Cli;
using CudaAdam.Training.Jobs;

namespace CudaAdam.Tests.Training;

public class TrainResumeTests
{
    private const string Config = """
        { "name": "resume", "model": { "hidden": [16] }, "data": { "source": "embedded", "train_limit": 200, "test_limit": 100 },
          "training": { "epochs": 3, "batch_size": 50, "seed": 5 }, "schedule": { "kind": "cosine", "warmup": 3 },
          "optimizers": [ { "name": "adamw" }, { "name": "lion", "lr": 0.0003 }, { "name": "adam", "label": "amsgrad", "amsgrad": true } ] }
        """;

    private static TrainConfig Load(string output)
    {
        var c = TrainConfig.Load(new MemoryStream(System.Text.Encoding.UTF8.GetBytes(Config)), "test config");
        c.Output = output;
        return c;
    }

    /// <summary>The CSV without the wall-clock column (the only thing a resume may change).</summary>
    private static string[] WithoutWallClock(string path) =>
        File.ReadAllLines(path).Select(l => string.Join(',', l.Split(',')[..^1])).ToArray();

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
    public void InterruptedJob_ResumedFromItsCheckpoints_GivesTheSameNumbersAsAnUninterruptedOne()
    {
        using var dir = new TempDirectory();
        var straight = TrainJob.Run(Load(dir.File("a")), TextWriter.Null);
        Assert.That(straight.Interrupted, Is.False);

        using var cts = new CancellationTokenSource();
        var log = new CancelOn("lion           epoch 1/3", cts);
        var cut = TrainJob.Run(Load(dir.File("b")), log, cancel: cts.Token);
        Assert.That(cut.Interrupted, Is.True);
        Assert.That(log.ToString(), Does.Contain("interrupted: checkpoints saved; continue with: cudaadam train --resume"));
        Assert.That(cut.Runs.Select(r => r.Steps.Count), Is.EqualTo(new[] { 12, 4 }), "adamw done, lion stopped after epoch 1, amsgrad not started");
        Assert.That(File.Exists(Path.Combine(cut.Folder, "summary.md")), Is.False, "no summary for an unfinished job");

        var r = CliRunner.Invoke("train", "--resume", cut.Folder);
        Assert.That(r.Code, Is.EqualTo(0), r.ToString());
        Assert.That(r.Out, Does.Contain("adamw: resumed from its checkpoint at step 12 of 12").And.Contain("lion: resumed from its checkpoint at step 4 of 12"));

        foreach (var csv in new[] { "steps.csv", "epochs.csv" })
            Assert.That(WithoutWallClock(Path.Combine(cut.Folder, csv)), Is.EqualTo(WithoutWallClock(Path.Combine(straight.Folder, csv))), csv);
        Assert.That(File.Exists(Path.Combine(cut.Folder, "summary.md")));
    }

    [Test]
    public void Resume_OfAFolderWithoutConfig_IsAUsageError()
    {
        using var dir = new TempDirectory();
        var r = CliRunner.Invoke("train", "--resume", dir.Path);
        Assert.That(r.Code, Is.EqualTo(2));
        Assert.That(r.Err, Does.Contain("is not a run folder of cudaadam train"));
        r = CliRunner.Invoke("train", "x.json", "--resume", dir.Path);
        Assert.That(r.Code, Is.EqualTo(2));
        Assert.That(r.Err, Does.Contain("--resume RUNFOLDER takes neither a config nor --output"));
    }
}
