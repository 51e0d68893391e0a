#pragma warning disable CS1591 // CS1591 backlog (issue 13): 2 public members here have no XML doc yet; document them, then delete this line
using System.Diagnostics;
using CudaAdam.Cuda.Compilation;
using CudaAdam.Cuda.Driver;
using CudaAdam.Cuda.Interop;

namespace CudaAdam.Cuda.Diagnostics;

/// <summary>One check of <see cref="CudaSelfTest"/>.</summary>
public sealed record SelfTestResult(string Name, bool Passed, string Detail, double Milliseconds);

/// <summary>
/// End-to-end checks of a CUDA device without a test runner (<c>cudaadam info --check</c>), for the GPU machine,
/// which has a .NET runtime but no SDK: allocation and copy round trip, a launch of the probe kernel, bitwise
/// parity of a*x+y with the CPU (no FMA), events, CUDA graph capture and replay, every embedded kernel file
/// loading as a module, SGEMM and GemmEx (fp16, bf16) against CPU products. The NUnit suite's
/// CudaDeviceTests check the same things under [Category("Gpu")].
/// </summary>
public static class CudaSelfTest
{
    public static IReadOnlyList<SelfTestResult> Run(CudaDevice device)
    {
        var results = new List<SelfTestResult>();
        void Check(string name, Func<string> body)
        {
            var clock = Stopwatch.StartNew();
            try
            {
                results.Add(new(name, true, body(), clock.Elapsed.TotalMilliseconds));
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                results.Add(new(name, false, e.GetType().Name + ": " + e.Message, clock.Elapsed.TotalMilliseconds));
                try
                {
                    device.Synchronize();
                }
                catch (CudaException)
                {
                    // a sticky error: later checks report it too
                }
            }
        }

        Check("copy round trip", () =>
        {
            var host = Random(100_000, 1);
            using var b = device.Allocate<float>(host.Length + 10);
            device.Zero(b);
            device.CopyToDevice<float>(host, b, 10);
            var back = new float[host.Length + 10];
            device.CopyToHost<float>(b, back);
            Require(back.AsSpan(0, 10).ToArray().All(v => v == 0f), "the zeroed prefix is not zero");
            Require(back.AsSpan(10).SequenceEqual(host), "copied data differs");
            return $"{host.Length} floats";
        });

        Check("probe launch", () =>
        {
            const int n = 1_000_003;
            var host = Random(n, 2);
            using var x = device.Allocate<float>(n);
            device.CopyToDevice<float>(host, x);
            using var args = new KernelArgs();
            device.Launch(device.GetKernel(ProbeKernels.Source, "probe_add_scalar"), Blocks(n), 256, args.Add(x).Add(1.5f).Add((long)n));
            var back = new float[n];
            device.CopyToHost<float>(x, back);
            for (int i = 0; i < n; i++) Require(back[i] == host[i] + 1.5f, $"element {i}: {back[i]} != {host[i] + 1.5f}");
            return $"{n} elements, kernels for {device.Target}";
        });

        Check("axpy bitwise = CPU (no FMA)", () =>
        {
            const int n = 1 << 20;
            const float a = 0.7310586f;
            var x = Random(n, 3);
            var y = Random(n, 4);
            using var dx = device.Allocate<float>(n);
            using var dy = device.Allocate<float>(n);
            device.CopyToDevice<float>(x, dx);
            device.CopyToDevice<float>(y, dy);
            using var args = new KernelArgs();
            device.Launch(device.GetKernel(ProbeKernels.Source, "probe_axpy"), Blocks(n), 256, args.Add(a).Add(dx).Add(dy).Add((long)n));
            var back = new float[n];
            device.CopyToHost<float>(dy, back);
            int diff = 0;
            for (int i = 0; i < n; i++)
            {
                float p = a * x[i];
                float e = p + y[i];
                if (BitConverter.SingleToInt32Bits(back[i]) != BitConverter.SingleToInt32Bits(e)) diff++;
            }
            Require(diff == 0, $"{diff} of {n} results differ from the CPU's bits");
            return $"{n} elements, 0 bit differences";
        });

        Check("dynamic shared > 48 KiB", () =>
        {
            int n = Math.Min(20_000, device.Properties.MaxSharedMemoryPerBlockOptin / sizeof(float));
            var x = Random(n, 8);
            using var dx = device.Allocate<float>(n);
            using var dy = device.Allocate<float>(n);
            device.CopyToDevice<float>(x, dx);
            using var args = new KernelArgs();
            device.Launch(device.GetKernel(ProbeKernels.Source, "probe_reverse_shared"), 1, 256, args.Add(dx).Add(dy).Add(n), n * sizeof(float));
            var back = new float[n];
            device.CopyToHost<float>(dy, back);
            for (int i = 0; i < n; i++) Require(back[i] == x[n - 1 - i], $"element {i}");
            return $"{n * sizeof(float)} bytes (opt-in limit {device.Properties.MaxSharedMemoryPerBlockOptin})";
        });

        Check("events", () =>
        {
            const int n = 1 << 24;
            using var x = device.Allocate<float>(n);
            using var y = device.Allocate<float>(n);
            device.Zero(x);
            using var start = device.CreateEvent();
            using var end = device.CreateEvent();
            device.Record(start);
            for (int i = 0; i < 10; i++) device.Copy(x, y);
            device.Record(end);
            end.Synchronize();
            float ms = CudaEvent.ElapsedMilliseconds(start, end);
            Require(ms > 0, $"elapsed {ms} ms");
            double gbps = 10.0 * 2 * n * sizeof(float) / (ms * 1e6);
            return string.Create(System.Globalization.CultureInfo.InvariantCulture, $"10 device copies of 64 MiB: {ms:F3} ms, {gbps:F0} GB/s (read+write)");
        });

        Check("graph capture + replay", () =>
        {
            const int n = 4097;
            using var x = device.Allocate<float>(n);
            device.Zero(x);
            var k = device.GetKernel(ProbeKernels.Source, "probe_add_scalar");
            using var args = new KernelArgs();
            using var graph = device.CaptureGraph(() =>
            {
                device.Launch(k, Blocks(n), 256, args.Clear().Add(x).Add(1f).Add((long)n));
                device.Launch(k, Blocks(n), 256, args.Clear().Add(x).Add(0.5f).Add((long)n));
            });
            for (int i = 0; i < 3; i++) device.Launch(graph);
            var back = new float[n];
            device.CopyToHost<float>(x, back);
            Require(back.All(v => v == 4.5f), $"expected 4.5 everywhere after 3 replays, got e.g. {back[0]}");
            return "2 launches captured, 3 replays";
        });

        foreach (var file in KernelSources.KernelFiles)
            Check($"module {file}", () =>
            {
                var image = device.Cache.GetOrCompile(KernelSources.ForFamily(file), device.Target);
                device.Context.MakeCurrent();
                using var module = CudaModule.Load(image.Image, file);
                foreach (var name in KernelCompileReport.KernelNames(KernelSources.Files[file])) module.GetFunction(name);
                return $"{image.Arch} {(image.IsCubin ? "cubin" : "PTX")} {image.Image.Length} bytes ({image.Outcome.ToString().ToLowerInvariant()})";
            });

        Check("SGEMM vs CPU", () =>
        {
            const int m = 67, k = 129, n = 45;
            var a = Random(m * k, 5);
            var b = Random(k * n, 6);
            using var da = device.Allocate<float>(a.Length);
            using var db = device.Allocate<float>(b.Length);
            using var dc = device.Allocate<float>(m * n);
            device.CopyToDevice<float>(a, da);
            device.CopyToDevice<float>(b, db);
            device.Blas.Sgemm(CublasOperation.N, CublasOperation.N, n, m, k, 1f, db, n, da, k, 0f, dc, n);
            var c = new float[m * n];
            device.CopyToHost<float>(dc, c);
            double worst = 0;
            for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double sum = 0, abs = 0;
                for (int p = 0; p < k; p++)
                {
                    sum += (double)a[i * k + p] * b[p * n + j];
                    abs += Math.Abs((double)a[i * k + p] * b[p * n + j]);
                }
                double err = Math.Abs(c[i * n + j] - sum);
                Require(err <= k * 1.2e-7 * abs + 1e-6, $"C[{i},{j}] = {c[i * n + j]}, CPU {sum}");
                worst = Math.Max(worst, err);
            }
            return $"{m}x{k} * {k}x{n}, max |error| {worst:E2}, cuBLAS {device.Blas.Version}";
        });

        foreach (var type in new[] { CudaDataType.R16F, CudaDataType.R16BF })
            Check($"GemmEx {type} -> fp32", () =>
            {
                const int m = 16, k = 64, n = 8;
                var rng = new Random(7);
                var a = Enumerable.Range(0, m * k).Select(_ => (float)rng.Next(-3, 4)).ToArray();
                var b = Enumerable.Range(0, k * n).Select(_ => (float)rng.Next(-3, 4)).ToArray();
                ushort Encode(float f) => type == CudaDataType.R16F
                    ? BitConverter.HalfToUInt16Bits((Half)f)
                    : (ushort)(BitConverter.SingleToUInt32Bits(f) >> 16);
                using var da = device.Allocate<ushort>(a.Length);
                using var db = device.Allocate<ushort>(b.Length);
                using var dc = device.Allocate<float>(m * n);
                device.CopyToDevice<ushort>(a.Select(Encode).ToArray(), da);
                device.CopyToDevice<ushort>(b.Select(Encode).ToArray(), db);
                device.Blas.GemmEx(CublasOperation.N, CublasOperation.N, n, m, k, 1f, db, type, n, da, type, k, 0f, dc, CudaDataType.R32F, n);
                var c = new float[m * n];
                device.CopyToHost<float>(dc, c);
                for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++)
                {
                    float e = 0;
                    for (int p = 0; p < k; p++) e += a[i * k + p] * b[p * n + j];
                    Require(c[i * n + j] == e, $"C[{i},{j}] = {c[i * n + j]}, exact {e}");
                }
                return "small integers: exact";
            });

        return results;
    }

    public static void Write(IReadOnlyList<SelfTestResult> results, TextWriter w)
    {
        foreach (var r in results)
            w.WriteLine(string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"  {(r.Passed ? "ok  " : "FAIL")} {r.Name,-28} {r.Milliseconds,9:F1} ms  {r.Detail}"));
        w.WriteLine($"  {results.Count(r => r.Passed)} of {results.Count} checks passed");
    }

    private static void Require(bool condition, string message)
    {
        if (!condition) throw new InvalidOperationException(message);
    }

    private static uint Blocks(long n) => (uint)Math.Min((n + 255) / 256, 65535);

    private static float[] Random(int n, int seed)
    {
        var rng = new Random(seed);
        var a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float)(rng.NextDouble() * 2 - 1);
        return a;
    }
}
