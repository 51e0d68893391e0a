using CudaAdam.Device;
using CudaAdam.Tests.Cli;
using CudaAdam.Tests.Kernels;
using CudaAdam.Training.Jobs;

namespace CudaAdam.Tests.Training;

/// <summary>The <c>cudaadam train</c> job's <c>backend</c> key: the device path end to end on the emulator (run,
/// interrupt, resume bitwise), what <c>auto</c> picks, and what the device path refuses.</summary>
public class DeviceTrainJobTests
{
    private const string Config = """
        { "name": "dev", "model": { "hidden": [16] }, "data": { "source": "embedded", "train_limit": 200, "test_limit": 100 },
          "training": { "epochs": 3, "batch_size": 50, "seed": 5 }, "schedule": { "kind": "cosine", "warmup": 3 },
          "optimizers": [ { "name": "adamw" }, { "name": "sgd", "label": "sgd-nesterov", "lr": 0.05, "momentum": 0.9, "nesterov": true } ],
          "backend": "emulator" }
        """;

    private static TrainConfig Load(string output, string json = Config)
    {
        var c = TrainConfig.Load(new MemoryStream(System.Text.Encoding.UTF8.GetBytes(json)), "test config");
        c.Output = output;
        return c;
    }

    private static string[] WithoutWallClock(string path) =>
        File.ReadAllLines(path).Select(l => string.Join(',', l.Split(',')[..^1])).ToArray();

    private sealed class CancelOn(string trigger, CancellationTokenSource cts) : StringWriter
    {
        public override void WriteLine(string? value)
        {
            base.WriteLine(value);
            if (value is not null && value.Contains(trigger, StringComparison.Ordinal)) cts.Cancel();
        }
    }

    [Test]
    public void EmulatorJob_Trains_NamesTheDevice_AndResumesBitwise()
    {
        using (KernelDevices.OpenOrIgnore("emulator")) { }
        using var dir = new TempDirectory();
        var straightLog = new StringWriter();
        var straight = TrainJob.Run(Load(dir.File("a")), straightLog);
        Assert.That(straight.Interrupted, Is.False);
        Assert.That(straightLog.ToString(), Does.Contain("backend emulator: host emulator").And.Contain("GEMM train.cu"));
        Assert.That(File.ReadAllText(Path.Combine(straight.Folder, "summary.md")), Does.Contain("backend emulator: host emulator"));
        foreach (var run in straight.Runs)
            Assert.That(run.Final.TestLoss, Is.LessThan(run.Epochs[0].TestLoss), $"{run.Config.Id}: the test loss falls");

        using var cts = new CancellationTokenSource();
        var log = new CancelOn("sgd-nesterov   epoch 1/3", cts);
        var cut = TrainJob.Run(Load(dir.File("b")), log, cancel: cts.Token);
        Assert.That(cut.Interrupted, Is.True);
        Assert.That(cut.Runs.Select(r => r.Steps.Count), Is.EqualTo(new[] { 12, 4 }));
        var r = CliRunner.Invoke("train", "--resume", cut.Folder);
        Assert.That(r.Code, Is.EqualTo(0), r.ToString());
        Assert.That(r.Out, Does.Contain("sgd-nesterov: resumed from its checkpoint at step 4 of 12"));
        foreach (var csv in new[] { "steps.csv", "epochs.csv" })
            Assert.That(WithoutWallClock(Path.Combine(cut.Folder, csv)), Is.EqualTo(WithoutWallClock(Path.Combine(straight.Folder, csv))), csv);
    }

    [Test]
    public void DevicePath_RunsTheCnn_AndRefusesNAdam_SayingWhatToUse()
    {
        using (KernelDevices.OpenOrIgnore("emulator")) { }
        using var dir = new TempDirectory();
        var cnn = Load(dir.File("runs"), Config.Replace("\"hidden\": [16]", "\"kind\": \"cnn\"")).Resolve();
        using (var device = TrainJob.OpenDevice(cnn, out string description))
        {
            Assert.That(device, Is.Not.Null, "the cnn runs on a device backend");
            Assert.That(description, Does.Not.Contain("CPU only"));
        }
        var nadam = Load(dir.File("runs"), Config.Replace("\"name\": \"adamw\"", "\"name\": \"nadam\"")).Resolve();
        var e = Assert.Throws<ConfigException>(() => TrainJob.OpenDevice(nadam, out _));
        Assert.That(e!.Message, Does.Contain("nadam"));

        cnn.Backend = "auto";
        using (var auto = TrainJob.OpenDevice(cnn, out string why))
        {
            if (DeviceBackends.Unavailable("cuda") is not null)
            {
                Assert.That(auto, Is.Null);
                Assert.That(why, Does.StartWith("cpu (auto: no GPU: "), "auto takes the GPU for the cnn when there is one");
            }
            else Assert.That(why, Does.StartWith("cuda (auto): "));
        }
    }

    [Test]
    public void AFailedStartLeavesNoRunFolder_AndAFolderWithRecordsStays()
    {
        using var dir = new TempDirectory();
        // nadam on a device backend fails at the start on every machine (the device-resident step does not run it), as
        // --backend cuda does on a machine without a GPU: after config.json was written, before anything ran.
        var nadam = Load(dir.File("runs"), Config.Replace("\"name\": \"adamw\"", "\"name\": \"nadam\""));
        var e = Assert.Throws<ConfigException>(() => TrainJob.Run(nadam, TextWriter.Null));
        Assert.That(e!.Message, Does.Contain("nadam"));
        Assert.That(Directory.Exists(dir.File("runs")) ? Directory.GetFileSystemEntries(dir.File("runs")) : [], Is.Empty,
            "a failed start must not leave a run folder holding only config.json");

        var kept = Directory.CreateDirectory(dir.File("kept")).FullName;
        File.WriteAllText(Path.Combine(kept, "config.json"), "{}");
        File.WriteAllText(Path.Combine(kept, "steps.csv"), "optimizer,step\n");
        TrainJob.RemoveIfNothingRan(kept);
        Assert.That(File.Exists(Path.Combine(kept, "steps.csv")), Is.True, "a folder with records is never removed");
    }

    [Test]
    public void Auto_IsTheEmbeddedDefault_AndPicksTheGpuOnlyWhenOneOpens()
    {
        var d = TrainConfig.Default().Resolve();
        Assert.That(d.Backend, Is.EqualTo("auto"));
        using var device = TrainJob.OpenDevice(d, out string description);
        if (DeviceBackends.Unavailable("cuda") is { } reason)
        {
            Assert.That(device, Is.Null);
            Assert.That(description, Does.StartWith("cpu (auto: no GPU: ").And.Contain("fast CPU step: fused SIMD step"),
                "the log says which CPU path runs");
        }
        else
        {
            Assert.That(device, Is.Not.Null);
            Assert.That(description, Does.StartWith("cuda (auto): "));
        }
        d.Backend = "cpu";
        using (var none = TrainJob.OpenDevice(d, out string cpu)) Assert.That(cpu, Does.StartWith("cpu"));
    }

    [Test]
    public void UnknownBackend_IsAUsageError_ListingTheKnownOnes()
    {
        using var dir = new TempDirectory();
        File.WriteAllText(dir.File("c.json"), Config.Replace("\"emulator\"", "\"tpu\""));
        var r = CliRunner.Invoke("train", dir.File("c.json"));
        Assert.That(r.Code, Is.EqualTo(2));
        Assert.That(r.Err, Does.Contain("unknown backend 'tpu'").And.Contain("cpu, emulator, cuda, auto"));
        r = CliRunner.Invoke("train", dir.File("c.json"), "--backend", "cpu", "--epochs", "zero");
        Assert.That(r.Code, Is.EqualTo(2));
        Assert.That(r.Err, Does.Contain("--epochs: 'zero'"));
    }
}
