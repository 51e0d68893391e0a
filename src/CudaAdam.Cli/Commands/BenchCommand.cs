using System.Globalization;
using CudaAdam.Cuda;
using CudaAdam.Cuda.Compilation;
using CudaAdam.Cuda.Diagnostics;
using CudaAdam.Cuda.Driver;
using CudaAdam.Cuda.Interop;
using CudaAdam.Cpu;
using CudaAdam.Device;

namespace CudaAdam.Cli.Commands;

/// <summary>
/// <c>cudaadam bench</c>: the benchmarks. <c>bench gpu</c> is <see cref="GpuBenchmark"/> (the fused step on the GPU
/// against the copy bandwidth, markdown + JSON); <c>bench</c> alone runs what this machine can: the fused step on the
/// host emulator (<see cref="FusedStepBenchmark"/>, as <c>check --bench</c>), the kernel cache cold vs warm
/// (<see cref="KernelCacheBenchmark"/>, needs NVRTC), and <c>bench gpu</c> when a GPU is present.
/// </summary>
public sealed class BenchCommand : ICommand
{
    public string Name => "bench";
    public string Summary => "benchmarks: 'bench cpu' (fast CPU step vs triad and torch), 'bench gpu' (fused step vs copy bandwidth); 'bench' alone: what runs here";

    public string Usage =>
        "usage: cudaadam bench [--out DIR]\n" +
        "       cudaadam bench gpu [--out DIR] [--smoke] [--backend cuda|emulator] [--reps N] [--warmup N]\n" +
        "                          [--torch FILE] [--driver TEXT]\n\n" +
        "bench gpu: the fused AdamW step, device-resident (no host round trip), on one 256M-element tensor, GPT-2\n" +
        "small's 148 tensors (124M) and 10,000 tensors of 4,096; fp32 and bf16 parameters (fp32 state); modes fused,\n" +
        "checked (+ non-finite check) and graph (one CUDA graph replay). Median time per step with CUDA events after\n" +
        "warm-up, L2 flushed before each step; GB/s at 28 B/param (fp32) or 24 (bf16) and the ratio to the\n" +
        "device-to-device copy bandwidth of the same run. Writes DIR/report.md and DIR/report.json (default bench-out).\n" +
        "  --smoke        tiny shapes, on the emulator unless --backend cuda (covers the code path; numbers mean nothing)\n" +
        "  --reps N       timed steps per configuration (default 50; smoke 3)\n" +
        "  --warmup N     untimed steps first (default 10; smoke 1)\n" +
        "  --torch FILE   scripts/device/bench_torch.py's JSON: adds torch.optim.AdamW fused/foreach columns and ratios\n" +
        "  --driver TEXT  the driver version to record (nvidia-smi's; the driver API only reports its CUDA version)\n\n" +
        "       cudaadam bench cpu [--out DIR] [--threads N] [--rounds N] [--steps N] [--smoke] [--no-torch] [--torch-script FILE]\n\n" +
        "bench cpu: in one run, the triad bandwidth (a = b + s*c, the same threads), our fast CPU step (Optimizer.Step on\n" +
        "the 'cpu' backend) for Adam, AdamW, Lion and SGD-momentum on one 10M tensor and on 100 x 100k, the scalar\n" +
        "reference for Adam 10M, and torch.optim's single-tensor and foreach=True steps on the same shapes and threads\n" +
        "when /usr/bin/python3 has torch (tests/oracle/bench_cpu_torch.py); medians of interleaved rounds. Writes\n" +
        "DIR/cpu-<date>.md and .json (default DIR: bench) and ends with the line\n" +
        "'cpu adam 10M: <x> GB/s = <r> of triad; torch foreach/ours = <q>; torch single/ours = <s>'.\n" +
        "  --threads N    threads for ours, the triad and torch (default: CUDAADAM_CPU_THREADS or all cores)\n" +
        "  --rounds N     interleaved rounds (default 5; smoke 2);  --steps N  timed steps per round (default 3)\n" +
        "  --smoke        tiny shapes (100k, 10 x 10k): the code path, numbers mean nothing\n\n" +
        "       cudaadam bench memory [--out DIR]\n\n" +
        "bench memory: bytes of optimizer state per parameter, float32 vs 8-bit state (state_bits = 8), measured from the\n" +
        "allocations (host: ParamState.Create under the GC's allocation counter; the emulator: the device backend's state\n" +
        "arenas) for the main job's MLP and one 10M tensor, Adam and AdamW. Writes DIR/state8-memory-<date>.md (default bench).\n\n" +
        "bench (no subcommand): bench cpu (into bench/, or DIR), the fused step on the host emulator (2^20 parameters, 1 and 1,000 tensors), the kernel\n" +
        "cache cold vs warm (needs NVRTC), and bench gpu into DIR when a GPU is present.\n" +
        "On the GPU machine: scripts/device/pack.sh here, then run scripts/device/run-on-gpu.sh there (carry .device).\n";

    public int Run(IReadOnlyList<string> args, TextWriter stdout, TextWriter stderr)
    {
        if (args.Count > 0 && args[0] == "gpu") return Gpu(args.Skip(1).ToArray(), stdout, stderr);
        if (args.Count > 0 && args[0] == "cpu") return Cpu(args.Skip(1).ToArray(), stdout);
        if (args.Count > 0 && args[0] == "memory") return Memory(args.Skip(1).ToArray(), stdout);
        var parsed = Arguments.Parse(args, ["out"], []);
        string outDir = parsed.Get("out") ?? "bench-out";
        int rc = ExitCodes.Ok;

        stdout.WriteLine("== bench cpu: the fast CPU step vs the triad bandwidth and torch ==");
        Cpu(parsed.Get("out") is { } cpuOut ? ["--out", cpuOut] : [], stdout);
        stdout.WriteLine();

        stdout.WriteLine("== fused AdamW step on the host emulator (kernel time, device-resident buffers) ==");
        if (DeviceBackends.Unavailable("emulator") is { } emuReason) stdout.WriteLine($"skipped: {emuReason}");
        else
            using (var device = DeviceBackends.OpenDevice("emulator"))
                foreach (int tensors in new[] { 1, 1000 })
                    stdout.WriteLine(FusedStepBenchmark.Run(device, 1 << 20, tensors, reps: 5).Describe());

        stdout.WriteLine();
        stdout.WriteLine("== kernel cache: cold (NVRTC compile + write) vs disk vs memory ==");
        try
        {
            KernelCacheBenchmark.Write(KernelCacheBenchmark.Run(CompileTarget.Default, 3), CompileTarget.Default, 3, stdout);
        }
        catch (Exception e) when (e is NativeLibraryNotFoundException or NotSupportedException or NvrtcException)
        {
            stdout.WriteLine($"skipped: {e.Message}");
        }

        stdout.WriteLine();
        stdout.WriteLine("== bench gpu ==");
        if (CudaDriver.Unavailable() is { } reason) stdout.WriteLine($"skipped: no GPU here ({reason})");
        else rc = Gpu(["--out", outDir], stdout, stderr);
        return rc;
    }

    private static int Cpu(string[] args, TextWriter stdout)
    {
        var parsed = Arguments.Parse(args, ["out", "threads", "rounds", "steps", "torch-script"], ["smoke", "no-torch"]);
        bool smoke = parsed.Get("smoke") is { } s && Arguments.ParseBool(s, "--smoke");
        bool noTorch = parsed.Get("no-torch") is { } nt && Arguments.ParseBool(nt, "--no-torch");
        int threads = parsed.Get("threads") is { } t ? (int)Math.Clamp(Arguments.ParseCount(t, "--threads"), 1, 1024) : 0;
        int rounds = parsed.Get("rounds") is { } r ? (int)Math.Clamp(Arguments.ParseCount(r, "--rounds"), 1, 1000) : smoke ? 2 : 5;
        int steps = parsed.Get("steps") is { } st ? (int)Math.Clamp(Arguments.ParseCount(st, "--steps"), 1, 1000) : 3;
        string? script = parsed.Get("torch-script");
        if (script is not null && !File.Exists(script)) throw new UsageException($"--torch-script '{script}': no such file");
        if (!noTorch) script ??= FindUp(Path.Combine("tests", "oracle", "bench_cpu_torch.py"));
        if (!noTorch && script is null) stdout.WriteLine("torch: skipped (tests/oracle/bench_cpu_torch.py not found above the current folder)");
        var options = new CpuBenchOptions
        {
            Threads = threads, Rounds = rounds, Steps = steps, Smoke = smoke, TorchScript = noTorch ? null : script,
            Command = ("cudaadam bench cpu " + string.Join(" ", args)).TrimEnd(),
        };
        var report = CpuBenchmark.Run(options, stdout);
        var (md, json) = CpuBenchmark.Write(report, parsed.Get("out") ?? "bench");
        stdout.WriteLine();
        stdout.Write(CpuBenchmark.Markdown(report));
        stdout.WriteLine($"wrote {md} and {json}");
        stdout.WriteLine(report.Summary);
        return ExitCodes.Ok;
    }

    private static int Memory(string[] args, TextWriter stdout)
    {
        var parsed = Arguments.Parse(args, ["out"], []);
        string dir = parsed.Get("out") ?? "bench";
        IDevice? device = DeviceBackends.Unavailable("emulator") is null ? DeviceBackends.OpenDevice("emulator") : null;
        IReadOnlyList<StateMemory.Row> rows;
        try { rows = StateMemory.Measure(device); }
        finally { device?.Dispose(); }
        string md = StateMemory.Markdown(rows, ("cudaadam bench memory " + string.Join(" ", args)).TrimEnd(),
            device is null ? "no emulator here: not measured" : "the host emulator");
        Directory.CreateDirectory(dir);
        string path = Path.Combine(dir, $"state8-memory-{DateTime.UtcNow:yyyy-MM-dd}.md");
        CudaAdam.IO.AtomicFile.WriteAllText(path, md);
        stdout.Write(md);
        stdout.WriteLine($"wrote {path}");
        return ExitCodes.Ok;
    }

    /// <summary>The first <paramref name="relative"/> in the current folder or above it, or null.</summary>
    private static string? FindUp(string relative)
    {
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
            for (var d = new DirectoryInfo(start); d is not null; d = d.Parent)
                if (File.Exists(Path.Combine(d.FullName, relative))) return Path.Combine(d.FullName, relative);
        return null;
    }

    private int Gpu(string[] args, TextWriter stdout, TextWriter stderr)
    {
        var parsed = Arguments.Parse(args, ["out", "backend", "reps", "warmup", "torch", "driver"], ["smoke"]);
        bool smoke = parsed.Get("smoke") is { } s && Arguments.ParseBool(s, "--smoke");
        string backend = parsed.Get("backend") ?? (smoke ? "emulator" : "cuda");
        if (!DeviceBackends.Names.Contains(backend))
            throw new UsageException($"--backend: '{backend}' is not a device backend; use {string.Join(" or ", DeviceBackends.Names)}");
        if (backend == "emulator" && !smoke)
            throw new UsageException("--backend emulator needs --smoke: the full shapes (256M elements) are for a GPU");
        int reps = parsed.Get("reps") is { } r ? (int)Math.Clamp(Arguments.ParseCount(r, "--reps"), 1, 100000) : smoke ? 3 : 50;
        int warmup = parsed.Get("warmup") is { } w ? (int)Math.Min(Arguments.ParseCount(w, "--warmup"), 100000) : smoke ? 1 : 10;
        string? torch = parsed.Get("torch");
        if (torch is not null && !File.Exists(torch)) throw new UsageException($"--torch '{torch}': no such file");
        string outDir = parsed.Get("out") ?? "bench-out";

        Cuda.IDevice device;
        try { device = DeviceBackends.OpenDevice(backend); }
        catch (BackendUnavailableException e)
        {
            throw new UsageException(e.Message + (smoke ? "" : "; 'cudaadam bench gpu --smoke' runs the code path on the emulator"), e);
        }
        using (device)
        {
            var options = new GpuBenchOptions
            {
                Smoke = smoke, Reps = reps, Warmup = warmup, TorchJson = torch, Driver = parsed.Get("driver") ?? "",
                Command = "cudaadam bench gpu " + string.Join(" ", args),
            };
            stdout.WriteLine($"bench gpu on {device.Name}{(smoke ? " (smoke: tiny shapes)" : "")}");
            var report = GpuBenchmark.Run(device, options, stdout);
            var (md, json) = GpuBenchmark.Write(report, outDir);
            stdout.WriteLine();
            stdout.Write(GpuBenchmark.Markdown(report));
            stdout.WriteLine(string.Create(CultureInfo.InvariantCulture, $"wrote {md} and {json}"));
        }
        return ExitCodes.Ok;
    }
}
