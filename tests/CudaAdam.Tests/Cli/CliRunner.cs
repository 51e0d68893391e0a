using CudaAdam.Cli;

namespace CudaAdam.Tests.Cli;

/// <summary>Runs <see cref="Program.Main"/> in-process with Console.Out/Error captured.</summary>
public static class CliRunner
{
    private static readonly Lock ConsoleGate = new();

    public sealed record Result(int Code, string Out, string Err)
    {
        public override string ToString() => $"exit {Code}\n--- stdout\n{Out}--- stderr\n{Err}";
    }

    public static Result Invoke(params string[] args)
    {
        lock (ConsoleGate)
        {
            TextWriter oldOut = Console.Out, oldErr = Console.Error;
            var stdout = new StringWriter();
            var stderr = new StringWriter();
            try
            {
                Console.SetOut(stdout);
                Console.SetError(stderr);
                int code = Program.Main(args);
                return new Result(code, stdout.ToString(), stderr.ToString());
            }
            finally
            {
                Console.SetOut(oldOut);
                Console.SetError(oldErr);
            }
        }
    }
}
