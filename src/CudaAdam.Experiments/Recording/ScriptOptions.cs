using System.Globalization;

namespace CudaAdam.Experiments.Recording;

/// <summary>How big a script's run is.</summary>
public enum RunSize
{
    /// <summary>Seconds: what CI runs. Too small to decide anything; the report says so.</summary>
    Smoke,
    /// <summary>The default: well under a minute on 2 CPU cores, large enough for a verdict.</summary>
    Default,
    /// <summary>The experiment at the size the literature uses (minutes).</summary>
    Full,
}

/// <summary>
/// The command line every experiment script shares: <c>--smoke</c> | <c>--full</c> (default size otherwise),
/// <c>--out DIR</c> (default <c>runs/&lt;script&gt;</c> under the repository root), <c>--seed N</c>.
/// </summary>
public sealed record ScriptOptions(string Script, RunSize Size, string OutDir, int Seed)
{
    /// <summary>The usage line for messages.</summary>
    public static string Usage(string script) => $"usage: dotnet fsi scripts/{script}.fsx [--smoke | --full] [--out DIR] [--seed N]";

    /// <summary>
    /// Parses <paramref name="args"/> (<c>fsi.CommandLineArgs</c> without the script path). <paramref name="repoRoot"/>
    /// is where the default <c>runs/</c> folder goes.
    /// </summary>
    /// <exception cref="ArgumentException">An unknown flag, a missing value or a bad number; the message says which and gives the usage.</exception>
    public static ScriptOptions Parse(string script, string repoRoot, IReadOnlyList<string> args)
    {
        var size = RunSize.Default;
        string? outDir = null;
        int seed = 1;
        for (int i = 0; i < args.Count; i++)
        {
            switch (args[i])
            {
                case "--smoke": size = RunSize.Smoke; break;
                case "--full": size = RunSize.Full; break;
                case "--out":
                    outDir = Value(i++);
                    break;
                case "--seed":
                    var s = Value(i++);
                    if (!int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out seed))
                        throw new ArgumentException($"--seed needs an integer, got '{s}'\n{Usage(script)}");
                    break;
                default:
                    throw new ArgumentException($"unknown argument '{args[i]}'\n{Usage(script)}");
            }
        }
        outDir ??= Path.Combine(repoRoot, "runs", script);
        Directory.CreateDirectory(outDir);
        return new ScriptOptions(script, size, Path.GetFullPath(outDir), seed);

        string Value(int at)
        {
            if (at + 1 >= args.Count || args[at + 1].StartsWith("--", StringComparison.Ordinal))
                throw new ArgumentException($"{args[at]} needs a value\n{Usage(script)}");
            return args[at + 1];
        }
    }

    /// <summary>Picks the value for this run's size.</summary>
    public T Pick<T>(T smoke, T @default, T full) => Size switch
    {
        RunSize.Smoke => smoke,
        RunSize.Full => full,
        _ => @default,
    };

    /// <summary>A path inside <see cref="OutDir"/>.</summary>
    public string File(string name) => Path.Combine(OutDir, name);
}
