using CudaAdam.Training.Jobs;

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
    public string Summary => "train an MLP or logistic regression on Fashion-MNIST with several optimizers; CSV, plots, summary";

    public string Usage =>
        "usage: cudaadam train [config.json] [--output DIR]\n\n" +
        "Trains one model (Kingma & Ba 2015: logistic regression, Fig. 1; MLP with dropout, Fig. 2) on Fashion-MNIST\n" +
        "with each optimizer of the config, from the same initial weights and on the same minibatches, on the CPU.\n" +
        "Writes DIR/<time>-<name>/: config.json (resolved), steps.csv, epochs.csv, loss_vs_step.png, loss_vs_time.png,\n" +
        "test_accuracy.png, summary.md, checkpoints/. Prints one line per epoch with ETA, then where the files are.\n\n" +
        "  config.json   JSON config (snake_case keys; unknown keys are errors). Without it, the embedded default:\n" +
        "                MLP 784-256-256-10, dropout, 30,000 training images, 3 epochs, adam adamw amsgrad signadam\n" +
        "                lion sgd-nesterov. configs/mlp-fmnist.json and configs/logreg-fmnist.json use the full data.\n" +
        "  --output DIR  where run folders go (default: the config's \"output\", runs/)\n\n" +
        "Data: Debian's dataset-fashion-mnist (/usr/share/datasets/fashion-mnist/) when installed, else an embedded\n" +
        "1,000/500-image subset (\"data\": {\"source\": \"auto\"}).\n";

    public int Run(IReadOnlyList<string> args, TextWriter stdout, TextWriter stderr)
    {
        string? configPath = args.Count > 0 && !args[0].StartsWith("--", StringComparison.Ordinal) ? args[0] : null;
        var parsed = Arguments.Parse(configPath is null ? args : args.Skip(1).ToArray(), ["output"], []);
        TrainConfig config;
        try
        {
            config = configPath is null ? TrainConfig.Default() : TrainConfig.Load(configPath);
            if (parsed.Get("output") is { } output) config.Output = output;
            config.Resolve();
        }
        catch (ConfigException e) { throw new UsageException(e.Message, e); }

        TrainResult result;
        try { result = TrainJob.Run(config, stdout); }
        catch (ConfigException e) { throw new UsageException(e.Message, e); }
        catch (FileNotFoundException e)
        {
            stderr.WriteLine($"cudaadam train: {e.Message}");
            return ExitCodes.Usage;
        }
        stdout.WriteLine();
        stdout.WriteLine($"run folder: {result.Folder}");
        foreach (var f in result.Files) stdout.WriteLine($"  {f}");
        stdout.WriteLine($"summary:    {Path.Combine(result.Folder, "summary.md")}");
        return ExitCodes.Ok;
    }
}
