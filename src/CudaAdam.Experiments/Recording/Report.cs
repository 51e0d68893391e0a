using System.Globalization;
using System.Text;

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
    public string Render(TimeSpan elapsed)
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
        return path;
    }

    private static string Escape(string s) => s.Replace("|", "\\|").Replace("\n", " ");
}
