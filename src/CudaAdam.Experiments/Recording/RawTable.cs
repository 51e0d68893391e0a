#pragma warning disable CS1591 // CS1591 backlog (issue 13): 4 public members here have no XML doc yet; document them, then delete this line
using System.Globalization;
using System.Text;

namespace CudaAdam.Experiments.Recording;

/// <summary>
/// A raw results table read back from the CSV a sweep wrote (<see cref="Experiment.Run{TJob}"/>): the analysis of a script reads only
/// these, so a run and the merge of its shards analyse the same text and give the same report. Cells are kept as text
/// and parsed on access (numbers were written round-trip, so <see cref="RawRow.Float"/> returns the double that was written).
/// </summary>
public sealed class RawTable
{
    private readonly Dictionary<string, int> _index;

    public RawTable(string name, IReadOnlyList<string> columns, IReadOnlyList<string[]> rows)
    {
        Name = name;
        Columns = columns;
        _index = columns.Select((c, i) => (c, i)).ToDictionary(p => p.c, p => p.i);
        Rows = rows.Select(r => new RawRow(this, r)).ToArray();
    }

    public string Name { get; }
    public IReadOnlyList<string> Columns { get; }
    public IReadOnlyList<RawRow> Rows { get; }

    internal int IndexOf(string column) => _index.TryGetValue(column, out var i) ? i
        : throw new ArgumentException($"table {Name} has no column '{column}' (it has {string.Join(", ", Columns)})");

    /// <summary>Parses CSV text as <see cref="CsvTable"/> writes it (header line, RFC 4180 quoting, '\n' line ends).</summary>
    public static RawTable Parse(string name, string text)
    {
        var records = ParseRecords(text);
        if (records.Count == 0) throw new InvalidDataException($"{name}: empty CSV (no header)");
        return new RawTable(name, records[0], records.Skip(1).ToArray());
    }

    /// <summary>Reads a CSV file.</summary>
    public static RawTable Read(string path) => Parse(Path.GetFileNameWithoutExtension(path), File.ReadAllText(path));

    /// <summary>The records of CSV text: cells unquoted.</summary>
    public static List<string[]> ParseRecords(string text)
    {
        var records = new List<string[]>();
        var cells = new List<string>();
        var cell = new StringBuilder();
        bool quoted = false, any = false;
        for (int i = 0; i < text.Length; i++)
        {
            char ch = text[i];
            if (quoted)
            {
                if (ch == '"')
                {
                    if (i + 1 < text.Length && text[i + 1] == '"') { cell.Append('"'); i++; }
                    else quoted = false;
                }
                else cell.Append(ch);
                continue;
            }
            switch (ch)
            {
                case '"': quoted = true; any = true; break;
                case ',': cells.Add(cell.ToString()); cell.Clear(); any = true; break;
                case '\r': break;
                case '\n':
                    cells.Add(cell.ToString()); cell.Clear();
                    records.Add(cells.ToArray()); cells.Clear(); any = false;
                    break;
                default: cell.Append(ch); any = true; break;
            }
        }
        if (quoted) throw new InvalidDataException("CSV ends inside a quoted cell");
        if (any || cells.Count > 0) { cells.Add(cell.ToString()); records.Add(cells.ToArray()); }
        return records;
    }
}

/// <summary>One row of a <see cref="RawTable"/>.</summary>
public readonly struct RawRow
{
    private readonly RawTable _table;
    private readonly string[] _cells;

    internal RawRow(RawTable table, string[] cells)
    {
        if (cells.Length != table.Columns.Count)
            throw new InvalidDataException($"{table.Name}: a row has {cells.Length} cells, the header {table.Columns.Count}");
        _table = table;
        _cells = cells;
    }

    /// <summary>The cell as text.</summary>
    public string Str(string column) => _cells[_table.IndexOf(column)];
    /// <summary>The cell as a double (round-trip text; "NaN", "Infinity", "-Infinity" accepted).</summary>
    public double Float(string column) => double.Parse(Str(column), NumberStyles.Float, CultureInfo.InvariantCulture);
    /// <summary>The cell as an int.</summary>
    public int Int(string column) => int.Parse(Str(column), NumberStyles.Integer, CultureInfo.InvariantCulture);
    /// <summary>The cell as a long.</summary>
    public long Long(string column) => long.Parse(Str(column), NumberStyles.Integer, CultureInfo.InvariantCulture);
    /// <summary>The cell as a bool ("true"/"false").</summary>
    public bool Bool(string column) => Str(column) == "true";
    /// <summary>The cells in column order.</summary>
    public IReadOnlyList<string> Cells => _cells;
}
