#pragma warning disable CS1591 // CS1591 backlog (issue 13): 6 public members here have no XML doc yet; document them, then delete this line
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using CudaAdam.Cuda;
using CudaAdam.Cuda.Compilation;
using CudaAdam.Cuda.Driver;

namespace CudaAdam.Device;

/// <summary>A benchmark shape: a named list of tensor lengths.</summary>
public sealed record BenchShape(string Name, long[] Lengths)
{
    public long Elements => Lengths.Sum();
    public int Tensors => Lengths.Length;

    /// <summary>One tensor of 256M (2^28) elements.</summary>
    public static BenchShape OneBig() => new("one-256M", [1L << 28]);

    /// <summary>
    /// GPT-2 small's parameters (Radford et al. 2019; the shapes of HF's GPT2LMHeadModel, wte tied with lm_head):
    /// wte 50257×768, wpe 1024×768, 12 × (ln_1 w, b; attn.c_attn w 768×2304, b 2304; attn.c_proj w 768×768, b;
    /// ln_2 w, b; mlp.c_fc w 768×3072, b 3072; mlp.c_proj w 3072×768, b), ln_f w, b: 148 tensors, 124,439,808 elements.
    /// </summary>
    public static BenchShape Gpt2Small() => Gpt2("gpt2-small", vocab: 50257, context: 1024, width: 768, layers: 12);

    /// <summary>10,000 tensors of 4,096 elements (the launch-overhead case).</summary>
    public static BenchShape ManySmall() => new("10000x4096", Enumerable.Repeat(4096L, 10000).ToArray());

    /// <summary>The GPT-2 parameter list for any width (the smoke run uses a tiny one).</summary>
    public static BenchShape Gpt2(string name, long vocab, long context, long width, int layers)
    {
        var l = new List<long> { vocab * width, context * width };
        for (int i = 0; i < layers; i++)
            l.AddRange([width, width, width * 3 * width, 3 * width, width * width, width, width, width,
                        width * 4 * width, 4 * width, 4 * width * width, width]);
        l.AddRange([width, width]);
        return new BenchShape(name, l.ToArray());
    }
}

/// <summary>Settings of <see cref="GpuBenchmark"/>.</summary>
public sealed record GpuBenchOptions
{
    /// <summary>Tiny shapes (runs on the emulator in seconds; covers the code path, the numbers mean nothing).</summary>
    public bool Smoke { get; init; }
    public int Warmup { get; init; } = 10;
    public int Reps { get; init; } = 50;
    /// <summary>The command line, recorded in the report.</summary>
    public string Command { get; init; } = "";
    /// <summary>The driver version as nvidia-smi prints it (the driver API only knows its CUDA version), or empty.</summary>
    public string Driver { get; init; } = "";
    /// <summary>Optional: bench_torch.py's JSON, for the ratio columns.</summary>
    public string? TorchJson { get; init; }
}

/// <summary>One measured configuration.</summary>
public sealed record GpuBenchRow(string Shape, string Precision, string Mode, long Elements, int Tensors, int Reps,
    double MedianMs, double MinMs, double BytesPerParam, [property: JsonPropertyName("gb_per_s")] double GBps,
    double? RatioToCopy, double? TorchFusedMs = null,
    double? TorchForeachMs = null);

/// <summary>A whole run: what ran where, the copy bandwidth of the same run, the rows.</summary>
public sealed record GpuBenchReport(string Date, string Device, string Driver, string Cuda, string Nvrtc, string Command,
    string Timing, [property: JsonPropertyName("copy_gb_per_s")] double? CopyGBps, IReadOnlyList<GpuBenchRow> Rows,
    IReadOnlyList<string> Notes)
{
    /// <summary>The cost of the sign diagnostics fused into the step: each <c>+diag</c> row against its plain row of the
    /// same shape, precision and mode, measured in the same run (issue 6's target: ≤ <see cref="GpuBenchmark.DiagnosticsTarget"/>).</summary>
    public IReadOnlyList<GpuDiagOverhead> DiagnosticsOverhead { get; init; } = [];
}

/// <summary>One diagnostics-enabled configuration against the plain one: median ms of both, overhead = diag / plain − 1.</summary>
public sealed record GpuDiagOverhead(string Shape, string Precision, string Mode, double PlainMs, double DiagMs, double Overhead);

/// <summary>
/// <c>cudaadam bench gpu</c>: the fused AdamW step of a device-resident <see cref="DeviceBackend"/> (no host round
/// trip) on the shapes of <see cref="BenchShape"/>, fp32 and bf16 parameters with fp32 state; per configuration the
/// median time per step after warm-up, each step timed alone with CUDA events (Stopwatch on the emulator) with the
/// L2 cache flushed before it (a memset of 4 × L2); effective GB/s with DESIGN.md's accounting; the ratio to the
/// device-to-device copy bandwidth measured in the same run; and the graph-captured step on the 10,000-tensor shape.
/// </summary>
/// <remarks>
/// Byte accounting per parameter (what the algorithm must move, not counting the non-finite check's second read of
/// g, 4 B, nor the 16-bit/clock/table overheads): fp32 AdamW reads p, g, m, v and writes p, m, v: 28 B; bf16
/// parameters with fp32 gradient and fp32 state read p (2) g (4) m (4) v (4) and write p (2) m (4) v (4): 24 B.
/// Modes: <c>fused</c> = clock + step (torch's fused AdamW without a GradScaler does the same work); <c>checked</c> =
/// + the non-finite check (the production default); <c>graph</c> = the checked step as one CUDA graph replay.
/// <c>+diag</c>: the same with the sign diagnostics fused into the step (<see cref="DeviceBackendOptions.Diagnostics"/>:
/// <c>adam_step_diag</c>, plus the memset of the per-tensor record), same bytes moved; the report's
/// <see cref="GpuBenchReport.DiagnosticsOverhead"/> puts each next to its plain row.
/// </remarks>
public static class GpuBenchmark
{
    /// <summary>Issue 6's budget for the fused diagnostics: at most 15% over the plain step, on the GPU.</summary>
    public const double DiagnosticsTarget = 0.15;

    /// <summary>The shapes of a run.</summary>
    public static IReadOnlyList<BenchShape> Shapes(bool smoke) => smoke
        ? [new BenchShape("one-64K", [1L << 16]), BenchShape.Gpt2("gpt2-tiny", vocab: 100, context: 16, width: 8, layers: 2),
           new BenchShape("100x64", Enumerable.Repeat(64L, 100).ToArray())]
        : [BenchShape.OneBig(), BenchShape.Gpt2Small(), BenchShape.ManySmall()];

    public static GpuBenchReport Run(IDevice device, GpuBenchOptions options, TextWriter? progress = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Reps, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(options.Warmup);
        var cuda = device as CudaDevice;
        long flushBytes = cuda is not null ? Math.Max(4L * cuda.Properties.L2CacheBytes, 64L << 20) : 1L << 20;
        using var flush = device.Allocate<byte>(flushBytes);
        using var timer = new StepTimer(device, flush);
        var notes = new List<string>
        {
            "bytes/param: fp32 AdamW 28 (read p g m v, write p m v); bf16 params + fp32 grad + fp32 m, v: 24 (2+4+4+4 read, 2+4+4 write)",
            "fused = step_clock + adamw step; checked = + grad_nonfinite_check (reads g again, not counted); graph = checked, one CUDA graph replay",
            "+diag = the same with the sign diagnostics fused into the step (adam_step_diag + a memset of the 768 B/tensor record); " +
            $"target: <= {DiagnosticsTarget * 100:F0}% over the plain step",
            $"each step timed alone after {options.Warmup} warm-up steps, L2 flushed before it (memset of {flushBytes >> 20} MiB); median of {options.Reps}",
        };
        double? copyGBps = null;
        if (cuda is not null)
        {
            long copyElements = options.Smoke ? 1L << 20 : 1L << 28; // 1 GiB each way
            using var src = device.Allocate<float>(copyElements);
            using var dst = device.Allocate<float>(copyElements);
            device.Zero(src);
            var (median, _) = timer.Median(() => cuda.Copy(src, dst), options.Warmup, options.Reps);
            copyGBps = 2.0 * copyElements * sizeof(float) / (median * 1e-3) / 1e9;
            progress?.WriteLine(string.Create(CultureInfo.InvariantCulture, $"device-to-device copy: {copyGBps:F1} GB/s"));
        }
        else notes.Add("no device-to-device copy on the emulator: no bandwidth ratio");

        var torch = options.TorchJson is { } tj ? TorchResults.Read(tj) : null;
        var rows = new List<GpuBenchRow>();
        foreach (var shape in Shapes(options.Smoke))
            foreach (var precision in new[] { "fp32", "bf16" })
            {
                var precisionOptions = precision == "fp32" ? PrecisionOptions.Fp32 : new PrecisionOptions { Format = ParamFormat.Bf16 };
                double bytes = precision == "fp32" ? 28 : 24;
                var ps = MakeParams(shape);
                // fused: no non-finite check (non_finite = propagate); checked: the default skip policy (one extra launch).
                var resident = new DeviceBackendOptions { Residency = Residency.Device, Precision = precisionOptions };
                var modes = new List<(string Mode, DeviceBackendOptions Options, NonFinitePolicy Policy)>
                {
                    ("fused", resident, NonFinitePolicy.Propagate),
                    ("fused+diag", resident with { Diagnostics = true }, NonFinitePolicy.Propagate),
                    ("checked", resident, NonFinitePolicy.Skip),
                    ("checked+diag", resident with { Diagnostics = true }, NonFinitePolicy.Skip),
                };
                if (shape.Tensors >= 100)
                {
                    modes.Add(("graph", resident with { CaptureGraph = true }, NonFinitePolicy.Skip));
                    modes.Add(("graph+diag", resident with { CaptureGraph = true, Diagnostics = true }, NonFinitePolicy.Skip));
                }
                foreach (var (mode, o, policy) in modes)
                {
                    var backend = new DeviceBackend(device, o);
                    using var opt = new Optimizer(Algorithm.AdamW, ps, Hyperparameters.Defaults(Algorithm.AdamW), backend) { NonFinite = policy };
                    opt.Step();   // uploads the gradients (and captures the graph); the timed steps are queued only
                    var contract = opt.Contract;
                    var (median, min) = timer.Median(() => backend.QueueStep(contract), options.Warmup, options.Reps);
                    if (o.Diagnostics && backend.ReadQueuedDiagnostics() is var report && report?.Global.Count != shape.Elements)
                        throw new InvalidOperationException($"{shape.Name} {precision} {mode}: the fused diagnostics counted " +
                                                            $"{report?.Global.Count.ToString(CultureInfo.InvariantCulture) ?? "nothing"} of {shape.Elements} elements");
                    double gbps = bytes * shape.Elements / (median * 1e-3) / 1e9;
                    var t = torch?.Find(shape.Name, precision);
                    var row = new GpuBenchRow(shape.Name, precision, mode, shape.Elements, shape.Tensors, options.Reps, median, min, bytes, gbps,
                        copyGBps is { } c ? gbps / c : null, t?.FusedMs, t?.ForeachMs);
                    rows.Add(row);
                    progress?.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"{shape.Name} {precision} {mode}: {median:F4} ms/step, {gbps:F1} GB/s"));
                }
            }
        var overheads = new List<GpuDiagOverhead>();
        foreach (var d in rows.Where(x => x.Mode.EndsWith("+diag", StringComparison.Ordinal)))
        {
            string plainMode = d.Mode[..^"+diag".Length];
            if (rows.FirstOrDefault(x => x.Shape == d.Shape && x.Precision == d.Precision && x.Mode == plainMode) is { } p)
                overheads.Add(new GpuDiagOverhead(d.Shape, d.Precision, plainMode, p.MedianMs, d.MedianMs, d.MedianMs / p.MedianMs - 1));
        }
        foreach (var o in overheads)
            progress?.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"diagnostics overhead {o.Shape} {o.Precision} {o.Mode}: {o.Overhead:P1} (target <= {DiagnosticsTarget * 100:F0}%)"));
        if (cuda is null) notes.Add("diagnostics overhead on the emulator: CPU-bound and serial per thread, NOT the GPU figure of the target");
        string cudaVersion = "", nvrtc = "";
        if (cuda is not null)
        {
            var v = CudaDriver.Version;
            cudaVersion = $"{v.Major}.{v.Minor} (driver API)";
        }
        try { var n = NvrtcCompiler.Version; nvrtc = $"{n.Major}.{n.Minor}"; }
        catch (Exception e) when (e is not OutOfMemoryException) { nvrtc = "not loaded"; }
        return new GpuBenchReport(DateTime.UtcNow.ToString("yyyy-MM-dd HH:mm:ss 'UTC'", CultureInfo.InvariantCulture), device.Name,
            options.Driver, cudaVersion, nvrtc, options.Command, cuda is not null ? "CUDA events" : "Stopwatch (emulator: synchronous launches)",
            copyGBps, rows, notes) { DiagnosticsOverhead = overheads };
    }

    /// <summary>Parameters and gradients for a shape, filled with a fixed pattern (cheap for 256M elements).</summary>
    private static Parameter[] MakeParams(BenchShape shape)
    {
        var pattern = new float[4096];
        var rng = new Random(11);
        for (int i = 0; i < pattern.Length; i++) pattern[i] = (float)(rng.NextDouble() - 0.5);
        return shape.Lengths.Select((n, t) =>
        {
            var data = new float[n];
            for (long off = 0; off < n; off += pattern.Length)
                pattern.AsSpan(0, (int)Math.Min(pattern.Length, n - off)).CopyTo(data.AsSpan((int)off));
            return new Parameter($"t{t}", data) { Grad = data };   // g = p: finite, non-trivial; never written
        }).ToArray();
    }

    /// <summary>Writes report.md and report.json into <paramref name="directory"/> (created); returns their paths.</summary>
    public static (string Markdown, string Json) Write(GpuBenchReport report, string directory)
    {
        Directory.CreateDirectory(directory);
        string md = Path.Combine(directory, "report.md"), json = Path.Combine(directory, "report.json");
        IO.AtomicFile.WriteAllText(md, Markdown(report));
        IO.AtomicFile.WriteAllText(json, JsonSerializer.Serialize(report, JsonOptions));
        return (md, json);
    }

    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    };

    public static string Markdown(GpuBenchReport r)
    {
        var inv = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.AppendLine("# cudaadam bench gpu");
        sb.AppendLine();
        sb.AppendLine(inv, $"- date: {r.Date}");
        sb.AppendLine(inv, $"- device: {r.Device}; driver: {(r.Driver.Length > 0 ? r.Driver : "?")}; CUDA: {(r.Cuda.Length > 0 ? r.Cuda : "-")}; NVRTC: {r.Nvrtc}");
        sb.AppendLine(inv, $"- command: `{r.Command}`");
        sb.AppendLine(inv, $"- timing: {r.Timing}");
        sb.AppendLine(inv, $"- device-to-device copy in the same run: {(r.CopyGBps is { } c ? c.ToString("F1", inv) + " GB/s" : "not measured")}");
        foreach (var n in r.Notes) sb.AppendLine(inv, $"- {n}");
        bool torch = r.Rows.Any(x => x.TorchFusedMs is not null || x.TorchForeachMs is not null);
        sb.AppendLine();
        sb.Append("| shape | tensors | elements | params | mode | median ms | min ms | B/param | GB/s | of copy BW |");
        sb.AppendLine(torch ? " torch fused ms | ours / torch fused | torch foreach ms | ours / torch foreach |" : "");
        sb.Append("|---|---:|---:|---|---|---:|---:|---:|---:|---:|");
        sb.AppendLine(torch ? "---:|---:|---:|---:|" : "");
        foreach (var x in r.Rows)
        {
            sb.Append(inv, $"| {x.Shape} | {x.Tensors} | {x.Elements:N0} | {x.Precision} | {x.Mode} | {x.MedianMs:F4} | {x.MinMs:F4} | {x.BytesPerParam:F0} | {x.GBps:F1} | {(x.RatioToCopy is { } q ? q.ToString("P0", inv) : "-")} |");
            if (torch)
                sb.Append(inv, $" {Ms(x.TorchFusedMs)} | {Ratio(x.MedianMs, x.TorchFusedMs)} | {Ms(x.TorchForeachMs)} | {Ratio(x.MedianMs, x.TorchForeachMs)} |");
            sb.AppendLine();
        }
        if (torch)
        {
            sb.AppendLine();
            sb.AppendLine("ours / torch < 1 means we are faster. torch's bf16 runs keep bf16 state (torch.optim creates state like the parameter) and bf16 gradients: 14 B/param against our 24.");
        }
        if (r.DiagnosticsOverhead.Count > 0)
        {
            sb.AppendLine();
            sb.AppendLine(inv, $"## Sign diagnostics fused into the step (target: <= {DiagnosticsTarget * 100:F0}% over the plain step)");
            sb.AppendLine();
            sb.AppendLine("| shape | params | mode | plain ms | +diag ms | overhead | within target |");
            sb.AppendLine("|---|---|---|---:|---:|---:|---|");
            foreach (var o in r.DiagnosticsOverhead)
                sb.AppendLine(inv, $"| {o.Shape} | {o.Precision} | {o.Mode} | {o.PlainMs:F4} | {o.DiagMs:F4} | {o.Overhead:P1} | {(o.Overhead <= DiagnosticsTarget ? "yes" : "NO")} |");
            var worst = r.DiagnosticsOverhead.MaxBy(o => o.Overhead)!;
            sb.AppendLine();
            int within = r.DiagnosticsOverhead.Count(o => o.Overhead <= DiagnosticsTarget);
            string where = r.Device.Contains("emulator", StringComparison.OrdinalIgnoreCase) ? " (emulator: not the GPU claim)." : ".";
            sb.AppendLine(inv, $"Worst: {worst.Overhead:P1} ({worst.Shape} {worst.Precision} {worst.Mode}); {within} of {r.DiagnosticsOverhead.Count} within {DiagnosticsTarget * 100:F0}%{where}");
        }
        return sb.ToString();

        string Ms(double? v) => v is { } d ? d.ToString("F4", inv) : "-";
        string Ratio(double ours, double? theirs) => theirs is { } t && t > 0 ? (ours / t).ToString("F2", inv) : "-";
    }

    /// <summary>Times one call of a body: CUDA events around it on a GPU, a Stopwatch (the emulator is synchronous);
    /// the L2 flush buffer is zeroed before each timed call.</summary>
    private sealed class StepTimer : IDisposable
    {
        private readonly IDevice _device;
        private readonly DeviceBuffer<byte> _flush;
        private readonly CudaEvent? _start, _end;

        public StepTimer(IDevice device, DeviceBuffer<byte> flush)
        {
            _device = device;
            _flush = flush;
            if (device is CudaDevice cuda)
            {
                _start = cuda.CreateEvent();
                _end = cuda.CreateEvent();
            }
        }

        public (double Median, double Min) Median(Action body, int warmup, int reps)
        {
            for (int i = 0; i < warmup; i++) body();
            _device.Synchronize();
            var times = new double[reps];
            for (int r = 0; r < reps; r++)
            {
                _device.Zero(_flush);
                if (_device is CudaDevice cuda)
                {
                    cuda.Record(_start!);
                    body();
                    cuda.Record(_end!);
                    _end!.Synchronize();
                    times[r] = CudaEvent.ElapsedMilliseconds(_start!, _end!);
                }
                else
                {
                    _device.Synchronize();
                    var sw = Stopwatch.StartNew();
                    body();
                    _device.Synchronize();
                    times[r] = sw.Elapsed.TotalMilliseconds;
                }
            }
            Array.Sort(times);
            double median = reps % 2 == 1 ? times[reps / 2] : (times[reps / 2 - 1] + times[reps / 2]) / 2;
            return (median, times[0]);
        }

        public void Dispose()
        {
            _start?.Dispose();
            _end?.Dispose();
        }
    }

    /// <summary>bench_torch.py's results: per shape and precision, the median ms of torch.optim.AdamW fused and foreach.</summary>
    private sealed class TorchResults
    {
        private readonly Dictionary<(string, string), (double? Fused, double? Foreach)> _rows = new();

        public static TorchResults Read(string path)
        {
            var t = new TorchResults();
            using var doc = JsonDocument.Parse(IO.SafeFile.ReadAllText(path));
            foreach (var row in doc.RootElement.GetProperty("rows").EnumerateArray())
            {
                string shape = row.GetProperty("shape").GetString()!, precision = row.GetProperty("precision").GetString()!;
                string impl = row.GetProperty("impl").GetString()!;
                double? ms = row.TryGetProperty("median_ms", out var m) && m.ValueKind == JsonValueKind.Number ? m.GetDouble() : null;
                var cur = t._rows.GetValueOrDefault((shape, precision));
                t._rows[(shape, precision)] = impl == "fused" ? (ms, cur.Foreach) : impl == "foreach" ? (cur.Fused, ms) : cur;
            }
            return t;
        }

        public (double? FusedMs, double? ForeachMs)? Find(string shape, string precision) =>
            _rows.TryGetValue((shape, precision), out var r) ? (r.Fused, r.Foreach) : null;
    }
}
