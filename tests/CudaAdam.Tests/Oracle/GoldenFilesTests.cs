using System.Diagnostics;

namespace CudaAdam.Tests.Oracle;

/// <summary>The golden files themselves: complete, consistent, small, and what make_golden.py writes today.</summary>
public class GoldenFilesTests
{
    private const string Python = "/usr/bin/python3";

    [Test]
    public void EveryTorchAlgorithmHasAGoldenFileWithCases()
    {
        var cases = GoldenFile.LoadAll();
        foreach (var algorithm in AlgorithmNames.All.Where(a => a.TorchClass() != null))
        {
            var mine = cases.Where(c => c.Algorithm == algorithm).ToArray();
            Assert.That(mine, Is.Not.Empty, $"no golden case for {algorithm.Name()} (torch.optim.{algorithm.TorchClass()}): " +
                                            "add it to ALGORITHMS in tests/oracle/make_golden.py and regenerate");
            Assert.That(mine.Max(c => c.Steps), Is.GreaterThanOrEqualTo(100), $"{algorithm.Name()}: no trajectory of 100+ steps");
            Assert.That(mine.Min(c => c.Steps), Is.EqualTo(1), $"{algorithm.Name()}: no single-step case");
        }
    }

    [Test]
    public void CaseNamesAreUniqueAndShapesConsistent()
    {
        var cases = GoldenFile.LoadAll();
        Assert.That(cases.Select(c => c.Name), Is.Unique);
        foreach (var c in cases)
        {
            Assert.That(c.Init.Length, Is.InRange(1, 4), $"{c.Name}: number of tensors");
            Assert.That(c.Init.Select(x => x.Length), Has.All.LessThanOrEqualTo(16), $"{c.Name}: tensors of at most 16 elements");
            Assert.That(c.FinalParams.Select(x => x.Length), Is.EqualTo(c.Init.Select(x => x.Length)), $"{c.Name}: final params' sizes");
            Assert.That(c.FinalState, Has.Length.EqualTo(c.Init.Length), $"{c.Name}: one state per tensor");
            foreach (var row in c.Grads)
                for (int k = 0; k < row.Length; k++)
                    if (row[k] is { } g) Assert.That(g, Has.Length.EqualTo(c.Init[k].Length), $"{c.Name}: gradient of tensor {k}");
        }
    }

    [Test]
    public void TheEdgeCasesAreThere()
    {
        var cases = GoldenFile.LoadAll();
        Assert.Multiple(() =>
        {
            Assert.That(cases.Any(c => c.Init.Any(x => x.Length == 0)), "a zero-size tensor");
            Assert.That(cases.Any(c => c.Grads.Any(row => row.Any(g => g is null))), "a step with p.grad = None");
            Assert.That(cases.Any(c => c.FinalState.Any(s => s is null)), "a tensor that never had a gradient");
            Assert.That(cases.Any(c => c.Grads.SelectMany(r => r).OfType<float[]>().SelectMany(g => g).Any(v => v != 0 && Math.Abs(v) < 1e-18f)),
                "tiny gradients (1e-20)");
            Assert.That(cases.Any(c => c.Init.Any(x => x.Length > 0 && x.Max(Math.Abs) > 1e5f && x.Where(v => v != 0).Min(Math.Abs) < 1e-5f)),
                "a tensor with coordinates on scales 1e-6..1e6");
        });
    }

    [Test]
    public void GoldenFolderStaysSmall()
    {
        long bytes = Directory.GetFiles(GoldenFile.Folder).Sum(f => new FileInfo(f).Length);
        Assert.That(bytes, Is.LessThan(1_000_000), "the golden folder should stay well under 1 MB: fewer or shorter cases in make_golden.py");
    }

    /// <summary>
    /// Re-runs make_golden.py into a temporary folder and asserts that it writes exactly the committed bytes, so the
    /// committed files always are what the script produces (with the installed torch). About 10 s.
    /// </summary>
    [Test]
    public void GoldenFilesAreUpToDate()
    {
        if (!File.Exists(Python) || Run(Python, ["-c", "import torch, numpy"], TimeSpan.FromSeconds(60)).ExitCode != 0)
            Prerequisite.Missing($"{Python} cannot import torch and numpy (Debian packages python3-torch, python3-numpy): run " +
                          "./build.sh setup as root (it installs them), or apt-get install python3-torch python3-numpy");
        string tmp = Path.Combine(Path.GetTempPath(), "cudaadam-golden-" + Guid.NewGuid().ToString("N"));
        try
        {
            var run = Run(Python, [GoldenFile.Generator, "--out", tmp], TimeSpan.FromSeconds(120));
            Assert.That(run.ExitCode, Is.Zero, $"make_golden.py failed (exit {run.ExitCode}):\n{run.Output}");
            const string stale = "golden files are stale: run /usr/bin/python3 tests/oracle/make_golden.py";
            var fresh = Directory.GetFiles(tmp).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToArray();
            var committed = Directory.GetFiles(GoldenFile.Folder).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToArray();
            Assert.That(committed, Is.EqualTo(fresh), $"{stale} (the set of files differs)");
            foreach (var name in fresh)
            {
                byte[] want = File.ReadAllBytes(Path.Combine(tmp, name!)), have = File.ReadAllBytes(Path.Combine(GoldenFile.Folder, name!));
                if (want.AsSpan().SequenceEqual(have)) continue;
                int i = 0;
                while (i < want.Length && i < have.Length && want[i] == have[i]) i++;
                Assert.Fail($"{stale} ({name} differs first at byte {i} of {have.Length} committed / {want.Length} regenerated)");
            }
        }
        finally
        {
            if (Directory.Exists(tmp)) Directory.Delete(tmp, recursive: true);
        }
    }

    private static (int ExitCode, string Output) Run(string exe, string[] args, TimeSpan timeout)
    {
        var psi = new ProcessStartInfo(exe) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {exe}");
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(timeout))
        {
            p.Kill(entireProcessTree: true);
            Assert.Fail($"{exe} {string.Join(' ', args)} ran past {timeout.TotalSeconds} s");
        }
        p.WaitForExit();
        return (p.ExitCode, stdout.Result + stderr.Result);
    }
}
