using System.Diagnostics;

namespace CudaAdam.Tests.Adversarial;

/// <summary>
/// Runs the <c>cudaadam</c> CLI as a child process (<c>dotnet CudaAdam.Cli.dll ...</c>, the build next to the test
/// assembly), so that a hang is a timeout and a kill, and a crash is an exit code, never the test host's end.
/// </summary>
public static class CliProcess
{
    public sealed record Result(int Code, string Out, string Err, TimeSpan Elapsed, bool TimedOut)
    {
        public string[] ErrLines => Err.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        public override string ToString() => $"exit {Code}{(TimedOut ? " (TIMED OUT, killed)" : "")} after {Elapsed.TotalSeconds:0.0} s\n--- stdout\n{Out}--- stderr\n{Err}";
    }

    /// <summary>The CLI under test: the build beside the test assembly, or <c>$CUDAADAM_TEST_CLI</c> (to run the suite
    /// against another build, e.g. main's, and see which cases it fails).</summary>
    public static string Dll => Environment.GetEnvironmentVariable("CUDAADAM_TEST_CLI") is { Length: > 0 } other
        ? other
        : Path.Combine(AppContext.BaseDirectory, "CudaAdam.Cli.dll");

    /// <summary>Set to run the CLI as the user 'nobody' (uid 65534, through setpriv; root only): unreadable inputs and
    /// unwritable folders exist for it, not for root.</summary>
    [ThreadStatic] public static bool AsNobody;

    /// <summary>Starts the CLI in <paramref name="workingDirectory"/>; the caller waits and kills.</summary>
    public static Process Start(string workingDirectory, IReadOnlyDictionary<string, string>? env, params string[] args)
    {
        var psi = new ProcessStartInfo(AsNobody ? "setpriv" : "dotnet")
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        if (AsNobody)
        {
            foreach (var a in new[] { "--reuid=65534", "--regid=65534", "--clear-groups", "dotnet" }) psi.ArgumentList.Add(a);
            psi.Environment["HOME"] = "/tmp";
        }
        psi.ArgumentList.Add(Dll);
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        psi.Environment["DOTNET_NOLOGO"] = "1";
        psi.Environment["DOTNET_TieredPGO"] = "0";
        psi.Environment["TERM"] = "dumb";
        if (env is not null)
            foreach (var (k, v) in env) psi.Environment[k] = v;
        return Process.Start(psi) ?? throw new InvalidOperationException("could not start dotnet");
    }

    /// <summary>Runs to the end or until <paramref name="timeout"/> (then kills the process tree).</summary>
    public static Result Run(string workingDirectory, TimeSpan timeout, IReadOnlyDictionary<string, string>? env, params string[] args)
    {
        var clock = Stopwatch.StartNew();
        using var p = Start(workingDirectory, env, args);
        p.StandardInput.Close();
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        bool exited = p.WaitForExit(timeout);
        if (!exited)
        {
            try { p.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
            p.WaitForExit();
        }
        else p.WaitForExit();   // drains the output
        return new Result(exited ? p.ExitCode : -1, stdout.Result, stderr.Result, clock.Elapsed, !exited);
    }

    public static Result Run(string workingDirectory, params string[] args) => Run(workingDirectory, TimeSpan.FromSeconds(30), null, args);
}
