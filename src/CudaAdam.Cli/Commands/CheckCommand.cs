using CudaAdam.Device;

namespace CudaAdam.Cli.Commands;

/// <summary>
/// <c>cudaadam check</c>: runs the conformance registry (<see cref="Conformance"/>) of the fused kernels against the
/// CPU reference on a device backend and prints one row per case (max ulp difference, pass). The logic lives in
/// <see cref="Conformance"/>; this class parses options and prints.
/// </summary>
public sealed class CheckCommand : ICommand
{
    public string Name => "check";
    public string Summary => "conformance of the fused kernels with the CPU reference, bit for bit (emulator or GPU)";

    public string Usage =>
        "usage: cudaadam check [--backend emulator|cuda] [--filter TEXT] [--list] [--failures-only]\n" +
        "       cudaadam check --bench PARAMS [--bench-tensors T] [--backend emulator|cuda]\n" +
        "       cudaadam check --graph [--backend emulator|cuda]\n" +
        "       cudaadam check --train [--backend emulator|cuda]\n\n" +
        "Runs every case of the conformance registry (algorithm x hyperparameters x edge case: zero-size tensors,\n" +
        "skipped gradients, odd lengths, misaligned offsets, 1,000 tensors, non-finite gradients, loss-scale unscale,\n" +
        "many steps) on the backend and on the CPU reference, compares params and state after every step BITWISE\n" +
        "(two NaNs count as equal), and prints: case, values compared, max ulp difference, skipped steps, pass.\n" +
        "Exit code 0 when every case passes, 1 when one fails, 2 on bad usage or an unavailable backend.\n\n" +
        "  --backend NAME   emulator (default; the kernels built by g++) or cuda (the GPU)\n" +
        "  --filter TEXT    only cases whose name contains TEXT, e.g. adamw/ or /misaligned; A,B: either part\n" +
        "  --list           list the case names and exit\n" +
        "  --failures-only  print only the rows of failing cases (and the summary)\n" +
        "  --bench PARAMS   instead: time the fused AdamW step alone on PARAMS device-resident parameters (no host\n" +
        "                   transfers), with and without the non-finite check, and on a GPU a device-to-device copy in\n" +
        "                   the same run; prints GB/s at 28 B/parameter (not a conformance check)\n" +
        "  --bench-tensors T  split the parameters over T tensors (default 1)\n" +
        "  --graph          instead: the graph-capturable mode (Residency.Device, CaptureGraph): captured CUDA graph replays vs\n" +
        "                   uncaptured steps vs the host-clocked backend, bitwise, per algorithm (on the emulator the\n" +
        "                   'captured' run runs uncaptured)\n" +
        "  --train          instead: the device training path (kernels/train.cu, cuBLAS on cuda) against the CPU layers:\n" +
        "                   a tiny CNN and an MLP forward and backward, the train_sgemm kernel, dropout masks bitwise\n";

    public int Run(IReadOnlyList<string> args, TextWriter stdout, TextWriter stderr)
    {
        var parsed = Arguments.Parse(args, ["backend", "filter", "bench", "bench-tensors"], ["list", "failures-only", "graph", "train"]);
        string backend = parsed.Get("backend") ?? "emulator";
        if (!DeviceBackends.Names.Contains(backend))
            throw new UsageException($"--backend: '{backend}' is not a device backend; use {string.Join(" or ", DeviceBackends.Names)}");
        if (parsed.Get("bench") is { } benchText)
            return Bench(backend, Arguments.ParseCount(benchText, "--bench"),
                parsed.Get("bench-tensors") is { } t ? Arguments.ParseCount(t, "--bench-tensors") : 1, stdout);
        if (parsed.Get("graph") is { } gr && Arguments.ParseBool(gr, "--graph")) return Graph(backend, stdout);
        if (parsed.Get("train") is { } tr && Arguments.ParseBool(tr, "--train")) return Train(backend, stdout);
        // --filter A,B: the cases whose name contains any of the parts, in the registry's order.
        var parts = parsed.Get("filter")?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var chosen = parts is { Length: > 1 } ? parts.SelectMany(Conformance.Select).Select(c => c.Name).ToHashSet(StringComparer.Ordinal) : null;
        var cases = chosen is null ? Conformance.Select(parts is { Length: 1 } ? parts[0] : parsed.Get("filter"))
            : Conformance.Select(null).Where(c => chosen.Contains(c.Name)).ToList();
        if (cases.Count == 0) throw new UsageException($"--filter: no case name contains '{parsed.Get("filter")}' (see --list)");
        if (parsed.Get("list") is { } l && Arguments.ParseBool(l, "--list"))
        {
            foreach (var c in cases) stdout.WriteLine(c.Name);
            return ExitCodes.Ok;
        }
        bool failuresOnly = parsed.Get("failures-only") is { } f && Arguments.ParseBool(f, "--failures-only");

        Cuda.IDevice device;
        try { device = DeviceBackends.OpenDevice(backend); }
        catch (BackendUnavailableException e) { throw new UsageException(e.Message, e); }
        using (device)
        {
            stdout.WriteLine($"conformance: {cases.Count} cases on {backend} ({device.Name}) vs the CPU reference, bitwise");
            stdout.WriteLine(Conformance.TableHeader);
            var failed = new List<ConformanceResult>();
            foreach (var c in cases)
            {
                var r = Conformance.Run(c, o => new DeviceBackend(device, o));
                if (!r.Passed) failed.Add(r);
                if (!failuresOnly || !r.Passed) stdout.WriteLine(Conformance.TableRow(r));
            }
            stdout.WriteLine();
            stdout.WriteLine($"{cases.Count - failed.Count} of {cases.Count} cases passed, {failed.Count} failed");
            foreach (var r in failed) stdout.WriteLine("FAILED " + r.Describe());
            return failed.Count == 0 ? ExitCodes.Ok : ExitCodes.Failure;
        }
    }

    private static int Graph(string backend, TextWriter stdout)
    {
        Cuda.IDevice device;
        try { device = DeviceBackends.OpenDevice(backend); }
        catch (BackendUnavailableException e) { throw new UsageException(e.Message, e); }
        using (device)
        {
            stdout.WriteLine($"graph-capturable mode on {backend} ({device.Name}): captured vs uncaptured vs host-clocked, bitwise");
            int failed = 0;
            foreach (var a in GraphCheck.Algorithms)
            {
                var r = GraphCheck.Run(device, a);
                if (!r.Passed) failed++;
                stdout.WriteLine(r.Describe());
            }
            stdout.WriteLine($"{GraphCheck.Algorithms.Count - failed} of {GraphCheck.Algorithms.Count} algorithms passed, {failed} failed");
            return failed == 0 ? ExitCodes.Ok : ExitCodes.Failure;
        }
    }

    private static int Train(string backend, TextWriter stdout)
    {
        Cuda.IDevice device;
        try { device = DeviceBackends.OpenDevice(backend); }
        catch (BackendUnavailableException e) { throw new UsageException(e.Message, e); }
        using (device)
        {
            stdout.WriteLine($"device training path on {backend} ({device.Name}) against the CPU layers:");
            var rows = Training.Device.DeviceModelCheck.Run(device);
            foreach (var r in rows) stdout.WriteLine(r);
            int failed = rows.Count(r => !r.Passed);
            stdout.WriteLine($"{rows.Count - failed} of {rows.Count} quantities passed, {failed} failed");
            return failed == 0 ? ExitCodes.Ok : ExitCodes.Failure;
        }
    }

    private static int Bench(string backend, long parameters, long tensors, TextWriter stdout)
    {
        if (parameters < 1) throw new UsageException("--bench: the number of parameters must be at least 1");
        if (tensors < 1 || tensors > parameters || tensors > int.MaxValue)
            throw new UsageException($"--bench-tensors: {tensors} must be between 1 and the number of parameters");
        // The emulator's device memory is this machine's memory: p, g, m, v of float32 (16 bytes a parameter).
        // Refused up front with the number needed, instead of the runtime's "Out of memory." abort.
        if (backend == "emulator")
        {
            try { IO.MemoryBudget.Require(IO.MemoryBudget.Product(parameters, 16), $"--bench {parameters:N0} (p, g, m, v of float32 on the emulator)"); }
            catch (InsufficientMemoryException e) { throw new UsageException(e.Message + "; give fewer parameters", e); }
        }
        Cuda.IDevice device;
        try { device = DeviceBackends.OpenDevice(backend); }
        catch (BackendUnavailableException e) { throw new UsageException(e.Message, e); }
        using (device)
            stdout.WriteLine(FusedStepBenchmark.Run(device, parameters, (int)tensors).Describe());
        return ExitCodes.Ok;
    }
}
