#pragma warning disable CS1591 // CS1591 backlog (issue 13): 11 public members here have no XML doc yet; document them, then delete this line
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using CudaAdam.Experiments.Statistics;

namespace CudaAdam.Experiments.Recording;

/// <summary>
/// The frame of an experiment script (issue 15): options, the versioned criteria file, the seeds, provenance, the
/// report, and the sweep of its grid. A script builds its jobs (seeds × hyperparameters × sizes), runs them through
/// <see cref="Run{TJob}"/>, which writes one raw CSV per stage and returns it parsed, and analyses only that table. So
/// <c>--shard k/n</c> (run every n-th job), <c>--merge DIR,…</c> (combine the shards' CSVs) and a plain run hand the
/// analysis the same text, and the merged report equals the plain one bitwise except its Provenance section.
/// <para>Multi-stage sweeps (e.g. a grid search, then the best setting rerun with more seeds): each <see cref="Run{TJob}"/>
/// is a stage. Sharded: run the n shards (stage 1), merge them (the merge stops before stage 2 and says so), run the n
/// shards again with <c>--from MERGED</c> (they load stage 1 and run their part of stage 2), merge those.</para>
/// </summary>
public sealed class Experiment
{
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly List<StageRecord> _stages = [];
    private readonly List<Provenance> _shardProvenance = [];
    private readonly Provenance _start;
    private readonly List<(string Stage, string Dir, JsonObject Manifest)> _mergeManifests = [];
    private int _jobsRun;

    private sealed record StageRecord(string Name, string Kind, int Jobs, string KeysHash, int? K, int? N, IReadOnlyList<string> Tables);

    private Experiment(ScriptOptions options, CriteriaFile criteria, string repoRoot, string command)
    {
        Options = options;
        Criteria = criteria;
        RepoRoot = repoRoot;
        int n = options.SeedCount ?? criteria.Seeds(options.Size);
        Seeds = Enumerable.Range(options.Seed, n).ToArray();
        var shard = options.Shard is { } s ? $"{s.K}/{s.N}" : options.Merge is not null ? "merge" : "all";
        _start = Provenance.Start(repoRoot, command, shard, options.Jobs);
        Report = new Report(criteria.Title, options) { CriteriaFile = criteria, SeedList = Seeds };
        if (options.SeedCount is { } sc && sc < criteria.Seeds(options.Size))
            Report.Departure ??= $"{sc} seeds where the criteria file fixes {criteria.Seeds(options.Size)} for a {SizeWord} run";
        if (options.Size == RunSize.Smoke)
            Report.Departure = "smoke size (seconds, for CI): too small to decide";
    }

    /// <summary>How a shard (or a merge that stops before an unrun stage) ends the process: <see cref="Environment.Exit"/>;
    /// tests replace it with one that throws.</summary>
    public Action<int> Exit { get; set; } = Environment.Exit;

    public ScriptOptions Options { get; }
    public CriteriaFile Criteria { get; }
    public string RepoRoot { get; }
    /// <summary>The seeds of this run: --seed, --seed + 1, … (as many as the criteria file says for this size, or --seeds).</summary>
    public IReadOnlyList<int> Seeds { get; }
    public Report Report { get; }
    private string SizeWord => Options.Size.ToString().ToLowerInvariant();

    /// <summary>
    /// Parses the command line, loads <c>scripts/criteria/&lt;script&gt;.json</c>; in merge mode the size and seeds come from
    /// the shards' manifests. Throws <see cref="ArgumentException"/> (bad flag) or <see cref="InvalidDataException"/> (criteria
    /// or shard folders); the F# helper turns both into one line and exit code 2.
    /// </summary>
    public static Experiment Start(string script, string repoRoot, IReadOnlyList<string> args)
    {
        var o = ScriptOptions.Parse(script, repoRoot, args);
        if (o.Merge is { } dirs)
        {
            var m = ReadManifest(dirs[0]);
            var size = Enum.Parse<RunSize>((string)m["size"]!, ignoreCase: true);
            if (o.SizeGiven && size != o.Size) throw new ArgumentException($"--merge: the shards in {dirs[0]} are a {size} run, not {o.Size}");
            o = o with { Size = size, Seed = (int)m["seed"]!, SeedCount = (int?)m["seed_count_override"] };
        }
        var criteria = CriteriaFile.Load(Path.Combine(repoRoot, "scripts", "criteria"), script);
        var command = "scripts/fsx " + script + (args.Count > 0 ? " " + string.Join(" ", args) : "");
        return new Experiment(o, criteria, repoRoot, command);
    }

    // ---- sizes from the criteria file ----
    public int Int(string key) => Criteria.Size(Options.Size, key).GetInt32();
    public long Long(string key) => Criteria.Size(Options.Size, key).GetInt64();
    public double Float(string key) => Criteria.Size(Options.Size, key).GetDouble();
    public string Str(string key) => Criteria.Size(Options.Size, key).GetString()!;
    public int[] Ints(string key) => Criteria.Size(Options.Size, key).EnumerateArray().Select(e => e.GetInt32()).ToArray();
    public double[] Floats(string key) => Criteria.Size(Options.Size, key).EnumerateArray().Select(e => e.GetDouble()).ToArray();
    public string[] Strs(string key) => Criteria.Size(Options.Size, key).EnumerateArray().Select(e => e.GetString()!).ToArray();

    /// <summary>
    /// Records criterion <paramref name="id"/>'s effect as the mean of one value per seed, bootstrapped over the seeds
    /// (seeded from the id, so the interval is the same in every run of the same data). Returns the distribution.
    /// </summary>
    public BootstrapDistribution EffectMean(string id, IReadOnlyList<double> perSeed, string evidence, string? departure = null)
    {
        var d = BootstrapDistribution.OfMean(perSeed, seed: BootstrapDistribution.SeedFor(id));
        Report.Effect(id, d, evidence, departure);
        return d;
    }

    /// <summary>Records criterion <paramref name="id"/>'s effect as <paramref name="statistic"/> of the per-seed items
    /// (e.g. a slope refitted to resampled whole runs), bootstrapped over the items.</summary>
    public BootstrapDistribution Effect<T>(string id, IReadOnlyList<T> items, Func<IReadOnlyList<T>, double> statistic, string evidence, string? departure = null)
    {
        var d = BootstrapDistribution.Of(items, statistic, seed: BootstrapDistribution.SeedFor(id));
        Report.Effect(id, d, evidence, departure);
        return d;
    }

    /// <summary>A path in the output folder.</summary>
    public string File(string name) => Options.File(name);

    /// <summary>
    /// Runs one stage of the grid: every job (or this shard's share), in parallel (<c>--jobs</c>), each returning its rows
    /// of the stage's table; writes <c>&lt;stage&gt;.csv</c> (a leading <c>job</c> column holds the job's index in
    /// <paramref name="jobs"/>, rows in job order) and returns it parsed. A shard writes its part and a manifest and ends
    /// the process (exit 0); a merge combines the shards' parts instead of running.
    /// </summary>
    /// <param name="stage">The stage's name (the CSV's file name).</param>
    /// <param name="jobs">The grid, in a fixed order (the same in every shard).</param>
    /// <param name="key">A job's identity as text (e.g. "w=64 lr=-2.25 seed=3"); shards and merges check the keys agree.</param>
    /// <param name="columns">The table's columns (without <c>job</c>).</param>
    /// <param name="run">One job: its rows, each with one cell per column.</param>
    public RawTable Run<TJob>(string stage, IReadOnlyList<TJob> jobs, Func<TJob, string> key, IReadOnlyList<string> columns,
        Func<TJob, IEnumerable<object[]>> run) =>
        RunTables(stage, jobs, key, [Tuple.Create(stage, columns)], j => run(j).Select(r => Tuple.Create(stage, r)))[stage];

    /// <summary>
    /// <see cref="Run{TJob}"/> with several tables per stage: <paramref name="tables"/> gives each table's name (its CSV's
    /// file name) and columns; a job returns (table, row) pairs. F#: <c>[ ("snap", [| … |]); ("ks", [| … |]) ]</c>.
    /// </summary>
    public IReadOnlyDictionary<string, RawTable> RunTables<TJob>(string stage, IReadOnlyList<TJob> jobs, Func<TJob, string> key,
        IReadOnlyList<Tuple<string, IReadOnlyList<string>>> tables, Func<TJob, IEnumerable<Tuple<string, object[]>>> run)
    {
        ArgumentNullException.ThrowIfNull(jobs);
        if (_stages.Any(s => s.Name == stage)) throw new ArgumentException($"stage '{stage}' ran twice: give each stage its own name");
        var names = tables.Select(t => t.Item1).ToArray();
        if (names.Length == 0 || names.Distinct().Count() != names.Length) throw new ArgumentException($"stage {stage}: give one or more tables, each its own name");
        if (_stages.Any(s => s.Tables.Intersect(names).Any())) throw new ArgumentException($"stage {stage}: a table name is used by an earlier stage");
        foreach (var t in tables)
            if (t.Item2.Contains("job")) throw new ArgumentException($"table {t.Item1}: 'job' is the sweep's own column: name yours differently");
        var keys = jobs.Select(key).ToArray();
        if (keys.Distinct().Count() != keys.Length)
            throw new ArgumentException($"stage {stage}: two jobs have the same key '{keys.GroupBy(k => k).First(g => g.Count() > 1).Key}': keys must identify jobs");
        var keysHash = CriteriaFile.HashOf(string.Join("\n", keys));
        var headers = tables.ToDictionary(t => t.Item1, t => new[] { "job" }.Concat(t.Item2).ToArray());
        var record = new StageRecord(stage, "complete", jobs.Count, keysHash, null, null, names);

        if (Options.Merge is { } dirs) return Merged(record, dirs, headers);

        if (Options.Shard is not null && Options.From is { } from && CompleteStageIn(from, stage) is { } done)
        {
            CheckStage(from, done, stage, jobs.Count, keysHash);
            var fromProv = Path.Combine(from, "provenance.json");
            if (_shardProvenance.Count == 0 && System.IO.File.Exists(fromProv))
                foreach (var p in JsonNode.Parse(System.IO.File.ReadAllText(fromProv))!.AsArray())
                    if (p is not null) _shardProvenance.Add(Provenance.FromJson(p.ToJsonString()));
            foreach (var name in names)
                CudaAdam.IO.AtomicFile.WriteAllText(File(name + ".csv"), System.IO.File.ReadAllText(Path.Combine(from, name + ".csv")));
            return Complete(record);
        }

        var mine = Enumerable.Range(0, jobs.Count).Where(i => Options.Shard is not { } s || i % s.N == s.K - 1).ToArray();
        var outputs = new List<Tuple<string, object[]>>[mine.Length];
        var po = new ParallelOptions { MaxDegreeOfParallelism = Options.Jobs };
        Parallel.For(0, mine.Length, po, j =>
        {
            var rows = run(jobs[mine[j]]).ToList();
            foreach (var (table, r) in rows)
            {
                if (!headers.TryGetValue(table, out var h))
                    throw new InvalidOperationException($"stage {stage}, job {keys[mine[j]]}: a row for table '{table}', which the stage does not declare ({string.Join(", ", names)})");
                if (r.Length != h.Length - 1)
                    throw new InvalidOperationException($"stage {stage}, job {keys[mine[j]]}: a row of {table} has {r.Length} cells, the table has {h.Length - 1} columns ({string.Join(",", h.Skip(1))})");
            }
            outputs[j] = rows;
        });
        _jobsRun += mine.Length;
        foreach (var name in names)
        {
            var csv = new CsvTable(headers[name]);
            for (int j = 0; j < mine.Length; j++)
                foreach (var (table, r) in outputs[j])
                    if (table == name) csv.Add([mine[j], .. r]);
            csv.Save(File(name + ".csv"));
        }

        if (Options.Shard is { } shard)
        {
            _stages.Add(record with { Kind = "sharded", K = shard.K, N = shard.N });
            WriteShardManifest();
            Console.WriteLine($"{Options.Script} shard {shard.K}/{shard.N}, stage {stage}: ran {mine.Length} of {jobs.Count} jobs in {_clock.Elapsed.TotalSeconds:F1} s -> {Options.OutDir}");
            Console.WriteLine($"merge the {shard.N} shard folders with: scripts/fsx merge {Options.Script} DIR1 DIR2 ...");
            Console.Out.Flush();
            Exit(0);
            throw new InvalidOperationException("unreachable: Exit returned");
        }
        return Complete(record);
    }

    private Dictionary<string, RawTable> Complete(StageRecord record)
    {
        _stages.Add(record);
        WriteStages();
        return record.Tables.ToDictionary(t => t, t => RawTable.Read(File(t + ".csv")));
    }

    /// <summary>Writes the report (with provenance and the raw files' hashes) and verdicts.json; returns the report's path.</summary>
    public string Finish()
    {
        var me = _start.Finished(_clock.Elapsed, _jobsRun);
        var all = new List<Provenance>(_shardProvenance) { me };
        System.IO.File.WriteAllText(File("provenance.json"), "[\n" + string.Join(",\n", all.Select(p => p.ToJson())) + "\n]\n");
        Report.Provenance = all;
        Report.RawFiles = _stages.SelectMany(s => s.Tables).Select(t => t + ".csv").ToArray();
        return Report.Save(_clock.Elapsed);
    }

    // ---- shards ----

    private JsonObject ManifestObject() => new()
    {
        ["script"] = Options.Script,
        ["size"] = SizeWord,
        ["seed"] = Options.Seed,
        ["seed_count_override"] = Options.SeedCount,
        ["seeds"] = string.Join(" ", Seeds),
        ["criteria_version"] = Criteria.Version,
        ["criteria_hash"] = Criteria.Hash,
        ["stages"] = new JsonArray(_stages.Select(s => (JsonNode)new JsonObject
        {
            ["name"] = s.Name, ["kind"] = s.Kind, ["jobs"] = s.Jobs, ["keys_hash"] = s.KeysHash, ["k"] = s.K, ["n"] = s.N,
            ["tables"] = new JsonArray(s.Tables.Select(t => (JsonNode)JsonValue.Create(t)!).ToArray()),
        }).ToArray()),
    };

    private void WriteStages() =>
        System.IO.File.WriteAllText(File("stages.json"), ManifestObject().ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");

    private void WriteShardManifest()
    {
        var m = ManifestObject();
        m["provenance"] = JsonNode.Parse(_start.Finished(_clock.Elapsed, _jobsRun).ToJson());
        var prior = new JsonArray();
        foreach (var p in _shardProvenance) prior.Add(JsonNode.Parse(p.ToJson()));
        m["earlier_provenance"] = prior;
        System.IO.File.WriteAllText(File("shard.json"), m.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
    }

    private static JsonObject ReadManifest(string dir)
    {
        foreach (var name in new[] { "shard.json", "stages.json" })
        {
            var p = Path.Combine(dir, name);
            if (System.IO.File.Exists(p)) return JsonNode.Parse(System.IO.File.ReadAllText(p))!.AsObject();
        }
        throw new InvalidDataException($"{dir} holds no shard.json: is it the --out folder of a `--shard k/n` run?");
    }

    private static JsonObject? CompleteStageIn(string dir, string stage)
    {
        var m = ReadManifest(dir);
        return m["stages"]!.AsArray().Select(s => s!.AsObject()).FirstOrDefault(s => (string)s["name"]! == stage && (string)s["kind"]! == "complete") is { } found
            ? new JsonObject { ["manifest"] = m.DeepClone(), ["stage"] = found.DeepClone() } : null;
    }

    private void CheckStage(string dir, JsonObject found, string stage, int jobs, string keysHash)
    {
        var m = found["manifest"]!.AsObject();
        var s = found["stage"]!.AsObject();
        CheckSame(dir, m);
        if ((int)s["jobs"]! != jobs || (string)s["keys_hash"]! != keysHash)
            throw new InvalidDataException($"{dir}: stage {stage} has {(int)s["jobs"]!} jobs (keys {((string)s["keys_hash"]!)[..12]}…), this script builds {jobs} (keys {keysHash[..12]}…): " +
                "the grid differs (another commit, size or seed count?)");
    }

    private void CheckSame(string dir, JsonObject m)
    {
        if ((string)m["script"]! != Options.Script) throw new InvalidDataException($"{dir} holds a shard of {(string)m["script"]!}, not {Options.Script}");
        if ((string)m["criteria_hash"]! != Criteria.Hash)
            throw new InvalidDataException($"{dir} ran criteria version {(int)m["criteria_version"]!} ({((string)m["criteria_hash"]!)[..12]}…), this is version {Criteria.Version} ({Criteria.Hash[..12]}…)");
        if ((string)m["size"]! != SizeWord || (int)m["seed"]! != Options.Seed || (string)m["seeds"]! != string.Join(" ", Seeds))
            throw new InvalidDataException($"{dir} is a {(string)m["size"]!} run with seeds {(string)m["seeds"]!}, not {SizeWord} with {string.Join(" ", Seeds)}");
    }

    private Dictionary<string, RawTable> Merged(StageRecord record, IReadOnlyList<string> dirs, Dictionary<string, string[]> headers)
    {
        string stage = record.Name;
        int jobs = record.Jobs;
        var manifests = dirs.Select(d => (Dir: d, M: ReadManifest(d))).ToArray();
        foreach (var (d, m) in manifests)
        {
            CheckSame(d, m);
            if (_mergeManifests.All(x => x.Dir != d))
            {
                _mergeManifests.Add((stage, d, m));
                if (m["earlier_provenance"] is JsonArray earlier)
                    foreach (var p in earlier)
                        if (p is not null && _shardProvenance.All(x => x.ToJson() != Provenance.FromJson(p.ToJsonString()).ToJson()))
                            _shardProvenance.Add(Provenance.FromJson(p.ToJsonString()));
                if (m["provenance"] is { } pr) _shardProvenance.Add(Provenance.FromJson(pr.ToJsonString()));
            }
        }
        var entries = manifests.Select(x => (x.Dir, Stage: x.M["stages"]!.AsArray().Select(s => s!.AsObject()).FirstOrDefault(s => (string)s["name"]! == stage))).ToArray();
        if (entries.All(e => e.Stage is null))
        {
            WriteStages();
            System.IO.File.WriteAllText(File("provenance.json"), "[\n" + string.Join(",\n", _shardProvenance.Select(p => p.ToJson())) + "\n]\n");
            Console.WriteLine($"{Options.Script}: stage {stage} has not run yet; the stages before it are merged into {Options.OutDir}.");
            Console.WriteLine($"next: run the shards with --shard k/n --from {Options.OutDir}, then merge their folders.");
            Console.Out.Flush();
            Exit(0);
            throw new InvalidOperationException("unreachable: Exit returned");
        }
        foreach (var (d, s) in entries)
        {
            if (s is null) throw new InvalidDataException($"{d} has no stage {stage} while other shard folders have it: merge folders of one sharded run");
            if ((int)s["jobs"]! != jobs || (string)s["keys_hash"]! != record.KeysHash)
                throw new InvalidDataException($"{d}: stage {stage} has {(int)s["jobs"]!} jobs (keys {((string)s["keys_hash"]!)[..12]}…), this script builds {jobs} (keys {record.KeysHash[..12]}…): the grid differs (another commit, size or seed count?)");
        }
        if (entries.All(e => (string)e.Stage!["kind"]! == "complete"))
        {
            foreach (var name in record.Tables)
                CudaAdam.IO.AtomicFile.WriteAllText(File(name + ".csv"), System.IO.File.ReadAllText(Path.Combine(entries[0].Dir, name + ".csv")));
            return Complete(record);
        }
        var sharded = entries.Where(e => (string)e.Stage!["kind"]! == "sharded").ToArray();
        int n = (int)sharded[0].Stage!["n"]!;
        var ks = sharded.Select(e => (int)e.Stage!["k"]!).Order().ToArray();
        if (sharded.Length != entries.Length || sharded.Any(e => (int)e.Stage!["n"]! != n) || !ks.SequenceEqual(Enumerable.Range(1, n)))
            throw new InvalidDataException($"stage {stage}: the folders hold shards {string.Join(", ", entries.Select(e => $"{(int?)e.Stage!["k"]}/{(int?)e.Stage!["n"]}"))}: a merge needs each of 1/{n} … {n}/{n} exactly once");
        foreach (var name in record.Tables)
        {
            var header = headers[name];
            var byJob = new List<string[]>[jobs];
            foreach (var (d, s) in sharded)
            {
                int k = (int)s!["k"]!;
                var t = RawTable.Read(Path.Combine(d, name + ".csv"));
                if (!t.Columns.SequenceEqual(header)) throw new InvalidDataException($"{d}/{name}.csv has columns {string.Join(",", t.Columns)}, the script writes {string.Join(",", header)}");
                foreach (var r in t.Rows)
                {
                    int job = r.Int("job");
                    if (job < 0 || job >= jobs || job % n != k - 1) throw new InvalidDataException($"{d}/{name}.csv has job {job}, which is not shard {k}/{n}'s");
                    (byJob[job] ??= []).Add(r.Cells.ToArray());
                }
            }
            var csv = new CsvTable(header);
            for (int j = 0; j < jobs; j++)
                foreach (var cells in byJob[j] ?? []) csv.Add(cells);
            csv.Save(File(name + ".csv"));
        }
        return Complete(record);
    }
}
