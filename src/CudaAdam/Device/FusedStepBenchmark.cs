#pragma warning disable CS1591 // CS1591 backlog (issue 13): 1 public members here have no XML doc yet; document them, then delete this line
using System.Diagnostics;
using System.Globalization;
using CudaAdam.Cuda;
using CudaAdam.Diagnostics;

namespace CudaAdam.Device;

/// <summary>
/// Times the fused step kernel alone (device-resident buffers, no host transfers) and, on a GPU, a device-to-device
/// copy of comparable traffic in the same run, so the report is a ratio (DESIGN.md, "Performance, honestly").
/// Traffic accounting: fp32 Adam/AdamW read p, g, m, v and write p, m, v: 28 bytes per parameter; the non-finite
/// check reads g once more (4 bytes). A copy of B bytes moves 2B.
/// </summary>
public static class FusedStepBenchmark
{
    /// <summary>One measurement.</summary>
    public sealed record Result(string Device, long Parameters, int Tensors, int Reps, double StepMs, double CheckedStepMs,
        double? CopyMs, double? BackendStepMs = null, double? DiagStepMs = null)
    {
        /// <summary>The sign diagnostics fused into the step (<c>adam_step_diag</c> + the record's memset) over the plain
        /// kernel, same run: diag / plain − 1 (issue 6's target: ≤ 0.15 on the GPU).</summary>
        public double? DiagOverhead => DiagStepMs is { } d ? d / StepMs - 1 : null;

        /// <summary>Effective bandwidth of the fused AdamW step at 28 B/parameter, GB/s.</summary>
        public double StepGBps => 28.0 * Parameters / (StepMs * 1e-3) / 1e9;
        /// <summary>Same for check + step at 32 B/parameter.</summary>
        public double CheckedStepGBps => 32.0 * Parameters / (CheckedStepMs * 1e-3) / 1e9;
        /// <summary>Device-to-device copy bandwidth (2 × 16 B/parameter moved), GB/s; null off the GPU.</summary>
        public double? CopyGBps => CopyMs is { } c ? 32.0 * Parameters / (c * 1e-3) / 1e9 : null;

        public string Describe()
        {
            var inv = CultureInfo.InvariantCulture;
            string s = string.Create(inv,
                $"{Device}: AdamW fused step, {Parameters:N0} parameters in {Tensors} tensor(s), {Reps} reps: " +
                $"{StepMs:F3} ms/step = {StepGBps:F1} GB/s at 28 B/param; with the non-finite check {CheckedStepMs:F3} ms = {CheckedStepGBps:F1} GB/s at 32 B/param");
            if (CopyGBps is { } c)
                s += string.Create(inv, $"; device-to-device copy in the same run {CopyMs:F3} ms = {c:F1} GB/s; fused step at {StepGBps / c:P0} of copy bandwidth");
            if (DiagStepMs is { } d)
                s += string.Create(inv, $"; with the sign diagnostics fused in (adam_step_diag + record memset) {d:F3} ms = {DiagOverhead:P1} over the plain kernel (target <= 15% on a GPU)");
            if (BackendStepMs is { } b)
                s += string.Create(inv, $"; a whole DeviceBackend step with its host transfers (upload p, g, m, v; download p, m, v) {b:F3} ms = {b / CheckedStepMs:F1}x the checked kernels");
            return s;
        }
    }

    /// <summary>Runs the benchmark: <paramref name="parameters"/> split evenly over <paramref name="tensors"/>.</summary>
    public static Result Run(IDevice device, long parameters, int tensors = 1, int reps = 20)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(parameters, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(tensors, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(reps, 1);
        const int block = 256;
        long per = parameters / tensors;
        long n = per * tensors;
        var hp = Hyperparameters.Defaults(Algorithm.AdamW);
        var state = new ParamState();
        var k = StepScalars.Advance(Algorithm.AdamW, hp, state);
        using var p = device.Allocate<float>(n);
        using var g = device.Allocate<float>(n);
        using var m = device.Allocate<float>(n);
        using var v = device.Allocate<float>(n);
        using var copyDst = device.Kind == DeviceKind.Cuda ? device.Allocate<float>(4 * n) : null;
        using var copySrc = device.Kind == DeviceKind.Cuda ? device.Allocate<float>(4 * n) : null;
        var host = new float[Math.Min(n, 1 << 24)];
        var rng = new Random(5);
        for (int i = 0; i < host.Length; i++) host[i] = (float)(rng.NextDouble() - 0.5);
        foreach (var buffer in new[] { p, g })
            for (long off = 0; off < n; off += host.Length)
                device.CopyToDevice<float>(host.AsSpan(0, (int)Math.Min(host.Length, n - off)), buffer, off);
        device.Zero(m);
        device.Zero(v);

        var table = new CaTensor[tensors];
        Span<float> s = stackalloc float[CaTensor.ScalarCount];
        uint flags = KernelScalars.Pack(Algorithm.AdamW, hp, k, s) | KernelFlags.Active;
        for (int t = 0; t < tensors; t++)
        {
            long off = t * per * sizeof(float);
            table[t] = new CaTensor { P = p.Pointer + (nint)off, G = g.Pointer + (nint)off, M = m.Pointer + (nint)off, V = v.Pointer + (nint)off, N = per, Flags = flags };
            SetScalars(ref table[t], s);
        }
        var chunks = ChunkTable.Build(Enumerable.Repeat(per, tensors).ToArray(), 32768);
        using var tableBuffer = device.Allocate<CaTensor>(tensors);
        using var chunkBuffer = device.Allocate<CaChunk>(chunks.Length);
        using var flag = device.Allocate<int>(1);
        device.CopyToDevice<CaTensor>(table, tableBuffer);
        device.CopyToDevice<CaChunk>(chunks, chunkBuffer);
        device.Zero(flag);
        var (family, name) = KernelScalars.KernelOf(Algorithm.AdamW);
        var step = device.GetKernel(family, name);
        var (cf, cn) = KernelScalars.NonFiniteCheck;
        var check = device.GetKernel(cf, cn);
        using var args = new KernelArgs();

        double Time(Action body)
        {
            body(); // warm-up (compilation, caches)
            device.Synchronize();
            var sw = Stopwatch.StartNew();
            for (int r = 0; r < reps; r++) body();
            device.Synchronize();
            return sw.Elapsed.TotalMilliseconds / reps;
        }

        int epoch = 1;
        double stepMs = Time(() =>
        {
            args.Clear().Add(tableBuffer).Add(chunkBuffer).Add(1f).Add((nint)0).Add(0).Add((nint)0);
            device.Launch(step, (uint)chunks.Length, block, args);
        });
        double checkedMs = Time(() =>
        {
            epoch++;
            args.Clear().Add(tableBuffer).Add(chunkBuffer).Add(1f).Add(flag.Pointer).Add(epoch);
            device.Launch(check, (uint)chunks.Length, block, args);
            args.Clear().Add(tableBuffer).Add(chunkBuffer).Add(1f).Add(flag.Pointer).Add(epoch).Add((nint)0);
            device.Launch(step, (uint)chunks.Length, block, args);
        });
        using var diag = new FusedSignDiagnostics(device);
        diag.Resize(tensors);
        var (df, dn) = FusedSignDiagnostics.RequireKernelOf(Algorithm.AdamW);
        var diagStep = device.GetKernel(df, dn);
        double diagMs = Time(() =>
        {
            diag.Zero();
            args.Clear().Add(tableBuffer).Add(chunkBuffer).Add(1f).Add((nint)0).Add(0).Add((nint)0).Add(diag.Edges).Add(diag.Stats);
            device.Launch(diagStep, (uint)chunks.Length, block, args);
        });
        double? copyMs = null;
        if (device is CudaDevice cuda && copySrc is not null && copyDst is not null)
            copyMs = Time(() => cuda.Copy(copySrc, copyDst));
        double? backendMs = null;
        if (n <= Array.MaxLength / 2)
        {
            // The same step through the backend, host arrays and all: what the mirrored-host policy costs.
            var ps = new Parameter[tensors];
            for (int t = 0; t < tensors; t++)
            {
                var data = new float[per];
                host.AsSpan(0, (int)Math.Min(per, host.Length)).CopyTo(data);
                ps[t] = new Parameter($"p{t}", data) { Grad = data.ToArray() };
            }
            using var backend = new DeviceBackend(device);
            using var opt = new Optimizer(Algorithm.AdamW, ps, hp, backend);
            int backendReps = Math.Max(1, reps / 4);
            opt.Step();
            var sw = Stopwatch.StartNew();
            for (int r = 0; r < backendReps; r++) opt.Step();
            backendMs = sw.Elapsed.TotalMilliseconds / backendReps;
        }
        return new Result(device.Name, n, tensors, reps, stepMs, checkedMs, copyMs, backendMs, diagMs);
    }

    private static unsafe void SetScalars(ref CaTensor e, ReadOnlySpan<float> scalars)
    {
        fixed (float* s = e.S) scalars.CopyTo(new Span<float>(s, CaTensor.ScalarCount));
    }
}
