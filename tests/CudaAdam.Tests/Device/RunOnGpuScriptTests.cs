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

    private static (int Code, string Stdout, string Stderr) Run(string args, string? outDir = null, IDictionary<string, string>? env = null)
    {
        var psi = new ProcessStartInfo("bash", $"{Script} {args}")
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
            WorkingDirectory = TestPaths.RepoRoot,
        };
        psi.Environment["CUDAADAM_CLI"] = $"dotnet {Path.Combine(AppContext.BaseDirectory, "CudaAdam.Cli.dll")}";
        psi.Environment["OUT"] = outDir ?? Path.Combine(Path.GetTempPath(), "cudaadam-unused-out");
        foreach (var (k, v) in env ?? new Dictionary<string, string>()) psi.Environment[k] = v;
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

    /// <summary>A pretend GPU machine: nvidia-smi, compute-sanitizer and the CLI are small scripts with canned output
    /// (one conformance case fails, memcheck finds an error), so the stage logic that only a GPU reaches runs here:
    /// the results, the failing case names, the sanitizer summaries, the ratios and the train table.</summary>
    private static Dictionary<string, string> FakeGpu(string dir)
    {
        var bin = Directory.CreateDirectory(Path.Combine(dir, "bin")).FullName;
        void Script(string name, string body)
        {
            var path = Path.Combine(bin, name);
            File.WriteAllText(path, "#!/usr/bin/env bash\n" + body);
            if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
        Script("nvidia-smi", """
            case "$*" in *compute_cap*noheader*) echo 9.0 ;; *noheader*) echo "Fake H200, 580.65" ;;
              *query*) echo "name, driver_version, memory.total, compute_cap"; echo "Fake H200, 580.65, 143771 MiB, 9.0" ;; *) echo "fake nvidia-smi" ;; esac
            """);
        Script("compute-sanitizer", """
            [ "$1" = --version ] && { echo "fake compute-sanitizer"; exit 0; }
            tool=memcheck
            while [ $# -gt 0 ] && [ "${1#-}" != "$1" ]; do [ "$1" = --tool ] && tool=$2; case $1 in --tool|--leak-check|--report-api-errors|--error-exitcode|--print-limit|--racecheck-report) shift 2 ;; *) shift ;; esac; done
            "$@" > /dev/null
            case "$tool:$*" in
              memcheck:*--filter*) echo "========= Invalid __global__ read of size 4 bytes"; echo "========= ERROR SUMMARY: 1 error"; exit 99 ;;
              racecheck:*) echo "========= RACECHECK SUMMARY: 0 hazards displayed (0 errors, 0 warnings)"; exit 0 ;;
              *) echo "========= ERROR SUMMARY: 0 errors"; exit 0 ;;
            esac
            """);
        Script("cli", """
            case "$1" in
              info) echo "  libcuda (driver)  not found"; echo "cudaadam info --check: GPU 0 passed"; exit 0 ;;
              kernels) echo "adam:adam_step_diag 64 1024 1024 13384 0  yes"; echo "resources: PASS (48 kernels)"; exit 0 ;;
              check)
                case "$*" in
                  *--graph*) echo "12 of 12 algorithms passed, 0 failed" ;;
                  *--train*) echo "20 of 20 quantities passed, 0 failed" ;;
                  *--bench*) echo "NVIDIA H200: AdamW fused step: 4,100 GB/s = 0.91 of the device-to-device copy" ;;
                  *) echo "401 of 402 cases passed, 1 failed"; echo "FAILED adam/default/clip: p differs by 3 ulp"; exit 1 ;;
                esac ;;
              bench) mkdir -p "$4"; printf '%s\n' "- device-to-device copy in the same run: 4,500 GB/s" "Worst: 9.1 % (gpt2-small fp32 checked)" > "$4/report.md"; echo "wrote $4/report.md" ;;
              train)
                backend=$4; dir=$(mktemp -d)
                echo "  model  mlp: 784->256->10 (269,322 parameters, GEMM $([ "$backend" = cpu ] && echo managed || echo cublas))"
                echo "  backend $backend"
                printf 'epoch,optimizer,wall_s,test_accuracy\n0,adam,0,0.1\n1,adam,%s,0.80\n1,adamw,%s,0.79\n' \
                  "$([ "$backend" = cpu ] && echo 12.0 || echo 0.5)" "$([ "$backend" = cpu ] && echo 13.0 || echo 0.6)" > "$dir/epochs.csv"
                echo "# summary" > "$dir/summary.md"; echo "run folder: $dir" ;;
            esac
            exit 0
            """);
        return new Dictionary<string, string>
        {
            ["PATH"] = bin + ":" + Environment.GetEnvironmentVariable("PATH"),
            ["CUDAADAM_CLI"] = Path.Combine(bin, "cli"),
        };
    }

    [Test]
    public void OnAPretendGpuTheStagesReportWhatMatters()
    {
        var dir = Requirements.TempDirectory();
        try
        {
            var env = FakeGpu(dir);
            var (code, stdout, stderr) = Run("all", Path.Combine(dir, "1"), env);
            Assert.That(code, Is.EqualTo(1), stdout + stderr);
            Assert.That(stdout, Does.Contain("gpu: Fake H200, 580.65"));
            Assert.That(stdout, Does.Contain("STAGE contact: FAIL"), "the fake libcuda path is missing, so its symbols are unchecked");
            Assert.That(stdout, Does.Contain("FAILED adam/default/clip: p differs by 3 ulp"), "failing case names on stdout");
            Assert.That(stdout, Does.Contain("STAGE check: FAIL — conformance 1 (401 of 402 cases passed, 1 failed), graph 0, train 0"));
            Assert.That(stdout, Does.Contain("ERROR SUMMARY: 1 error"));
            Assert.That(stdout, Does.Contain("RACECHECK SUMMARY: 0 hazards"));
            Assert.That(stdout, Does.Contain("STAGE sanitize: FAIL — memcheck 99, racecheck 0, train memcheck 0"));
            Assert.That(stdout, Does.Contain("RESULT: FAIL (contact FAIL check FAIL sanitize FAIL)"));
            Assert.That(TarEntries(Path.Combine(dir, "1", "results.tar.gz")), Does.Contain("memcheck.txt").And.Contain("racecheck.txt").And.Contain("symbols.txt"));

            (code, stdout, stderr) = Run("bench train", Path.Combine(dir, "2"), env);
            Assert.That(code, Is.EqualTo(0), stdout + stderr);
            Assert.That(stdout, Does.Contain("4,100 GB/s = 0.91 of the device-to-device copy"), "benchmark ratios on stdout");
            Assert.That(stdout, Does.Contain("Worst: 9.1 %"));
            Assert.That(stdout, Does.Contain("STAGE bench: PASS"));
            Assert.That(stdout, Does.Contain("cpu GEMM: the managed C# loops"), "train.txt says which GEMM the CPU side ran");
            Assert.That(stdout, Does.Match(@"adam\s+1\s+0\.500\s+12\.000\s+24\.0"), "cpu/cuda side by side");
            Assert.That(stdout, Does.Contain("STAGE train: PASS"));
            Assert.That(stdout, Does.Contain("RESULT: pass (bench train)"));
            var entries = TarEntries(Path.Combine(dir, "2", "results.tar.gz"));
            Assert.That(entries, Does.Contain("train.txt").And.Contain("train/cpu-epochs.csv").And.Contain("bench/report.md"));
            Assert.That(entries.Any(e => e.StartsWith("train-runs", StringComparison.Ordinal)), Is.False);
        }
        finally
        {
            Directory.Delete(dir, true);
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
