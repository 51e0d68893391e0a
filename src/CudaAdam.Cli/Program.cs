using System.Runtime.InteropServices;
using CudaAdam.Cli.Commands;
using CudaAdam.IO;

namespace CudaAdam.Cli;

/// <summary>The <c>cudaadam</c> command: <c>cudaadam &lt;command&gt; [options]</c>; <c>cudaadam help [command]</c>.</summary>
public static class Program
{
    /// <summary>
    /// Every command, in the order <c>help</c> lists them. To add one: write <c>Commands/XCommand.cs</c> implementing
    /// <see cref="ICommand"/> and add ONE line here.
    /// </summary>
    internal static readonly IReadOnlyList<ICommand> Commands =
    [
        new RunCommand(),
        new TrainCommand(),
        new ReddiCommand(),
        new ReplayCommand(),
        new CheckCommand(),
        new InfoCommand(),
        new KernelsCommand(),
        new BenchCommand(),
        new HelpCommand(),
    ];

    /// <summary>Exit codes: 0 success, 1 failure while running, 2 bad usage or bad input (anything a user or the
    /// machine caused: a bad file, a full disk, a size that does not fit), 70 an internal error (a bug).</summary>
    public static int Main(string[] args)
    {
        // SIGINT/SIGTERM: a command that checkpoints (train) handles them itself; for every other command the
        // temporary files being written are removed and the process ends as the signal asks.
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
        return Run(args, Console.Out, Console.Error);
    }

    private static volatile ICommand? _running;

    private static void OnSignal(PosixSignalContext context)
    {
        if (_running is { HandlesInterrupts: true }) return;
        AtomicFile.AbortAll();
    }

    /// <summary><see cref="Main"/> with explicit output writers (tests, embedding).</summary>
    public static int Run(IReadOnlyList<string> args, TextWriter stdout, TextWriter stderr)
    {
        bool verbose = args.Contains("--verbose");
        if (verbose) args = [.. args.Where(a => a != "--verbose")];
        if (args.Count == 0)
        {
            stderr.WriteLine("cudaadam: no command given");
            stderr.Write(HelpCommand.Overview());
            return ExitCodes.Usage;
        }
        if (args[0] is "-h" or "--help")
            return Find("help")!.Run([.. args.Skip(1)], stdout, stderr);
        var command = Find(args[0]);
        if (command is null)
        {
            stderr.WriteLine($"cudaadam: unknown command '{args[0]}'; commands: {string.Join(", ", Commands.Select(c => c.Name))} " +
                             "(cudaadam help <command> for details)");
            return ExitCodes.Usage;
        }
        var rest = args.Skip(1).ToArray();
        if (rest.Any(a => a is "-h" or "--help"))
        {
            stdout.Write(command.Usage);
            return ExitCodes.Ok;
        }
        return Invoke(command, rest, stdout, stderr, verbose);
    }

    /// <summary>
    /// The one error boundary: whatever a user (or the machine: a full disk, a missing permission) caused is one
    /// line and exit 2; anything else is a bug, said as such in one line with the path of a log of the stack trace
    /// (exit 70); <paramref name="verbose"/> (<c>--verbose</c>) prints the stack trace too.
    /// </summary>
    internal static int Invoke(ICommand command, IReadOnlyList<string> rest, TextWriter stdout, TextWriter stderr, bool verbose)
    {
        _running = command;
        try
        {
            return command.Run(rest, stdout, stderr);
        }
        catch (Exception e) when (UserMessage(e) is { } message)
        {
            stderr.WriteLine($"cudaadam {command.Name}: {OneLine(message)}");
            if (verbose) stderr.WriteLine(e.ToString());
            return ExitCodes.Usage;
        }
        catch (Exception e)
        {
            string log = CrashLog(command.Name, rest, e);
            stderr.WriteLine($"cudaadam {command.Name}: internal error (a bug in cudaadam, not in your input): {e.GetType().Name}: " +
                             $"{OneLine(e.Message)}; {log}");
            if (verbose) stderr.WriteLine(e.ToString());
            return ExitCodes.Internal;
        }
        finally
        {
            _running = null;
        }
    }

    /// <summary>The message of a failure the user or the machine caused, or null for a bug.</summary>
    internal static string? UserMessage(Exception e) => e switch
    {
        UsageException or PathRefusedException or Training.Jobs.ConfigException or Training.CheckpointException
            or BackendUnavailableException => e.Message,
        // Sizes that do not fit (refused up front, or an allocation that failed): what was asked is too big.
        InsufficientMemoryException => e.Message,
        OutOfMemoryException => "out of memory: the sizes asked for do not fit in this machine's memory (" + e.Message + ")",
        OperationCanceledException => "interrupted",
        // Files: missing, unreadable, unwritable, a full disk, a name too long. Their messages name the path.
        FileNotFoundException or DirectoryNotFoundException or PathTooLongException or UnauthorizedAccessException
            or IOException => e.Message,
        _ => null,
    };

    private static string CrashLog(string command, IReadOnlyList<string> args, Exception e)
    {
        string path = Path.Combine(Path.GetTempPath(), $"cudaadam-crash-{DateTime.UtcNow:yyyyMMdd-HHmmss}-{Environment.ProcessId}.log");
        try
        {
            File.WriteAllText(path, $"cudaadam {command} {string.Join(" ", args)}\n{DateTime.UtcNow:O}\n" +
                                    $"{System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription} on " +
                                    $"{System.Runtime.InteropServices.RuntimeInformation.OSDescription}\n\n{e}\n");
            return $"the stack trace is in {path} (--verbose prints it); please report it";
        }
        catch (Exception w) when (w is IOException or UnauthorizedAccessException)
        {
            return "rerun with --verbose for the stack trace; please report it";
        }
    }

    private static string OneLine(string s) => string.Join("; ", s.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));

    internal static ICommand? Find(string name) =>
        Commands.FirstOrDefault(c => string.Equals(c.Name, name, StringComparison.OrdinalIgnoreCase));
}
