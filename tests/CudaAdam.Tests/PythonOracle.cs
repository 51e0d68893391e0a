using System.Diagnostics;

namespace CudaAdam.Tests;

/// <summary>Runs Debian's /usr/bin/python3 (which has numpy and torch from apt), not whatever python3 is on PATH.</summary>
public static class PythonOracle
{
    public const string Python = "/usr/bin/python3";

    /// <summary>The repository root (the directory holding CudaAdam.sln), found from the test assembly's location.</summary>
    public static string RepoRoot
    {
        get
        {
            var d = new DirectoryInfo(AppContext.BaseDirectory);
            while (d is not null && !File.Exists(Path.Combine(d.FullName, "CudaAdam.sln"))) d = d.Parent;
            return d?.FullName ?? throw new InvalidOperationException($"no CudaAdam.sln above {AppContext.BaseDirectory}");
        }
    }

    /// <summary>Ignores the test unless /usr/bin/python3 can import every module in <paramref name="modules"/>.</summary>
    public static void RequireModules(params string[] modules)
    {
        if (!File.Exists(Python))
            Prerequisite.Missing($"{Python} not found: install Debian's python3 with {string.Join(", ", modules)} (./build.sh setup)");
        var (code, _, err) = Run(["-c", "import " + string.Join(", ", modules)], TimeSpan.FromSeconds(60));
        if (code != 0)
            Prerequisite.Missing($"{Python} cannot import {string.Join(", ", modules)} ({err.Trim().Split('\n').LastOrDefault()}); " +
                          "install python3-numpy and python3-torch with ./build.sh setup (apt, as root)");
    }

    /// <summary>Runs the interpreter with <paramref name="args"/>; returns exit code, stdout and stderr.</summary>
    public static (int Code, string Out, string Err) Run(IEnumerable<string> args, TimeSpan timeout)
    {
        var psi = new ProcessStartInfo(Python) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["OMP_NUM_THREADS"] = "1";
        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"cannot start {Python}");
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(timeout))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"{Python} {string.Join(" ", args)} ran longer than {timeout}");
        }
        return (p.ExitCode, stdout.Result, stderr.Result);
    }
}
