namespace CudaAdam.Cli.Commands;

/// <summary><c>cudaadam help [command]</c>: the list of commands, or one command's usage.</summary>
public sealed class HelpCommand : ICommand
{
    public string Name => "help";
    public string Summary => "list the commands, or show one command's usage";
    public string Usage => "usage: cudaadam help [command]\n\nWithout a command: lists the commands. With one: prints its usage.\n";

    public int Run(IReadOnlyList<string> args, TextWriter stdout, TextWriter stderr)
    {
        if (args.Count == 0)
        {
            stdout.Write(Overview());
            return ExitCodes.Ok;
        }
        if (args.Count > 1) throw new UsageException("expected at most one command name; " + Usage.TrimEnd());
        var command = Program.Find(args[0])
                      ?? throw new UsageException($"unknown command '{args[0]}'; commands: {string.Join(", ", Program.Commands.Select(c => c.Name))}");
        stdout.Write(command.Usage);
        return ExitCodes.Ok;
    }

    /// <summary>The command list.</summary>
    internal static string Overview()
    {
        var sb = new System.Text.StringBuilder("usage: cudaadam <command> [options]\n\ncommands:\n");
        int width = Program.Commands.Max(c => c.Name.Length);
        foreach (var c in Program.Commands)
            sb.Append("  ").Append(c.Name.PadRight(width + 2)).Append(c.Summary).Append('\n');
        sb.Append("\ncudaadam help <command> shows a command's options.\n");
        return sb.ToString();
    }
}
