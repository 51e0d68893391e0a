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
            byte[] fresh = File.ReadAllBytes(Path.Combine(folder, "scipy_stats.json")), committed = File.ReadAllBytes(ScipyGolden.File);
            int i = 0;
            while (i < fresh.Length && i < committed.Length && fresh[i] == committed[i]) i++;
            Assert.That(fresh.AsSpan().SequenceEqual(committed), Is.True,
                $"scipy_stats.json is stale (first difference at byte {i} of {committed.Length}): run /usr/bin/python3 tests/oracle/make_scipy_golden.py");
        }
        finally
        {
            if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
        }
    }

    [Test]
    public void GoldenFileStaysSmall() =>
        Assert.That(new FileInfo(ScipyGolden.File).Length, Is.LessThan(200_000), "keep scipy_stats.json small: fewer or shorter cases");
}
