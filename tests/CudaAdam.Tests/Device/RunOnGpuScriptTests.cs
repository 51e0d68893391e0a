using System.Diagnostics;
using System.Formats.Tar;
using System.IO.Compression;
using System.Text.RegularExpressions;
using CudaAdam.Cuda.Driver;
using CudaAdam.Tests.Cuda;

namespace CudaAdam.Tests.Device;

/// <summary>
/// scripts/device/run-on-gpu.sh (issue 14): the plan fits the device budget, bad input is one line and exit 2, and on
/// a machine without a GPU every stage runs to a clean NO-GPU result with the bundle (one results.tar.gz plus
/// summary.txt under $OUT) written. The CLI is the test build's (CUDAADAM_CLI), so no pack.sh is needed.
/// </summary>
[TestFixture]
public partial class RunOnGpuScriptTests
{
    private static string Script => TestPaths.InRepo("scripts", "device", "run-on-gpu.sh");

    private static (int Code, string Stdout, string Stderr) Run(string args, string? outDir = null)
    {
        var psi = new ProcessStartInfo("bash", $"{Script} {args}")
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
            WorkingDirectory = TestPaths.RepoRoot,
        };
        psi.Environment["CUDAADAM_CLI"] = $"dotnet {Path.Combine(AppContext.BaseDirectory, "CudaAdam.Cli.dll")}";
        psi.Environment["OUT"] = outDir ?? Path.Combine(Path.GetTempPath(), "cudaadam-unused-out");
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(120_000))
        {
            p.Kill(entireProcessTree: true);
            Assert.Fail($"run-on-gpu.sh {args} did not finish in 120 s");
        }
        return (p.ExitCode, stdout.Result, stderr.Result);
    }

    [Test]
    public void PlanFitsTwelveMinutesInTwoCommandsMostValuableFirst()
    {
        var (code, stdout, _) = Run("--plan");
        Assert.That(code, Is.EqualTo(0), stdout);
        var budgets = StageLine().Matches(stdout).ToDictionary(m => m.Groups[1].Value, m => int.Parse(m.Groups[2].Value));
        Assert.That(budgets.Keys, Is.EqualTo(new[] { "contact", "check", "sanitize", "bench", "train" }), stdout);
        Assert.That(budgets.Values.Sum(), Is.LessThanOrEqualTo(720), "12 minutes of device time");
        Assert.That(budgets.Values, Has.All.LessThan(600), "each stage well under one 600 s command");
        Assert.That(budgets["contact"], Is.LessThanOrEqualTo(60), "contact is about a minute");
        Assert.That(stdout, Does.Contain("1. scripts/device/run-on-gpu.sh all   -> contact check sanitize"));
        Assert.That(stdout, Does.Contain("2. scripts/device/run-on-gpu.sh all --from bench   -> bench train"));
        Assert.That(stdout, Does.Not.Contain("3. scripts"));
        foreach (Match m in CommandLine().Matches(stdout))
            Assert.That(int.Parse(m.Groups[1].Value), Is.LessThanOrEqualTo(540), m.Value);
    }

    [TestCase("nosuch", "unknown stage 'nosuch'")]
    [TestCase("--bogus", "unknown option '--bogus'")]
    [TestCase("all --from nowhere", "--from: unknown stage 'nowhere'")]
    [TestCase("contact check sanitize bench", "over one command's 540 s")]
    [TestCase("check all", "'all' cannot be combined")]
    public void BadInputIsOneLineAndExitTwo(string args, string message)
    {
        var (code, stdout, stderr) = Run(args);
        Assert.That(code, Is.EqualTo(2));
        Assert.That(stderr.Trim().Split('\n'), Has.Length.EqualTo(1), stderr);
        Assert.That(stderr, Does.Contain(message));
        Assert.That(stdout, Is.Empty);
    }

    [Test]
    public void WithoutAGpuEveryStageEndsCleanlyWithTheBundleWritten()
    {
        if (CudaDriver.Unavailable() is null) Assert.Ignore("a usable GPU is here: the no-GPU path is what this test checks");
        var outDir = Requirements.TempDirectory();
        try
        {
            var first = Run("all", Path.Combine(outDir, "1"));
            var second = Run("all --from bench", Path.Combine(outDir, "2"));
            foreach (var (run, stages, name) in new[] { (first, new[] { "contact", "check", "sanitize" }, "1"), (second, new[] { "bench", "train" }, "2") })
            {
                Assert.That(run.Code, Is.EqualTo(3), run.Stdout + run.Stderr);
                foreach (var s in stages) Assert.That(run.Stdout, Does.Contain($"STAGE {s}: NO-GPU"), run.Stdout);
                Assert.That(run.Stdout, Does.Contain("RESULT: no GPU"));
                Assert.That(run.Stdout, Does.Match(@"bundle: .*results\.tar\.gz \(\d+ bytes"));
                var files = Directory.GetFiles(Path.Combine(outDir, name)).Select(Path.GetFileName).Order().ToArray();
                Assert.That(files, Is.EqualTo(new[] { "results.tar.gz", "summary.txt" }), "one bundle and the summary: 2 of the 8 files");
                var summary = File.ReadAllText(Path.Combine(outDir, name, "summary.txt"));
                foreach (var s in stages) Assert.That(summary, Does.Contain($"STAGE {s}: NO-GPU"));
                Assert.That(summary, Does.Contain("RESULT: no GPU"));
                var entries = TarEntries(Path.Combine(outDir, name, "results.tar.gz"));
                Assert.That(entries, Does.Contain("summary.txt").And.Contain("gpu-probe.txt"));
                Assert.That(entries.Any(e => e.StartsWith("kernel-cache", StringComparison.Ordinal)), Is.False);
            }
            Assert.That(first.Stdout, Does.Contain("next command: scripts/device/run-on-gpu.sh all --from bench"));
            Assert.That(TarEntries(Path.Combine(outDir, "1", "results.tar.gz")), Does.Contain("info.txt").And.Contain("check.txt"));
            Assert.That(TarEntries(Path.Combine(outDir, "2", "results.tar.gz")), Does.Contain("bench.txt").And.Contain("train/cuda.log"));
            Assert.That(second.Stdout, Does.Not.Contain("next command"));
        }
        finally
        {
            Directory.Delete(outDir, true);
        }
    }

    private static List<string> TarEntries(string path)
    {
        using var gz = new GZipStream(File.OpenRead(path), CompressionMode.Decompress);
        using var tar = new TarReader(gz);
        var names = new List<string>();
        while (tar.GetNextEntry() is { } e)
            if (e.EntryType is TarEntryType.RegularFile or TarEntryType.V7RegularFile) names.Add(e.Name.StartsWith("./", StringComparison.Ordinal) ? e.Name[2..] : e.Name);
        return names;
    }

    [GeneratedRegex(@"^  (contact|check|sanitize|bench|train)\s+(\d+) s", RegexOptions.Multiline)]
    private static partial Regex StageLine();

    [GeneratedRegex(@"^  \d\. scripts/device/run-on-gpu\.sh .*\((\d+) s\)$", RegexOptions.Multiline)]
    private static partial Regex CommandLine();
}
