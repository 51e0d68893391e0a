using System.Globalization;
using System.Text;
using CudaAdam.IO;
using CudaAdam.Training.Data;
using CudaAdam.Training.Layers;
using CudaAdam.Training.Models;
using CudaAdam.Training.Tensors;

namespace CudaAdam.Training.Jobs;

/// <summary>One optimizer's run in a job: its config, the per-step and per-epoch records, and the final numbers.</summary>
public sealed record OptimizerRun(OptimizerConfig Config, IReadOnlyList<StepRecord> Steps, IReadOnlyList<EpochRecord> Epochs,
    IReadOnlyList<string> Warnings)
{
    public EpochRecord Final => Epochs[^1];
    public EpochRecord Best => Epochs.Where(e => e.Epoch > 0).MaxBy(e => e.TestAccuracy)!;
}

/// <summary>What <see cref="TrainJob.Run"/> produced: the run folder, its files, and every optimizer's run.</summary>
public sealed record TrainResult(string Folder, IReadOnlyList<string> Files, IReadOnlyList<OptimizerRun> Runs);

/// <summary>
/// The <c>cudaadam train</c> job: trains one model (<see cref="ModelConfig"/>) on Fashion-MNIST with each configured
/// optimizer from the same initial weights, on the same minibatches and dropout masks, then writes a run folder:
/// <c>config.json</c> (resolved), <c>steps.csv</c>, <c>epochs.csv</c>, <c>loss_vs_step.png</c>,
/// <c>loss_vs_time.png</c>, <c>test_accuracy.png</c>, <c>summary.md</c>, and <c>checkpoints/&lt;label&gt;.ckpt</c>.
/// Every file is written atomically.
/// </summary>
public static class TrainJob
{
    /// <summary>Runs <paramref name="config"/> (resolved here) and writes the run folder; progress goes to <paramref name="log"/>.</summary>
    /// <exception cref="ConfigException">The config is invalid.</exception>
    /// <exception cref="FileNotFoundException">The data set is missing (the message names the Debian package).</exception>
    public static TrainResult Run(TrainConfig config, TextWriter log, DateTime? now = null)
    {
        config.Resolve();
        var (train, test) = config.Data.Load();
        string folder = CreateRunFolder(config, now ?? DateTime.UtcNow);
        var gemm = Gemm.Default;
        var inv = CultureInfo.InvariantCulture;
        log.WriteLine($"cudaadam train: {config.Name}");
        log.WriteLine(string.Create(inv, $"  data   {train.Name}: {train.Count} train, {test.Count} test images"));
        log.WriteLine($"  model  {Describe(config, gemm)}");
        log.WriteLine(string.Create(inv,
            $"  train  {config.Training.Epochs} epochs, batch {config.Training.BatchSize}, schedule {DescribeSchedule(config.Schedule)}, seed {config.Training.Seed}, backend {config.Backend}"));
        log.WriteLine($"  output {folder}");
        AtomicFile.WriteAllText(Path.Combine(folder, "config.json"), config.ToJson() + "\n");

        var runs = new List<OptimizerRun>();
        for (int i = 0; i < config.Optimizers!.Length; i++)
        {
            var oc = config.Optimizers[i];
            log.WriteLine($"[{i + 1}/{config.Optimizers.Length}] {oc.Id}: {DescribeHyperparameters(oc)}");
            runs.Add(RunOne(config, oc, train, test, gemm, folder, log, laterRuns: config.Optimizers.Length - i - 1));
        }

        var files = new List<string> { "config.json" };
        files.AddRange(Reports.WriteCsv(folder, runs));
        files.AddRange(Reports.WritePlots(folder, config, runs));
        files.Add(Reports.WriteSummary(folder, config, train, test, Describe(config, gemm), runs));
        if (config.Training.Checkpoints) files.AddRange(runs.Select(r => Path.Combine("checkpoints", r.Config.Id + ".ckpt")));
        return new TrainResult(folder, files, runs);
    }

    /// <summary>Builds the model of <paramref name="config"/> with the seed's initialization and dropout streams.</summary>
    public static (Sequential Model, Rng? Dropout) BuildModel(TrainConfig config, IGemm gemm)
    {
        ulong seed = config.Training.Seed;
        var init = Rng.ForStream(seed, 0);
        if (config.Model.Kind == "logreg") return (ModelZoo.LogisticRegression(FashionMnist.Features, FashionMnist.Classes, init, gemm), null);
        var dropout = Rng.ForStream(seed, 2);
        var model = ModelZoo.Mlp(FashionMnist.Features, config.Model.Hidden!, FashionMnist.Classes, config.Model.Dropout,
            config.Model.InputDropout, init, dropout, gemm);
        return (model, model.Dropouts.Any() ? dropout : null);
    }

    private static OptimizerRun RunOne(TrainConfig config, OptimizerConfig oc, Dataset train, Dataset test, IGemm gemm, string folder,
        TextWriter log, int laterRuns)
    {
        var (model, dropout) = BuildModel(config, gemm);
        IStepBackend backend;
        try { backend = Backends.Create(config.Backend); }
        catch (Exception e) when (e is ArgumentException or BackendUnavailableException) { throw new ConfigException($"backend: {e.Message}", e); }
        using var optimizer = new Optimizer(oc.Algorithm, [new ParamGroup(model.Parameters, oc.Hyperparameters())], backend);
        var options = new TrainerOptions { Epochs = config.Training.Epochs, BatchSize = config.Training.BatchSize, Schedule = config.Schedule.ToSchedule() };
        var trainer = new Trainer(model, optimizer, train, test, options, Rng.ForStream(config.Training.Seed, 1), dropout);
        var steps = new List<StepRecord>();
        var (loss0, acc0) = trainer.Evaluate(test);
        var epochs = new List<EpochRecord> { new(0, 0, double.NaN, double.NaN, loss0, acc0, 0) };
        string? ckptDir = config.Training.Checkpoints ? Directory.CreateDirectory(Path.Combine(folder, "checkpoints")).FullName : null;
        trainer.Run(steps.Add, e =>
        {
            epochs.Add(e);
            if (ckptDir is not null) Checkpoint.Save(Path.Combine(ckptDir, oc.Id + ".ckpt"), trainer);
        }, log, label: $"  {oc.Id,-14} ", laterSteps: laterRuns * trainer.TotalSteps);
        foreach (var w in optimizer.Warnings) log.WriteLine($"  {oc.Id}: warning: {w}");
        return new OptimizerRun(oc, steps, epochs, optimizer.Warnings.ToArray());
    }

    private static string CreateRunFolder(TrainConfig config, DateTime now)
    {
        string root = Path.GetFullPath(config.Output);
        string stamp = now.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture);
        for (int i = 0; ; i++)
        {
            string path = Path.Combine(root, $"{stamp}-{config.Name}{(i == 0 ? "" : "-" + i)}");
            if (Directory.Exists(path)) continue;
            Directory.CreateDirectory(path);
            return path;
        }
    }

    internal static string Describe(TrainConfig config, IGemm gemm)
    {
        var (model, _) = BuildModel(config, gemm);
        return string.Create(CultureInfo.InvariantCulture,
            $"{config.Model.Kind}: {model.Describe()} ({model.ParameterCount:N0} parameters, GEMM {gemm.Name})");
    }

    internal static string DescribeSchedule(ScheduleConfig s) => s.Kind switch
    {
        "constant" or "inv-sqrt-t" => s.Kind,
        "step" => FormattableString.Invariant($"step (x{s.Gamma} every {s.StepSize} steps)"),
        "inverse-sqrt" => FormattableString.Invariant($"inverse-sqrt (warmup {s.Warmup})"),
        _ => FormattableString.Invariant($"{s.Kind} (warmup {s.Warmup}, final factor {s.Final})"),
    };

    internal static string DescribeHyperparameters(OptimizerConfig oc)
    {
        var h = oc.Hyperparameters();
        var sb = new StringBuilder(FormattableString.Invariant($"{oc.Name} lr {h.Lr}"));
        if (Hyperparameters.UsesBetas(oc.Algorithm)) sb.Append(FormattableString.Invariant($", betas ({h.Beta1}, {h.Beta2})"));
        if (Hyperparameters.HasSecondMoment(oc.Algorithm)) sb.Append(FormattableString.Invariant($", eps {h.Eps}"));
        if (h.WeightDecay != 0) sb.Append(FormattableString.Invariant($", weight decay {h.WeightDecay}"));
        if (h.Amsgrad) sb.Append(", amsgrad");
        if (h.Momentum != 0) sb.Append(FormattableString.Invariant($", momentum {h.Momentum}"));
        if (h.Nesterov) sb.Append(", nesterov");
        return sb.ToString();
    }
}
