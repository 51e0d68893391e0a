using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using CudaAdam.Experiments.Statistics;
using MathNet.Numerics.Distributions;
using V = CudaAdam.Experiments.Recording.Verdict;

namespace CudaAdam.Experiments.Recording;

/// <summary>The outcome of one stated criterion.</summary>
public enum Outcome
{
    /// <summary>The criterion held.</summary>
    Held,
    /// <summary>The criterion did not hold: the run contradicts the literature's claim (a finding, not a failure).</summary>
    NotHeld,
    /// <summary>The run was too small to decide (smoke mode), or a precondition was missing.</summary>
    Undecided,
}

/// <summary>The verdict on one criterion of a criteria file (issue 15's vocabulary).</summary>
public enum Verdict
{
    /// <summary>The test rejects H0 in the claim's favour (after Holm).</summary>
    Supported,
    /// <summary>The test rejects in the other direction, beyond the margin (after Holm).</summary>
    Contradicted,
    /// <summary>Neither: the interval straddles the margin; the report says roughly how many seeds would decide it.</summary>
    Inconclusive,
    /// <summary>The setting departs from the claim's (smoke size, fewer seeds, another regime); the numbers are kept.</summary>
    NotTestedAsStated,
}

/// <summary>One decided criterion.</summary>
public sealed record Decision(CriterionSpec Spec, double Estimate, double Low, double High, int Seeds, double PSupport, double PSupportHolm,
    double PContra, double PContraHolm, Verdict AsRun, Verdict Verdict, string? Departure, string? SeedsToDecide, string Evidence);

/// <summary>A criterion stated before the run and its outcome after it.</summary>
/// <param name="Claim">What the literature says, with its source.</param>
/// <param name="Test">The quantitative test that decides it, with thresholds.</param>
/// <param name="Outcome">Whether it held.</param>
/// <param name="Evidence">The measured numbers that decided it.</param>
public sealed record Criterion(string Claim, string Test, Outcome Outcome, string Evidence);

/// <summary>
/// A markdown report: title, setup, the criteria stated up front, then results (text, tables, images) and the
/// verdict. Written as <c>report.md</c> in the run's folder; images are linked by file name, relative to it.
/// </summary>
public sealed class Report
{
    private readonly List<string> _setup = [];
    private readonly List<Criterion> _criteria = [];
    private readonly StringBuilder _body = new();

    public Report(string title, ScriptOptions options)
    {
        Title = title;
        Options = options;
    }

    public string Title { get; }
    public ScriptOptions Options { get; }
    /// <summary>The criteria recorded so far.</summary>
    public IReadOnlyList<Criterion> Criteria => _criteria;

    /// <summary>The criteria file of an <see cref="Experiment"/> (null for a script still on <see cref="Decide"/>).</summary>
    public CriteriaFile? CriteriaFile { get; init; }
    /// <summary>The seeds of the run (for the header).</summary>
    public IReadOnlyList<int> SeedList { get; init; } = [];
    /// <summary>When set, every effect criterion is "not tested as stated" for this reason (e.g. smoke size, fewer seeds).</summary>
    public string? Departure { get; set; }
    /// <summary>Provenance of the run, or of each shard and the merge.</summary>
    public IReadOnlyList<Provenance> Provenance { get; set; } = [];
    /// <summary>The raw CSVs beside the report (listed with their hashes).</summary>
    public IReadOnlyList<string> RawFiles { get; set; } = [];

    private readonly List<(CriterionSpec Spec, BootstrapDistribution Dist, string Evidence, string? Departure)> _effects = [];

    /// <summary>
    /// Records the measured effect θ of criterion <paramref name="id"/> (a bootstrap distribution over seeds). The verdict
    /// is decided when the report is rendered, with Holm's correction across all of the script's criteria.
    /// <paramref name="departure"/>: how this setting departs from the claim's, if it does (the verdict is then
    /// "not tested as stated", with the numbers kept).
    /// </summary>
    public void Effect(string id, BootstrapDistribution effect, string evidence, string? departure = null)
    {
        if (CriteriaFile is null) throw new InvalidOperationException("Effect needs a criteria file: start the script with Experiment.Start");
        if (_effects.Any(e => e.Spec.Id == id)) throw new ArgumentException($"criterion {id} was measured twice");
        _effects.Add((CriteriaFile[id], effect, evidence, departure));
    }

    /// <summary>The decisions over the recorded effects (Holm across them); criteria of the file not measured are listed as missing.</summary>
    public IReadOnlyList<Decision> Decisions()
    {
        if (CriteriaFile is null) return [];
        double alpha = CriteriaFile.Alpha;
        int m = _effects.Count;
        var pS = new double[m];
        var pC = new double[m];
        for (int i = 0; i < m; i++)
        {
            var (spec, d, _, _) = _effects[i];
            (pS[i], pC[i]) = spec.Test switch
            {
                TestKind.Greater => (d.PGreater(spec.Margin), d.PLess(spec.Margin)),
                TestKind.Less => (d.PLess(spec.Margin), d.PGreater(spec.Margin)),
                _ => (Math.Max(d.PGreater(spec.Low), d.PLess(spec.High)), Math.Min(d.PLess(spec.Low), d.PGreater(spec.High))),
            };
        }
        var hS = Holm.Adjust(pS);
        var hC = Holm.Adjust(pC);
        var list = new List<Decision>();
        for (int i = 0; i < m; i++)
        {
            var (spec, d, evidence, dep) = _effects[i];
            var asRun = hS[i] <= alpha ? V.Supported : hC[i] <= alpha ? V.Contradicted : V.Inconclusive;
            var departure = Departure ?? dep;
            var (lo, hi) = d.Interval(1 - 2 * alpha);
            string? seedsToDecide = asRun == V.Inconclusive ? SeedsToDecide(spec, d, alpha / Math.Max(1, m)) : null;
            list.Add(new Decision(spec, d.Estimate, lo, hi, d.Items, pS[i], hS[i], pC[i], hC[i], asRun,
                departure is null ? asRun : V.NotTestedAsStated, departure, seedsToDecide, evidence));
        }
        return list;
    }

    /// <summary>
    /// Roughly how many seeds would decide an inconclusive criterion, from the observed spread: the standard error
    /// shrinks like 1/√n, so n' ≈ n·(z·se/gap)² where gap is the distance from the estimate to the bound it would have
    /// to clear and z the one-sided normal quantile at the Bonferroni level α/m (Holm's most stringent step).
    /// </summary>
    public static string SeedsToDecide(CriterionSpec spec, BootstrapDistribution d, double level)
    {
        double est = d.Estimate, gap;
        string toward;
        switch (spec.Test)
        {
            case TestKind.Greater: gap = est - spec.Margin; toward = gap > 0 ? "supported" : "contradicted"; break;
            case TestKind.Less: gap = spec.Margin - est; toward = gap > 0 ? "supported" : "contradicted"; break;
            default:
                bool inside = est > spec.Low && est < spec.High;
                gap = inside ? Math.Min(est - spec.Low, spec.High - est) : Math.Max(spec.Low - est, est - spec.High);
                toward = inside ? "supported" : "contradicted";
                break;
        }
        gap = Math.Abs(gap);
        double se = d.StandardError;
        if (!(se > 0)) return "no spread between seeds: more seeds change nothing";
        if (gap <= 1e-9 * Math.Max(1, Math.Abs(est))) return "the estimate sits on the margin: no number of seeds decides it";
        double z = Normal.InvCDF(0, 1, 1 - level);
        double need = d.Items * Math.Pow(z * se / gap, 2);
        return need > 1e6 ? $"more than 10⁶ seeds (toward {toward})"
            : $"≈ {Math.Max(d.Items + 1, (int)Math.Ceiling(need))} seeds would decide it (toward {toward}; se {Num(se)} at {d.Items} seeds, {Num(gap)} from the margin)";
    }

    /// <summary>A line of the setup section (problem, optimizer settings, sizes, seeds).</summary>
    public void Setup(string line) => _setup.Add(line);

    /// <summary>Records a criterion's outcome. In smoke mode any outcome is reported as <see cref="Outcome.Undecided"/>
    /// with the measured value kept, because a smoke run is too small to decide.</summary>
    public Criterion Decide(string claim, string test, bool held, string evidence)
    {
        var outcome = Options.Size == RunSize.Smoke ? Outcome.Undecided : held ? Outcome.Held : Outcome.NotHeld;
        if (Options.Size == RunSize.Smoke) evidence += $" (smoke run: would be {(held ? "held" : "not held")})";
        var c = new Criterion(claim, test, outcome, evidence);
        _criteria.Add(c);
        return c;
    }

    /// <summary>A paragraph of results.</summary>
    public void Text(string markdown) => _body.Append(markdown).Append("\n\n");

    /// <summary>A section heading inside the results.</summary>
    public void Section(string heading) => _body.Append("### ").Append(heading).Append("\n\n");

    /// <summary>An image, given by its file name inside the run folder.</summary>
    public void Image(string fileName, string caption) =>
        _body.Append("![").Append(caption).Append("](").Append(fileName).Append(")\n\n*").Append(caption).Append("*\n\n");

    /// <summary>A markdown table; cells are formatted with <see cref="Num"/> when numeric.</summary>
    public void Table(IReadOnlyList<string> header, IEnumerable<IReadOnlyList<object>> rows)
    {
        _body.Append("| ").AppendJoin(" | ", header).Append(" |\n|");
        foreach (var _ in header) _body.Append("---|");
        _body.Append('\n');
        foreach (var r in rows)
            _body.Append("| ").AppendJoin(" | ", r.Select(c => c switch
            {
                double d => Num(d),
                float f => Num(f),
                IFormattable x => x.ToString(null, CultureInfo.InvariantCulture),
                _ => c?.ToString() ?? "",
            })).Append(" |\n");
        _body.Append('\n');
    }

    /// <summary>A number for a report: 4 significant digits, invariant culture.</summary>
    public static string Num(double x) =>
        double.IsNaN(x) ? "NaN" : double.IsInfinity(x) ? (x > 0 ? "∞" : "−∞") : x.ToString("G4", CultureInfo.InvariantCulture);

    /// <summary>"held", "NOT held" or "undecided".</summary>
    public static string Word(Outcome o) => o switch
    {
        Outcome.Held => "held",
        Outcome.NotHeld => "NOT held",
        _ => "undecided",
    };

    /// <summary>The verdict over all criteria: held if all held, NOT held if any did not, else undecided.</summary>
    public Outcome Verdict =>
        _criteria.Count == 0 || _criteria.Any(c => c.Outcome == Outcome.Undecided) && _criteria.All(c => c.Outcome != Outcome.NotHeld)
            ? Outcome.Undecided
            : _criteria.Any(c => c.Outcome == Outcome.NotHeld) ? Outcome.NotHeld : Outcome.Held;

    /// <summary>The markdown text.</summary>
    public string Render(TimeSpan elapsed) => CriteriaFile is null ? RenderLegacy(elapsed) : RenderExperiment();

    private string RenderExperiment()
    {
        var c = CriteriaFile!;
        var decisions = Decisions();
        var sb = new StringBuilder();
        sb.Append("# ").Append(Title).Append("\n\n");
        sb.Append($"Run: `scripts/fsx {Options.Script}` size **{Options.Size.ToString().ToLowerInvariant()}**, {SeedList.Count} seeds ({SeedRange(SeedList)}); ")
          .Append($"criteria `scripts/criteria/{c.Name}.json` **version {c.Version}** (sha256 `{c.Hash}`).\n\n");
        if (c.Unregistered is not null) sb.Append($"> Criteria not registered: {c.Unregistered}.\n\n");
        sb.Append("## Criteria (fixed before the run in the criteria file)\n\n");
        sb.Append($"Source: {c.Source}. Each criterion is an effect θ with a bootstrap interval over seeds (expanded percentile, {Num(100 * (1 - 2 * c.Alpha))}%, ")
          .Append($"20 000 resamples, seeded); tests are one-sided at α = {Num(c.Alpha)} with Holm's correction across this script's {c.Criteria.Count} criteria; ")
          .Append("\"no difference\" claims are equivalence tests (TOST) against the stated margin. Verdicts: **supported** (the test rejects H0 in the claim's favour), ")
          .Append("**contradicted** (it rejects in the other direction, beyond the margin), **inconclusive** (neither: the interval straddles the margin), ")
          .Append("**not tested as stated** (the setting departs from the claim's; the numbers are shown as run).\n\n");
        int i = 1;
        foreach (var s in c.Criteria)
            sb.Append($"{i++}. `{s.Id}` — **Claim:** {s.Claim} ({s.Source})\n   **θ:** {s.Metric}. **Test:** {s.TestText}\n");
        sb.Append("\n## Setup\n\n");
        sb.Append($"- Sizes ({Options.Size.ToString().ToLowerInvariant()}, from the criteria file): {c.SizesText(Options.Size)}\n");
        foreach (var s in _setup) sb.Append("- ").Append(s).Append('\n');
        sb.Append("\n## Results\n\n").Append(_body);
        sb.Append("## Verdict\n\n");
        sb.Append($"| # | criterion | test | θ | {Num(100 * (1 - 2 * c.Alpha))}% CI | seeds | p (Holm) | verdict | evidence |\n|---|---|---|---|---|---|---|---|---|\n");
        i = 1;
        foreach (var d in decisions)
        {
            double p = d.AsRun == V.Contradicted ? d.PContraHolm : d.PSupportHolm;
            var note = d.Verdict == V.NotTestedAsStated ? $" (as run: {Word(d.AsRun)}; {d.Departure})" : "";
            var more = d.SeedsToDecide is null ? "" : $" — {d.SeedsToDecide}";
            sb.Append($"| {i++} | `{d.Spec.Id}` | {Escape(d.Spec.TestText)} | {Num(d.Estimate)} | [{Num(d.Low)}, {Num(d.High)}] | {d.Seeds} | {PNum(p)} | **{Word(d.Verdict)}**{Escape(note)} | {Escape(d.Evidence + more)} |\n");
        }
        var missing = c.Criteria.Where(s => decisions.All(d => d.Spec.Id != s.Id)).Select(s => s.Id).ToArray();
        if (missing.Length > 0) sb.Append($"\nNot measured by this run: {string.Join(", ", missing.Select(x => $"`{x}`"))}.\n");
        sb.Append($"\n**Verdicts: {Counts(decisions)}.**");
        if (c.Criteria.Any(x => x.Complements is not null)) sb.Append($" Findings, a complementary pair counted once: {Counts(Findings(decisions))}.");
        if (Options.Size == RunSize.Smoke) sb.Append(" This was a smoke run (too small to decide); run without `--smoke` for a verdict.");
        sb.Append('\n');
        if (RawFiles.Count > 0)
        {
            sb.Append("\n## Raw data (beside this report)\n\n| file | rows | sha256 |\n|---|---|---|\n");
            foreach (var f in RawFiles)
            {
                var text = File.ReadAllText(Options.File(f));
                sb.Append($"| [`{f}`]({f}) | {text.Count(ch => ch == '\n') - 1} | `{CriteriaFile.HashOf(text)[..16]}` |\n");
            }
        }
        sb.Append("\n## Provenance\n\n");
        sb.Append("| run | commit | dirty | command | started (UTC) | host | cores | CPU | GPU | load avg start → end | parallel jobs | jobs run | wall s | CPU s |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
        foreach (var p in Provenance)
            sb.Append($"| {p.Shard} | `{p.Commit[..Math.Min(12, p.Commit.Length)]}` | {(p.Dirty ? "**yes**" : "no")} | `{Escape(p.Command)}` | {p.StartedUtc} | {p.Host} | {p.Cores} | {Escape(p.Cpu)} | {Escape(p.Gpu)} | {p.LoadAverageStart} → {p.LoadAverageEnd} | {p.ParallelJobs} | {p.JobsRun} | {p.WallSeconds:F1} | {p.CpuSeconds:F1} |\n");
        if (Provenance.Count > 0) sb.Append($"\nRuntime: {Provenance[^1].Runtime}, {Provenance[^1].Os}.\n");
        return sb.ToString();
    }

    /// <summary>verdicts.json: the decisions in machine-readable form (for scripts/fsx table); deterministic, no times.</summary>
    public string VerdictsJson()
    {
        var c = CriteriaFile!;
        var root = new JsonObject
        {
            ["script"] = Options.Script,
            ["title"] = Title,
            ["size"] = Options.Size.ToString().ToLowerInvariant(),
            ["seeds"] = SeedList.Count,
            ["criteria_file"] = $"scripts/criteria/{c.Name}.json",
            ["criteria_version"] = c.Version,
            ["criteria_hash"] = c.Hash,
            ["alpha"] = c.Alpha,
            ["criteria"] = new JsonArray(Decisions().Select(d => (JsonNode)new JsonObject
            {
                ["id"] = d.Spec.Id,
                ["claim"] = d.Spec.Claim,
                ["source"] = d.Spec.Source,
                ["metric"] = d.Spec.Metric,
                ["test"] = d.Spec.TestText,
                ["estimate"] = d.Estimate,
                ["low"] = d.Low,
                ["high"] = d.High,
                ["seeds"] = d.Seeds,
                ["p_support_holm"] = d.PSupportHolm,
                ["p_contra_holm"] = d.PContraHolm,
                ["as_run"] = Word(d.AsRun),
                ["verdict"] = Word(d.Verdict),
                ["departure"] = d.Departure,
                ["seeds_to_decide"] = d.SeedsToDecide,
                ["evidence"] = d.Evidence,
                ["complements"] = d.Spec.Complements,
                ["earlier"] = d.Spec.Earlier is { } e ? new JsonObject { ["verdict"] = e.Verdict, ["date"] = e.Date, ["why"] = e.Why } : null,
            }).ToArray()),
        };
        return root.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n";
    }

    /// <summary>"supported", "contradicted", "inconclusive", "not tested as stated".</summary>
    public static string Word(Verdict v) => v switch
    {
        V.Supported => "supported",
        V.Contradicted => "contradicted",
        V.Inconclusive => "inconclusive",
        _ => "not tested as stated",
    };

    /// <summary>
    /// The decisions with each complementary pair (<see cref="CriterionSpec.Complements"/>) counted once: the member that
    /// was supported if one was (its complement is dropped), else the first of the pair.
    /// </summary>
    public static IReadOnlyList<Decision> Findings(IReadOnlyList<Decision> ds)
    {
        var list = new List<Decision>();
        foreach (var d in ds)
        {
            var partner = ds.FirstOrDefault(o => o != d && (o.Spec.Complements == d.Spec.Id || d.Spec.Complements == o.Spec.Id));
            if (partner is null) { list.Add(d); continue; }
            bool keep = d.Verdict == V.Supported || partner.Verdict != V.Supported && IndexOf(ds, d) < IndexOf(ds, partner);
            if (keep) list.Add(d);
        }
        return list;
    }

    private static int IndexOf(IReadOnlyList<Decision> ds, Decision d)
    {
        for (int i = 0; i < ds.Count; i++) if (ReferenceEquals(ds[i], d)) return i;
        return -1;
    }

    /// <summary>e.g. "2 supported, 1 inconclusive".</summary>
    public static string Counts(IEnumerable<Decision> ds)
    {
        var g = ds.GroupBy(d => d.Verdict).OrderBy(x => x.Key).Select(x => $"{x.Count()} {Word(x.Key)}").ToArray();
        return g.Length == 0 ? "none measured" : string.Join(", ", g);
    }

    private static string PNum(double p) => p < 1e-4 ? "< 1e-4" : p.ToString("0.0000", CultureInfo.InvariantCulture);

    private static string SeedRange(IReadOnlyList<int> s) =>
        s.Count == 0 ? "none" : s.Count == 1 ? $"seed {s[0]}" : s.Zip(s.Skip(1)).All(p => p.Second == p.First + 1) ? $"seeds {s[0]}–{s[^1]}" : "seeds " + string.Join(", ", s);

    private string RenderLegacy(TimeSpan elapsed)
    {
        var sb = new StringBuilder();
        sb.Append("# ").Append(Title).Append("\n\n");
        sb.Append($"Run: `dotnet fsi scripts/{Options.Script}.fsx` size **{Options.Size.ToString().ToLowerInvariant()}**, seed {Options.Seed}, ")
          .Append($"{DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, {elapsed.TotalSeconds:F1} s.\n\n");
        sb.Append("## Criteria (stated before the run)\n\n");
        int i = 1;
        foreach (var c in _criteria)
            sb.Append($"{i++}. **Claim:** {c.Claim}\n   **Test:** {c.Test}\n");
        sb.Append("\n## Setup\n\n");
        foreach (var s in _setup) sb.Append("- ").Append(s).Append('\n');
        sb.Append("\n## Results\n\n").Append(_body);
        sb.Append("## Verdict\n\n");
        sb.Append("| # | claim | outcome | evidence |\n|---|---|---|---|\n");
        i = 1;
        foreach (var c in _criteria)
            sb.Append($"| {i++} | {Escape(c.Claim)} | **{Word(c.Outcome)}** | {Escape(c.Evidence)} |\n");
        sb.Append($"\n**Overall: {Word(Verdict)}.**");
        if (Verdict == Outcome.NotHeld)
            sb.Append(" Where a criterion did not hold, this run contradicts the literature's claim as tested here: a finding, not a failure of the script.");
        if (Options.Size == RunSize.Smoke)
            sb.Append(" This was a smoke run (too small to decide); run without `--smoke` for a verdict.");
        sb.Append('\n');
        return sb.ToString();
    }

    /// <summary>Writes <c>report.md</c> into the run folder and returns its path.</summary>
    public string Save(TimeSpan elapsed)
    {
        var path = Options.File("report.md");
        CudaAdam.IO.AtomicFile.WriteAllText(path, Render(elapsed));
        if (CriteriaFile is not null) CudaAdam.IO.AtomicFile.WriteAllText(Options.File("verdicts.json"), VerdictsJson());
        return path;
    }

    private static string Escape(string s) => s.Replace("|", "\\|").Replace("\n", " ");
}
