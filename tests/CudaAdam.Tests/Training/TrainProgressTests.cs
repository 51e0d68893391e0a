using CudaAdam.Cli.Commands;
using CudaAdam.Training;
using CudaAdam.Training.Jobs;
using Spectre.Console;

namespace CudaAdam.Tests.Training;

/// <summary>The train job's step-by-step progress: what it reports, and the terminal bars drawn from it.</summary>
public class TrainProgressTests
{
    private static TrainConfig Tiny(string output) => TrainConfig.Load(new MemoryStream(System.Text.Encoding.UTF8.GetBytes($$"""
        { "name": "tiny", "model": { "hidden": [8] }, "data": { "source": "embedded", "train_limit": 120, "test_limit": 60 },
          "training": { "epochs": 2, "batch_size": 40, "seed": 5 },
          "optimizers": [ { "name": "adam" }, { "name": "lion", "lr": 0.0001 } ],
          "output": "{{output.Replace("\\", "\\\\")}}" }
        """)), "test config");

    private sealed class Recorder : ITrainProgress
    {
        public readonly List<string> Events = [];
        public void Begin(string id, long done, long total) => Events.Add($"begin {id} {done}/{total}");
        public void Advance(string id, StepRecord step) => Events.Add($"step {id} {step.Step}");
        public void Epoch(string id, EpochRecord epoch) => Events.Add($"epoch {id} {epoch.Epoch}");
        public void End(string id) => Events.Add($"end {id}");
    }

    [Test]
    public void Job_ReportsEveryStepAndEpochOfEachRun_InOrder()
    {
        using var dir = new TempDirectory();
        var rec = new Recorder();
        TrainJob.Run(Tiny(dir.File("runs")), TextWriter.Null, progress: rec);
        var expected = new List<string>();
        foreach (var id in new[] { "adam", "lion" })
        {
            expected.Add($"begin {id} 0/6");
            for (int s = 1; s <= 6; s++)
            {
                expected.Add($"step {id} {s}");
                if (s % 3 == 0) expected.Add($"epoch {id} {s / 3}");
            }
            expected.Add($"end {id}");
        }
        Assert.That(rec.Events, Is.EqualTo(expected));
    }

    [Test]
    public void ResumedJob_BeginsAtItsCheckpointStep()
    {
        using var dir = new TempDirectory();
        using var cts = new CancellationTokenSource();
        var stopper = new Recorder();
        // Cancel after adam's 4th step: adam is checkpointed at step 4, lion never started.
        var cancelling = new CancelAt(stopper, "adam", 4, cts);
        var cut = TrainJob.Run(Tiny(dir.File("runs")), TextWriter.Null, cancel: cts.Token, progress: cancelling);
        Assert.That(cut.Interrupted, Is.True);
        var rec = new Recorder();
        TrainJob.Resume(cut.Folder, TextWriter.Null, progress: rec);
        Assert.That(rec.Events[0], Is.EqualTo("begin adam 4/6"));
        Assert.That(rec.Events, Does.Contain("begin lion 0/6").And.Contain("end lion"));
    }

    private sealed class CancelAt(ITrainProgress inner, string id, long step, CancellationTokenSource cts) : ITrainProgress
    {
        public void Begin(string i, long d, long t) => inner.Begin(i, d, t);
        public void Advance(string i, StepRecord s)
        {
            inner.Advance(i, s);
            if (i == id && s.Step == step) cts.Cancel();
        }
        public void Epoch(string i, EpochRecord e) => inner.Epoch(i, e);
        public void End(string i) => inner.End(i);
    }

    [Test]
    public void Bars_OnAnInteractiveConsole_ShowEachRunAtItsEnd_AndTheEpochLinesAboveThem()
    {
        using var dir = new TempDirectory();
        var output = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = AnsiSupport.Yes,
            Interactive = InteractionSupport.Yes,
            ColorSystem = ColorSystemSupport.NoColors,
            Out = new AnsiConsoleOutput(output),
        });
        console.Profile.Width = 120;
        var result = TrainProgressBar.Run(console, (progress, log) => TrainJob.Run(Tiny(dir.File("runs")), log, progress: progress));
        Assert.That(result.Interrupted, Is.False);
        // The live display redraws with cursor-movement escapes; what a person sees last is in the plain text.
        string text = System.Text.RegularExpressions.Regex.Replace(output.ToString(), @"\x1b\[[0-9;?]*[A-Za-z]", "");
        Assert.That(text, Does.Contain("adam           step 6/6  loss").And.Contain("lion           step 6/6  loss"));
        Assert.That(text, Does.Contain("100%"));
        Assert.That(text, Does.Contain("adam           epoch 2/2  step 6/6"), "the job's per-epoch lines print too");
    }

    [Test]
    public void Bars_AreNotDrawn_WhenTheOutputIsNotTheConsole()
    {
        Assert.That(TrainProgressBar.Wanted(new StringWriter()), Is.False);
    }
}
