namespace CudaAdam.Cli.Commands;

/// <summary><c>cudaadam help [command]</c>: the list of commands, or one command's usage.</summary>
public sealed class HelpCommand : ICommand
{
    public string Name => "help";
    public string Summary => "list the commands, or show one command's usage";
    public string Usage => "usage: cudaadam help [command | optimizers | OPTIMIZER]\n\nWithout a command: lists the commands. With one: " +
                           "prints its usage. 'optimizers': every algorithm with its source; an optimizer's name (e.g. adamw): its\n" +
                           "equations, convention warnings, defaults, state slots and kernel (from its descriptor).\n";

    public int Run(IReadOnlyList<string> args, TextWriter stdout, TextWriter stderr)
    {
        if (args.Count == 0)
        {
            stdout.Write(Overview());
            return ExitCodes.Ok;
        }
        if (args.Count > 1) throw new UsageException("expected at most one command name; " + Usage.TrimEnd());
        if (args[0] == "optimizers")
        {
            stdout.Write(Optimizers());
            return ExitCodes.Ok;
        }
        if (Algorithms.All.FirstOrDefault(i => string.Equals(i.Name, args[0], StringComparison.OrdinalIgnoreCase)) is { } info)
        {
            stdout.Write(Describe(info));
            return ExitCodes.Ok;
        }
        var command = Program.Find(args[0])
                      ?? throw new UsageException($"unknown command or optimizer '{args[0]}'; commands: {string.Join(", ", Program.Commands.Select(c => c.Name))}; " +
                                                  "'cudaadam help optimizers' lists the optimizers");
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
        sb.Append("\ncudaadam help <command> shows a command's options; cudaadam help optimizers lists the algorithms.\n");
        return sb.ToString();
    }

    /// <summary>Every algorithm: name and source (the descriptors' rows; the source names the torch class where there is one).</summary>
    internal static string Optimizers()
    {
        var sb = new System.Text.StringBuilder("optimizers (cudaadam help NAME for the equations):\n");
        int width = Algorithms.All.Max(i => i.Name.Length);
        foreach (var i in Algorithms.All)
            sb.Append("  ").Append(i.Name.PadRight(width + 2)).Append(i.Source).Append('\n');
        return sb.ToString();
    }

    /// <summary>The value of the <see cref="Hyperparameters"/> property a snake-case key names (<c>step_size_min</c> → StepSizeMin).</summary>
    private static object? Value(Hyperparameters h, string key)
    {
        string pascal = string.Concat(key.Split('_').Select(w => char.ToUpperInvariant(w[0]) + w[1..]));
        return (typeof(Hyperparameters).GetProperty(pascal) ?? throw new InvalidOperationException($"no Hyperparameters property for key '{key}'"))
            .GetValue(h);
    }

    /// <summary>One algorithm's descriptor, for a reader: equations and conventions, defaults, state, kernel.</summary>
    internal static string Describe(AlgorithmInfo i)
    {
        var sb = new System.Text.StringBuilder();
        sb.Append(i.Name).Append(i.TorchClass is { } t ? $" (torch.optim.{t})" : " (not in torch.optim)").Append('\n');
        sb.Append("  source     ").Append(i.Source).Append('\n');
        sb.Append("  update     ").Append(i.Equations).Append('\n');
        var d = i.Defaults;
        sb.Append("  defaults   ").Append(i.DescribeDefaults());
        foreach (var key in i.Keys) sb.Append(FormattableString.Invariant($", {key} {Value(d, key)}"));
        sb.Append('\n');
        foreach (var tuple in i.Tuples)
            sb.Append("  tuple      ").Append(tuple.Key).Append(" = (").Append(string.Join(", ", tuple.Components)).Append(") in configs and torch\n");
        sb.Append("  state      ").Append(i.State.Count == 0 ? "none" : string.Join(", ", i.State.Select(s => s.TorchName)))
          .Append(i.ScalarState.Count == 0 ? "" : $"; scalars {string.Join(", ", i.ScalarState.Select(s => s.TorchName))}").Append('\n');
        sb.Append("  kernel     kernels/").Append(i.Kernel.Family).Append(".cu ").Append(i.Kernel.Name)
          .Append(i.DiagnosticsKernel is { } k ? $" (diagnostics: {k.Name})" : "").Append('\n');
        return sb.ToString();
    }
}
