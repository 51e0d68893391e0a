namespace CudaAdam.Tests.Experiments;

/// <summary>
/// Runs every experiment script in smoke mode, as CI does: <c>dotnet fsi scripts/X.fsx --smoke --out &lt;tmp&gt;</c> must
/// exit 0 and leave a report with its verdict section, at least one PNG and one CSV.
/// </summary>
[TestFixture]
[NonParallelizable]
public class ScriptsSmokeTests
{
    /// <summary>Every script under scripts/ (the test below fails when a new one is not listed here).</summary>
    public static readonly string[] Scripts = ["reddi", "zhang", "rate", "momentum", "boundary", "adamw", "width", "conditions", "deepobs", "kingma", "vbar"];

    private static readonly string Bin = TestPaths.InRepo("src", "CudaAdam.Experiments", "bin", "Release", "net10.0");

    [Test]
    public void EveryScriptHasASmokeTest()
    {
        var found = Directory.GetFiles(TestPaths.InRepo("scripts"), "*.fsx")
            .Select(f => Path.GetFileNameWithoutExtension(f)).Order().ToArray();
        Assert.That(found, Is.EquivalentTo(Scripts), "scripts/*.fsx and ScriptsSmokeTests.Scripts must list the same scripts");
    }

    [TestCaseSource(nameof(Scripts))]
    public void SmokeRunWritesAReport(string script)
    {
        if (!File.Exists(Path.Combine(Bin, "CudaAdam.Experiments.dll")))
            Prerequisite.Missing($"{Bin}/CudaAdam.Experiments.dll is missing: the scripts reference the Release build " +
                          "(run ./build.sh build or dotnet test -c Release)");
        if (FsiMissing.Value is { } why)
            Prerequisite.Missing(why);
        using var tmp = new TempDirectory();
        var (code, output) = ChildProcess.Run("dotnet", ["fsi", $"scripts/{script}.fsx", "--smoke", "--out", tmp.Path], TestPaths.RepoRoot, TimeSpan.FromMinutes(4));
        Assert.That(code, Is.EqualTo(0), $"dotnet fsi scripts/{script}.fsx --smoke failed:\n{output}");
        var report = Path.Combine(tmp.Path, "report.md");
        Assert.That(File.Exists(report), Is.True, $"no report.md in {tmp.Path}; output:\n{output}");
        var text = File.ReadAllText(report);
        Assert.That(text, Does.Contain("## Verdict"));
        var verdicts = Path.Combine(tmp.Path, "verdicts.json");
        if (File.Exists(CriteriaPath(script)))
        {
            // On the criteria files (issue 15): every criterion "not tested as stated" (smoke size), provenance, raw data.
            Assert.That(text, Does.Contain("## Criteria (fixed before the run in the criteria file)"));
            Assert.That(text, Does.Contain("## Provenance").And.Contain("## Raw data"));
            Assert.That(File.Exists(verdicts), Is.True, "no verdicts.json beside the report");
            using var doc = System.Text.Json.JsonDocument.Parse(File.ReadAllText(verdicts));
            var words = doc.RootElement.GetProperty("criteria").EnumerateArray().Select(c => c.GetProperty("verdict").GetString()).ToArray();
            Assert.That(words, Is.Not.Empty);
            Assert.That(words, Is.All.EqualTo("not tested as stated"), "a smoke run is too small to decide and must say so");
        }
        else
        {
            Assert.That(text, Does.Contain("## Criteria (stated before the run)"));
            Assert.That(text, Does.Contain("**Overall: undecided.**"), "a smoke run is too small to decide and must say so");
        }
        var pngs = Directory.GetFiles(tmp.Path, "*.png");
        Assert.That(pngs, Is.Not.Empty, "the script wrote no plot");
        foreach (var png in pngs)
        {
            var head = File.ReadAllBytes(png).Take(8).ToArray();
            Assert.That(head, Is.EqualTo(new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A }), $"{png} is not a PNG");
            Assert.That(text, Does.Contain($"]({Path.GetFileName(png)})").Or.Not.Contain(".png"), $"{png} is not linked from the report");
        }
        var csvs = Directory.GetFiles(tmp.Path, "*.csv");
        Assert.That(csvs, Is.Not.Empty, "the script wrote no CSV");
        foreach (var csv in csvs)
            Assert.That(File.ReadLines(csv).Count(), Is.GreaterThan(1), $"{csv} has no data rows");
    }

    private static string CriteriaPath(string script) => TestPaths.InRepo("scripts", "criteria", script + ".json");

    [Test]
    public void EveryCriteriaFileLoadsAndIsRegistered()
    {
        var dir = TestPaths.InRepo("scripts", "criteria");
        var files = Directory.GetFiles(dir, "*.json");
        Assert.That(files, Is.Not.Empty);
        foreach (var f in files)
        {
            var name = Path.GetFileNameWithoutExtension(f);
            Assert.That(Scripts, Does.Contain(name), $"{f} belongs to no script");
            var c = CudaAdam.Experiments.Recording.CriteriaFile.Load(dir, name);
            Assert.That(c.Unregistered, Is.Null, c.Unregistered);
        }
    }

    /// <summary>Issue 15: a 3-shard run of a real script, merged, gives the whole run's report (but for provenance) and CSVs, bitwise.</summary>
    [Test]
    public void ThreeShardsOfReddiMergeIntoTheWholeRun()
    {
        if (!File.Exists(Path.Combine(Bin, "CudaAdam.Experiments.dll")))
            Prerequisite.Missing($"{Bin}/CudaAdam.Experiments.dll is missing: the scripts reference the Release build (run ./build.sh build)");
        if (FsiMissing.Value is { } why) Prerequisite.Missing(why);
        using var tmp = new TempDirectory();
        string Fsi(params string[] args)
        {
            var (code, output) = ChildProcess.Run("dotnet", ["fsi", "scripts/reddi.fsx", "--smoke", .. args], TestPaths.RepoRoot, TimeSpan.FromMinutes(4));
            Assert.That(code, Is.EqualTo(0), $"reddi {string.Join(' ', args)}:\n{output}");
            return output;
        }
        Fsi("--out", tmp.File("whole"));
        for (int k = 1; k <= 3; k++) Fsi("--shard", $"{k}/3", "--out", tmp.File($"s{k}"));
        var (mcode, mout) = ChildProcess.Run("bash", ["scripts/fsx", "merge", "reddi", tmp.File("s1"), tmp.File("s2"), tmp.File("s3"), "--out", tmp.File("merged")], TestPaths.RepoRoot, TimeSpan.FromMinutes(4));
        Assert.That(mcode, Is.EqualTo(0), mout);
        string Body(string dir) { var t = File.ReadAllText(Path.Combine(tmp.File(dir), "report.md")); return t[..t.IndexOf("## Provenance", StringComparison.Ordinal)]; }
        Assert.That(Body("merged"), Is.EqualTo(Body("whole")));
        var wholeFiles = Directory.GetFiles(tmp.File("whole")).Select(Path.GetFileName).Where(n => n!.EndsWith(".csv") || n == "verdicts.json" || n!.EndsWith(".png")).Order().ToArray();
        Assert.That(wholeFiles, Is.Not.Empty);
        foreach (var f in wholeFiles)
            Assert.That(File.ReadAllBytes(Path.Combine(tmp.File("merged"), f!)), Is.EqualTo(File.ReadAllBytes(Path.Combine(tmp.File("whole"), f!))), $"{f} differs");
        var merged = File.ReadAllText(Path.Combine(tmp.File("merged"), "report.md"));
        Assert.That(merged, Does.Contain("| 1/3 |").And.Contain("| 2/3 |").And.Contain("| 3/3 |").And.Contain("| merge |"));
    }

    /// <summary>Null when some installed .NET SDK has F# Interactive (sdk/&lt;version&gt;/FSharp/fsi.dll), else why not.</summary>
    private static readonly Lazy<string?> FsiMissing = new(() =>
    {
        string listing;
        try { listing = ChildProcess.Run("dotnet", ["--list-sdks"], TestPaths.RepoRoot, TimeSpan.FromMinutes(1)).Output; }
        catch (System.ComponentModel.Win32Exception e) { return $"the dotnet host is not on PATH ({e.Message}): install the .NET 10 SDK to run the scripts"; }
        foreach (var line in listing.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            int open = line.IndexOf('['), close = line.LastIndexOf(']');
            if (open <= 0 || close <= open) continue;
            var version = line[..open].Trim();
            var root = line[(open + 1)..close];
            if (File.Exists(Path.Combine(root, version, "FSharp", "fsi.dll"))) return null;
        }
        return $"no .NET SDK with F# Interactive (sdk/<version>/FSharp/fsi.dll) was found (dotnet --list-sdks: {listing.Trim()}): " +
               "install the .NET 10 SDK, which ships dotnet fsi";
    });
}
