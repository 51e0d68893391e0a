#pragma warning disable CS1591 // CS1591 backlog (issue 13): 10 public members here have no XML doc yet; document them, then delete this line
using System.Globalization;
using CudaAdam.Cuda;
using CudaAdam.Diagnostics;

namespace CudaAdam.Device;

/// <summary>
/// An edge case of the conformance registry: the tensor lengths, how many steps, which tensors have a gradient at
/// which step, poisoned (non-finite) gradient entries, the gradient unscale factor and the backend's layout knobs.
/// </summary>
public sealed record EdgeCase(string Name, string Description)
{
    public int[] Lengths { get; init; } = [1037];
    public int Steps { get; init; } = 5;
    /// <summary>(step from 1, tensor) → whether the tensor has a gradient at that step. Null: always.</summary>
    public Func<int, int, bool>? HasGrad { get; init; }
    /// <summary>Gradient entries overwritten with a value (NaN, ±inf) before the step.</summary>
    public (int Step, int Tensor, int Index, float Value)[] Poison { get; init; } = [];
    /// <summary>The gradient unscale factor (1/loss-scale) handed to both sides.</summary>
    public float InvScale { get; init; } = 1f;
    /// <summary>Largest |gradient| magnitude order used by the generator (10^MaxExponent).</summary>
    public int MaxExponent { get; init; } = 1;
    public DeviceBackendOptions Options { get; init; } = new();
    /// <summary>Global-norm clipping threshold of both optimizers (<see cref="Optimizer.MaxGradNorm"/>), or null.</summary>
    public double? MaxGradNorm { get; init; }
    /// <summary>The non-finite policy of both optimizers (<see cref="Optimizer.NonFinite"/>).</summary>
    public NonFinitePolicy NonFinite { get; init; } = NonFinitePolicy.Skip;
    /// <summary>How many of the steps a correct backend must refuse (skip, or throw under
    /// <see cref="NonFinitePolicy.Error"/>) because of non-finite gradients; checked on both sides.</summary>
    public int ExpectedSkips { get; init; }
}

/// <summary>
/// The implementations every conformance case runs on, beside the CPU reference that is the oracle: the fused kernels
/// with host-resident truth (<see cref="Residency.Host"/>), with device-resident truth (<see cref="Residency.Device"/>,
/// the device step clock), and device-resident with the step captured in a CUDA graph (on the emulator the same launches
/// run uncaptured; on a GPU, graph replays). torch's <c>_test_derived_optimizers</c> flips implementations the same way.
/// </summary>
public enum ConformanceEngine { Host, Resident, Graph }

/// <summary>One row of the registry: an algorithm, a named hyperparameter set and an edge case.</summary>
public sealed record ConformanceCase(Algorithm Algorithm, string HpName, Hyperparameters Hyperparameters, EdgeCase Edge)
{
    public string Name => $"{Algorithm.Name()}/{HpName}/{Edge.Name}";
    public override string ToString() => Name;
}

/// <summary>The outcome of one case. <see cref="Passed"/> means bitwise equal everywhere (NaN payloads excepted).</summary>
public sealed record ConformanceResult(ConformanceCase Case, long Compared, long Mismatches, long MaxUlp,
    long SkippedReference, long SkippedDevice, string? FirstMismatch, string? Error)
{
    public bool Passed => Error is null && Mismatches == 0 && SkippedReference == SkippedDevice
                          && SkippedReference == Case.Edge.ExpectedSkips;

    public string Describe() => Error is not null
        ? $"{Case.Name}: error: {Error}"
        : $"{Case.Name}: {Compared} values compared, {Mismatches} differ (max {MaxUlp} ulp), skipped steps " +
          $"reference {SkippedReference} / device {SkippedDevice} (expected {Case.Edge.ExpectedSkips})" +
          (FirstMismatch is null ? "" : $"; first difference: {FirstMismatch}");
}

/// <summary>
/// THE registry of optimizer conformance cases (algorithm × hyperparameters × edge case), in the manner of PyTorch's
/// <c>OptimizerInfo</c> table, and the runner that checks a device backend against the CPU reference BITWISE.
/// Used by the NUnit suite (emulator, and GPU under [Category("Gpu")]) and by <c>cudaadam check</c>.
/// </summary>
/// <remarks>
/// Both sides run the same <see cref="Optimizer"/> with the same <see cref="StepContract"/> on identical inputs: the
/// reference through <see cref="CpuReferenceBackend"/>, the device through <see cref="DeviceBackend"/>. After EVERY
/// step every parameter and every state buffer is compared bit for bit, and so are the step results (skipped, reason,
/// step count; the gradient norm within 1e-11 relative) and any NonFiniteGradientException's message;
/// two NaNs count as equal whatever their payload (the GPU's canonical NaN is 0x7fffffff, x86's 0xffc00000), and
/// +0 vs −0 counts as a difference (1 ulp). Step counters and skipped steps must agree too.
/// Gradients are seeded by the case name (FNV-1a), normal-ish with magnitudes 10^-3 … 10^MaxExponent, ~3% exact
/// zeros and ~1% negative zeros.
/// </remarks>
public static class Conformance
{
    private static readonly Lazy<IReadOnlyList<ConformanceCase>> LazyCases = new(BuildCases);

    /// <summary>Every case, in a fixed order.</summary>
    public static IReadOnlyList<ConformanceCase> Cases => LazyCases.Value;

    /// <summary>The cases whose name contains <paramref name="filter"/> (case-insensitive); all when null or empty.</summary>
    public static IReadOnlyList<ConformanceCase> Select(string? filter) => string.IsNullOrEmpty(filter)
        ? Cases
        : Cases.Where(c => c.Name.Contains(filter, StringComparison.OrdinalIgnoreCase)).ToList();

    /// <summary>The case called <paramref name="name"/>.</summary>
    public static ConformanceCase Find(string name) => Cases.FirstOrDefault(c => c.Name == name)
        ?? throw new ArgumentException($"no conformance case '{name}' ({Cases.Count} cases; names look like 'adam/default/odd-lengths')");

    /// <summary>Every (case, engine) pair that applies (<see cref="NotApplicable"/>), in a fixed order.</summary>
    public static IEnumerable<(ConformanceCase Case, ConformanceEngine Engine)> Runs(string? filter = null) =>
        from c in Select(filter)
        from e in Enum.GetValues<ConformanceEngine>()
        where NotApplicable(c, e) is null
        select (c, e);

    /// <summary>The display name of a run: <c>adam/default/odd-lengths@resident</c> (host runs keep the bare name).</summary>
    public static string RunName(ConformanceCase c, ConformanceEngine e) => e == ConformanceEngine.Host ? c.Name : $"{c.Name}@{e.ToString().ToLowerInvariant()}";

    /// <summary>The run called <paramref name="name"/> (see <see cref="RunName"/>).</summary>
    public static (ConformanceCase Case, ConformanceEngine Engine) FindRun(string name)
    {
        int at = name.IndexOf('@');
        var engine = at < 0 ? ConformanceEngine.Host : Enum.Parse<ConformanceEngine>(name[(at + 1)..], ignoreCase: true);
        return (Find(at < 0 ? name : name[..at]), engine);
    }

    /// <summary>Why <paramref name="c"/> does not apply to <paramref name="e"/>, or null when it does. The device-resident
    /// mode steps every tensor every time, clocks the step on the device, and rounds without per-step host keys.</summary>
    public static string? NotApplicable(ConformanceCase c, ConformanceEngine e)
    {
        if (e == ConformanceEngine.Host) return null;
        if (c.Algorithm.Info().Clock == 0) return $"{c.Algorithm.Name()} has no device clock";
        if (c.Algorithm.Info().ClockRefusal?.Invoke(c.Hyperparameters) is { } refusal) return refusal;
        if (c.Edge.HasGrad is not null) return "a tensor without a gradient at some step (the device-resident mode steps every tensor)";
        if (c.Edge.Options.Precision.StochasticRounding) return "stochastic rounding keys are made per step on the host";
        if (c.Hyperparameters.StateBits == 8) return "8-bit state runs host-resident only (the device-resident plan keeps float32 state)";
        return null;
    }

    /// <summary>
    /// The registry's hyperparameter sets of every algorithm torch.optim has, as JSON (<c>tests/oracle/cases.json</c>,
    /// written by <c>./build.sh gen</c>; a test fails while it is stale): what <c>tests/oracle/make_golden.py</c> runs
    /// torch on, so the golden trajectories and the conformance cases come from one list. Each set carries every
    /// <see cref="Hyperparameters"/> property (exact doubles); the generator maps them to torch's keywords and leaves out
    /// a set that needs an option torch lacks (bias_correction = false, or maximize on torch 1.13's NAdam).
    /// </summary>
    public static string ExportTorchCases()
    {
        var algorithms = Algorithms.All.Where(i => i.TorchClass is not null).Select(i => new
        {
            algorithm = i.Name,
            torch_class = i.TorchClass,
            sets = HyperparameterSets(i.Algorithm).Select(x => new { name = x.Name, hyperparameters = x.Hp }),
        });
        var json = System.Text.Json.JsonSerializer.Serialize(new { format = 1, generator = "./build.sh gen (Conformance.ExportTorchCases)", algorithms },
            new System.Text.Json.JsonSerializerOptions { WriteIndented = true });
        return json.Replace("\r\n", "\n") + "\n";
    }

    /// <summary>Runs <paramref name="c"/> on <paramref name="device"/> with engine <paramref name="e"/> against the reference.</summary>
    public static ConformanceResult Run(ConformanceCase c, IDevice device, ConformanceEngine e) =>
        Run(c, o => new DeviceBackend(device, e == ConformanceEngine.Host ? o : o with { Residency = Residency.Device, CaptureGraph = e == ConformanceEngine.Graph }));

    // ---- the edge cases -------------------------------------------------------------------------------------

    /// <summary>The edge cases, each run with every algorithm's default hyperparameters.</summary>
    public static IReadOnlyList<EdgeCase> Edges { get; } =
    [
        new("single-odd", "one tensor of odd length (vector body + scalar tail)") { Lengths = [1037], Steps = 5 },
        new("zero-size", "zero-size tensors among others") { Lengths = [0, 5, 0, 33, 0], Steps = 3 },
        new("skipped-grad", "a tensor without gradient at some steps (incl. the first): its data, state and step count stay")
        {
            Lengths = [100, 64, 7], Steps = 6,
            HasGrad = (step, t) => !(t == 1 && step is 2 or 3) && !(t == 2 && step == 1),
        },
        new("odd-lengths", "lengths 1 … 127, not multiples of 4") { Lengths = [1, 2, 3, 4, 5, 7, 9, 13, 31, 63, 65, 127], Steps = 4 },
        new("misaligned", "tensors packed back to back from element 1: every float4 path is refused (scalar path)")
        {
            Lengths = [3, 17, 1, 44, 130], Steps = 4, Options = new DeviceBackendOptions { Alignment = 1, BaseOffset = 1 },
        },
        new("many-tensors", "1,000 tensors of 0 … 40 elements in one launch") { Lengths = ManyLengths(1000, 40, 7), Steps = 3 },
        new("multi-chunk", "tensors spanning many chunks of 1,002 elements: odd chunks start 8 bytes off 16, so float4 and scalar chunks alternate")
        {
            Lengths = [10_000, 4_099], Steps = 3, Options = new DeviceBackendOptions { ChunkSize = 1002 },
        },
        new("non-finite", "NaN and ±inf gradients: those steps change nothing, anywhere")
        {
            Lengths = [50, 77], Steps = 6,
            Poison = [(2, 1, 5, float.NaN), (4, 0, 49, float.PositiveInfinity), (5, 1, 0, float.NegativeInfinity)],
            ExpectedSkips = 3,
        },
        new("unscale", "gradients scaled by 1024 and unscaled in the kernel (inv_scale = 1/1024)")
        {
            Lengths = [333, 64], Steps = 4, InvScale = 1f / 1024, MaxExponent = 4,
        },
        new("unscale-inexact", "inv_scale = 0.3f (inexact rounding in the kernel), and a gradient of float.MaxValue that stays finite (g² overflows into the state)")
        {
            Lengths = [129, 8], Steps = 4, InvScale = 0.3f,
            Poison = [(3, 1, 2, float.MaxValue)], ExpectedSkips = 0,
        },
        new("unscale-overflow", "inv_scale = 4: a finite gradient of 2^127 unscales to inf, so the step is skipped")
        {
            Lengths = [40], Steps = 3, InvScale = 4f, Poison = [(2, 0, 7, MathF.Pow(2, 127))], ExpectedSkips = 1,
        },
        new("clip", "global-norm gradient clipping (max_norm 1): norm partials + finalize + step; the reference steps with the device's coefficient, the norms agree within 1e-11 relative")
        {
            Lengths = [1037, 64, 0, 5], Steps = 5, MaxGradNorm = 1.0, Options = new DeviceBackendOptions { ChunkSize = 512 },
        },
        new("clip-unscale-non-finite", "clipping of unscaled gradients (inv_scale = 1/1024) with a NaN at step 3: that step is skipped")
        {
            Lengths = [300, 41], Steps = 4, InvScale = 1f / 1024, MaxExponent = 4, Poison = [(3, 0, 17, float.NaN)], ExpectedSkips = 1,
            MaxGradNorm = 0.5,
        },
        new("non-finite-propagate", "non_finite = propagate (torch.optim's behaviour): NaN and ±inf go through the step into the parameters and state, identically")
        {
            Lengths = [50, 77], Steps = 5, NonFinite = NonFinitePolicy.Propagate,
            Poison = [(2, 1, 5, float.NaN), (4, 0, 49, float.PositiveInfinity), (4, 1, 0, float.NegativeInfinity)],
        },
        new("non-finite-error", "non_finite = error: a step with a NaN or inf gradient throws and changes nothing; the next step goes on")
        {
            Lengths = [50, 77], Steps = 5, NonFinite = NonFinitePolicy.Error,
            Poison = [(2, 1, 5, float.NaN), (4, 0, 49, float.NegativeInfinity)], ExpectedSkips = 2,
        },
        new("clip-non-finite-propagate", "clipping under propagate: a NaN makes the norm non-finite, the coefficient is 1 and the values go through")
        {
            Lengths = [300, 41], Steps = 4, MaxGradNorm = 0.5, NonFinite = NonFinitePolicy.Propagate, Poison = [(3, 0, 17, float.NaN)],
        },
        new("many-steps", "200 steps (bias corrections, RAdam's rectification switch, NAdam's schedule)") { Lengths = [257, 3], Steps = 200 },
        new("quant-blocks", "lengths across the 8-bit state's 2,048-element blocks (two and a bit, exactly one, one element, one and one), chunks of 1,002 (8-bit state cuts its own, a block each)")
        {
            Lengths = [4_096 + 37, 2_048, 1, 2_049], Steps = 4, Options = new DeviceBackendOptions { ChunkSize = 1002 },
        },
        new("bf16", "bfloat16 parameters, fp32 state, no master weights, round to nearest even")
        {
            Lengths = [300, 7], Steps = 6, Options = new DeviceBackendOptions { Precision = new PrecisionOptions { Format = ParamFormat.Bf16 } },
        },
        new("bf16-stochastic", "bfloat16 parameters, no master weights, stochastic rounding (seeded)")
        {
            Lengths = [300, 7], Steps = 6,
            Options = new DeviceBackendOptions { Precision = new PrecisionOptions { Format = ParamFormat.Bf16, StochasticRounding = true, Seed = 42 } },
        },
        new("bf16-master-stochastic", "bfloat16 parameters with fp32 master weights and stochastic rounding")
        {
            Lengths = [300, 7], Steps = 6,
            Options = new DeviceBackendOptions { Precision = new PrecisionOptions { Format = ParamFormat.Bf16, MasterWeights = true, StochasticRounding = true, Seed = 7 } },
        },
        new("fp16", "IEEE half parameters, no master weights, round to nearest even")
        {
            Lengths = [300, 7], Steps = 6, Options = new DeviceBackendOptions { Precision = new PrecisionOptions { Format = ParamFormat.Fp16 } },
        },
        new("fp16-master", "IEEE half parameters with fp32 master weights")
        {
            Lengths = [300, 7], Steps = 6, Options = new DeviceBackendOptions { Precision = new PrecisionOptions { Format = ParamFormat.Fp16, MasterWeights = true } },
        },
        new("diagnostics", "the sign diagnostics fused into the step (*_step_diag; Adam family only): the step bitwise, and its statistics equal SignDiagnostics' (counts, max, histogram exactly; sums within 1e-12 relative)")
        {
            Lengths = [1037, 0, 5, 4_099], Steps = 4, Options = new DeviceBackendOptions { Diagnostics = true, ChunkSize = 1002 },
        },
        new("diagnostics-misaligned-non-finite", "fused diagnostics on the scalar path (packed from element 1), with a NaN gradient at step 2: skipped, no report")
        {
            Lengths = [3, 130, 1], Steps = 4, Poison = [(2, 1, 9, float.NaN)], ExpectedSkips = 1,
            Options = new DeviceBackendOptions { Diagnostics = true, Alignment = 1, BaseOffset = 1 },
        },
    ];

    /// <summary>The edges run with the non-default hyperparameter sets.</summary>
    private static readonly string[] CoreEdges = ["single-odd", "skipped-grad", "misaligned", "non-finite", "non-finite-propagate", "many-steps"];

    /// <summary>The edges also run with the 8-bit state sets (state_bits = 8): its blocks, the contract, 16-bit parameters.</summary>
    private static readonly string[] State8Edges = ["quant-blocks", "zero-size", "clip", "unscale-inexact", "bf16", "fp16-master", "bf16-stochastic"];

    private static int[] ManyLengths(int count, int max, int seed)
    {
        var rng = new Random(seed);
        var l = new int[count];
        for (int i = 0; i < count; i++) l[i] = rng.Next(max + 1);
        return l;
    }

    // ---- the hyperparameter sets ----------------------------------------------------------------------------

    /// <summary>Named hyperparameter sets per algorithm (its descriptor's <see cref="AlgorithmInfo.ConformanceSets"/>);
    /// the first is torch's defaults.</summary>
    public static IReadOnlyList<(string Name, Hyperparameters Hp)> HyperparameterSets(Algorithm a)
    {
        var info = a.Info();
        return [("default", info.Defaults), .. info.ConformanceSets.Select(set => (set.Name, set.Tweak(info.Defaults)))];
    }

    private static IReadOnlyList<ConformanceCase> BuildCases()
    {
        var cases = new List<ConformanceCase>();
        foreach (var a in AlgorithmNames.All)
        {
            var sets = HyperparameterSets(a);
            for (int h = 0; h < sets.Count; h++)
                foreach (var e in Edges)
                    if ((h == 0 || CoreEdges.Contains(e.Name) || (sets[h].Hp.StateBits == 8 && State8Edges.Contains(e.Name)))
                        && (!e.Options.Diagnostics || FusedSignDiagnostics.KernelOf(a) is not null))
                        cases.Add(new ConformanceCase(a, sets[h].Name, sets[h].Hp, e));
        }
        return cases;
    }

    // ---- the report table -----------------------------------------------------------------------------------

    /// <summary>The header of <see cref="TableRow"/>'s table (with its rule).</summary>
    public static string TableHeader { get; } =
        $"{"case",-52} {"compared",10} {"max ulp",8} {"skipped ref/dev",15}  result\n" + new string('-', 96);

    /// <summary>One line: case, values compared, max ulp difference, skipped steps (reference/device), pass or FAIL.</summary>
    public static string TableRow(ConformanceResult r)
    {
        string ulp = r.MaxUlp == long.MaxValue ? "NaN" : r.MaxUlp.ToString(CultureInfo.InvariantCulture);
        string result = r.Error is not null ? "ERROR" : r.Passed ? "pass" : "FAIL";
        return string.Create(CultureInfo.InvariantCulture,
            $"{r.Case.Name,-52} {r.Compared,10} {ulp,8} {$"{r.SkippedReference}/{r.SkippedDevice}",15}  {result}");
    }

    // ---- the runner -----------------------------------------------------------------------------------------

    /// <summary>
    /// Runs <paramref name="c"/>: the CPU reference and the backend made by <paramref name="makeBackend"/> (given the
    /// case's options) on identical inputs, comparing everything after every step. Exceptions from the backend are
    /// reported in <see cref="ConformanceResult.Error"/>.
    /// </summary>
    public static ConformanceResult Run(ConformanceCase c, Func<DeviceBackendOptions, IStepBackend> makeBackend)
    {
        var e = c.Edge;
        var rng = new Random(Seed(c.Name));
        int n = e.Lengths.Length;
        var refParams = new Parameter[n];
        var devParams = new Parameter[n];
        for (int t = 0; t < n; t++)
        {
            var data = new float[e.Lengths[t]];
            for (int i = 0; i < data.Length; i++) data[i] = (float)(Gaussian(rng) * 0.5);
            refParams[t] = new Parameter($"p{t}", data);
            devParams[t] = new Parameter($"p{t}", (float[])data.Clone());
        }
        var reference = new CpuReferenceBackend { Precision = e.Options.Precision };
        long compared = 0, mismatches = 0, maxUlp = 0;
        string? first = null;
        try
        {
            using var device = makeBackend(e.Options);
            using var refOpt = new Optimizer(c.Algorithm, refParams, c.Hyperparameters, reference)
                { InvScale = e.InvScale, MaxGradNorm = e.MaxGradNorm, NonFinite = e.NonFinite };
            using var devOpt = new Optimizer(c.Algorithm, devParams, c.Hyperparameters, device)
                { InvScale = e.InvScale, MaxGradNorm = e.MaxGradNorm, NonFinite = e.NonFinite };
            long refusedRef = 0, refusedDev = 0;
            var magnitudes = new double[n];
            for (int t = 0; t < n; t++) magnitudes[t] = Math.Pow(10, rng.Next(-3, e.MaxExponent + 1));
            for (int step = 1; step <= e.Steps; step++)
            {
                for (int t = 0; t < n; t++)
                {
                    if (e.HasGrad is { } has && !has(step, t))
                    {
                        refParams[t].Grad = devParams[t].Grad = null;
                        continue;
                    }
                    var g = new float[e.Lengths[t]];
                    for (int i = 0; i < g.Length; i++)
                    {
                        double u = rng.NextDouble();
                        g[i] = u < 0.03 ? 0f : u < 0.04 ? -0f : (float)(Gaussian(rng) * magnitudes[t]);
                    }
                    foreach (var (ps, pt, pi, pv) in e.Poison)
                        if (ps == step && pt == t && pi < g.Length) g[pi] = pv;
                    refParams[t].Grad = g;
                    devParams[t].Grad = (float[])g.Clone();
                }
                var before = e.Options.Diagnostics ? devParams.Select(p => (float[])p.Data.Clone()).ToArray() : null;
                // Clipping: the device's norm (block partials, a tree) and the reference's (sequential) differ by double
                // rounding; the step is compared given the device's coefficient, the norm with a tolerance.
                var (dr, dError) = StepOnce(devOpt, ref refusedDev);
                reference.FixedClipCoefficient = e.MaxGradNorm is null ? null : dr?.ClipCoefficient;
                var (rr, rError) = StepOnce(refOpt, ref refusedRef);
                devOpt.DownloadParameters();   // a device-resident engine's truth is on the device (a no-op for host-resident)
                if (rError != dError) Note(step, -1, "error", $"reference {rError ?? "none"}, device {dError ?? "none"}");
                if (rr is { } r && dr is { } d)
                {
                    if (r.Skipped != d.Skipped || r.Reason != d.Reason || r.Step != d.Step || r.Parameters != d.Parameters)
                        Note(step, -1, "step result", $"reference {r}, device {d}");
                    bool sameNorm = double.IsNaN(r.GradNorm) ? double.IsNaN(d.GradNorm) : Math.Abs(r.GradNorm - d.GradNorm) <= 1e-11 * Math.Abs(r.GradNorm);
                    if (!d.Skipped && !sameNorm)
                        Note(step, -1, "gradient norm", string.Create(CultureInfo.InvariantCulture, $"device {d.GradNorm:R}, reference {r.GradNorm:R}"));
                }
                if (before is not null) CompareDiagnostics(step, before, devOpt, device, dr is null || dr.Value.Skipped);
                for (int t = 0; t < n; t++)
                {
                    var rs = refOpt.State(refParams[t]);
                    var ds = devOpt.State(devParams[t]);
                    Compare(step, t, "param", refParams[t].Data, devParams[t].Data);
                    CompareBits(step, t, reference.LowPrecisionCopy(refParams[t]), (device as DeviceBackend)?.LowPrecisionCopy(devParams[t]));
                    if (rs is null != ds is null) Note(step, t, "state", "exists on one side only");
                    if (rs is null || ds is null) continue;
                    if (rs.Step != ds.Step) Note(step, t, "step", $"reference {rs.Step}, device {ds.Step}");
                    Compare(step, t, "M", rs.M, ds.M);
                    Compare(step, t, "V", rs.V, ds.V);
                    Compare(step, t, "VMax", rs.VMax, ds.VMax);
                    Compare(step, t, "Aux", rs.Aux, ds.Aux);
                    CompareQuantized(step, t, "M8", rs.M8, ds.M8);
                    CompareQuantized(step, t, "V8", rs.V8, ds.V8);
                }
            }
            return new ConformanceResult(c, compared, mismatches, maxUlp, refusedRef, refusedDev, first, null);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            return new ConformanceResult(c, compared, mismatches, maxUlp, 0, 0, first, $"{ex.GetType().Name}: {ex.Message}");
        }

        // The fused record against SignDiagnostics over the device's own before/after values (the step itself is
        // compared bitwise with the reference below). Exact: counts, max bits, histogram; sums: 1e-12 relative.
        // One step under the case's policy: the result, or the message of the NonFiniteGradientException (error policy).
        static (StepResult? Result, string? Error) StepOnce(Optimizer opt, ref long refused)
        {
            try
            {
                var r = opt.Step();
                if (r.Skipped) refused++;
                return (r, null);
            }
            catch (NonFiniteGradientException ex)
            {
                refused++;
                return (null, ex.Message);
            }
        }

        void CompareDiagnostics(int step, float[][] before, Optimizer devOpt, IStepBackend device, bool skipped)
        {
            var report = (device as DeviceBackend)?.LastDiagnostics;
            if (skipped)
            {
                if (report is not null) Note(step, -1, "diagnostics", "a skipped step has a report");
                return;
            }
            if (report is null)
            {
                Note(step, -1, "diagnostics", "no report");
                return;
            }
            var inputs = new List<SignTensorInput>();
            for (int t = 0; t < n; t++)
            {
                if (devParams[t].Grad is not { } g) continue;
                var s = devOpt.State(devParams[t])!;
                var scaled = e.InvScale == 1f ? g : g.Select(x => x * e.InvScale).ToArray();
                inputs.Add(new SignTensorInput(devParams[t].Name, before[t], devParams[t].Data, scaled, s.M!, s.V!, (float)c.Hyperparameters.Eps,
                    c.Hyperparameters.SignBound, c.Hyperparameters.Maximize));
            }
            var expected = SignDiagnostics.Compute(inputs);
            var pairs = expected.Tensors.Zip(report.Tensors).Append((expected.Global, report.Global));
            foreach (var (r, d) in pairs)
            {
                compared++;
                string? why = r.Name != d.Name ? $"tensor {d.Name}, expected {r.Name}"
                    : r.Count != d.Count ? $"count {d.Count}, expected {r.Count}"
                    : BitConverter.DoubleToInt64Bits(r.MaxU) != BitConverter.DoubleToInt64Bits(d.MaxU) && !(double.IsNaN(r.MaxU) && double.IsNaN(d.MaxU)) ? $"max u {d.MaxU:R}, expected {r.MaxU:R}"
                    : r.UpdateMaxAbs != d.UpdateMaxAbs ? $"max |update| {d.UpdateMaxAbs:R}, expected {r.UpdateMaxAbs:R}"
                    : r.SignAgreements != d.SignAgreements ? $"sign agreements {d.SignAgreements}, expected {r.SignAgreements}"
                    : !r.Histogram.SequenceEqual(d.Histogram) ? "histogram differs"
                    : !Close(r.MeanU, d.MeanU) || !Close(r.GradL1, d.GradL1) || !Close(r.GradL2, d.GradL2)
                        ? $"sums: mean u {d.MeanU:R} / {r.MeanU:R}, l1 {d.GradL1:R} / {r.GradL1:R}, l2 {d.GradL2:R} / {r.GradL2:R}"
                    : null;
                if (why is not null) Note(step, -1, $"diagnostics of {r.Name}", why);
            }

            static bool Close(double r, double d) => double.IsNaN(r) ? double.IsNaN(d) : Math.Abs(r - d) <= 1e-300 + 1e-12 * Math.Abs(r);
        }

        void Note(int step, int t, string what, string detail)
        {
            mismatches++;
            first ??= $"step {step}, tensor {t}, {what}: {detail}";
        }

        void CompareBits(int step, int t, ushort[]? r, ushort[]? d)
        {
            if (r is null && d is null) return;
            if (r is null || d is null || r.Length != d.Length)
            {
                Note(step, t, "16-bit param", $"reference {(r is null ? "null" : $"[{r.Length}]")}, device {(d is null ? "null" : $"[{d.Length}]")}");
                return;
            }
            for (int i = 0; i < r.Length; i++)
            {
                compared++;
                if (r[i] == d[i]) continue;
                maxUlp = Math.Max(maxUlp, Math.Abs(r[i] - d[i]));
                Note(step, t, $"16-bit param[{i}]", $"reference 0x{r[i]:x4}, device 0x{d[i]:x4}");
            }
        }

        // 8-bit state: the codes byte for byte, the block absmax values as floats.
        void CompareQuantized(int step, int t, string slot, QuantizedBuffer? r, QuantizedBuffer? d)
        {
            if (r is null && d is null) return;
            if (r is null || d is null || r.Length != d.Length || r.Map != d.Map)
            {
                Note(step, t, slot, $"reference {(r is null ? "null" : $"[{r.Length}] {r.Map}")}, device {(d is null ? "null" : $"[{d.Length}] {d.Map}")}");
                return;
            }
            for (int i = 0; i < r.Length; i++)
            {
                compared++;
                if (r.Codes[i] == d.Codes[i]) continue;
                maxUlp = Math.Max(maxUlp, Math.Abs(r.Codes[i] - d.Codes[i]));
                Note(step, t, $"{slot} code[{i}]", $"reference {r.Codes[i]}, device {d.Codes[i]}");
            }
            Compare(step, t, $"{slot} absmax", r.Absmax, d.Absmax);
        }

        void Compare(int step, int t, string slot, float[]? r, float[]? d)
        {
            if (r is null && d is null) return;
            if (r is null || d is null || r.Length != d.Length)
            {
                Note(step, t, slot, $"reference {(r is null ? "null" : $"[{r.Length}]")}, device {(d is null ? "null" : $"[{d.Length}]")}");
                return;
            }
            for (int i = 0; i < r.Length; i++)
            {
                compared++;
                long ulp = Ulps(r[i], d[i]);
                if (ulp == 0 && (BitConverter.SingleToInt32Bits(r[i]) == BitConverter.SingleToInt32Bits(d[i]) || (float.IsNaN(r[i]) && float.IsNaN(d[i]))))
                    continue;
                maxUlp = Math.Max(maxUlp, ulp);
                Note(step, t, $"{slot}[{i}]", $"reference {Show(r[i])}, device {Show(d[i])} ({ulp} ulp)");
            }
        }
    }

    /// <summary>Distance in units in the last place between two floats on the ordered line of floats (−0 and +0 one
    /// apart, so a sign-of-zero difference shows); 0 for two NaNs, <see cref="long.MaxValue"/> for one NaN.</summary>
    public static long Ulps(float a, float b)
    {
        if (float.IsNaN(a) || float.IsNaN(b)) return float.IsNaN(a) && float.IsNaN(b) ? 0 : long.MaxValue;
        return Math.Abs(Ordered(a) - Ordered(b));

        static long Ordered(float f)
        {
            int bits = BitConverter.SingleToInt32Bits(f);
            return bits >= 0 ? bits : -(long)(bits & 0x7fffffff) - 1;
        }
    }

    private static string Show(float f) =>
        $"{f.ToString("R", CultureInfo.InvariantCulture)} (0x{BitConverter.SingleToInt32Bits(f):x8})";

    private static double Gaussian(Random rng)
    {
        double u1 = 1.0 - rng.NextDouble(), u2 = rng.NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }

    /// <summary>FNV-1a of the case name: a seed that does not change between runs or .NET versions.</summary>
    private static int Seed(string s)
    {
        uint h = 2166136261;
        foreach (char ch in s) h = (h ^ ch) * 16777619;
        return (int)(h & 0x7fffffff);
    }
}
