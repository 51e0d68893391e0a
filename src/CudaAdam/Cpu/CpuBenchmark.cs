using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace CudaAdam.Cpu;

/// <summary>Options of <see cref="CpuBenchmark.Run"/>.</summary>
public sealed record CpuBenchOptions
{
    /// <summary>Threads for ours, the triad and torch (torch.set_num_threads); 0: <see cref="SimdStepper.DefaultThreads"/>.</summary>
    public int Threads { get; init; }
    /// <summary>Interleaved rounds; the report gives medians.</summary>
    public int Rounds { get; init; } = 5;
    /// <summary>Timed steps per configuration and round (their mean is the round's value).</summary>
    public int Steps { get; init; } = 3;
    /// <summary>Tiny shapes (100k and 10 × 10k): the code path, numbers mean nothing.</summary>
    public bool Smoke { get; init; }
    /// <summary>The torch server (<c>tests/oracle/bench_cpu_torch.py</c>), or null for no torch columns.</summary>
    public string? TorchScript { get; init; }
    /// <summary>The command line, for the report.</summary>
    public string Command { get; init; } = "cudaadam bench cpu";
}

/// <summary>One (algorithm, shape) row: medians over the rounds, ms per step.</summary>
public sealed record CpuBenchRow(string Algorithm, string Shape, long Parameters, int Tensors, double BytesPerParam,
    [property: JsonPropertyName("ours_ms")] double OursMs,
    [property: JsonPropertyName("ours_gb_per_s")] double OursGBps,
    double OfTriad,
    [property: JsonPropertyName("torch_single_ms")] double? TorchSingleMs,
    [property: JsonPropertyName("torch_foreach_ms")] double? TorchForeachMs,
    [property: JsonPropertyName("reference_ms")] double? ReferenceMs,
    IReadOnlyList<double> OursRoundsMs, IReadOnlyList<double>? TorchSingleRoundsMs, IReadOnlyList<double>? TorchForeachRoundsMs)
{
    /// <summary>torch foreach=True time / ours (how many times faster we are).</summary>
    public double? TorchForeachOverOurs => TorchForeachMs / OursMs;
    /// <summary>torch single-tensor time / ours.</summary>
    public double? TorchSingleOverOurs => TorchSingleMs / OursMs;
}

/// <summary>The report of one run.</summary>
public sealed record CpuBenchReport(string Date, string Command, string Machine, string Path, int Threads, int Rounds, int Steps,
    string LoadAverageStart, string LoadAverageEnd, string? Torch, string? TorchNote,
    [property: JsonPropertyName("triad_gb_per_s")] double TriadGBps, IReadOnlyList<double> TriadRoundsGBps, IReadOnlyList<CpuBenchRow> Rows)
{
    /// <summary>The one line scripts read: <c>cpu adam 10M: x GB/s = r of triad; torch foreach/ours = q; torch single/ours = s</c>.</summary>
    public string Summary
    {
        get
        {
            var adam = Rows.First(r => r.Algorithm == "adam" && r.Tensors == 1);
            string F(double? v) => v is { } x ? x.ToString("F2", CultureInfo.InvariantCulture) : "n/a";
            return string.Create(CultureInfo.InvariantCulture,
                $"cpu adam {adam.Shape}: {adam.OursGBps:F1} GB/s = {adam.OfTriad:F2} of triad; torch foreach/ours = {F(adam.TorchForeachOverOurs)}; torch single/ours = {F(adam.TorchSingleOverOurs)}");
        }
    }
}

/// <summary>
/// <c>cudaadam bench cpu</c>: in one run, the machine's triad bandwidth (<c>a = b + s·c</c>, SIMD, the same threads),
/// our fused CPU step (<see cref="CpuSimdBackend"/> behind <see cref="Optimizer.Step()"/>) for Adam, AdamW, Lion and
/// SGD-momentum on one 10M tensor and on 100 × 100k, the scalar reference for Adam (the "before"), and torch.optim's
/// single-tensor and foreach=True steps on the same shapes and thread count when Debian's torch is there; medians of
/// interleaved rounds (each round runs every configuration once, ours and torch's in turn), so machine load hits both
/// sides alike. Traffic: Adam/AdamW 28 B/param (read p, g, m, v; write p, m, v), Lion and SGD-momentum 20.
/// </summary>
public static class CpuBenchmark
{
    private static readonly (string Name, Algorithm Algorithm, double Bytes, string? Torch)[] Algorithms =
    [
        ("adam", Algorithm.Adam, 28, "adam"),
        ("adamw", Algorithm.AdamW, 28, "adamw"),
        ("lion", Algorithm.Lion, 20, null),
        ("sgd-momentum", Algorithm.Sgd, 20, "sgd-momentum"),
    ];

    private static Hyperparameters Hp(Algorithm a) =>
        a == Algorithm.Sgd ? Hyperparameters.Defaults(a) with { Lr = 0.01, Momentum = 0.9 } : Hyperparameters.Defaults(a);

    /// <summary>Runs the benchmark, writing progress to <paramref name="log"/>.</summary>
    public static CpuBenchReport Run(CpuBenchOptions options, TextWriter log)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Rounds, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Steps, 1);
        int threads = options.Threads == 0 ? SimdStepper.DefaultThreads : options.Threads;
        string loadStart = LoadAverage();
        var shapes = options.Smoke
            ? new (string Name, int[] Lengths)[] { ("100k", [100_000]), ("10x10k", Enumerable.Repeat(10_000, 10).ToArray()) }
            : [("10M", [10_000_000]), ("100x100k", Enumerable.Repeat(100_000, 100).ToArray())];
        using var torch = options.TorchScript is { } script ? TorchServer.Start(script, threads, log) : null;

        var configs = new List<Config>();
        foreach (var (shapeName, lengths) in shapes)
            foreach (var (name, algorithm, bytes, torchName) in Algorithms)
                configs.Add(new Config(name, algorithm, bytes, torchName, shapeName, lengths, threads));
        using var reference = new Config("adam", Algorithm.Adam, 28, null, shapes[0].Name, shapes[0].Lengths, threads, referenceBackend: true);
        long triadN = options.Smoke ? 1 << 20 : 1 << 24;
        var triad = new Triad(triadN, threads);
        var triadRounds = new List<double>();
        try
        {
            foreach (var c in configs) c.Step(1);   // state, JIT, page faults
            reference.Step(1);
            triad.Run();
            for (int round = 1; round <= options.Rounds; round++)
            {
                triadRounds.Add(triad.Run());
                foreach (var c in configs)
                {
                    c.Ours.Add(c.Step(options.Steps));
                    if (torch is not null && c.TorchName is not null)
                    {
                        c.TorchSingle.Add(torch.Time(c.TorchName, c.Lengths, "single", options.Steps));
                        c.TorchForeach.Add(torch.Time(c.TorchName, c.Lengths, "foreach", options.Steps));
                    }
                }
                reference.Ours.Add(reference.Step(1));
                var c0 = configs[0];
                string torchPart = c0.TorchForeach.Count > 0
                    ? string.Create(CultureInfo.InvariantCulture, $", torch foreach {c0.TorchForeach[^1]:F2} ms, single {c0.TorchSingle[^1]:F2} ms")
                    : "";
                log.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"round {round}/{options.Rounds}: triad {triadRounds[^1]:F1} GB/s, adam {c0.Shape} {c0.Ours[^1]:F2} ms{torchPart}"));
            }
        }
        finally
        {
            foreach (var c in configs) c.Dispose();
        }
        double triadGBps = Median(triadRounds);
        var rows = configs.Select(c =>
        {
            double ours = Median(c.Ours);
            double gbps = c.Bytes * c.Parameters / (ours * 1e-3) / 1e9;
            return new CpuBenchRow(c.Name, c.Shape, c.Parameters, c.Lengths.Length, c.Bytes, ours, gbps, gbps / triadGBps,
                c.TorchSingle.Count > 0 ? Median(c.TorchSingle) : null, c.TorchForeach.Count > 0 ? Median(c.TorchForeach) : null,
                c.Name == "adam" && c.Shape == reference.Shape ? Median(reference.Ours) : null,
                c.Ours.ToArray(), c.TorchSingle.Count > 0 ? c.TorchSingle.ToArray() : null, c.TorchForeach.Count > 0 ? c.TorchForeach.ToArray() : null);
        }).ToList();
        string machine = $"{Environment.ProcessorCount} cores, {RuntimeInformation.ProcessArchitecture}, {CpuModel()}, .NET {Environment.Version}";
        string path = new CpuSimdBackend(threads).Description;
        return new CpuBenchReport(DateTime.UtcNow.ToString("yyyy-MM-dd HH:mm 'UTC'", CultureInfo.InvariantCulture), options.Command,
            machine, path, threads, options.Rounds, options.Steps, loadStart, LoadAverage(), torch?.Version,
            torch is null ? (options.TorchScript is null ? "torch not run" : null) : TorchServer.Note,
            triadGBps, triadRounds, rows);
    }

    /// <summary>Writes <c>cpu-&lt;date&gt;.md</c> and <c>.json</c> into <paramref name="directory"/>.</summary>
    public static (string Markdown, string Json) Write(CpuBenchReport report, string directory)
    {
        Directory.CreateDirectory(directory);
        string stem = Path.Combine(directory, "cpu-" + DateTime.UtcNow.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture));
        File.WriteAllText(stem + ".md", Markdown(report));
        File.WriteAllText(stem + ".json", JsonSerializer.Serialize(report, JsonOptions));
        return (stem + ".md", stem + ".json");
    }

    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    /// <summary>The report as markdown.</summary>
    public static string Markdown(CpuBenchReport r)
    {
        var inv = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        string F(double? v, string f = "F2") => v is { } x ? x.ToString(f, inv) : "—";
        sb.AppendLine($"# bench cpu, {r.Date}").AppendLine();
        sb.AppendLine($"`{r.Command}` — {r.Machine}; ours: {r.Path}; torch: {r.Torch ?? "not run"}{(r.TorchNote is null ? "" : $" ({r.TorchNote})")}.").AppendLine();
        sb.Append(string.Create(inv, $"Medians of {r.Rounds} interleaved rounds (each round: triad, then every configuration once, ours then torch single then torch foreach), {r.Steps} timed steps per configuration and round. "))
            .AppendLine($"Load average (1, 5, 15 min) at the start {r.LoadAverageStart}, at the end {r.LoadAverageEnd}: the machine is shared with other engineers, so read the ratios, measured side by side, not the absolute times.")
            .AppendLine();
        sb.AppendLine(string.Create(inv, $"Triad bandwidth (a = b + s·c, float32, {r.Threads} threads, 12 B/element): **{r.TriadGBps:F1} GB/s** (rounds: {string.Join(", ", r.TriadRoundsGBps.Select(x => x.ToString("F1", inv)))})."))
            .AppendLine()
            .AppendLine("Accounting: the triad counts 12 B/element as STREAM does, without the write-allocate read of `a` (16 B really move); "
                + "an in-place optimizer step writes only lines it has just read, so its counted bytes are the bytes that move and it can exceed 1.0 of triad.")
            .AppendLine();
        sb.AppendLine("| algorithm | shape | B/param | ours ms/step | ours GB/s | of triad | torch single ms | torch foreach ms | torch single / ours | torch foreach / ours | reference ms (ref / ours) |");
        sb.AppendLine("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var row in r.Rows)
            sb.Append(string.Create(inv,
                    $"| {row.Algorithm} | {row.Shape} | {row.BytesPerParam:F0} | {row.OursMs:F2} | {row.OursGBps:F1} | {row.OfTriad:F2} | {F(row.TorchSingleMs)} | {F(row.TorchForeachMs)} | {F(row.TorchSingleOverOurs)} | {F(row.TorchForeachOverOurs)} | "))
                .AppendLine((row.ReferenceMs is { } refMs ? string.Create(inv, $"{refMs:F1} ({refMs / row.OursMs:F1}×)") : "—") + " |");
        sb.AppendLine();
        sb.AppendLine("Per-round values (ms/step), ours | torch single | torch foreach:").AppendLine();
        foreach (var row in r.Rows)
            sb.AppendLine($"- {row.Algorithm} {row.Shape}: {Join(row.OursRoundsMs)} | {Join(row.TorchSingleRoundsMs)} | {Join(row.TorchForeachRoundsMs)}");
        sb.AppendLine();
        sb.AppendLine("Targets (issue 16): Adam on 10M ≥ 0.8 of triad; ≥ 3× torch foreach and ≥ 3× single-tensor on both shapes.").AppendLine();
        sb.AppendLine("```").AppendLine(r.Summary).AppendLine("```");
        return sb.ToString();

        string Join(IReadOnlyList<double>? v) => v is null ? "—" : string.Join(", ", v.Select(x => x.ToString("F2", inv)));
    }

    private static double Median(IReadOnlyList<double> v)
    {
        var s = v.Order().ToArray();
        return s.Length % 2 == 1 ? s[s.Length / 2] : 0.5 * (s[s.Length / 2 - 1] + s[s.Length / 2]);
    }

    private static string LoadAverage() => MachineInfo.LoadAverage();

    private static string CpuModel() => MachineInfo.CpuModel();

    /// <summary>One configuration of ours: the parameters, an <see cref="Optimizer"/> on the fast backend (or the reference).</summary>
    private sealed class Config : IDisposable
    {
        private readonly Optimizer _optimizer;

        public Config(string name, Algorithm algorithm, double bytes, string? torchName, string shape, int[] lengths, int threads,
            bool referenceBackend = false)
        {
            (Name, Bytes, TorchName, Shape, Lengths) = (name, bytes, torchName, shape, lengths);
            var rng = new Random(1);
            var ps = new List<Parameter>();
            foreach (int n in lengths)
            {
                var data = new float[n];
                var grad = new float[n];
                for (int i = 0; i < n; i++)
                {
                    data[i] = (float)(rng.NextDouble() - 0.5);
                    grad[i] = (float)((rng.NextDouble() - 0.5) * 0.02);
                }
                ps.Add(new Parameter($"p{ps.Count}", data) { Grad = grad });
                Parameters += n;
            }
            IStepBackend backend = referenceBackend ? new CpuReferenceBackend() : new CpuSimdBackend(threads);
            _optimizer = new Optimizer(algorithm, ps, Hp(algorithm), backend);
        }

        public string Name { get; }
        public double Bytes { get; }
        public string? TorchName { get; }
        public string Shape { get; }
        public int[] Lengths { get; }
        public long Parameters { get; }
        public List<double> Ours { get; } = [];
        public List<double> TorchSingle { get; } = [];
        public List<double> TorchForeach { get; } = [];

        /// <summary>Mean ms per step over <paramref name="steps"/> steps.</summary>
        public double Step(int steps)
        {
            var sw = Stopwatch.StartNew();
            for (int i = 0; i < steps; i++) _optimizer.Step();
            return sw.Elapsed.TotalMilliseconds / steps;
        }

        public void Dispose() => _optimizer.Dispose();
    }

    /// <summary>STREAM's triad a = b + s·c in float32, SIMD, over fixed chunks on the same worker threads.</summary>
    private sealed class Triad(long n, int threads) : IChunkJob
    {
        private const int Chunk = 1 << 16;
        private readonly float[] _a = new float[n], _b = Enumerable.Repeat(1f, (int)n).ToArray(), _c = Enumerable.Repeat(2f, (int)n).ToArray();

        /// <summary>GB/s of one pass (12 bytes per element: two reads, one write).</summary>
        public double Run()
        {
            int chunks = (int)((n + Chunk - 1) / Chunk);
            var sw = Stopwatch.StartNew();
            CpuWorkers.Shared.Run(this, chunks, threads);
            return 12.0 * n / sw.Elapsed.TotalSeconds / 1e9;
        }

        public void RunChunk(int chunk)
        {
            int start = chunk * Chunk, end = (int)Math.Min(n, (long)start + Chunk), i = start;
            ref float a = ref MemoryMarshal.GetArrayDataReference(_a);
            ref float b = ref MemoryMarshal.GetArrayDataReference(_b);
            ref float c = ref MemoryMarshal.GetArrayDataReference(_c);
            if (Vector512.IsHardwareAccelerated)
            {
                var s = Vector512.Create(3f);
                for (; end - i >= 16; i += 16)
                    (Vector512.LoadUnsafe(ref b, (nuint)i) + s * Vector512.LoadUnsafe(ref c, (nuint)i)).StoreUnsafe(ref a, (nuint)i);
            }
            else if (Vector256.IsHardwareAccelerated)
            {
                var s = Vector256.Create(3f);
                for (; end - i >= 8; i += 8)
                    (Vector256.LoadUnsafe(ref b, (nuint)i) + s * Vector256.LoadUnsafe(ref c, (nuint)i)).StoreUnsafe(ref a, (nuint)i);
            }
            for (; i < end; i++) _a[i] = _b[i] + 3f * _c[i];
        }
    }

    /// <summary>The torch server (<c>tests/oracle/bench_cpu_torch.py</c>) over stdin/stdout.</summary>
    private sealed class TorchServer : IDisposable
    {
        public const string Note = "torch.optim Adam/AdamW/SGD, foreach=False (single) and foreach=True, torch.set_num_threads = ours, OMP_WAIT_POLICY=PASSIVE (its idle threads sleep instead of spinning against ours)";
        private readonly Process _process;

        private TorchServer(Process process, string version) => (_process, Version) = (process, version);

        public string Version { get; }

        public static TorchServer? Start(string script, int threads, TextWriter log)
        {
            const string python = "/usr/bin/python3";
            if (!File.Exists(python) || !File.Exists(script))
            {
                log.WriteLine($"torch: skipped ({(File.Exists(python) ? script : python)} not found)");
                return null;
            }
            var psi = new ProcessStartInfo(python, [script, "--threads", threads.ToString(CultureInfo.InvariantCulture)])
            {
                RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
            };
            psi.Environment["OMP_WAIT_POLICY"] = "PASSIVE";
            psi.Environment["OMP_NUM_THREADS"] = threads.ToString(CultureInfo.InvariantCulture);
            var p = Process.Start(psi)!;
            p.ErrorDataReceived += (_, _) => { };
            p.BeginErrorReadLine();
            string? hello = p.StandardOutput.ReadLine();
            if (hello is null)
            {
                p.WaitForExit(5000);
                log.WriteLine("torch: skipped (python3 could not import torch: install python3-torch)");
                p.Dispose();
                return null;
            }
            using var doc = JsonDocument.Parse(hello);
            string version = $"torch {doc.RootElement.GetProperty("torch").GetString()} ({doc.RootElement.GetProperty("threads").GetInt32()} threads)";
            log.WriteLine($"torch: {version}");
            return new TorchServer(p, version);
        }

        public double Time(string alg, int[] shape, string mode, int steps)
        {
            _process.StandardInput.WriteLine(JsonSerializer.Serialize(new { alg, shape, mode, steps }));
            _process.StandardInput.Flush();
            string line = _process.StandardOutput.ReadLine() ?? throw new InvalidOperationException("the torch server ended");
            using var doc = JsonDocument.Parse(line);
            if (!doc.RootElement.GetProperty("ok").GetBoolean())
                throw new InvalidOperationException($"torch {alg} {mode}: {doc.RootElement.GetProperty("error").GetString()}");
            return doc.RootElement.GetProperty("ms_per_step").GetDouble();
        }

        public void Dispose()
        {
            try
            {
                _process.StandardInput.WriteLine("""{"quit": true}""");
                _process.StandardInput.Close();
                if (!_process.WaitForExit(10_000)) _process.Kill();
            }
            catch (Exception e) when (e is IOException or InvalidOperationException) { }
            _process.Dispose();
        }
    }
}
