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
/// <c>--out DIR</c> (default <c>runs/&lt;script&gt;</c> under the repository root), <c>--seed N</c> (the first seed; a run
/// uses N, N+1, …), and for the scripts on <see cref="Experiment"/>: <c>--seeds K</c> (how many; default from the criteria
/// file), <c>--jobs J</c> (jobs run in parallel; default the core count), <c>--shard k/n</c> (run only the k-th of n
/// interleaved parts of the grid), <c>--from DIR</c> (earlier stages' merged results, for a multi-stage sharded sweep),
/// <c>--merge DIR,DIR,…</c> (combine shard folders into the report; <c>scripts/fsx merge</c>).
/// </summary>
public sealed record ScriptOptions(string Script, RunSize Size, string OutDir, int Seed)
{
    /// <summary>The usage line for messages.</summary>
    public static string Usage(string script) =>
        $"usage: dotnet fsi scripts/{script}.fsx [--smoke | --full] [--out DIR] [--seed N] [--seeds K] [--jobs J] [--shard k/n [--from DIR]] [--merge DIR,DIR,...]";

    /// <summary>--shard k/n: this process runs the grid's jobs i with i mod n = k − 1 (k is 1-based); null: all.</summary>
    public (int K, int N)? Shard { get; init; }
    /// <summary>--merge: shard folders to combine instead of running.</summary>
    public IReadOnlyList<string>? Merge { get; init; }
    /// <summary>--from: a folder with earlier stages' complete results (a merge's or a whole run's output).</summary>
    public string? From { get; init; }
    /// <summary>--seeds: the number of seeds, overriding the criteria file.</summary>
    public int? SeedCount { get; init; }
    /// <summary>--jobs: how many jobs run at once (default: the core count).</summary>
    public int Jobs { get; init; } = Environment.ProcessorCount;
    /// <summary>Whether --smoke/--full was given explicitly (a merge takes the size of its shards otherwise).</summary>
    public bool SizeGiven { get; init; }

    /// <summary>
    /// Parses <paramref name="args"/> (<c>fsi.CommandLineArgs</c> without the script path). <paramref name="repoRoot"/>
    /// is where the default <c>runs/</c> folder goes.
    /// </summary>
    /// <exception cref="ArgumentException">An unknown flag, a missing value or a bad number; the message says which and gives the usage.</exception>
    public static ScriptOptions Parse(string script, string repoRoot, IReadOnlyList<string> args)
    {
        var size = RunSize.Default;
        string? outDir = null, from = null;
        int seed = 1, jobs = Environment.ProcessorCount;
        int? seedCount = null;
        (int, int)? shard = null;
        string[]? merge = null;
        bool sizeGiven = false;
        for (int i = 0; i < args.Count; i++)
        {
            switch (args[i])
            {
                case "--smoke": size = RunSize.Smoke; sizeGiven = true; break;
                case "--full": size = RunSize.Full; sizeGiven = true; break;
                case "--from": from = Path.GetFullPath(Value(i++)); break;
                case "--merge":
                    merge = Value(i++).Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(Path.GetFullPath).ToArray();
                    if (merge.Length == 0) throw new ArgumentException($"--merge needs one or more shard folders, comma-separated\n{Usage(script)}");
                    break;
                case "--seeds": seedCount = PositiveInt(Value(i++), "--seeds"); break;
                case "--jobs": jobs = PositiveInt(Value(i++), "--jobs"); break;
                case "--shard":
                    var sh = Value(i++);
                    var parts = sh.Split('/');
                    if (parts.Length != 2 || !int.TryParse(parts[0], NumberStyles.Integer, CultureInfo.InvariantCulture, out int k)
                        || !int.TryParse(parts[1], NumberStyles.Integer, CultureInfo.InvariantCulture, out int n) || n < 1 || k < 1 || k > n)
                        throw new ArgumentException($"--shard needs k/n with 1 ≤ k ≤ n (e.g. --shard 2/3), got '{sh}'\n{Usage(script)}");
                    shard = (k, n);
                    break;
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
        if (shard is not null && merge is not null) throw new ArgumentException($"--shard and --merge exclude each other: run the shards first, then merge their folders\n{Usage(script)}");
        if (from is not null && shard is null) throw new ArgumentException($"--from goes with --shard (the next stage of a sharded sweep)\n{Usage(script)}");
        outDir ??= Path.Combine(repoRoot, "runs", script);
        Directory.CreateDirectory(outDir);
        return new ScriptOptions(script, size, Path.GetFullPath(outDir), seed)
        {
            Shard = shard, Merge = merge, From = from, SeedCount = seedCount, Jobs = jobs, SizeGiven = sizeGiven,
        };

        int PositiveInt(string v, string flag) =>
            int.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out int x) && x >= 1 ? x
                : throw new ArgumentException($"{flag} needs a positive integer, got '{v}'\n{Usage(script)}");

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
