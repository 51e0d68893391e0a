#pragma warning disable CS1591 // CS1591 backlog (issue 13): 2 public members here have no XML doc yet; document them, then delete this line
using System.Globalization;
using System.Text;

namespace CudaAdam.Experiments.Recording;

/// <summary>
/// A CSV file written row by row: a fixed header, numbers in invariant culture with round-trip precision ("R"),
/// text quoted when it holds a comma, quote or newline (RFC 4180). Every row must have as many cells as the header.
/// </summary>
public sealed class CsvTable
{
    private readonly StringBuilder _text = new();

    public CsvTable(params string[] columns)
    {
        if (columns.Length == 0) throw new ArgumentException("a CSV table needs at least one column");
        Columns = columns;
        _text.AppendJoin(',', columns.Select(Quote)).Append('\n');
    }

    /// <summary>The header.</summary>
    public IReadOnlyList<string> Columns { get; }
    /// <summary>Rows added so far.</summary>
    public int Rows { get; private set; }

    /// <summary>Adds a row; numbers (double, float, int, long) are formatted round-trip, bools as true/false.</summary>
    /// <exception cref="ArgumentException">The row's length differs from the header's.</exception>
    public void Add(params object[] cells)
    {
        if (cells.Length != Columns.Count)
            throw new ArgumentException($"row {Rows + 1} has {cells.Length} cells but the header has {Columns.Count} ({string.Join(",", Columns)})");
        _text.AppendJoin(',', cells.Select(Format)).Append('\n');
        Rows++;
    }

    /// <summary>Writes the table to <paramref name="path"/> (creating its folder).</summary>
    public void Save(string path)
    {
        var dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(dir)) Directory.CreateDirectory(dir);
        CudaAdam.IO.AtomicFile.WriteAllText(path, _text.ToString());
    }

    public override string ToString() => _text.ToString();

    internal static string Format(object? cell) => cell switch
    {
        null => "",
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        float f => f.ToString("R", CultureInfo.InvariantCulture),
        bool b => b ? "true" : "false",
        IFormattable x => Quote(x.ToString(null, CultureInfo.InvariantCulture)),
        _ => Quote(cell.ToString() ?? ""),
    };

    internal static string Quote(string s) =>
        s.IndexOfAny([',', '"', '\n', '\r']) >= 0 ? "\"" + s.Replace("\"", "\"\"") + "\"" : s;
}
