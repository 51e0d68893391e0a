using System.Globalization;
using System.Text;
using CudaAdam.Training;
using CudaAdam.Training.Jobs;
using Spectre.Console;

namespace CudaAdam.Cli.Commands;

/// <summary>
/// <c>cudaadam train</c>'s progress on a terminal: one Spectre.Console bar per optimizer run, with the step count,
/// the latest training loss, the elapsed time and the ETA of the run; the job's per-epoch lines print above the bars.
/// When the output is redirected (a file, a pipe, CI) there is no bar: the per-epoch lines alone, as plain text.
/// </summary>
internal sealed class TrainProgressBar : ITrainProgress
{
    private readonly ProgressContext _context;
    private readonly Dictionary<string, ProgressTask> _tasks = new();

    private TrainProgressBar(ProgressContext context) => _context = context;

    /// <summary>Whether to draw bars: <paramref name="stdout"/> is the process's console, it is not redirected, and
    /// Spectre.Console finds the terminal interactive (not <c>TERM=dumb</c>, not a CI environment).</summary>
    public static bool Wanted(TextWriter stdout) =>
        ReferenceEquals(stdout, Console.Out) && !Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive;

    /// <summary>Runs <paramref name="job"/> under a live progress display on <paramref name="console"/>; the job gets
    /// the progress sink and a log writer whose lines print above the bars.</summary>
    public static T Run<T>(IAnsiConsole console, Func<ITrainProgress, TextWriter, T> job) =>
        console.Progress()
            .AutoClear(false)
            .HideCompleted(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(),
                new ElapsedTimeColumn(), new RemainingTimeColumn(), new SpinnerColumn())
            .Start(ctx => job(new TrainProgressBar(ctx), new ConsoleLineWriter(console)));

    public void Begin(string id, long done, long total)
    {
        var task = _context.AddTask(Describe(id, done, total, double.NaN), autoStart: true, maxValue: Math.Max(1, total));
        task.Value = done;
        _tasks[id] = task;
    }

    public void Advance(string id, StepRecord step)
    {
        var task = _tasks[id];
        task.Value = step.Step;
        task.Description = Describe(id, step.Step, (long)task.MaxValue, step.Loss);
    }

    public void Epoch(string id, EpochRecord epoch) { }

    public void End(string id) => _tasks[id].StopTask();

    private static string Describe(string id, long step, long total, double loss) => Markup.Escape(string.Create(
        CultureInfo.InvariantCulture, $"{id,-14} step {step}/{total}{(double.IsNaN(loss) ? "" : $"  loss {loss:F4}")}"));

    /// <summary>Forwards whole lines to the console as plain text (no markup), so they print above the live bars.</summary>
    private sealed class ConsoleLineWriter(IAnsiConsole console) : TextWriter
    {
        private readonly StringBuilder _line = new();
        public override Encoding Encoding => Encoding.UTF8;

        public override void Write(char value)
        {
            if (value == '\r') return;
            if (value != '\n') { _line.Append(value); return; }
            console.WriteLine(_line.ToString());
            _line.Clear();
        }
    }
}
