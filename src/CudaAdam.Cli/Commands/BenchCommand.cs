using System.Globalization;
using CudaAdam.Cuda;
using CudaAdam.Cuda.Compilation;
using CudaAdam.Cuda.Diagnostics;
using CudaAdam.Cuda.Driver;
using CudaAdam.Cuda.Interop;
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
    public string Summary => "benchmarks: 'bench gpu' (fused step vs copy bandwidth, markdown + JSON); 'bench' alone: what runs here";

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
        "bench (no subcommand): the fused step on the host emulator (2^20 parameters, 1 and 1,000 tensors), the kernel\n" +
        "cache cold vs warm (needs NVRTC), and bench gpu into DIR when a GPU is present.\n" +
        "On the GPU machine: scripts/device/pack.sh here, then run scripts/device/run-on-gpu.sh there (carry .device).\n";

    public int Run(IReadOnlyList<string> args, TextWriter stdout, TextWriter stderr)
    {
        if (args.Count > 0 && args[0] == "gpu") return Gpu(args.Skip(1).ToArray(), stdout, stderr);
        var parsed = Arguments.Parse(args, ["out"], []);
        string outDir = parsed.Get("out") ?? "bench-out";
        int rc = ExitCodes.Ok;

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
