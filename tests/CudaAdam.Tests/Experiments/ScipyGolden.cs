using System.Diagnostics;
using System.Text.Json;

namespace CudaAdam.Tests.Experiments;

/// <summary>
/// tests/oracle/golden_scipy/scipy_stats.json, written by tests/oracle/make_scipy_golden.py from SciPy 1.10 (its
/// sections are described at the top of the script). Numbers are JSON doubles in Python's round-trip repr.
/// </summary>
public static class ScipyGolden
{
    public const int FormatVersion = 1;

    public static string File => TestPaths.InRepo("tests", "oracle", "golden_scipy", "scipy_stats.json");
    public static string Generator => TestPaths.InRepo("tests", "oracle", "make_scipy_golden.py");

    private static readonly Lazy<JsonDocument> Doc = new(() =>
    {
        if (!System.IO.File.Exists(File))
            throw new FileNotFoundException($"{File} is missing: generate it with /usr/bin/python3 tests/oracle/make_scipy_golden.py");
        var doc = JsonDocument.Parse(System.IO.File.ReadAllBytes(File));
        int format = doc.RootElement.GetProperty("format").GetInt32();
        if (format != FormatVersion)
            throw new InvalidDataException($"scipy_stats.json has format {format}, the tests read {FormatVersion}: regenerate or update ScipyGolden.cs");
        return doc;
    });

    /// <summary>The entries of one section (an array), e.g. "ks_1samp".</summary>
    public static IEnumerable<JsonElement> Section(string name) => Doc.Value.RootElement.GetProperty(name).EnumerateArray();

    /// <summary>One object section, e.g. "percentile".</summary>
    public static JsonElement Object(string name) => Doc.Value.RootElement.GetProperty(name);

    public static double[] Doubles(this JsonElement e, string name) => e.GetProperty(name).EnumerateArray().Select(v => v.GetDouble()).ToArray();
    public static double Double(this JsonElement e, string name) => e.GetProperty(name).GetDouble();
    public static int Int(this JsonElement e, string name) => e.GetProperty(name).GetInt32();
    public static string Str(this JsonElement e, string name) => e.GetProperty(name).GetString()!;

    /// <summary>The rule of DESIGN.md: |expected − actual| ≤ atol + rtol·|expected|.</summary>
    public static void AssertClose(double actual, double expected, double rtol, double atol, string what) =>
        Assert.That(Math.Abs(actual - expected), Is.LessThanOrEqualTo(atol + rtol * Math.Abs(expected)),
            $"{what}: got {actual:R}, SciPy {expected:R} (rtol {rtol}, atol {atol})");

    /// <summary>Runs the generator into a temporary folder; returns (exit code, output, folder).</summary>
    public static (int Code, string Output, string Folder) Regenerate()
    {
        string tmp = Path.Combine(Path.GetTempPath(), "cudaadam-scipy-golden-" + Guid.NewGuid().ToString("N"));
        var (code, stdout, stderr) = PythonOracle.Run([Generator, "--out", tmp], TimeSpan.FromSeconds(120));
        return (code, stdout + stderr, tmp);
    }
}

/// <summary>The golden file is what make_scipy_golden.py writes today (skipped without SciPy).</summary>
public class ScipyGoldenFileTests
{
    [Test]
    public void GoldenFileIsUpToDate()
    {
        PythonOracle.RequireModules("scipy", "numpy");
        var (code, output, folder) = ScipyGolden.Regenerate();
        try
        {
            Assert.That(code, Is.Zero, $"make_scipy_golden.py failed (exit {code}):\n{output}");
            // Byte equality is too strict across machines: SciPy's kstwo (Pelz-Good, Durbin) goes through libm and
            // OpenBLAS, whose last bits differ between CPUs (an AMD EPYC here differs from the machine that wrote the
            // file in 4 values by ≤ 3 ulp). So: the same structure, the same strings and integers, doubles within
            // rtol 1e-12 — far below every tolerance the statistics tests use (≥ 1e-9), far above libm's ulps.
            using var fresh = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(folder, "scipy_stats.json")));
            using var committed = JsonDocument.Parse(File.ReadAllBytes(ScipyGolden.File));
            string? difference = FirstDifference(fresh.RootElement, committed.RootElement, "$");
            Assert.That(difference, Is.Null,
                $"scipy_stats.json is stale ({difference}): run /usr/bin/python3 tests/oracle/make_scipy_golden.py");
        }
        finally
        {
            if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
        }
    }

    /// <summary>The JSON path of the first difference between <paramref name="a"/> (fresh) and <paramref name="b"/>
    /// (committed), or null; numbers compare as doubles within rtol 1e-12.</summary>
    internal static string? FirstDifference(JsonElement a, JsonElement b, string path)
    {
        if (a.ValueKind != b.ValueKind) return $"{path}: {a.ValueKind} vs {b.ValueKind}";
        switch (a.ValueKind)
        {
            case JsonValueKind.Object:
                var names = a.EnumerateObject().Select(p => p.Name).ToArray();
                var other = b.EnumerateObject().Select(p => p.Name).ToArray();
                if (!names.SequenceEqual(other)) return $"{path}: keys [{string.Join(",", names)}] vs [{string.Join(",", other)}]";
                foreach (var n in names)
                    if (FirstDifference(a.GetProperty(n), b.GetProperty(n), $"{path}.{n}") is { } d) return d;
                return null;
            case JsonValueKind.Array:
                if (a.GetArrayLength() != b.GetArrayLength()) return $"{path}: {a.GetArrayLength()} vs {b.GetArrayLength()} entries";
                for (int i = 0; i < a.GetArrayLength(); i++)
                    if (FirstDifference(a[i], b[i], $"{path}[{i}]") is { } d) return d;
                return null;
            case JsonValueKind.Number:
                double x = a.GetDouble(), y = b.GetDouble();
                return x == y || Math.Abs(x - y) <= 1e-12 * Math.Abs(y) ? null : $"{path}: {x:R} vs {y:R}";
            default:
                return a.GetRawText() == b.GetRawText() ? null : $"{path}: {a.GetRawText()} vs {b.GetRawText()}";
        }
    }

    [Test]
    public void FirstDifferenceSeesAChangedValueButNotAnUlp()
    {
        using var a = JsonDocument.Parse("""{"k":[{"sf":0.854845693009663,"m":"exact"}]}""");
        using var ulp = JsonDocument.Parse("""{"k":[{"sf":0.8548456930096628,"m":"exact"}]}""");
        using var changed = JsonDocument.Parse("""{"k":[{"sf":0.8548457,"m":"exact"}]}""");
        using var renamed = JsonDocument.Parse("""{"k":[{"sf":0.854845693009663,"m":"asymp"}]}""");
        Assert.That(FirstDifference(ulp.RootElement, a.RootElement, "$"), Is.Null);
        Assert.That(FirstDifference(changed.RootElement, a.RootElement, "$"), Is.EqualTo("$.k[0].sf: 0.8548457 vs 0.854845693009663"));
        Assert.That(FirstDifference(renamed.RootElement, a.RootElement, "$"), Does.StartWith("$.k[0].m"));
    }

    [Test]
    public void GoldenFileStaysSmall() =>
        Assert.That(new FileInfo(ScipyGolden.File).Length, Is.LessThan(200_000), "keep scipy_stats.json small: fewer or shorter cases");
}
