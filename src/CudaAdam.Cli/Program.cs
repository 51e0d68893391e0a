using CudaAdam.Cli.Commands;

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

    /// <summary>Exit codes: 0 success, 1 failure while running, 2 bad usage or bad input.</summary>
    public static int Main(string[] args) => Run(args, Console.Out, Console.Error);

    /// <summary><see cref="Main"/> with explicit output writers (tests, embedding).</summary>
    public static int Run(IReadOnlyList<string> args, TextWriter stdout, TextWriter stderr)
    {
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
        try
        {
            return command.Run(rest, stdout, stderr);
        }
        catch (UsageException e)
        {
            stderr.WriteLine($"cudaadam {command.Name}: {e.Message}");
            return ExitCodes.Usage;
        }
    }

    internal static ICommand? Find(string name) =>
        Commands.FirstOrDefault(c => string.Equals(c.Name, name, StringComparison.OrdinalIgnoreCase));
}
