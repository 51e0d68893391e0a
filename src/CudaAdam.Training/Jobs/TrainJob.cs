#pragma warning disable CS1591 // CS1591 backlog (issue 13): 1 public members here have no XML doc yet; document them, then delete this line
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using CudaAdam.Cuda;
using CudaAdam.Device;
using CudaAdam.IO;
using CudaAdam.Problems;
using CudaAdam.Training.Device;
using CudaAdam.Training.Data;
using CudaAdam.Training.Layers;
using CudaAdam.Training.Models;
using CudaAdam.Training.Tensors;

namespace CudaAdam.Training.Jobs;

/// <summary>One optimizer's run in a job: its config, the per-step and per-epoch records (epoch 0: before training),
/// and the final numbers.</summary>
/// <param name="Config">The optimizer's config.</param>
/// <param name="Steps">One record per step taken.</param>
/// <param name="Epochs">One record per epoch, epoch 0 before training.</param>
/// <param name="Warnings">The optimizer's warnings (e.g. β1 ≥ sqrt(β2)).</param>
/// <param name="DivergedAt">The step at which the minibatch loss or a gradient was NaN or infinite and the run stopped
/// (its records end before it; see <see cref="TrainingDivergedException"/>), or null.</param>
/// <param name="DivergedBecause">What was not finite at <paramref name="DivergedAt"/>
/// (<see cref="TrainingDivergedException.Reason"/>), or null.</param>
public sealed record OptimizerRun(OptimizerConfig Config, IReadOnlyList<StepRecord> Steps, IReadOnlyList<EpochRecord> Epochs,
    IReadOnlyList<string> Warnings, long? DivergedAt = null, string? DivergedBecause = null)
{
    public EpochRecord Final => Epochs[^1];
    /// <summary>The epoch with the highest test accuracy, or for a model without accuracy (the VAE) the lowest test loss.</summary>
    public EpochRecord Best
    {
        get
        {
            var trained = Epochs.Where(e => e.Epoch > 0).DefaultIfEmpty(Epochs[0]).ToArray();
            return trained.All(e => double.IsNaN(e.TestAccuracy))
                ? trained.MinBy(e => double.IsNaN(e.TestLoss) ? double.PositiveInfinity : e.TestLoss)!
                : trained.MaxBy(e => e.TestAccuracy)!;
        }
    }
}

/// <summary>What <see cref="TrainJob.Run"/> produced: the run folder, its files, every optimizer's run, and whether
/// it was interrupted (then <see cref="TrainJob.Resume"/> continues it).</summary>
public sealed record TrainResult(string Folder, IReadOnlyList<string> Files, IReadOnlyList<OptimizerRun> Runs, bool Interrupted);

/// <summary>
/// The <c>cudaadam train</c> job: trains one model (<see cref="ModelConfig"/>) on Fashion-MNIST with each configured
/// optimizer from the same initial weights, on the same minibatches and dropout masks, and writes a run folder:
/// <c>config.json</c> (resolved), <c>steps.csv</c> and <c>epochs.csv</c> (rewritten after every epoch),
/// <c>checkpoints/&lt;label&gt;.ckpt</c> (every epoch), and at the end <c>loss_vs_step.png</c>,
/// <c>loss_vs_time.png</c>, <c>test_accuracy.png</c> and <c>summary.md</c>. Every file is written atomically.
/// An interrupted job (cancellation, a crash) continues with <see cref="Resume"/> from the last checkpoints, and
/// its numbers are bitwise those of an uninterrupted job (wall-clock times aside).
/// </summary>
public static class TrainJob
{
    /// <summary>Runs <paramref name="config"/> (resolved here) in a new run folder; progress goes to <paramref name="log"/>.</summary>
    /// <param name="config">The job.</param>
    /// <param name="log">Progress lines.</param>
    /// <param name="now">The time that names the run folder (UTC now when null).</param>
    /// <param name="cancel">Stops at the next step: the run is checkpointed and the result says it was interrupted.</param>
    /// <param name="progress">Step-by-step progress (a progress bar), besides the per-epoch lines in <paramref name="log"/>.</param>
    /// <exception cref="ConfigException">The config is invalid.</exception>
    /// <exception cref="FileNotFoundException">The data set is missing (the message names the Debian package).</exception>
    public static TrainResult Run(TrainConfig config, TextWriter log, DateTime? now = null, CancellationToken cancel = default,
        ITrainProgress? progress = null)
    {
        config.Resolve();
        var start = now ?? DateTime.UtcNow;
        if (config.Model.IsProblem)
            return InNewRunFolder(config, start, folder =>
                ExecuteProblem(config, folder, new Dictionary<string, (List<StepRecord>, List<EpochRecord>)>(), log, cancel, progress));
        var (train, test) = config.Data.Load();
        return InNewRunFolder(config, start, folder =>
            Execute(config, folder, train, test, new Dictionary<string, (List<StepRecord>, List<EpochRecord>)>(), log, cancel, progress));
    }

    /// <summary>
    /// Runs <paramref name="job"/> in a new, locked run folder that holds config.json. When the job fails before it
    /// wrote anything else (a backend that does not open, a model the device path does not run), the folder goes again:
    /// a failed start leaves no run folder behind, and the error says why.
    /// </summary>
    private static TrainResult InNewRunFolder(TrainConfig config, DateTime now, Func<string, TrainResult> job)
    {
        string folder = CreateRunFolder(config, now);
        try
        {
            using var folderLock = RunFolderLock.Acquire(folder);
            AtomicFile.WriteAllText(Path.Combine(folder, "config.json"), config.ToJson() + "\n");
            return job(folder);
        }
        catch
        {
            RemoveIfNothingRan(folder);   // the lock is released by now: the using ended before this block
            throw;
        }
    }

    /// <summary>Deletes <paramref name="folder"/> when it holds only what a start writes (config.json and the lock
    /// files); a folder with any record, checkpoint or plot stays as it is.</summary>
    internal static void RemoveIfNothingRan(string folder)
    {
        string[] startFiles = ["config.json", ".lock", ".lock.pid"];
        try
        {
            if (Directory.EnumerateFileSystemEntries(folder).Any(e => !startFiles.Contains(Path.GetFileName(e)))) return;
            Directory.Delete(folder, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
    }

    /// <summary>
    /// Continues the job in <paramref name="folder"/> (made by <see cref="Run"/>): its config.json, the records in its
    /// CSVs up to each optimizer's last checkpoint, and the checkpoints. Optimizers without a checkpoint start over
    /// (saying so); a checkpoint is never discarded: when the CSVs lack the records before it, the resume is refused.
    /// The folder is locked for the resume (<see cref="RunFolderLock"/>).
    /// </summary>
    /// <exception cref="ConfigException">The folder is not a run folder, its checkpoints were switched off, or its
    /// records and checkpoints disagree (the message says how).</exception>
    /// <exception cref="CheckpointException">A checkpoint is corrupt, does not match the config (the message names the
    /// field) or holds a state no run can reach.</exception>
    /// <exception cref="RunFolderLockedException">Another process writes the folder.</exception>
    public static TrainResult Resume(string folder, TextWriter log, CancellationToken cancel = default, ITrainProgress? progress = null)
    {
        folder = Path.GetFullPath(folder);
        string configPath = Path.Combine(folder, "config.json");
        if (!File.Exists(configPath))
            throw new ConfigException($"'{folder}' is not a run folder of cudaadam train: it has no config.json");
        var config = TrainConfig.Load(configPath).Resolve();
        if (!config.Training.Checkpoints)
            throw new ConfigException($"the run in '{folder}' was made with \"checkpoints\": false, so it cannot be resumed; start it again");
        using var folderLock = RunFolderLock.Acquire(folder);
        if (config.Model.IsProblem)
        {
            log.WriteLine($"resuming {folder}");
            return ExecuteProblem(config, folder, Reports.ReadCsv(folder), log, cancel, progress);
        }
        var (train, test) = config.Data.Load();
        var records = Reports.ReadCsv(folder);
        log.WriteLine($"resuming {folder}");
        return Execute(config, folder, train, test, records, log, cancel, progress);
    }

    private static TrainResult Execute(TrainConfig config, string folder, Dataset train, Dataset test,
        Dictionary<string, (List<StepRecord> Steps, List<EpochRecord> Epochs)> previous, TextWriter log, CancellationToken cancel,
        ITrainProgress? progress)
    {
        var gemm = Gemm.Default;
        var inv = CultureInfo.InvariantCulture;
        using var device = OpenDevice(config, out string backend);
        log.WriteLine($"cudaadam train: {config.Name}");
        log.WriteLine(string.Create(inv, $"  data   {train.Name}: {train.Count} train, {test.Count} test images"));
        string gemmName = device is null ? gemm.Name : device is CudaDevice ? "cublas" : "train.cu";
        string model = Describe(config, gemm, gemmName); // builds the model once more: describe it once per job
        log.WriteLine($"  model  {model}");
        log.WriteLine(string.Create(inv,
            $"  train  {config.Training.Epochs} epochs, batch {config.Training.BatchSize}, schedule {DescribeSchedule(config.Schedule)}{DescribeClipping(config)}, seed {config.Training.Seed}"));
        log.WriteLine($"  backend {backend}");
        log.WriteLine($"  output {folder}");

        if (device is null)
            log.WriteLine(string.Create(inv,
                $"  warm-up {WarmUp(config, train, gemm).TotalSeconds:F2} s (JIT: {WarmUpSteps} untimed steps at batch {WarmUpBatch} per algorithm on a throwaway model; not in the wall-clock times)"));
        var (runs, files, interrupted) = RunEach(config, folder, log,
            (OptimizerConfig oc, int i, IReadOnlyList<OptimizerRun> done, out bool stop) =>
                RunOne(config, oc, train, test, gemm, device, folder, log, config.Optimizers!.Length - i - 1, done,
                    previous.GetValueOrDefault(oc.Id), cancel, progress, out stop));
        if (interrupted) return new TrainResult(folder, files, runs, Interrupted: true);
        files.AddRange(Reports.WritePlots(folder, config, runs));
        files.Add(Reports.WriteSummary(folder, config, train, test, model, runs, backend));
        return new TrainResult(folder, files, runs, Interrupted: false);
    }

    /// <summary>A problem run: each optimizer from the problem's x0 with the same generator seed (the same minibatch order
    /// and, where the noise does not depend on x, the same noise), CSVs and a checkpoint after every epoch (and on
    /// cancellation), plots and summary at the end. <paramref name="previous"/> holds the records of a resumed job.</summary>
    private static TrainResult ExecuteProblem(TrainConfig config, string folder,
        Dictionary<string, (List<StepRecord> Steps, List<EpochRecord> Epochs)> previous, TextWriter log, CancellationToken cancel,
        ITrainProgress? progress)
    {
        var inv = CultureInfo.InvariantCulture;
        var problem = config.Problem!.Create(config.Model.Kind);
        int stepsPerEpoch = ProblemObjective.StepsPerEpochOf(problem, Options(config));
        log.WriteLine($"cudaadam train: {config.Name}");
        log.WriteLine($"  problem {problem.Description}");
        log.WriteLine(string.Create(inv,
            $"  train   {config.Training.Epochs} epochs of {stepsPerEpoch} steps, batch {config.Training.BatchSize}, schedule {DescribeSchedule(config.Schedule)}{DescribeClipping(config)}, seed {config.Training.Seed}, backend {config.Backend}"));
        log.WriteLine($"  output  {folder}");

        var (runs, files, interrupted) = RunEach(config, folder, log,
            (OptimizerConfig oc, int i, IReadOnlyList<OptimizerRun> done, out bool stop) =>
                RunProblem(config, oc, problem, folder, log, config.Optimizers!.Length - i - 1, done, previous.GetValueOrDefault(oc.Id), cancel,
                    progress, out stop));
        if (interrupted) return new TrainResult(folder, files, runs, Interrupted: true);
        files.AddRange(Reports.WritePlots(folder, config, runs));
        files.Add(Reports.WriteProblemSummary(folder, config, problem, stepsPerEpoch, runs));
        return new TrainResult(folder, files, runs, Interrupted: false);
    }

    private static TrainerOptions Options(TrainConfig config) => new()
    {
        Epochs = config.Training.Epochs, BatchSize = config.Training.BatchSize, StepsPerEpoch = config.Problem?.StepsPerEpoch,
        Scheduler = config.Schedule.ToScheduler(),
    };

    /// <summary>The trainer options of optimizer <paramref name="oc"/>'s run on <paramref name="backend"/> (cpu,
    /// emulator or cuda), with what identifies the run besides what the trainer sees (<see cref="TrainerOptions.Run"/>):
    /// the seed, the data source and limits, the backend, and every setting of this optimizer's run that is not at its default
    /// (<see cref="ConfigFingerprint"/>). Tests build the same trainer to read a
    /// run's checkpoint.</summary>
    internal static TrainerOptions Options(TrainConfig config, OptimizerConfig oc, string backend)
    {
        var inv = CultureInfo.InvariantCulture;
        var run = new List<(string Field, string Value)> { ("seed", config.Training.Seed.ToString(inv)) };
        if (!config.Model.IsProblem)
        {
            run.Add(("data source", config.Data.Source));
            run.Add(("train limit", config.Data.TrainLimit?.ToString(inv) ?? "all"));
            run.Add(("test limit", config.Data.TestLimit?.ToString(inv) ?? "all"));
        }
        run.Add(("backend", backend));
        run.Add(("config", ConfigFingerprint(config, oc)));
        // Schedule-Free replaces the lr schedule (its averaging is the schedule; warmup is its own warmup_steps).
        var options = Options(config) with { Run = run };
        return oc.ScheduleFree ? options with { Scheduler = null } : options;
    }

    /// <summary>What of the config decides optimizer <paramref name="oc"/>'s run, as compact JSON: the resolved config
    /// without its name, output folder and the other optimizers, keeping only the values that differ from their defaults
    /// (those of a config of the same model kind and algorithm that gives nothing else). So a key that a later build adds
    /// to the schema at its default, and a key given explicitly at its default, leave it unchanged: a checkpoint resumes
    /// across builds as long as the run's settings are the same. A checkpoint compares it field by field on load and
    /// names the first path that differs (<see cref="Checkpoint"/>).</summary>
    internal static string ConfigFingerprint(TrainConfig config, OptimizerConfig oc)
    {
        static JsonObject Mine(TrainConfig c, OptimizerConfig o)
        {
            var json = JsonNode.Parse(c.ToJson())!.AsObject();
            json.Remove("name");
            json.Remove("output");
            json["optimizers"] = new JsonArray(json["optimizers"]!.AsArray()[Array.IndexOf(c.Optimizers!, o)]!.DeepClone());
            return json;
        }
        var defaults = TrainConfig.Defaults(config.Model.Kind, oc.Name);
        var json = Mine(config, oc);
        Prune(json, Mine(defaults, defaults.Optimizers![0]));
        return json.ToJsonString();

        // Removes from a what equals b's at the same path (objects and arrays of equal length, element by element).
        static void Prune(JsonNode a, JsonNode? b)
        {
            if (a is JsonObject o && b is JsonObject d)
                foreach (var (key, value) in o.ToArray())
                {
                    if (!d.TryGetPropertyValue(key, out var dv)) continue;
                    if (JsonNode.DeepEquals(value, dv)) { o.Remove(key); continue; }
                    if (value is JsonObject or JsonArray) Prune(value, dv);
                }
            else if (a is JsonArray x && b is JsonArray y && x.Count == y.Count && x.All(e => e is JsonObject))
                for (int i = 0; i < x.Count; i++) Prune(x[i]!, y[i]);
        }
    }

    /// <summary>Where a problem run's optimizer step runs: the config's backend, auto meaning cpu.</summary>
    internal static string ProblemBackend(TrainConfig config) =>
        config.Backend.Equals("auto", StringComparison.OrdinalIgnoreCase) ? "cpu" : config.Backend.ToLowerInvariant();

    /// <summary>One optimizer of a problem run: from x0, or from its checkpoint (a resume).</summary>
    private static OptimizerRun RunProblem(TrainConfig config, OptimizerConfig oc, IStochasticProblem problem, string folder, TextWriter log,
        int laterRuns, IReadOnlyList<OptimizerRun> done, (List<StepRecord> Steps, List<EpochRecord> Epochs) previous, CancellationToken cancel,
        ITrainProgress? progress, out bool interrupted)
    {
        // A problem's gradient is computed on the host; the backend is where the optimizer step runs (cpu: the
        // reference; emulator, cuda: the fused kernel). auto means cpu here: a step on a d ≤ 100 vector gains nothing
        // from a GPU.
        string stepBackend = ProblemBackend(config);
        IStepBackend backend;
        try { backend = Backends.Create(stepBackend); }
        catch (Exception e) when (e is ArgumentException or BackendUnavailableException) { throw new ConfigException($"backend: {e.Message}", e); }
        var x = new Parameter("x", problem.InitialPoint());
        using var optimizer = new Optimizer(oc.Algorithm, [new ParamGroup([x], oc.Hyperparameters())], backend);
        optimizer.MaxGradNorm = config.Training.MaxGradNorm;
        var trainer = new Trainer(problem, optimizer, x, Options(config, oc, stepBackend), Rng.ForStream(config.Training.Seed, 1));
        return RunTrainer(config, oc, trainer, folder, log, laterRuns, Math.Max(1, config.Training.Epochs / 10), done, previous, cancel, progress,
            out interrupted);
    }

    /// <summary>Builds the model of <paramref name="config"/> with its loss: a <see cref="Classifier"/> (mlp, logreg,
    /// cnn; <see cref="BuildModel"/>) or the VAE's <see cref="VaeObjective"/> (initialization stream 0, training noise
    /// stream 2, evaluation noise stream 3 of the seed).</summary>
    public static ITrainable BuildTrainable(TrainConfig config, IGemm gemm)
    {
        if (config.Model.Kind != "vae")
        {
            var (model, dropout) = BuildModel(config, gemm);
            return new Classifier(model, dropout);
        }
        ulong seed = config.Training.Seed;
        var vae = new Vae(FashionMnist.Features, config.Model.Hidden![0], config.Model.Latent!.Value, Rng.ForStream(seed, 0), gemm);
        return new VaeObjective(vae, Rng.ForStream(seed, 2), Rng.ForStream(seed, 3));
    }

    /// <summary>Builds the classifier of <paramref name="config"/> with the seed's initialization and dropout streams
    /// (every kind but <c>vae</c>: use <see cref="BuildTrainable"/>).</summary>
    public static (Sequential Model, Rng? Dropout) BuildModel(TrainConfig config, IGemm gemm)
    {
        if (config.Model.Kind == "vae")
            throw new ArgumentException("the vae is not a Sequential classifier: build it with TrainJob.BuildTrainable");
        ulong seed = config.Training.Seed;
        var init = Rng.ForStream(seed, 0);
        if (config.Model.Kind == "logreg") return (ModelZoo.LogisticRegression(FashionMnist.Features, FashionMnist.Classes, init, gemm), null);
        if (config.Model.Kind == "cnn") return (ModelZoo.Cnn(28, 28, FashionMnist.Classes, init, gemm), null);
        var dropout = Rng.ForStream(seed, 2);
        var model = ModelZoo.Mlp(FashionMnist.Features, config.Model.Hidden!, FashionMnist.Classes, config.Model.Dropout,
            config.Model.InputDropout, init, dropout, gemm);
        return (model, model.Dropouts.Any() ? dropout : null);
    }

    /// <summary>
    /// Where the job trains, from <see cref="TrainConfig.Backend"/>: <c>cpu</c> → null (CPU layers, the fast CPU step of <see cref="CudaAdam.Cpu.CpuSimdBackend"/>);
    /// <c>emulator</c> / <c>cuda</c> → that device (layers and fused step on it: <see cref="DeviceEngine"/>);
    /// <c>auto</c> → the GPU when one opens, else null. <paramref name="description"/> names the choice for the log and
    /// the summary.
    /// </summary>
    /// <exception cref="ConfigException">A device backend that is unavailable, or a model or optimizer the device path
    /// does not run (vae, nadam).</exception>
    public static IDevice? OpenDevice(TrainConfig config, out string description)
    {
        string name = config.Backend.ToLowerInvariant();
        string? cpuOnly = config.Model.Kind == "vae" ? "the vae's layers and loss run on the CPU only"
            : config.Optimizers?.FirstOrDefault(o => o.Algorithm == Algorithm.NAdam) is { } nadam
                ? $"optimizer '{nadam.Id}' is nadam, which the device-resident step does not run"
            : config.Optimizers?.FirstOrDefault(o => o.Hyperparameters().StateBits == 8) is { } state8
                ? $"optimizer '{state8.Id}' keeps 8-bit state (state_bits = 8), which the device-resident step does not run"
            : config.Optimizers?.FirstOrDefault(o => o.Algorithm.Info().ClockRefusal?.Invoke(o.Hyperparameters()) is not null) is { } noClock
                ? $"optimizer '{noClock.Id}': {noClock.Algorithm.Info().ClockRefusal!(noClock.Hyperparameters())}" : null;
        // Which CPU path runs, said whenever the job trains on the CPU (chosen or by auto).
        string cpuStep = $"fast CPU step: {new CudaAdam.Cpu.CpuSimdBackend().Description}";
        if (name == "cpu")
        {
            description = $"cpu (CPU layers, {cpuStep})";
            return null;
        }
        if (name == "auto")
        {
            if (cpuOnly is not null)
            {
                description = $"cpu (auto: {cpuOnly}; {cpuStep})";
                return null;
            }
            if (DeviceBackends.Unavailable("cuda") is { } why)
            {
                string first = why.Split('\n')[0];
                int dot = first.IndexOf(". ", StringComparison.Ordinal);
                description = $"cpu (auto: no GPU: {(dot > 0 ? first[..dot] : first.TrimEnd('.', ':'))}; `cudaadam info` says more; {cpuStep})";
                return null;
            }
            try
            {
                var gpu = DeviceBackends.OpenDevice("cuda");
                description = $"cuda (auto): {gpu.Name}, layers and fused step on the device, GEMM cublas";
                return gpu;
            }
            catch (Exception e) when (e is BackendUnavailableException or CudaException or DllNotFoundException)
            {
                description = $"cpu (auto: the GPU did not open: {e.Message})";
                return null;
            }
        }
        if (cpuOnly is not null)
            throw new ConfigException($"backend: '{name}' trains on the device, but {cpuOnly}; use \"backend\": \"cpu\" (or \"auto\")");
        IDevice device;
        try { device = DeviceBackends.OpenDevice(name); }
        catch (Exception e) when (e is BackendUnavailableException or CudaException or DllNotFoundException)
        {
            throw new ConfigException($"backend: {e.Message}", e);
        }
        description = $"{name}: {device.Name}, layers and fused step on the device, GEMM {(device is CudaDevice ? "cublas" : "train.cu")}";
        return device;
    }

    /// <summary>Steps of the JIT warm-up: past the runtime's 30 calls that promote a method to its optimized tier.</summary>
    internal const int WarmUpSteps = 40;
    /// <summary>The warm-up's batch (at most): the call counts matter, not the work.</summary>
    internal const int WarmUpBatch = 8;

    /// <summary>
    /// Warms the JIT before a CPU job's timed part (issue 16), so that its first optimizer does not pay for it in the
    /// wall-clock columns and <c>loss_vs_time.png</c>: for each algorithm of the job, a throwaway model (built like the
    /// job's, from fresh generators, so the job's numbers do not change) and optimizer (the fast CPU step, the job's
    /// clipping) run <see cref="WarmUpSteps"/> training steps and evaluations on the first rows of the training set.
    /// Best effort: a step that fails (a non-finite policy of <c>error</c>, say) ends that algorithm's warm-up.
    /// </summary>
    /// <returns>The time it took, which the log reports.</returns>
    internal static TimeSpan WarmUp(TrainConfig config, Dataset train, IGemm gemm)
    {
        var clock = Stopwatch.StartNew();
        int rows = Math.Min(Math.Min(WarmUpBatch, config.Training.BatchSize), train.Count);
        if (rows < 1) return clock.Elapsed;
        var x = Tensor.Zeros(rows, train.Features);
        var labels = new byte[rows];
        train.Gather(Enumerable.Range(0, rows).ToArray(), x.Data, labels);
        foreach (var oc in config.Optimizers!.DistinctBy(o => o.Algorithm))
        {
            var model = BuildTrainable(config, gemm);
            using var optimizer = new Optimizer(oc.Algorithm, [new ParamGroup(model.Parameters, oc.Hyperparameters())],
                new CudaAdam.Cpu.CpuSimdBackend());
            optimizer.MaxGradNorm = config.Training.MaxGradNorm;
            try
            {
                for (int i = 0; i < WarmUpSteps; i++)
                {
                    model.TrainBatch(x, labels);
                    optimizer.Step();
                }
                model.BeginEvaluation();
                for (int i = 0; i < WarmUpSteps; i++) model.EvaluateBatch(x, labels);
            }
            catch (Exception e) when (e is not OutOfMemoryException) { }
        }
        return clock.Elapsed;
    }

    private static OptimizerRun RunOne(TrainConfig config, OptimizerConfig oc, Dataset train, Dataset test, IGemm gemm, IDevice? device, string folder,
        TextWriter log, int laterRuns, IReadOnlyList<OptimizerRun> done, (List<StepRecord> Steps, List<EpochRecord> Epochs) previous,
        CancellationToken cancel, ITrainProgress? progress, out bool interrupted)
    {
        var model = BuildTrainable(config, gemm);
        // On the CPU the fast step (bitwise the reference); on a device the host optimizer (CPU reference backend) only
        // holds the state copies for checkpoints.
        using var optimizer = new Optimizer(oc.Algorithm, [new ParamGroup(model.Parameters, oc.Hyperparameters())],
            device is null ? new CudaAdam.Cpu.CpuSimdBackend() : null);
        optimizer.MaxGradNorm = config.Training.MaxGradNorm;
        var options = Options(config, oc, device is null ? "cpu" : device.Kind == DeviceKind.Cuda ? "cuda" : "emulator");
        using var engine = device is null ? null
            : model is Classifier classifier
                ? new DeviceEngine(device, classifier.Model, optimizer, train.Features, train.Classes, Math.Max(options.BatchSize, options.EvalBatchSize),
                    DropoutMask.SeedOf(classifier.Generator ?? Rng.ForStream(config.Training.Seed, 2)))
                : throw new ConfigException($"backend: the device path trains classifiers only; model '{config.Model.Kind}' runs on \"backend\": \"cpu\"");
        var trainer = new Trainer(model, optimizer, train, test, options, Rng.ForStream(config.Training.Seed, 1), engine);
        return RunTrainer(config, oc, trainer, folder, log, laterRuns, 1, done, previous, cancel, progress, out interrupted);
    }

    /// <summary>One optimizer's run of a job (<see cref="RunOne"/>, <see cref="RunProblem"/>); <paramref name="interrupted"/>
    /// when it stopped before its end (cancellation).</summary>
    private delegate OptimizerRun RunOptimizer(OptimizerConfig oc, int index, IReadOnlyList<OptimizerRun> done, out bool interrupted);

    /// <summary>Runs the job's optimizers in turn until one is interrupted, writes the CSVs, and lists the files so far
    /// (the checkpoints that exist); when interrupted, says how to continue.</summary>
    private static (List<OptimizerRun> Runs, List<string> Files, bool Interrupted) RunEach(TrainConfig config, string folder,
        TextWriter log, RunOptimizer runOne)
    {
        var runs = new List<OptimizerRun>();
        bool interrupted = false;
        for (int i = 0; i < config.Optimizers!.Length && !interrupted; i++)
        {
            var oc = config.Optimizers[i];
            log.WriteLine($"[{i + 1}/{config.Optimizers.Length}] {oc.Id}: {DescribeHyperparameters(oc)}");
            runs.Add(runOne(oc, i, runs, out interrupted));
        }
        Reports.WriteCsv(folder, runs);
        var files = new List<string> { "config.json", "steps.csv", "epochs.csv" };
        if (config.Training.Checkpoints)
            files.AddRange(runs.Select(r => Path.Combine("checkpoints", r.Config.Id + ".ckpt")).Where(f => File.Exists(Path.Combine(folder, f))));
        if (interrupted)
            log.WriteLine(config.Training.Checkpoints
                ? $"interrupted: checkpoints saved; continue with: cudaadam train --resume {folder}"
                : "interrupted: \"checkpoints\": false, so the run cannot be resumed; run the config again");
        return (runs, files, interrupted);
    }

    /// <summary>On resume: the records of <paramref name="previous"/> up to the checkpoint's step, which must hold every
    /// step and epoch the checkpoint has done (records beyond it, from a crash between the CSVs and the checkpoint,
    /// are dropped).</summary>
    /// <exception cref="ConfigException">The CSVs lack records before the checkpoint (missing, empty, or without this
    /// optimizer's rows): the run cannot continue from the checkpoint, which is kept; the message says what is missing.</exception>
    private static void RestoreRecords(OptimizerConfig oc, string folder, (List<StepRecord> Steps, List<EpochRecord> Epochs) previous, long step,
        int epochsDone, long totalSteps, List<StepRecord> steps, List<EpochRecord> epochs, TextWriter log)
    {
        steps.AddRange(previous.Steps.Where(s => s.Step <= step));
        epochs.AddRange(previous.Epochs.Where(e => e.Epoch <= epochsDone));
        if (steps.Count != step || epochs.Count != epochsDone + 1)
            throw new ConfigException(
                $"{oc.Id}: checkpoints/{oc.Id}.ckpt is at step {step} of {totalSteps} (epoch {epochsDone}), but " +
                $"{Lacking("steps.csv", previous.Steps.Count, steps.Count, step, "steps")} and " +
                $"{Lacking("epochs.csv", previous.Epochs.Count, epochs.Count, epochsDone + 1, "epochs (0 is before training)")}: the records " +
                $"before the checkpoint are gone, so the run cannot continue from it; the checkpoint is kept. Put the CSVs back " +
                $"(from a copy), or move checkpoints/{oc.Id}.ckpt away to redo this optimizer from step 0");
        log.WriteLine($"  {oc.Id}: resumed from its checkpoint at step {step} of {totalSteps}");

        string Lacking(string file, int rows, int usable, long needed, string what)
        {
            string path = Path.Combine(folder, file);
            if (!File.Exists(path)) return $"{file} is missing";
            if (new FileInfo(path).Length == 0) return $"{file} is empty";
            if (rows == 0) return $"{file} has no rows of '{oc.Id}'";
            return $"{file} holds {usable} of its {needed} {what}";
        }
    }

    /// <summary>
    /// Runs one optimizer's trainer with the job's bookkeeping: from the start (the epoch-0 record), or from its
    /// checkpoint with the records up to it (a resume); records, progress, the CSVs and then the checkpoint at every
    /// epoch end (never a checkpoint ahead of its records: a crash in between leaves records beyond it, which a resume
    /// drops), a checkpoint when interrupted. A run whose loss stops being finite (<see cref="TrainingDivergedException"/>)
    /// is not an error of the job: it ends there, marked diverged, its last epoch's checkpoint kept, and the job goes on
    /// with the next optimizer.
    /// </summary>
    private static OptimizerRun RunTrainer(TrainConfig config, OptimizerConfig oc, Trainer trainer, string folder, TextWriter log,
        int laterRuns, int progressEvery, IReadOnlyList<OptimizerRun> done, (List<StepRecord> Steps, List<EpochRecord> Epochs) previous,
        CancellationToken cancel, ITrainProgress? progress, out bool interrupted)
    {
        string? ckpt = config.Training.Checkpoints
            ? Path.Combine(Directory.CreateDirectory(Path.Combine(folder, "checkpoints")).FullName, oc.Id + ".ckpt")
            : null;
        var steps = new List<StepRecord>();
        var epochs = new List<EpochRecord>();
        previous = (previous.Steps ?? [], previous.Epochs ?? []);   // none of this optimizer in the CSVs
        if (ckpt is not null && File.Exists(ckpt))
        {
            Checkpoint.Load(ckpt, trainer);
            RestoreRecords(oc, folder, previous, trainer.Step, trainer.EpochsDone, trainer.TotalSteps, steps, epochs, log);
        }
        else
        {
            if (previous.Epochs.Count > 0 || previous.Steps.Count > 0)
                log.WriteLine($"  {oc.Id}: no checkpoint (the run stopped before its first one was written): starting over from step 0");
            epochs.Add(trainer.Initial());
        }

        var optimizer = trainer.Optimizer;
        var current = new OptimizerRun(oc, steps, epochs, optimizer.Warnings);
        progress?.Begin(oc.Id, trainer.Step, trainer.TotalSteps);
        TrainingDivergedException? diverged = null;
        try
        {
            trainer.Run(s =>
            {
                steps.Add(s);
                progress?.Advance(oc.Id, s);
            }, e =>
            {
                epochs.Add(e);
                progress?.Epoch(oc.Id, e);
                Reports.WriteCsv(folder, [.. done, current]);
                if (ckpt is not null) Checkpoint.Save(ckpt, trainer);
            }, log, label: $"  {oc.Id,-14} ", laterSteps: laterRuns * trainer.TotalSteps, progressEvery: progressEvery, cancel: cancel);
        }
        catch (TrainingDivergedException e)
        {
            diverged = e;
            log.WriteLine($"  {oc.Id}: {e.Message}");
        }
        progress?.End(oc.Id);
        interrupted = diverged is null && !trainer.Finished;
        if (interrupted && ckpt is not null) Checkpoint.Save(ckpt, trainer);
        foreach (var w in optimizer.Warnings) log.WriteLine($"  {oc.Id}: warning: {w}");
        return current with { Warnings = optimizer.Warnings.ToArray(), DivergedAt = diverged?.Step, DivergedBecause = diverged?.Reason };
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

    internal static string Describe(TrainConfig config, IGemm gemm, string? gemmName = null)
    {
        var model = BuildTrainable(config, gemm);
        long count = model.Parameters.Sum(p => (long)p.Data.Length);
        return string.Create(CultureInfo.InvariantCulture,
            $"{config.Model.Kind}: {model.Describe()} ({count:N0} parameters, GEMM {gemmName ?? gemm.Name})");
    }

    internal static string DescribeClipping(TrainConfig config) =>
        config.Training.MaxGradNorm is { } c ? FormattableString.Invariant($", gradients clipped to norm {c}") : "";

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
        var sb = new StringBuilder($"{oc.Name} lr {G(h.Lr)}");
        if (Hyperparameters.UsesBetas(oc.Algorithm)) sb.Append($", betas ({G(h.Beta1)}, {G(h.Beta2)})");
        if (Hyperparameters.HasSecondMoment(oc.Algorithm)) sb.Append($", eps {G(h.Eps)}");
        if (h.WeightDecay != 0) sb.Append($", weight decay {G(h.WeightDecay)}");
        if (h.Amsgrad) sb.Append(", amsgrad");
        if (h.Momentum != 0) sb.Append($", momentum {G(h.Momentum)}");
        if (h.Nesterov) sb.Append(", nesterov");
        if (!h.BiasCorrection) sb.Append(", no bias correction");
        if (h.StateBits == 8) sb.Append(", 8-bit state (block-wise, Dettmers et al. 2022)");
        if (oc.ScheduleFree)
            sb.Append($", warmup {h.WarmupSteps} steps, r {G(h.R)}, weight_lr_power {G(h.WeightLrPower)}; Schedule-Free: no lr schedule, evaluated at x (eval())");
        // The sign-like descent bound of arXiv 2507.05966: |m|/sqrt(v) <= R, finite iff beta1 < sqrt(beta2).
        if (Hyperparameters.HasSecondMoment(oc.Algorithm))
            sb.Append(double.IsFinite(h.SignBound) ? FormattableString.Invariant($", R {h.SignBound:0.###} (β1 < √β2)") : ", R ∞ (β1 ≥ √β2)");
        return sb.ToString();

        static string G(double v) => v.ToString("g", CultureInfo.InvariantCulture); // 1e-08, not 1E-08
    }
}
