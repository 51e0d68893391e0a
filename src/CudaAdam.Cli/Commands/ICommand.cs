namespace CudaAdam.Cli.Commands;

/// <summary>One <c>cudaadam</c> command. Register it with one line in <see cref="Program.Commands"/>.</summary>
public interface ICommand
{
    /// <summary>The word after <c>cudaadam</c>.</summary>
    string Name { get; }
    /// <summary>One line for <c>cudaadam help</c>.</summary>
    string Summary { get; }
    /// <summary>The full usage text (<c>cudaadam help NAME</c>, <c>cudaadam NAME --help</c>), ending with a newline.</summary>
    string Usage { get; }
    /// <summary>Runs the command on the arguments after its name; returns the exit code (<see cref="ExitCodes"/>).
    /// A <see cref="UsageException"/> escaping it is printed as one line and exits with <see cref="ExitCodes.Usage"/>.</summary>
    int Run(IReadOnlyList<string> args, TextWriter stdout, TextWriter stderr);
    /// <summary>Whether the command handles SIGINT and SIGTERM itself (train: checkpoint and stop); otherwise the CLI
    /// removes the temporary files being written and lets the signal end the process.</summary>
    bool HandlesInterrupts => false;
}

/// <summary>The exit codes of every command.</summary>
public static class ExitCodes
{
    public const int Ok = 0;
    /// <summary>The command failed while running (an I/O error, a backend failure).</summary>
    public const int Failure = 1;
    /// <summary>Bad usage or bad input: unknown command or option, missing value, unreadable input file, invalid value.</summary>
    public const int Usage = 2;
    /// <summary>An internal error: a bug in cudaadam. One line on stderr with the path of a log of the stack trace.</summary>
    public const int Internal = 70;
}

/// <summary>Bad usage or bad input; its message is printed as <c>cudaadam COMMAND: MESSAGE</c>.</summary>
public sealed class UsageException(string message, Exception? inner = null) : Exception(message, inner);
