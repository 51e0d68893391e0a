using CudaAdam.Training.Jobs;
using Spectre.Console;

namespace CudaAdam.Cli.Commands;

/// <summary>
/// <c>cudaadam train [config.json] [--output DIR]</c>: trains a model on Fashion-MNIST with several optimizers from
/// the same initialization and writes a run folder (metrics CSV, resolved config, PNG plots, markdown summary,
/// checkpoints). Without a config, the embedded default: an MLP 784-256-256-10 with dropout on a 30,000-image subset,
/// 3 epochs, Adam, AdamW, AMSGrad, SignAdam, Lion and SGD-Nesterov. See <see cref="TrainJob"/>.
/// </summary>
public sealed class TrainCommand : ICommand
{
    public string Name => "train";
    public bool HandlesInterrupts => true;
    public string Summary => "train an MLP, CNN, logistic regression or VAE on Fashion-MNIST with several optimizers; CSV, plots, summary";

    public string Usage =>
        "usage: cudaadam train [config.json] [--output DIR] [--backend cpu|emulator|cuda|auto] [--epochs N] [--seed N] [--state-bits 8|32]\n" +
        "       cudaadam train --resume RUNFOLDER\n\n" +
        "Trains one model (Kingma & Ba 2015: logistic regression, Fig. 1; MLP with dropout, Fig. 2; VAE, Fig. 4, loss the\n" +
        "negative ELBO, no accuracy, CPU only; DeepOBS fmnist_2c2d CNN) on Fashion-MNIST " +
        "with each optimizer of the config, from the same initial weights and on the same minibatches, on the CPU or a GPU.\n" +
        "Writes DIR/<time>-<name>/: config.json (resolved), steps.csv, epochs.csv, loss_vs_step.png, loss_vs_time.png,\n" +
        "test_accuracy.png (the VAE: test_loss.png), summary.md, checkpoints/. Prints one line per epoch with ETA (and a progress bar per optimizer on a terminal), then where the files are.\n\n" +
        "  config.json   JSON config (snake_case keys; unknown keys are errors). Without it, the embedded default:\n" +
        "                MLP 784-256-256-10, dropout, 30,000 training images, 3 epochs, adam adamw amsgrad signadam\n" +
        "                lion sgd-nesterov. configs/{mlp,logreg,cnn,vae}-fmnist.json use the full data.\n" +
        "                model.kind may also name a stochastic problem (no data; objective.png\n" +
        "                instead of test_accuracy.png): quadratic_deep (DeepOBS), reddi-cycle3, reddi-online,\n" +
        "                reddi-stochastic, zhang, rosenbrock, paffine-quadratic, with a \"problem\" section;\n" +
        "                configs/quadratic-deep.json, configs/rosenbrock.json.\n" +
        "  --output DIR  where run folders go (default: the config's \"output\", runs/)\n" +
        "  --backend B   overrides the config's \"backend\": cpu (CPU layers and the fast CPU step), cuda or emulator (layers\n" +
        "                and fused step on the device; mlp, logreg, cnn, not the vae or nadam), auto (cuda when a GPU\n" +
        "                opens, else cpu; the embedded default's)\n" +
        "  --epochs N    overrides \"training\": {\"epochs\"}\n" +
        "  --seed N      overrides \"training\": {\"seed\"} (initial weights, minibatch order, dropout)\n" +
        "  --state-bits B  8: block-wise 8-bit optimizer state (Dettmers et al. 2022) for every optimizer of the config that\n" +
        "                has the option (adam, adamw, not with amsgrad; the others keep float32 state, and the log says\n" +
        "                which); 32: float32. The device training path keeps float32 state: with 8-bit, auto trains on the CPU\n" +
        "  --resume RUNFOLDER  continue an interrupted run (Ctrl+C, a crash) from its checkpoints (one per optimizer,\n" +
        "                written every epoch and on Ctrl+C); the numbers are bitwise those of an uninterrupted run\n\n" +
        "Data: Debian's dataset-fashion-mnist (/usr/share/datasets/fashion-mnist/) when installed, else an embedded\n" +
        "1,000/500-image subset (\"data\": {\"source\": \"auto\"}).\n";

    public int Run(IReadOnlyList<string> args, TextWriter stdout, TextWriter stderr)
    {
        string? configPath = args.Count > 0 && !args[0].StartsWith("--", StringComparison.Ordinal) ? args[0] : null;
        var parsed = Arguments.Parse(configPath is null ? args : args.Skip(1).ToArray(), ["output", "resume", "backend", "epochs", "seed", "state-bits"], []);
        string? resume = parsed.Get("resume");
        if (resume is not null && (configPath is not null || new[] { "output", "backend", "epochs", "seed", "state-bits" }.Any(k => parsed.Get(k) is not null)))
            throw new UsageException("--resume RUNFOLDER takes neither a config nor --output, --backend, --epochs, --seed, --state-bits: the run folder holds its config");
        TrainConfig? config = null;
        if (resume is null)
        {
            try
            {
                config = configPath is null ? TrainConfig.Default() : TrainConfig.Load(configPath);
                if (parsed.Get("output") is { } output) config.Output = output;
                if (parsed.Get("backend") is { } backend) config.Backend = backend;
                if (parsed.Get("epochs") is { } epochs)
                    config.Training.Epochs = int.TryParse(epochs, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out int e) && e >= 1
                        ? e : throw new UsageException($"--epochs: '{epochs}' is not a whole number >= 1");
                if (parsed.Get("seed") is { } seed)
                    config.Training.Seed = ulong.TryParse(seed, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out ulong sd)
                        ? sd : throw new UsageException($"--seed: '{seed}' is not a whole number >= 0");
                if (parsed.Get("state-bits") is { } bits)
                {
                    int b = bits switch { "8" => 8, "32" => 32, _ => throw new UsageException($"--state-bits: '{bits}' must be 8 (block-wise 8-bit state) or 32 (float32)") };
                    var with = new List<string>();
                    foreach (var o in config.Optimizers ?? [])
                        if (Algorithms.All.FirstOrDefault(i => string.Equals(i.Name, o.Name, StringComparison.OrdinalIgnoreCase)) is { State8Kernel: not null }
                            && !o.Settings.Any(x => x.Key == "amsgrad" && x.Values is ["true" or "True"]))   // amsgrad keeps float32 state (max_exp_avg_sq has no 8-bit form)
                        {
                            // an unknown name is left to Resolve, which says so; the key goes through the one schema
                            o.Settings.RemoveAll(x => x.Key == "state_bits");
                            o.Settings.Add(("state_bits", [b.ToString(System.Globalization.CultureInfo.InvariantCulture)]));
                            with.Add(o.Label ?? o.Name);
                        }
                    stdout.WriteLine(with.Count == 0
                        ? $"--state-bits {b}: no optimizer of the config has the option (adam, adamw); all keep float32 state"
                        : $"--state-bits {b}: {string.Join(", ", with)}; the others (and amsgrad) keep float32 state");
                }
                config.Resolve();
            }
            catch (ConfigException e) { throw new UsageException(e.Message, e); }
            // Run folders go below a directory: a file, FIFO or device there is said now, in one line.
            var where = CudaAdam.IO.FileProbe.Stat(config.Output);
            if (where.Kind is not (CudaAdam.IO.FileKind.Missing or CudaAdam.IO.FileKind.Directory))
                throw new UsageException($"--output '{config.Output}' is {where.Describe()}; give a directory for the run folders");
        }

        // Ctrl+C (SIGINT) and SIGTERM stop at the next step, checkpoint, and say how to resume.
        using var cts = new CancellationTokenSource();
        ConsoleCancelEventHandler onCancel = (_, e) => { e.Cancel = true; cts.Cancel(); };
        Console.CancelKeyPress += onCancel;
        using var onTerm = System.Runtime.InteropServices.PosixSignalRegistration.Create(
            System.Runtime.InteropServices.PosixSignal.SIGTERM, c => { c.Cancel = true; cts.Cancel(); });
        TrainResult result;
        try
        {
            // A progress bar per optimizer on a terminal; plain per-epoch lines when the output is redirected.
            result = TrainProgressBar.Wanted(stdout)
                ? TrainProgressBar.Run(AnsiConsole.Console, (progress, log) => Start(config, resume, log, progress, cts.Token))
                : Start(config, resume, stdout, null, cts.Token);
        }
        catch (ConfigException e) { throw new UsageException(e.Message, e); }
        catch (Exception e) when (e is FileNotFoundException or CudaAdam.Training.CheckpointException or RunFolderLockedException)
        {
            stderr.WriteLine($"cudaadam train: {e.Message}");
            return ExitCodes.Usage;
        }
        finally { Console.CancelKeyPress -= onCancel; }
        if (result.Interrupted) return ExitCodes.Failure;
        stdout.WriteLine();
        stdout.WriteLine($"run folder: {result.Folder}");
        foreach (var f in result.Files) stdout.WriteLine($"  {f}");
        stdout.WriteLine($"summary:    {Path.Combine(result.Folder, "summary.md")}");
        return ExitCodes.Ok;
    }

    private static TrainResult Start(TrainConfig? config, string? resume, TextWriter log, ITrainProgress? progress, CancellationToken cancel) =>
        config is null ? TrainJob.Resume(resume!, log, cancel, progress) : TrainJob.Run(config, log, cancel: cancel, progress: progress);
}
