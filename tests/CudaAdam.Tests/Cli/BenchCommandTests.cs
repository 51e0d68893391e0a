using System.Text.Json;
using CudaAdam.Device;

namespace CudaAdam.Tests.Cli;

/// <summary><c>cudaadam bench</c>: the code paths of <c>bench gpu</c> on the emulator (--smoke; no timing asserted),
/// the torch script's smoke run on the CPU, the ratio columns, the usage errors.</summary>
public class BenchCommandTests
{
    private static void RequireEmulator()
    {
        if (DeviceBackends.Unavailable("emulator") is { } reason) Prerequisite.Missing(reason + " (./build.sh setup builds it with g++)");
    }

    [Test]
    public void Gpt2SmallHasTheRealShapes()
    {
        var s = BenchShape.Gpt2Small();
        Assert.That(s.Tensors, Is.EqualTo(148));
        Assert.That(s.Elements, Is.EqualTo(124_439_808L), "GPT-2 small without the tied lm_head");
        Assert.That(s.Lengths[0], Is.EqualTo(50257L * 768));
        Assert.That(s.Lengths[4], Is.EqualTo(768L * 2304), "layer 0 attn.c_attn.weight");
        Assert.That(BenchShape.OneBig().Elements, Is.EqualTo(1L << 28));
        Assert.That(BenchShape.ManySmall().Lengths, Has.Length.EqualTo(10000).And.All.EqualTo(4096L));
    }

    [Test]
    public void SmokeRunWritesMarkdownAndJsonWithEveryShapePrecisionAndMode()
    {
        RequireEmulator();
        using var dir = new TempDirectory();
        var r = CliRunner.Invoke("bench", "gpu", "--smoke", "--out", dir.Path);
        Assert.That(r.Code, Is.EqualTo(0), r.ToString());
        Assert.That(dir.FileNames(), Is.EqualTo(new[] { "report.json", "report.md" }));
        using var json = JsonDocument.Parse(File.ReadAllText(dir.File("report.json")));
        var root = json.RootElement;
        Assert.That(root.GetProperty("command").GetString(), Does.StartWith("cudaadam bench gpu --smoke"));
        Assert.That(root.GetProperty("device").GetString(), Does.Contain("emulator"));
        Assert.That(root.GetProperty("date").GetString(), Does.EndWith("UTC"));
        var rows = root.GetProperty("rows").EnumerateArray().ToList();
        var keys = rows.Select(x => $"{x.GetProperty("shape").GetString()}/{x.GetProperty("precision").GetString()}/{x.GetProperty("mode").GetString()}").ToList();
        foreach (var shape in GpuBenchmark.Shapes(smoke: true))
            foreach (var p in new[] { "fp32", "bf16" })
            {
                Assert.That(keys, Does.Contain($"{shape.Name}/{p}/fused"));
                Assert.That(keys, Does.Contain($"{shape.Name}/{p}/checked"));
                Assert.That(keys, Does.Contain($"{shape.Name}/{p}/fused+diag"), "the step with the sign diagnostics fused in");
                Assert.That(keys, Does.Contain($"{shape.Name}/{p}/checked+diag"));
            }
        Assert.That(keys, Does.Contain("100x64/fp32/graph"), "the graph-captured step on the many-tensor shape");
        Assert.That(keys, Does.Contain("100x64/fp32/graph+diag"), "diagnostics in the captured graph");
        var overheads = root.GetProperty("diagnostics_overhead").EnumerateArray().ToList();
        Assert.That(overheads, Has.Count.EqualTo(rows.Count(x => x.GetProperty("mode").GetString()!.EndsWith("+diag"))), "one per +diag row");
        var o0 = overheads[0];
        Assert.That(o0.GetProperty("overhead").GetDouble(),
            Is.EqualTo(o0.GetProperty("diag_ms").GetDouble() / o0.GetProperty("plain_ms").GetDouble() - 1).Within(1e-12));
        Assert.That(rows.All(x => x.GetProperty("median_ms").GetDouble() > 0 && x.GetProperty("gb_per_s").GetDouble() > 0));
        Assert.That(rows.Where(x => x.GetProperty("precision").GetString() == "bf16").Select(x => x.GetProperty("bytes_per_param").GetDouble()),
            Is.All.EqualTo(24.0));
        string md = File.ReadAllText(dir.File("report.md"));
        Assert.That(md, Does.Contain("| gpt2-tiny | 28 |").And.Contain("28 (read p g m v, write p m v)"));
        Assert.That(md, Does.Contain("## Sign diagnostics fused into the step (target: <= 15%").And.Contain("| one-64K | fp32 | fused |")
            .And.Contain("(emulator: not the GPU claim)"));
    }

    [Test]
    public void TorchResultsBecomeRatioColumns()
    {
        RequireEmulator();
        using var dir = new TempDirectory();
        File.WriteAllText(dir.File("torch.json"), """
            { "rows": [ { "shape": "one-64K", "precision": "fp32", "impl": "fused", "median_ms": 1000.0 },
                        { "shape": "one-64K", "precision": "fp32", "impl": "foreach", "median_ms": 2000.0 },
                        { "shape": "one-64K", "precision": "bf16", "impl": "fused", "median_ms": null, "error": "x" } ] }
            """);
        var r = CliRunner.Invoke("bench", "gpu", "--smoke", "--reps", "1", "--out", dir.File("o"), "--torch", dir.File("torch.json"));
        Assert.That(r.Code, Is.EqualTo(0), r.ToString());
        string md = File.ReadAllText(Path.Combine(dir.File("o"), "report.md"));
        Assert.That(md, Does.Contain("ours / torch fused"));
        var line = md.Split('\n').First(l => l.StartsWith("| one-64K | 1 | 65,536 | fp32 | fused |"));
        var cols = line.Split('|').Select(c => c.Trim()).ToArray();   // cols[6] = our median ms, then torch columns
        double ours = double.Parse(cols[6], System.Globalization.CultureInfo.InvariantCulture);
        Assert.That(cols[11..15], Is.EqualTo(new[] { "1000.0000", (ours / 1000).ToString("F2", System.Globalization.CultureInfo.InvariantCulture),
            "2000.0000", (ours / 2000).ToString("F2", System.Globalization.CultureInfo.InvariantCulture) }), line);
        var bf16 = md.Split('\n').First(l => l.StartsWith("| one-64K | 1 | 65,536 | bf16 | fused |"));
        Assert.That(bf16, Does.EndWith("| - | - | - | - |"), "torch's failed run and missing foreach give no ratio");
    }

    [Test]
    public void TorchScriptSmokeRunsOnTheCpu()
    {
        PythonOracle.RequireModules("torch");
        using var dir = new TempDirectory();
        var (code, _, err) = PythonOracle.Run([Path.Combine(PythonOracle.RepoRoot, "scripts", "device", "bench_torch.py"), "--smoke",
            "--device", "cpu", "--reps", "1", "--out", dir.File("t.json")], TimeSpan.FromMinutes(3));
        Assert.That(code, Is.EqualTo(0), err);
        using var json = JsonDocument.Parse(File.ReadAllText(dir.File("t.json")));
        var rows = json.RootElement.GetProperty("rows").EnumerateArray().ToList();
        Assert.That(rows, Has.Count.EqualTo(3 * 2 * 2), "3 shapes x fp32/bf16 x fused/foreach");
        var shapes = GpuBenchmark.Shapes(smoke: true).Select(s => s.Name).ToHashSet();
        Assert.That(rows.Select(x => x.GetProperty("shape").GetString()), Is.All.Matches<string>(shapes.Contains), "the same shape names");
        Assert.That(rows.Where(x => x.GetProperty("impl").GetString() == "foreach").Select(x => x.GetProperty("median_ms").ValueKind),
            Is.All.EqualTo(JsonValueKind.Number), "foreach=True runs on the CPU");
    }

    [Test]
    public void CpuSmokeWritesTheReportAndEndsWithTheSummaryLine([Values(false, true)] bool withTorch)
    {
        if (withTorch) PythonOracle.RequireModules("torch");
        using var dir = new TempDirectory();
        string[] args = ["bench", "cpu", "--smoke", "--rounds", "1", "--steps", "1", "--threads", "2", "--out", dir.Path];
        var r = CliRunner.Invoke(withTorch ? args : [.. args, "--no-torch"]);
        Assert.That(r.Code, Is.EqualTo(0), r.ToString());
        string stem = "cpu-" + DateTime.UtcNow.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture);
        Assert.That(dir.FileNames(), Is.EquivalentTo(new[] { stem + ".json", stem + ".md" }));
        string last = r.Out.TrimEnd().Split('\n')[^1];
        string q = withTorch ? @"\d+\.\d\d" : "n/a";
        Assert.That(last, Does.Match($@"^cpu adam 100k: \d+\.\d GB/s = \d+\.\d\d of triad; torch foreach/ours = {q}; torch single/ours = {q}$"));
        using var json = JsonDocument.Parse(File.ReadAllText(dir.File(stem + ".json")));
        var rows = json.RootElement.GetProperty("rows").EnumerateArray().ToList();
        Assert.That(rows.Select(x => x.GetProperty("algorithm").GetString()).Distinct(), Is.EqualTo(new[] { "adam", "adamw", "lion", "sgd-momentum" }));
        Assert.That(rows.Select(x => x.GetProperty("shape").GetString()).Distinct(), Is.EqualTo(new[] { "100k", "10x10k" }));
        Assert.That(json.RootElement.GetProperty("triad_gb_per_s").GetDouble(), Is.GreaterThan(0));
        Assert.That(json.RootElement.GetProperty("load_average_start").GetString(), Is.Not.Empty);
        var lion = rows.First(x => x.GetProperty("algorithm").GetString() == "lion");
        Assert.That(lion.GetProperty("torch_foreach_ms").ValueKind, Is.EqualTo(JsonValueKind.Null), "torch 1.13 has no Lion");
        if (withTorch)
            Assert.That(rows.First().GetProperty("torch_foreach_ms").ValueKind, Is.EqualTo(JsonValueKind.Number));
    }

    [Test]
    public void FullShapesNeedAGpuAndSaySo()
    {
        var r = CliRunner.Invoke("bench", "gpu", "--backend", "emulator");
        Assert.That(r.Code, Is.EqualTo(2), r.ToString());
        Assert.That(r.Err, Does.Contain("--smoke"));
        if (CudaAdam.Cuda.Driver.CudaDriver.Unavailable() is not null)
        {
            var g = CliRunner.Invoke("bench", "gpu");
            Assert.That(g.Code, Is.EqualTo(2), g.ToString());
            Assert.That(g.Err, Does.Contain("no CUDA device").And.Contain("--smoke"));
        }
    }
}
