using CudaAdam.Training.Jobs;
using CudaAdam.Training.Tensors;

namespace CudaAdam.Tests.Training;

/// <summary>The JIT warm-up of a CPU job (issue 16): it runs before the timed part, says so in the log, and leaves no
/// trace in the job's numbers.</summary>
public class WarmUpTests
{
    private const string Config = """
        { "name": "warm", "model": { "hidden": [16] }, "data": { "source": "embedded", "train_limit": 100, "test_limit": 50 },
          "training": { "epochs": 1, "batch_size": 50, "seed": 5, "checkpoints": false }, "backend": "cpu",
          "optimizers": [ { "name": "adam" }, { "name": "lion", "lr": 0.0003 }, { "name": "adam", "label": "amsgrad", "amsgrad": true } ] }
        """;

    private static TrainConfig Load(string output)
    {
        var c = TrainConfig.Load(new MemoryStream(System.Text.Encoding.UTF8.GetBytes(Config)), "test config");
        c.Output = output;
        return c;
    }

    [Test]
    public void CpuJob_WarmsUpBeforeItsTimedPart_AndSaysSo()
    {
        using var dir = new TempDirectory();
        var log = new StringWriter();
        TrainJob.Run(Load(dir.File("a")), log);
        string text = log.ToString();
        Assert.That(text, Does.Match(@"  warm-up \d+\.\d\d s \(JIT: 40 untimed steps at batch 8 per algorithm"));
        Assert.That(text.IndexOf("warm-up", StringComparison.Ordinal), Is.LessThan(text.IndexOf("[1/3] adam", StringComparison.Ordinal)));
    }

    [Test]
    public void WarmUp_LeavesTheModelTheJobBuildsUnchanged()
    {
        var config = Load("unused").Resolve();
        var (train, _) = config.Data.Load();
        var before = TrainJob.BuildTrainable(config, Gemm.Default).Parameters.Select(p => (float[])p.Data.Clone()).ToList();
        Assert.That(TrainJob.WarmUp(config, train, Gemm.Default), Is.GreaterThan(TimeSpan.Zero));
        var after = TrainJob.BuildTrainable(config, Gemm.Default).Parameters.Select(p => p.Data).ToList();
        Assert.That(after, Is.EqualTo(before));
    }
}
