using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace CudaAdam.Experiments.Recording;

/// <summary>What a criterion's effect θ must show for the claim to be supported.</summary>
public enum TestKind
{
    /// <summary>θ &gt; margin (one-sided test of H0: θ ≤ margin).</summary>
    Greater,
    /// <summary>θ &lt; margin (one-sided test of H0: θ ≥ margin).</summary>
    Less,
    /// <summary>low &lt; θ &lt; high: "no difference" within a stated margin, by two one-sided tests (TOST).</summary>
    Equivalent,
}

/// <summary>An earlier verdict of ours on the same claim, for the README table ("was held; now … because …").</summary>
/// <param name="Verdict">The earlier word, e.g. "held" or "NOT held" (the vocabulary before issue 15) or a <see cref="Verdict"/> word.</param>
/// <param name="Date">When (yyyy-MM-dd).</param>
/// <param name="Why">What changed in the design since, i.e. why the verdict may differ.</param>
public sealed record EarlierVerdict(string Verdict, string Date, string Why);

/// <summary>One criterion of a criteria file, fixed before the run.</summary>
/// <param name="Id">Short stable name (used in reports, verdicts.json and the README table).</param>
/// <param name="Claim">What the literature says.</param>
/// <param name="Source">Where: paper, equation / theorem / figure number.</param>
/// <param name="Metric">The effect θ the script measures per seed (or over resampled seeds), in words, with its unit.</param>
/// <param name="Test">Greater, Less or Equivalent.</param>
/// <param name="Margin">The threshold of Greater/Less; for Equivalent the half-width around <paramref name="Center"/> when Low/High are not given.</param>
/// <param name="Low">Equivalent: the lower bound.</param>
/// <param name="High">Equivalent: the upper bound.</param>
/// <param name="Center">Equivalent with a symmetric margin: the centre (0 unless given).</param>
/// <param name="Earlier">Our previous verdict on this claim, if any.</param>
/// <param name="Complements">The id of a complementary criterion on the same θ (e.g. "momentum helps" vs "no difference"):
/// at most one of a pair can be supported, and the README table shows the pair as one finding.</param>
public sealed record CriterionSpec(string Id, string Claim, string Source, string Metric, TestKind Test, double Margin, double Low, double High,
    double Center, EarlierVerdict? Earlier, string? Complements = null)
{
    /// <summary>The test in words, e.g. "θ &gt; 0.9" or "−0.1 &lt; θ &lt; 0.1 (equivalence, TOST)".</summary>
    public string TestText => Test switch
    {
        TestKind.Greater => $"θ > {Report.Num(Margin)}",
        TestKind.Less => $"θ < {Report.Num(Margin)}",
        _ => $"{Report.Num(Low)} < θ < {Report.Num(High)} (equivalence, TOST)",
    };
}

/// <summary>
/// A script's criteria, read from <c>scripts/criteria/&lt;name&gt;.json</c> before the run: the claims with their sources,
/// the metric, the margin of each test, the seeds and sizes of each run size, and a version. The file's SHA-256
/// (of its text with CRLF read as LF) goes into every report. <c>scripts/criteria/versions.lock</c> lists every
/// (name, version, hash) ever used: a file whose version is listed with another hash was changed without a version
/// bump, which is an error; a version not yet listed is registered with <c>scripts/fsx criteria --register</c>
/// (and the test suite fails until it is).
/// </summary>
/// <example>
/// <code>
/// { "name": "reddi", "version": 1, "title": "…", "source": "Reddi, Kale &amp; Kumar, ICLR 2018",
///   "alpha": 0.025, "seeds": { "smoke": 2, "default": 5, "full": 10 },
///   "sizes": { "smoke": { "steps": 3000 }, "default": { "steps": 5000000 }, "full": { "steps": 50000000 } },
///   "criteria": [ { "id": "adam-cycle3", "claim": "…", "source": "Theorem 1", "metric": "mean x over the last 10% of rounds",
///                   "test": "greater", "margin": 0.9 } ] }
/// </code>
/// </example>
public sealed class CriteriaFile
{
    private readonly JsonElement _sizes;

    private CriteriaFile(string path, string text, JsonElement root)
    {
        Path = path;
        Hash = HashOf(text);
        Name = Req(root, "name").GetString()!;
        Version = Req(root, "version").GetInt32();
        Title = Req(root, "title").GetString()!;
        Source = Req(root, "source").GetString()!;
        Alpha = root.TryGetProperty("alpha", out var a) ? a.GetDouble() : 0.025;
        if (!(Alpha > 0 && Alpha < 0.5)) throw Bad($"alpha = {Alpha}: the one-sided family-wise level must be in (0, 0.5), e.g. 0.025");
        var seeds = Req(root, "seeds");
        SeedCounts = new Dictionary<RunSize, int>
        {
            [RunSize.Smoke] = Req(seeds, "smoke").GetInt32(),
            [RunSize.Default] = Req(seeds, "default").GetInt32(),
            [RunSize.Full] = Req(seeds, "full").GetInt32(),
        };
        foreach (var (size, n) in SeedCounts)
            if (n < 1 || size != RunSize.Smoke && n < 5)
                throw Bad($"seeds.{size.ToString().ToLowerInvariant()} = {n}: a default or full run needs at least 5 seeds (smoke at least 1)");
        _sizes = Req(root, "sizes").Clone();
        var list = new List<CriterionSpec>();
        foreach (var c in Req(root, "criteria").EnumerateArray())
            list.Add(ParseCriterion(c));
        if (list.Select(c => c.Id).Distinct().Count() != list.Count) throw Bad("two criteria share an id");
        foreach (var c in list)
            if (c.Complements is { } other && list.All(x => x.Id != other)) throw Bad($"criterion {c.Id} complements \"{other}\", which is not in the file");
        Criteria = list;
    }

    public string Path { get; }
    /// <summary>SHA-256 of the text (CRLF as LF), lower-case hex.</summary>
    public string Hash { get; }
    public string Name { get; }
    public int Version { get; }
    public string Title { get; }
    public string Source { get; }
    /// <summary>One-sided family-wise level α of every test (Holm across the criteria); intervals are reported at 1 − 2α.</summary>
    public double Alpha { get; }
    public IReadOnlyDictionary<RunSize, int> SeedCounts { get; }
    public IReadOnlyList<CriterionSpec> Criteria { get; }
    /// <summary>Set when the lock file does not list this version yet (the report says so; the test suite fails).</summary>
    public string? Unregistered { get; private set; }

    /// <summary>The criterion with this id.</summary>
    public CriterionSpec this[string id] => Criteria.FirstOrDefault(c => c.Id == id)
        ?? throw new ArgumentException($"{Path} has no criterion '{id}' (it has: {string.Join(", ", Criteria.Select(c => c.Id))})");

    /// <summary>The lock file beside the criteria files.</summary>
    public static string LockPath(string criteriaDir) => System.IO.Path.Combine(criteriaDir, "versions.lock");

    /// <summary>Reads <c>scripts/criteria/&lt;name&gt;.json</c> and checks it against the lock file.</summary>
    /// <exception cref="InvalidDataException">Missing file, bad JSON or field, or a change without a version bump; the message says what to do.</exception>
    public static CriteriaFile Load(string criteriaDir, string name)
    {
        var path = System.IO.Path.Combine(criteriaDir, name + ".json");
        if (!File.Exists(path)) throw new InvalidDataException($"{path} is missing: every script states its criteria there (see scripts/README.md)");
        var text = File.ReadAllText(path).Replace("\r\n", "\n");
        CriteriaFile f;
        try
        {
            using var doc = JsonDocument.Parse(text, new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
            f = new CriteriaFile(path, text, doc.RootElement.Clone());
        }
        catch (JsonException e) { throw new InvalidDataException($"{path}: not valid JSON ({e.Message})"); }
        catch (InvalidOperationException e) { throw new InvalidDataException($"{path}: a field has the wrong type ({e.Message})"); }
        catch (InvalidDataException e) when (!e.Message.StartsWith(path, StringComparison.Ordinal)) { throw new InvalidDataException($"{path}: {e.Message}"); }
        if (f.Name != name) throw new InvalidDataException($"{path} says name \"{f.Name}\": it must be \"{name}\", the file's name");
        var locked = ReadLock(LockPath(criteriaDir));
        var same = locked.Where(l => l.Name == name && l.Version == f.Version).ToList();
        if (same.Count > 0 && same.All(l => l.Hash != f.Hash))
            throw new InvalidDataException($"{path} changed but its version is still {f.Version} (registered with hash {same[0].Hash[..12]}…, now {f.Hash[..12]}…): " +
                $"a criterion changed after a run is a new version: set \"version\": {locked.Where(l => l.Name == name).Max(l => l.Version) + 1} and run scripts/fsx criteria --register");
        if (same.Count == 0) f.Unregistered = $"version {f.Version} of {name}.json is not in {System.IO.Path.GetFileName(LockPath(criteriaDir))} yet: run scripts/fsx criteria --register";
        return f;
    }

    /// <summary>One line of the lock file.</summary>
    public sealed record LockEntry(string Name, int Version, string Hash);

    /// <summary>The lock file's entries ("name version sha256" per line, # comments).</summary>
    public static IReadOnlyList<LockEntry> ReadLock(string lockPath)
    {
        if (!File.Exists(lockPath)) return [];
        var list = new List<LockEntry>();
        int n = 0;
        foreach (var raw in File.ReadAllLines(lockPath))
        {
            n++;
            var line = raw.Trim();
            if (line.Length == 0 || line.StartsWith('#')) continue;
            var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length != 3 || !int.TryParse(parts[1], NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) || parts[2].Length != 64)
                throw new InvalidDataException($"{lockPath}:{n}: expected \"name version sha256\", got \"{line}\"");
            list.Add(new LockEntry(parts[0], v, parts[2]));
        }
        return list;
    }

    /// <summary>Appends every criteria file's (name, version, hash) missing from the lock; refuses a changed registered version.
    /// Returns the lines added.</summary>
    public static IReadOnlyList<string> Register(string criteriaDir)
    {
        var added = new List<string>();
        var lockPath = LockPath(criteriaDir);
        foreach (var file in Directory.GetFiles(criteriaDir, "*.json").Order(StringComparer.Ordinal))
        {
            var f = Load(criteriaDir, System.IO.Path.GetFileNameWithoutExtension(file));   // throws on a change without a bump
            if (f.Unregistered is null) continue;
            var line = $"{f.Name} {f.Version} {f.Hash}";
            File.AppendAllText(lockPath, line + "\n");
            added.Add(line);
        }
        return added;
    }

    /// <summary>SHA-256 of text (as UTF-8, CRLF as LF), lower-case hex.</summary>
    public static string HashOf(string text) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text.Replace("\r\n", "\n"))));

    /// <summary>The number of seeds of a run size.</summary>
    public int Seeds(RunSize size) => SeedCounts[size];

    /// <summary>A size parameter of a run size, e.g. <c>sizes.default.steps</c>.</summary>
    public JsonElement Size(RunSize size, string key)
    {
        var s = size.ToString().ToLowerInvariant();
        if (!_sizes.TryGetProperty(s, out var block)) throw new InvalidDataException($"{Path} has no sizes.{s}");
        if (!block.TryGetProperty(key, out var v)) throw new InvalidDataException($"{Path} has no sizes.{s}.{key} (the script needs it)");
        return v;
    }

    /// <summary>The size block of a run size as "key = value" text, for the report.</summary>
    public string SizesText(RunSize size)
    {
        var s = size.ToString().ToLowerInvariant();
        return _sizes.TryGetProperty(s, out var block)
            ? string.Join(", ", block.EnumerateObject().Select(p => $"{p.Name} = {p.Value.GetRawText()}"))
            : "";
    }

    private CriterionSpec ParseCriterion(JsonElement c)
    {
        var id = Req(c, "id").GetString()!;
        var test = Req(c, "test").GetString() switch
        {
            "greater" => TestKind.Greater,
            "less" => TestKind.Less,
            "equivalent" => TestKind.Equivalent,
            var t => throw Bad($"criterion {id}: test \"{t}\" is not one of greater, less, equivalent"),
        };
        double margin = c.TryGetProperty("margin", out var m) ? m.GetDouble() : double.NaN;
        double center = c.TryGetProperty("center", out var ce) ? ce.GetDouble() : 0;
        double low = double.NaN, high = double.NaN;
        if (test == TestKind.Equivalent)
        {
            if (c.TryGetProperty("low", out var lo) && c.TryGetProperty("high", out var hi)) { low = lo.GetDouble(); high = hi.GetDouble(); }
            else if (double.IsFinite(margin) && margin > 0) { low = center - margin; high = center + margin; }
            else throw Bad($"criterion {id}: an equivalence test needs \"low\" and \"high\", or a positive \"margin\" (around \"center\", default 0)");
            if (!(low < high)) throw Bad($"criterion {id}: low {low} must be below high {high}");
        }
        else if (!double.IsFinite(margin)) throw Bad($"criterion {id}: a {test.ToString().ToLowerInvariant()} test needs a finite \"margin\"");
        EarlierVerdict? earlier = null;
        if (c.TryGetProperty("earlier", out var e))
            earlier = new EarlierVerdict(Req(e, "verdict").GetString()!, Req(e, "date").GetString()!, Req(e, "why").GetString()!);
        string? complements = c.TryGetProperty("complements", out var co) ? co.GetString() : null;
        return new CriterionSpec(id, Req(c, "claim").GetString()!, Req(c, "source").GetString()!, Req(c, "metric").GetString()!, test, margin, low, high, center, earlier, complements);
    }

    private static JsonElement Req(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) ? v : throw new InvalidDataException($"missing field \"{name}\"");

    private InvalidDataException Bad(string what) => new($"{Path}: {what}");
}
