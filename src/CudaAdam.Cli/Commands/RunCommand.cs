namespace CudaAdam.Cli.Commands;

/// <summary>
/// <c>cudaadam run [config.json]</c>: the main job (<c>./build.sh run</c>). Today that is <see cref="TrainCommand"/> on its
/// embedded default config: the MLP on Fashion-MNIST with Adam, AdamW, AMSGrad, SignAdam, Lion and SGD-Nesterov from
/// the same initialization, on the CPU, with a run folder of metrics, plots and a summary.
/// </summary>
public sealed class RunCommand : ICommand
{
    private readonly TrainCommand _train = new();

    public string Name => "run";
    public bool HandlesInterrupts => true;
    public string Summary => "the main job: `train` on its embedded default (MLP on Fashion-MNIST, seven optimizers, report)";
    public string Usage => "usage: cudaadam run [config.json] [--output DIR]   (the same as `cudaadam train`)\n\n" + _train.Usage;

    public int Run(IReadOnlyList<string> args, TextWriter stdout, TextWriter stderr) => _train.Run(args, stdout, stderr);
}
