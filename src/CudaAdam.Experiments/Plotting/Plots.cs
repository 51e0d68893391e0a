using ScottPlot;

namespace CudaAdam.Experiments.Plotting;

/// <summary>One line of a line plot: y against x, with a legend label.</summary>
public sealed record Series(string Label, double[] X, double[] Y)
{
    /// <summary>Draw markers at the data points (for sparse sweeps), not only the line.</summary>
    public bool Markers { get; init; }
    /// <summary>Dashed line (reference curves such as a fitted slope).</summary>
    public bool Dashed { get; init; }
}

/// <summary>A horizontal reference line with a label (a bound, an optimum).</summary>
public sealed record ReferenceLine(string Label, double Y);

/// <summary>
/// PNG plots for the experiment scripts, on ScottPlot 5. Small and explicit: a line plot with optional log10 axes
/// and reference lines, and a heatmap with an overlaid curve. Log axes are drawn the ScottPlot 5 way: the data are
/// plotted as log10 values and the tick labels show 10^k; non-positive values are dropped from a log axis.
/// </summary>
public static class Plots
{
    /// <summary>Default image size in pixels.</summary>
    public const int Width = 900, Height = 560;

    /// <summary>Line plot of <paramref name="series"/> written to <paramref name="path"/> (PNG); the legend sits in
    /// the corner <paramref name="legend"/> (upper right by default; move it where it hides no data).</summary>
    public static void Lines(string path, string title, string xLabel, string yLabel, IEnumerable<Series> series,
        bool logX = false, bool logY = false, IEnumerable<ReferenceLine>? references = null,
        int width = Width, int height = Height, Alignment legend = Alignment.UpperRight)
    {
        NativeLibraries.Install();
        var plt = new Plot();
        var palette = new ScottPlot.Palettes.Category10();
        int i = 0;
        var allX = new List<double>(); var allY = new List<double>();
        foreach (var s in series)
        {
            if (s.X.Length != s.Y.Length)
                throw new ArgumentException($"series '{s.Label}' has {s.X.Length} x values but {s.Y.Length} y values");
            var (xs, ys) = Transform(s.X, s.Y, logX, logY);
            allX.AddRange(xs); allY.AddRange(ys);
            var sc = plt.Add.Scatter(xs, ys, palette.GetColor(i++));
            sc.LegendText = s.Label;
            sc.MarkerSize = s.Markers ? 6 : 0;
            sc.LineWidth = 2;
            if (s.Dashed) sc.LinePattern = LinePattern.Dashed;
        }
        foreach (var r in references ?? [])
        {
            if (logY && !(r.Y > 0)) continue;
            var line = plt.Add.HorizontalLine(logY ? Math.Log10(r.Y) : r.Y);
            line.LegendText = r.Label;
            line.LinePattern = LinePattern.Dotted;
            line.Color = Colors.Gray;
        }
        if (logX) LogTicks(plt.Axes.Bottom, allX);
        if (logY) LogTicks(plt.Axes.Left, allY);
        plt.Title(title);
        plt.XLabel(xLabel);
        plt.YLabel(yLabel);
        plt.ShowLegend(legend);
        Save(plt, path, width, height);
    }

    /// <summary>
    /// Heatmap of <paramref name="values"/>[row, column] over a grid: column j sits at x = <paramref name="xs"/>[j],
    /// row i at y = <paramref name="ys"/>[i] (both ascending, evenly spaced in the coordinates given). NaN cells are
    /// drawn grey. <paramref name="overlay"/> curves are drawn on top in the same coordinates.
    /// </summary>
    public static void Heatmap(string path, string title, string xLabel, string yLabel, double[] xs, double[] ys,
        double[,] values, string colorLabel, IEnumerable<Series>? overlay = null, double? min = null, double? max = null,
        int width = Width, int height = Height)
    {
        NativeLibraries.Install();
        int rows = values.GetLength(0), cols = values.GetLength(1);
        if (rows != ys.Length || cols != xs.Length)
            throw new ArgumentException($"values is {rows}x{cols} but there are {ys.Length} y and {xs.Length} x coordinates");
        if (rows < 2 || cols < 2) throw new ArgumentException("a heatmap needs at least 2 rows and 2 columns");
        // ScottPlot draws row 0 at the top; our row 0 is the smallest y, so flip the rows.
        var flipped = new double[rows, cols];
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++)
                flipped[rows - 1 - r, c] = values[r, c];
        var plt = new Plot();
        var hm = plt.Add.Heatmap(flipped);
        double dx = (xs[^1] - xs[0]) / (cols - 1), dy = (ys[^1] - ys[0]) / (rows - 1);
        // Rectangle sets the outer edges (Position would set the span of cell centres plus one cell).
        hm.Rectangle = new CoordinateRect(xs[0] - dx / 2, xs[^1] + dx / 2, ys[0] - dy / 2, ys[^1] + dy / 2);
        hm.Colormap = new ScottPlot.Colormaps.Viridis();
        hm.NaNCellColor = Colors.Gray;
        if (min is not null || max is not null)
            hm.ManualRange = new ScottPlot.Range(min ?? hm.DataRange.Min, max ?? hm.DataRange.Max);
        var bar = plt.Add.ColorBar(hm);
        bar.Label = colorLabel;
        var palette = new ScottPlot.Palettes.Category10();
        int i = 3;
        foreach (var s in overlay ?? [])
        {
            var sc = plt.Add.Scatter(s.X, s.Y, s.Dashed ? Colors.White : palette.GetColor(i++));
            sc.LegendText = s.Label;
            sc.MarkerSize = s.Markers ? 5 : 0;
            sc.LineWidth = 2.5f;
            if (s.Dashed) sc.LinePattern = LinePattern.Dashed;
        }
        plt.Axes.SetLimits(xs[0] - dx / 2, xs[^1] + dx / 2, ys[0] - dy / 2, ys[^1] + dy / 2);
        plt.Title(title);
        plt.XLabel(xLabel);
        plt.YLabel(yLabel);
        if (overlay is not null) plt.ShowLegend(Alignment.LowerLeft);
        Save(plt, path, width, height);
    }

    private static (double[] X, double[] Y) Transform(double[] x, double[] y, bool logX, bool logY)
    {
        var xs = new List<double>(x.Length);
        var ys = new List<double>(y.Length);
        for (int i = 0; i < x.Length; i++)
        {
            double a = x[i], b = y[i];
            if (!double.IsFinite(a) || !double.IsFinite(b)) continue;
            if (logX) { if (a <= 0) continue; a = Math.Log10(a); }
            if (logY) { if (b <= 0) continue; b = Math.Log10(b); }
            xs.Add(a); ys.Add(b);
        }
        return (xs.ToArray(), ys.ToArray());
    }

    /// <summary>Ticks for an axis that holds log10 values: decades when the data span two or more of them, else
    /// 1-2-5 steps (so that a short range still gets labels).</summary>
    private static void LogTicks(IAxis axis, IReadOnlyCollection<double> logValues)
    {
        if (logValues.Count > 0 && logValues.Max() - logValues.Min() < 2)
        {
            double lo = logValues.Min(), hi = logValues.Max();
            var manual = new ScottPlot.TickGenerators.NumericManual();
            for (int k = (int)Math.Floor(lo) - 1; k <= (int)Math.Ceiling(hi) + 1; k++)
                foreach (var m in new[] { 1.0, 2.0, 5.0 })
                {
                    double v = Math.Log10(m) + k;
                    if (v >= lo - 0.35 && v <= hi + 0.35) manual.AddMajor(v, FormatPower(v));
                }
            axis.TickGenerator = manual;
            return;
        }
        axis.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic
        {
            MinorTickGenerator = new ScottPlot.TickGenerators.LogMinorTickGenerator(),
            IntegerTicksOnly = true,
            LabelFormatter = v => FormatPower(v),
        };
    }

    private static string FormatPower(double log10)
    {
        var inv = System.Globalization.CultureInfo.InvariantCulture;
        double v = Math.Pow(10, log10);
        if (Math.Abs(log10) < 4) return v.ToString("G4", inv);
        int exponent = (int)Math.Floor(log10 + 1e-9);
        double mantissa = Math.Round(v / Math.Pow(10, exponent), 2);
        return mantissa == 1 ? $"1e{exponent}" : $"{mantissa.ToString("0.##", inv)}e{exponent}";
    }

    private static void Save(Plot plt, string path, int width, int height)
    {
        var dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(dir)) Directory.CreateDirectory(dir);
        plt.SavePng(path, width, height);
    }
}
