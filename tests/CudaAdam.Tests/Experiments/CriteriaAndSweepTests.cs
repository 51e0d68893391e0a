using CudaAdam.Experiments.Recording;
using CudaAdam.Experiments.Statistics;

namespace CudaAdam.Tests.Experiments;

/// <summary>Criteria files and their lock, verdicts with Holm, and the sharded sweep of <see cref="Experiment"/> (issue 15).</summary>
[NonParallelizable]
public class CriteriaAndSweepTests
{
    private const string Toy = """
    {
      "name": "toy", "version": 1, "title": "toy experiment", "source": "none (a test)",
      "seeds": { "smoke": 2, "default": 6, "full": 10 },
      "sizes": { "smoke": { "steps": 10 }, "default": { "steps": 100, "grid": [1, 2, 3] }, "full": { "steps": 1000 } },
      "criteria": [
        { "id": "up", "claim": "θ is positive", "source": "Eq. (1)", "metric": "mean of x", "test": "greater", "margin": 0 },
        { "id": "down", "claim": "θ is below 1", "source": "Eq. (2)", "metric": "mean of x", "test": "less", "margin": 1 },
        { "id": "same", "claim": "no difference", "source": "Fig. 3", "metric": "difference", "test": "equivalent", "margin": 0.1,
          "earlier": { "verdict": "held", "date": "2026-11-23", "why": "one seed" } }
      ]
    }
    """;

    private static string MakeRepo(TempDirectory tmp, string json = Toy, bool register = true)
    {
        var dir = Path.Combine(tmp.Path, "scripts", "criteria");
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "toy.json"), json);
        if (register) CriteriaFile.Register(dir);
        return tmp.Path;
    }

    [Test]
    public void ReadsCriteriaAndSizes()
    {
        using var tmp = new TempDirectory();
        var root = MakeRepo(tmp);
        var exp = Experiment.Start("toy", root, ["--out", tmp.File("out")]);
        Assert.That(exp.Seeds, Is.EqualTo(new[] { 1, 2, 3, 4, 5, 6 }));
        Assert.That(exp.Int("steps"), Is.EqualTo(100));
        Assert.That(exp.Ints("grid"), Is.EqualTo(new[] { 1, 2, 3 }));
        Assert.That(exp.Criteria["same"].Low, Is.EqualTo(-0.1));
        Assert.That(exp.Criteria["same"].Earlier!.Why, Is.EqualTo("one seed"));
        Assert.That(exp.Criteria.Unregistered, Is.Null);
        var ex = Assert.Throws<InvalidDataException>(() => exp.Int("width"));
        Assert.That(ex!.Message, Does.Contain("sizes.default.width"));
        Assert.That(Experiment.Start("toy", root, ["--seed", "7", "--seeds", "5", "--out", tmp.File("o2")]).Seeds, Is.EqualTo(new[] { 7, 8, 9, 10, 11 }));
    }

    [Test]
    public void AChangeWithoutAVersionBumpIsAnError()
    {
        using var tmp = new TempDirectory();
        var root = MakeRepo(tmp);
        var path = Path.Combine(root, "scripts", "criteria", "toy.json");
        File.WriteAllText(path, Toy.Replace("\"margin\": 0 }", "\"margin\": 0.05 }"));
        var ex = Assert.Throws<InvalidDataException>(() => CriteriaFile.Load(Path.GetDirectoryName(path)!, "toy"));
        Assert.That(ex!.Message, Does.Contain("changed but its version is still 1").And.Contain("\"version\": 2"));
        File.WriteAllText(path, Toy.Replace("\"margin\": 0 }", "\"margin\": 0.05 }").Replace("\"version\": 1", "\"version\": 2"));
        var f = CriteriaFile.Load(Path.GetDirectoryName(path)!, "toy");
        Assert.That(f.Unregistered, Does.Contain("scripts/fsx criteria --register"));
        Assert.That(CriteriaFile.Register(Path.GetDirectoryName(path)!), Has.Count.EqualTo(1));
        Assert.That(CriteriaFile.Load(Path.GetDirectoryName(path)!, "toy").Unregistered, Is.Null);
        Assert.That(CriteriaFile.ReadLock(CriteriaFile.LockPath(Path.GetDirectoryName(path)!)).Select(l => l.Version), Is.EqualTo(new[] { 1, 2 }));
    }

    [TestCase("\"test\": \"greater\", \"margin\": 0 }", "\"test\": \"bigger\", \"margin\": 0 }", "not one of greater, less, equivalent")]
    [TestCase("\"default\": 6", "\"default\": 3", "at least 5 seeds")]
    [TestCase("\"test\": \"equivalent\", \"margin\": 0.1", "\"test\": \"equivalent\"", "needs \"low\" and \"high\"")]
    [TestCase("\"name\": \"toy\"", "\"name\": \"other\"", "must be \"toy\"")]
    public void BadCriteriaFilesSayWhatIsWrong(string from, string to, string message)
    {
        using var tmp = new TempDirectory();
        var root = MakeRepo(tmp, Toy.Replace(from, to), register: false);
        var ex = Assert.Throws<InvalidDataException>(() => CriteriaFile.Load(Path.Combine(root, "scripts", "criteria"), "toy"));
        Assert.That(ex!.Message, Does.Contain(message).And.Contain("toy.json"));
    }

    [Test]
    public void VerdictsFollowTheIntervalsWithHolm()
    {
        using var tmp = new TempDirectory();
        var root = MakeRepo(tmp);
        var exp = Experiment.Start("toy", root, ["--out", tmp.File("out")]);
        exp.EffectMean("up", [0.9, 1.1, 1.0, 0.95, 1.05, 1.0], "clearly positive");          // supported
        exp.EffectMean("down", [1.9, 2.1, 2.0, 1.95, 2.05, 2.0], "clearly above 1");         // contradicted
        exp.EffectMean("same", [0.2, -0.3, 0.25, -0.2, 0.1, 0.05], "wide spread around 0");  // inconclusive
        var ds = exp.Report.Decisions();
        Assert.That(ds.Select(d => d.Verdict), Is.EqualTo(new[] { Verdict.Supported, Verdict.Contradicted, Verdict.Inconclusive }));
        Assert.That(ds[2].SeedsToDecide, Does.Contain("seeds would decide it (toward supported"));
        Assert.That(ds[0].PSupportHolm, Is.GreaterThanOrEqualTo(ds[0].PSupport), "Holm never lowers a p-value");
        Assert.That(ds[2].Low, Is.LessThan(-0.1).Or.GreaterThan(0.1).Or.LessThan(ds[2].High), "sanity");
        Assert.That(ds[2].Low < -0.1 || ds[2].High > 0.1, Is.True, "inconclusive: the interval is not inside the margin");
    }

    [Test]
    public void ASmokeRunOrFewerSeedsIsNotTestedAsStatedWithTheNumbersKept()
    {
        using var tmp = new TempDirectory();
        var root = MakeRepo(tmp);
        var smoke = Experiment.Start("toy", root, ["--smoke", "--out", tmp.File("s")]);
        smoke.EffectMean("up", [0.9, 1.1], "x");
        var d = smoke.Report.Decisions().Single();
        Assert.That(d.Verdict, Is.EqualTo(Verdict.NotTestedAsStated));
        Assert.That(d.Departure, Does.Contain("smoke"));
        var few = Experiment.Start("toy", root, ["--seeds", "3", "--out", tmp.File("f")]);
        few.EffectMean("up", [0.9, 1.1, 1.0], "x");
        Assert.That(few.Report.Decisions().Single().Departure, Does.Contain("3 seeds where the criteria file fixes 6"));
        var departed = Experiment.Start("toy", root, ["--out", tmp.File("d")]);
        departed.EffectMean("up", [0.9, 1.1, 1.0, 1, 1, 1], "x", departure: "constant step where the theorem has a schedule");
        var dd = departed.Report.Decisions().Single();
        Assert.That((dd.Verdict, dd.AsRun), Is.EqualTo((Verdict.NotTestedAsStated, Verdict.Supported)));
    }

    private sealed class ShardExit(int code) : Exception($"exit {code}");

    /// <summary>The toy sweep: 2 hyperparameters × the seeds, rows depend on the job only; the analysis reads the table back.</summary>
    private static string RunToy(string root, string[] args)
    {
        var exp = Experiment.Start("toy", root, args);
        exp.Exit = code => throw new ShardExit(code);
        var jobs = (from a in new[] { 0.5, 2.0 } from s in exp.Seeds select (a, s)).ToArray();
        var raw = exp.Run("runs", jobs, j => $"a={j.a} seed={j.s}", ["a", "seed", "t", "x"],
            j => Enumerable.Range(1, 3).Select(t => new object[] { j.a, j.s, t, j.a * Math.Sin(j.s * 0.7 + t) / 3 + 0.1 * t }));
        var perSeed = exp.Seeds.Select(s => raw.Rows.Where(r => r.Int("seed") == s && r.Int("t") == 3).Average(r => r.Float("x"))).ToArray();
        exp.EffectMean("up", perSeed, "toy");
        exp.Report.Text("rows: " + raw.Rows.Count);
        return exp.Finish();
    }

    private static string WithoutProvenance(string report) => report[..report.IndexOf("## Provenance", StringComparison.Ordinal)];

    [Test]
    public void ThreeShardsMergedEqualTheWholeRun()
    {
        using var tmp = new TempDirectory();
        var root = MakeRepo(tmp);
        var whole = RunToy(root, ["--out", tmp.File("whole"), "--jobs", "2"]);
        var dirs = new List<string>();
        for (int k = 1; k <= 3; k++)
        {
            var dir = tmp.File($"shard{k}");
            dirs.Add(dir);
            Assert.Throws<ShardExit>(() => RunToy(root, ["--shard", $"{k}/3", "--out", dir]));
            Assert.That(File.Exists(Path.Combine(dir, "shard.json")), Is.True);
            Assert.That(File.Exists(Path.Combine(dir, "report.md")), Is.False, "a shard writes no report");
        }
        var merged = RunToy(root, ["--merge", string.Join(",", dirs), "--out", tmp.File("merged")]);
        Assert.That(File.ReadAllText(Path.Combine(tmp.File("merged"), "runs.csv")), Is.EqualTo(File.ReadAllText(Path.Combine(tmp.File("whole"), "runs.csv"))));
        Assert.That(File.ReadAllText(Path.Combine(tmp.File("merged"), "verdicts.json")), Is.EqualTo(File.ReadAllText(Path.Combine(tmp.File("whole"), "verdicts.json"))));
        var m = File.ReadAllText(merged);
        Assert.That(WithoutProvenance(m), Is.EqualTo(WithoutProvenance(File.ReadAllText(whole))));
        foreach (var shard in new[] { "| 1/3 |", "| 2/3 |", "| 3/3 |", "| merge |" })
            Assert.That(m, Does.Contain(shard), "the merged report lists each shard's provenance");
    }

    [Test]
    public void MergeRefusesIncompleteOrForeignShards()
    {
        using var tmp = new TempDirectory();
        var root = MakeRepo(tmp);
        var dirs = new List<string>();
        for (int k = 1; k <= 3; k++)
        {
            dirs.Add(tmp.File($"shard{k}"));
            Assert.Throws<ShardExit>(() => RunToy(root, ["--shard", $"{k}/3", "--out", dirs[^1]]));
        }
        var ex = Assert.Throws<InvalidDataException>(() => RunToy(root, ["--merge", string.Join(",", dirs.Take(2)), "--out", tmp.File("m")]));
        Assert.That(ex!.Message, Does.Contain("each of 1/3 … 3/3 exactly once"));
        var other = tmp.File("other");
        Assert.Throws<ShardExit>(() => RunToy(root, ["--shard", "3/3", "--seeds", "5", "--out", other]));
        ex = Assert.Throws<InvalidDataException>(() => RunToy(root, ["--merge", string.Join(",", dirs.Take(2).Append(other)), "--out", tmp.File("m2")]));
        Assert.That(ex!.Message, Does.Contain("seeds"));
    }

    [TestCase("--shard 0/3", "1 ≤ k ≤ n")]
    [TestCase("--shard 4/3", "1 ≤ k ≤ n")]
    [TestCase("--shard 1/3 --merge a,b", "exclude each other")]
    [TestCase("--seeds 0", "positive integer")]
    public void BadSweepFlagsSayWhatIsWrong(string args, string message)
    {
        using var tmp = new TempDirectory();
        var root = MakeRepo(tmp);
        var ex = Assert.Throws<ArgumentException>(() => Experiment.Start("toy", root, [.. args.Split(' '), "--out", tmp.File("o")]));
        Assert.That(ex!.Message, Does.Contain(message));
    }
}

/// <summary>The README's verdict table is what the committed reports say (scripts/fsx table regenerates it).</summary>
public class VerdictTableTests
{
    [Test]
    public void ReadmeTableMatchesTheCommittedReports()
    {
        var root = TestPaths.RepoRoot;
        var readme = File.ReadAllText(TestPaths.InRepo("scripts", "README.md"));
        var expected = VerdictTable.Splice(readme, VerdictTable.Render(root));
        Assert.That(readme, Is.EqualTo(expected), "scripts/README.md's verdict table differs from scripts/reports/*/verdicts.json: run scripts/fsx table");
    }

    [Test]
    public void AChangedVerdictSaysFromWhatAndWhyAndPairsCountOnce()
    {
        using var tmp = new TempDirectory();
        var dir = Path.Combine(tmp.Path, "scripts", "reports", "toy");
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "verdicts.json"), """
        { "script": "toy", "size": "default", "criteria_file": "scripts/criteria/toy.json", "criteria_version": 3, "criteria": [
          { "id": "helps", "claim": "c1", "source": "s1", "metric": "m", "test": "θ > 0", "estimate": 0.1, "low": -0.1, "high": 0.3, "seeds": 5,
            "verdict": "contradicted", "as_run": "contradicted", "complements": "same", "earlier": { "verdict": "held", "date": "2026-11-23", "why": "a constant step" } },
          { "id": "same", "claim": "c2", "source": "s2", "metric": "m", "test": "-0.1 < θ < 0.1", "estimate": 0.01, "low": -0.02, "high": 0.04, "seeds": 5,
            "verdict": "supported", "as_run": "supported", "complements": "helps" },
          { "id": "other", "claim": "c3", "source": "s3", "metric": "m", "test": "θ < 1", "estimate": 0.5, "low": 0.4, "high": 0.6, "seeds": 5,
            "verdict": "supported", "as_run": "supported", "earlier": { "verdict": "held", "date": "2026-11-23", "why": "-" } } ] }
        """);
        var table = VerdictTable.Render(tmp.Path);
        Assert.That(table, Does.Not.Contain("`helps`: c1"), "the contradicted member of a pair whose partner is supported is not a row of its own");
        Assert.That(table, Does.Contain("`same`: c2").And.Contain("its complement `helps`: contradicted"));
        Assert.That(table, Does.Contain("held (2026-11-23), unchanged"));
        Assert.That(table, Does.Contain("[toy.json v3](criteria/toy.json)"));
        var spliced = VerdictTable.Splice("# x\n\n" + VerdictTable.Begin + "\nold\n" + VerdictTable.End + "\ntail\n", table);
        Assert.That(spliced, Does.StartWith("# x\n\n" + VerdictTable.Begin).And.EndWith(VerdictTable.End + "\ntail\n").And.Not.Contain("old"));
    }
}
