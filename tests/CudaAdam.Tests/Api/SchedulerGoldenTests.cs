using System.Text.Json;
using CudaAdam.Tests.Experiments;

namespace CudaAdam.Tests.Api;

/// <summary>
/// The schedulers and the GradScaler against torch 1.13: tests/oracle/golden_schedulers/schedulers.json, written by
/// tests/oracle/make_scheduler_golden.py (torch's own lr_scheduler classes; the GradScaler's update rule transcribed
/// from its CUDA kernel, see the script). The lr sequences are compared bit for bit: both sides do the same double
/// operations in the same order, and Math.Cos/Math.Pow are glibc's cos/pow, as Python's math.cos and ** are.
/// </summary>
public class SchedulerGoldenTests
{
    private static string File => TestPaths.InRepo("tests", "oracle", "golden_schedulers", "schedulers.json");
    private static string Generator => TestPaths.InRepo("tests", "oracle", "make_scheduler_golden.py");

    private static readonly Lazy<JsonDocument> Doc = new(() =>
    {
        var doc = JsonDocument.Parse(System.IO.File.ReadAllBytes(File));
        Assert.That(doc.RootElement.GetProperty("format").GetInt32(), Is.EqualTo(1), "schedulers.json format");
        return doc;
    });

    public static IEnumerable<TestCaseData> SchedulerCases() =>
        JsonDocument.Parse(System.IO.File.ReadAllBytes(File)).RootElement.GetProperty("schedulers").EnumerateArray()
            .Select(c => new TestCaseData(c.GetProperty("name").GetString()).SetName($"Scheduler_{c.GetProperty("name").GetString()}"));

    public static IEnumerable<TestCaseData> ScalerCases() =>
        JsonDocument.Parse(System.IO.File.ReadAllBytes(File)).RootElement.GetProperty("grad_scaler").EnumerateArray()
            .Select(c => new TestCaseData(c.GetProperty("name").GetString()).SetName($"GradScaler_{c.GetProperty("name").GetString()}"));

    private static JsonElement Case(string section, string name) =>
        Doc.Value.RootElement.GetProperty(section).EnumerateArray().Single(c => c.GetProperty("name").GetString() == name);

    /// <summary>The LambdaLR functions of the script, by name.</summary>
    private static readonly Dictionary<string, Func<long, double>> Lambdas = new()
    {
        ["inverse"] = e => 1.0 / (1.0 + e),
        ["pow0.95"] = e => Math.Pow(0.95, e),
        ["warmup3"] = e => e < 3 ? (e + 1) / 3.0 : 1.0,
    };

    private static Optimizer BuildOptimizer(JsonElement c)
    {
        var lrs = c.GetProperty("lrs").EnumerateArray().Select(x => x.GetDouble()).ToArray();
        bool sgd = c.GetProperty("optimizer").GetString() == "sgd";
        var algorithm = sgd ? Algorithm.Sgd : Algorithm.Adam;
        var hp = Hyperparameters.Defaults(algorithm) with { Momentum = sgd ? 0.9 : 0 };
        return new Optimizer(algorithm, lrs.Select((lr, i) => new ParamGroup([new Parameter($"p{i}", new float[2])], hp with { Lr = lr })));
    }

    private static LrScheduler Build(Optimizer opt, JsonElement s)
    {
        double D(string key, double fallback) => s.TryGetProperty(key, out var v) ? v.GetDouble() : fallback;
        long L(string key, long fallback) => s.TryGetProperty(key, out var v) ? v.GetInt64() : fallback;
        string S(string key, string fallback) => s.TryGetProperty(key, out var v) ? v.GetString()! : fallback;
        bool B(string key, bool fallback) => s.TryGetProperty(key, out var v) ? v.GetBoolean() : fallback;
        IEnumerable<LrScheduler> Inner() => s.GetProperty("schedulers").EnumerateArray().Select(x => Build(opt, x)).ToArray();
        return s.GetProperty("type").GetString() switch
        {
            "StepLR" => new StepLR(opt, L("step_size", 0), D("gamma", 0.1)),
            "MultiStepLR" => new MultiStepLR(opt, s.GetProperty("milestones").EnumerateArray().Select(x => x.GetInt64()), D("gamma", 0.1)),
            "ExponentialLR" => new ExponentialLR(opt, D("gamma", double.NaN)),
            "CosineAnnealingLR" => new CosineAnnealingLR(opt, D("T_max", double.NaN), D("eta_min", 0)),
            "CosineAnnealingWarmRestarts" => new CosineAnnealingWarmRestarts(opt, L("T_0", 0), L("T_mult", 1), D("eta_min", 0)),
            "LinearLR" => new LinearLR(opt, D("start_factor", 1.0 / 3), D("end_factor", 1.0), L("total_iters", 5)),
            "ConstantLR" => new ConstantLR(opt, D("factor", 1.0 / 3), L("total_iters", 5)),
            "PolynomialLR" => new PolynomialLR(opt, L("total_iters", 5), D("power", 1.0)),
            "LambdaLR" => new LambdaLR(opt, s.GetProperty("lr_lambdas").EnumerateArray().Select(x => Lambdas[x.GetString()!])),
            "OneCycleLR" => s.GetProperty("max_lr").ValueKind == JsonValueKind.Array
                ? new OneCycleLR(opt, s.GetProperty("max_lr").EnumerateArray().Select(x => x.GetDouble()).ToArray(), L("total_steps", 0), D("pct_start", 0.3),
                    S("anneal_strategy", "cos"), B("cycle_momentum", true), divFactor: D("div_factor", 25), finalDivFactor: D("final_div_factor", 1e4), threePhase: B("three_phase", false))
                : new OneCycleLR(opt, D("max_lr", double.NaN), L("total_steps", 0), D("pct_start", 0.3), S("anneal_strategy", "cos"), B("cycle_momentum", true),
                    divFactor: D("div_factor", 25), finalDivFactor: D("final_div_factor", 1e4), threePhase: B("three_phase", false)),
            "SequentialLR" => new SequentialLR(opt, Inner(), s.GetProperty("milestones").EnumerateArray().Select(x => x.GetInt64())),
            "ChainedScheduler" => new ChainedScheduler(Inner()),
            "ReduceLROnPlateau" => s.TryGetProperty("min_lr", out var m) && m.ValueKind == JsonValueKind.Array
                ? new ReduceLROnPlateau(opt, m.EnumerateArray().Select(x => x.GetDouble()).ToArray(), S("mode", "min"), D("factor", 0.1), L("patience", 10),
                    D("threshold", 1e-4), S("threshold_mode", "rel"), L("cooldown", 0), D("eps", 1e-8))
                : new ReduceLROnPlateau(opt, S("mode", "min"), D("factor", 0.1), L("patience", 10), D("threshold", 1e-4), S("threshold_mode", "rel"),
                    L("cooldown", 0), D("min_lr", 0), D("eps", 1e-8)),
            var t => throw new NotSupportedException($"no builder for {t}"),
        };
    }

    private static void StepOnce(LrScheduler s, JsonElement c, int t)
    {
        if (s is ReduceLROnPlateau p) p.Step(c.GetProperty("metrics")[t].GetDouble());
        else s.Step();
    }

    private static double[] Lrs(Optimizer opt) => opt.Groups.Select(g => g.Hyperparameters.Lr).ToArray();

    private static double[] Momenta(Optimizer opt) =>
        opt.Groups.Select(g => opt.Algorithm.Info().UsesBetas ? g.Hyperparameters.Beta1 : g.Hyperparameters.Momentum).ToArray();

    private static double[][] Rows(JsonElement c, string key) =>
        c.GetProperty(key).EnumerateArray().Select(r => r.EnumerateArray().Select(x => x.GetDouble()).ToArray()).ToArray();

    /// <summary>The state dict's numbers as the script flattens them: scalars and lists by torch's key, a nested
    /// scheduler's scalars as "index.key".</summary>
    private static Dictionary<string, object> Flat(SchedulerStateDict d)
    {
        var flat = new Dictionary<string, object>(StringComparer.Ordinal);
        foreach (var (k, v) in d.Values) flat[k] = v;
        foreach (var (k, v) in d.Lists) flat[k] = v;
        for (int i = 0; i < d.Schedulers.Count; i++)
            foreach (var (k, v) in d.Schedulers[i].Values) flat[$"{i}.{k}"] = v;
        return flat;
    }

    [TestCaseSource(nameof(SchedulerCases))]
    public void LrSequenceIsTorchs_BitForBit_AndSurvivesAStateDictRoundTrip(string name)
    {
        var c = Case("schedulers", name);
        var expected = Rows(c, "lr");
        var expectedMomentum = c.TryGetProperty("momentum", out _) ? Rows(c, "momentum") : null;
        int steps = c.GetProperty("steps").GetInt32(), stateAt = c.GetProperty("state_at").GetInt32();
        using var opt = BuildOptimizer(c);
        var sched = Build(opt, c.GetProperty("scheduler"));
        Assert.That(Lrs(opt), Is.EqualTo(expected[0]), "after construction");
        if (expectedMomentum is not null) Assert.That(Momenta(opt), Is.EqualTo(expectedMomentum[0]), "momentum after construction");
        SchedulerStateDict? saved = null;
        OptimizerStateDict? savedOpt = null;
        for (int t = 0; t < steps; t++)
        {
            StepOnce(sched, c, t);
            Assert.That(Lrs(opt), Is.EqualTo(expected[t + 1]), $"lr after step {t + 1}");
            Assert.That(sched.LastLr, Is.EqualTo(expected[t + 1]), $"get_last_lr() after step {t + 1}");
            if (expectedMomentum is not null) Assert.That(Momenta(opt), Is.EqualTo(expectedMomentum[t + 1]), $"momentum after step {t + 1}");
            if (t + 1 != stateAt) continue;
            saved = sched.StateDict();
            savedOpt = opt.StateDict();
        }

        // torch's state_dict() at state_at: every number under torch's key.
        var flat = Flat(saved!);
        foreach (var p in c.GetProperty("state").EnumerateObject())
        {
            Assert.That(flat.ContainsKey(p.Name), $"state dict key '{p.Name}' (ours: {string.Join(", ", flat.Keys)})");
            object want = p.Value.ValueKind == JsonValueKind.Array ? p.Value.EnumerateArray().Select(x => x.GetDouble()).ToArray() : p.Value.GetDouble();
            Assert.That(flat[p.Name], Is.EqualTo(want), $"state dict '{p.Name}'");
        }

        // The round trip, through JSON: a fresh optimizer and scheduler continue exactly as torch did.
        var options = new JsonSerializerOptions { NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals };
        var reloaded = JsonSerializer.Deserialize<SchedulerStateDict>(JsonSerializer.Serialize(saved, options), options)!;
        using var opt2 = BuildOptimizer(c);
        var sched2 = Build(opt2, c.GetProperty("scheduler"));
        opt2.LoadStateDict(savedOpt!);
        sched2.LoadStateDict(reloaded);
        for (int t = stateAt; t < steps; t++)
        {
            StepOnce(sched2, c, t);
            Assert.That(Lrs(opt2), Is.EqualTo(expected[t + 1]), $"resumed: lr after step {t + 1}");
        }
    }

    [TestCaseSource(nameof(ScalerCases))]
    public void GradScalerScaleSequenceIsTorchs_AndASkippedStepChangesNothing(string name)
    {
        var c = Case("grad_scaler", name);
        var scaler = new GradScaler((float)c.GetProperty("init_scale").GetDouble(), c.GetProperty("growth_factor").GetDouble(),
            c.GetProperty("backoff_factor").GetDouble(), c.GetProperty("growth_interval").GetInt32());
        string foundInf = c.GetProperty("found_inf").GetString()!;
        var at = c.GetProperty("at").EnumerateArray().Select(x => x.GetInt32()).ToArray();
        var after = c.GetProperty("after").EnumerateArray().Select(r => (Scale: r[0].GetDouble(), Tracker: r[1].GetInt32(), Inv: r[2].GetDouble())).ToArray();
        var p = new Parameter("p", new float[2]);
        using var opt = new Optimizer(Algorithm.Sgd, [p], Hyperparameters.Defaults(Algorithm.Sgd) with { Lr = 1 });
        int k = 0;
        for (int i = 0; i < foundInf.Length; i++)
        {
            bool inf = foundInf[i] == '1';
            float inv = scaler.InvScale;
            p.Data[0] = p.Data[1] = 0;
            p.Grad = [3f, inf ? float.PositiveInfinity : 5f];
            var r = scaler.Step(opt);
            Assert.That(r.Skipped, Is.EqualTo(inf), $"step {i}: skipped");
            // SGD with lr 1 from 0: p = -(g · 1/scale) in float32; a skipped step leaves p at 0.
            Assert.That(p.Data, Is.EqualTo(inf ? new[] { 0f, 0f } : new[] { -(3f * inv), -(5f * inv) }), $"step {i}: parameters");
            Assert.That(opt.InvScale, Is.EqualTo(1f), "the optimizer's own inv_scale is restored");
            scaler.Update();
            if (k < at.Length && at[k] == i)
            {
                Assert.That((double)scaler.Scale, Is.EqualTo(after[k].Scale), $"scale after update {i}");
                Assert.That(scaler.GrowthTracker, Is.EqualTo(after[k].Tracker), $"growth tracker after update {i}");
                Assert.That((double)scaler.InvScale, Is.EqualTo(after[k].Inv), $"inv_scale after update {i}");
                k++;
            }
        }
        Assert.That(k, Is.EqualTo(at.Length), "every recorded row was compared");
        Assert.That(opt.SkippedSteps, Is.EqualTo(foundInf.Count(ch => ch == '1')));
    }

    [Test]
    public void GoldenFileIsUpToDate()
    {
        PythonOracle.RequireModules("torch");
        string tmp = Path.Combine(Path.GetTempPath(), "cudaadam-scheduler-golden-" + Guid.NewGuid().ToString("N"));
        try
        {
            var (code, stdout, stderr) = PythonOracle.Run([Generator, "--out", tmp], TimeSpan.FromSeconds(120));
            Assert.That(code, Is.Zero, $"make_scheduler_golden.py failed (exit {code}):\n{stdout}{stderr}");
            using var fresh = JsonDocument.Parse(System.IO.File.ReadAllBytes(Path.Combine(tmp, "schedulers.json")));
            string? difference = ScipyGoldenFileTests.FirstDifference(fresh.RootElement, Doc.Value.RootElement, "$");
            Assert.That(difference, Is.Null, $"schedulers.json is stale ({difference}): run /usr/bin/python3 tests/oracle/make_scheduler_golden.py");
        }
        finally
        {
            if (Directory.Exists(tmp)) Directory.Delete(tmp, recursive: true);
        }
    }
}
