#pragma warning disable CS1591 // CS1591 backlog (issue 13): 4 public members here have no XML doc yet; document them, then delete this line
using CudaAdam.Cuda;
using CudaAdam.Diagnostics;

namespace CudaAdam.Device;

/// <summary>One algorithm's result of <see cref="GraphCheck"/>.</summary>
public sealed record GraphCheckResult(Algorithm Algorithm, int Steps, bool UsedGraph, int Captures, long Skipped, string? Mismatch,
    bool Clipped = false, bool Diagnostics = false)
{
    public bool Passed => Mismatch is null;

    public string Describe() =>
        $"{Algorithm.Name(),-9} {Steps} steps, {(UsedGraph ? $"graph replays ({Captures} captures)" : "uncaptured (no graphs here)")}, " +
        $"{Skipped} skipped{(Clipped ? ", clipped" : "")}{(Diagnostics ? ", diagnostics fused (graph and backend)" : "")}: " +
        $"{(Passed ? "bitwise equal" : "FAILED: " + Mismatch)}";
}

/// <summary>
/// The graph-capturable mode checked end to end on any device (<c>cudaadam check --graph</c>; run by
/// scripts/device/run-on-gpu.sh on the GPU): for each algorithm with a device clock, three runs over the same
/// gradients, all through <see cref="Optimizer"/>: a device-resident <see cref="DeviceBackend"/> with CaptureGraph (graph
/// replays on a GPU), one without, and a host-resident one (step scalars from the host's <see cref="StepScalars.Advance"/>). Learning-rate changes (device lr), a non-finite gradient (skipped step) and an
/// InvScale change (re-capture) happen on the way; params and state must agree bit for bit after the last step.
/// For the Adam family the captured optimizer and the backend run with the sign diagnostics fused into the step
/// (<c>*_step_diag</c>) while the uncaptured optimizer runs the plain kernel, so "bitwise equal" also says that the
/// diagnostics change nothing; the two records of the last step must agree (counts, max, histogram exactly; the double
/// sums within 1e−12 relative: cross-block atomics).
/// </summary>
public static class GraphCheck
{
    public static IReadOnlyList<Algorithm> Algorithms => AlgorithmNames.All.Where(a => a.Info().Clock != 0).ToList();

    public static GraphCheckResult Run(IDevice device, Algorithm algorithm, int steps = 30)
    {
        int[] lengths = [5000, 33, 0, 70_001, 1];
        Parameter[] Make() => lengths.Select((n, i) =>
        {
            var rng = new Random(17 + i);
            return new Parameter($"p{i}", Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray());
        }).ToArray();
        var hp = Hyperparameters.Defaults(algorithm) with
        {
            WeightDecay = algorithm.Info().UsesWeightDecay ? 0.01 : 0,
            Momentum = algorithm is Algorithm.Sgd or Algorithm.RmsProp ? 0.9 : Hyperparameters.Defaults(algorithm).Momentum,
            LrDecay = algorithm == Algorithm.AdaGrad ? 0.01 : 0,
        };
        // AdamW and Lion also clip (max_norm 20: some steps clipped, some not); both device paths build the same
        // chunk table, so their norms (and coefficients) are the same bits.
        double? clip = algorithm is Algorithm.AdamW or Algorithm.Lion ? 20.0 : null;
        bool diagnostics = FusedSignDiagnostics.KernelOf(algorithm) is not null;
        var (pc, pu, ph) = (Make(), Make(), Make());
        var groups = new[] { new ParamGroup(pc, hp), new ParamGroup(pu, hp), new ParamGroup(ph, hp) };
        var capturedBackend = new DeviceBackend(device, new DeviceBackendOptions { Residency = Residency.Device, CaptureGraph = true, Diagnostics = diagnostics });
        using var captured = new Optimizer(algorithm, [groups[0]], capturedBackend) { MaxGradNorm = clip };
        using var uncaptured = new Optimizer(algorithm, [groups[1]], new DeviceBackend(device, new DeviceBackendOptions { Residency = Residency.Device }))
            { MaxGradNorm = clip };
        var backend = new DeviceBackend(device, new DeviceBackendOptions { Diagnostics = diagnostics });
        using var host = new Optimizer(algorithm, [groups[2]], backend) { MaxGradNorm = clip };
        var all = new[] { captured, uncaptured, host };
        for (int step = 1; step <= steps; step++)
        {
            if (step == steps / 3)
                foreach (var g in groups) g.Hyperparameters = g.Hyperparameters with { Lr = hp.Lr * 0.3 };
            if (step == 2 * steps / 3)
                foreach (var o in all) o.InvScale = 0.5f;
            foreach (var ps in new[] { pc, pu, ph })
                for (int i = 0; i < ps.Length; i++)
                {
                    var rng = new Random(1000 * step + i);
                    float scale = step % 2 == 0 ? 0.01f : 1f;
                    ps[i].Grad = Enumerable.Range(0, ps[i].Data.Length).Select(_ => (float)(rng.NextDouble() * 2 - 1) * scale).ToArray();
                    if (step == steps / 2 && i == 3) ps[i].Grad![12345] = float.NaN;
                }
            foreach (var o in all) o.Step();
        }
        captured.DownloadParameters();
        uncaptured.DownloadParameters();
        string? mismatch = null;
        for (int i = 0; i < lengths.Length && mismatch is null; i++)
        {
            mismatch = Compare(ph[i].Data, pc[i].Data, $"{ph[i].Name} captured vs host")
                       ?? Compare(pu[i].Data, pc[i].Data, $"{ph[i].Name} captured vs uncaptured");
            var (sc, su, sh) = (captured.State(pc[i])!, uncaptured.State(pu[i])!, host.State(ph[i]));
            if (mismatch is null && sh is not null)
            {
                if (sc.Step != sh.Step || su.Step != sh.Step) mismatch = $"{ph[i].Name}: step {sc.Step} / {su.Step}, host {sh.Step}";
                mismatch ??= Compare(sh.M, sc.M, $"{ph[i].Name}.M") ?? Compare(sh.V, sc.V, $"{ph[i].Name}.V") ?? Compare(sh.Aux, sc.Aux, $"{ph[i].Name}.Aux");
            }
        }
        var (_, skipped) = capturedBackend.DeviceCounters();
        if (mismatch is null && skipped != host.SkippedSteps) mismatch = $"skipped {skipped} on the device, {host.SkippedSteps} on the host";
        if (mismatch is null && clip is not null && BitConverter.DoubleToInt64Bits(captured.LastGradNorm) != BitConverter.DoubleToInt64Bits(host.LastGradNorm))
            mismatch = $"last gradient norm {captured.LastGradNorm:R} (graph) vs {host.LastGradNorm:R} (backend)";
        if (mismatch is null && diagnostics) mismatch = CompareDiagnostics(capturedBackend.LastDiagnostics, backend.LastDiagnostics);
        return new GraphCheckResult(algorithm, steps, capturedBackend.UsesGraph, capturedBackend.Captures, skipped, mismatch, clip is not null, diagnostics);
    }

    private static string? CompareDiagnostics(SignDiagnosticsReport? graph, SignDiagnosticsReport? host)
    {
        if (graph is null || host is null) return $"diagnostics of the last step: graph {(graph is null ? "none" : "present")}, backend {(host is null ? "none" : "present")}";
        if (graph.Tensors.Count != host.Tensors.Count) return $"diagnostics: {graph.Tensors.Count} tensors (graph), {host.Tensors.Count} (backend)";
        foreach (var (g, h) in graph.Tensors.Zip(host.Tensors).Append((graph.Global, host.Global)))
        {
            string? why = g.Name != h.Name ? $"tensor {g.Name} vs {h.Name}"
                : g.Count != h.Count ? $"count {g.Count} vs {h.Count}"
                : BitConverter.DoubleToInt64Bits(g.MaxU) != BitConverter.DoubleToInt64Bits(h.MaxU) ? $"max u {g.MaxU:R} vs {h.MaxU:R}"
                : g.UpdateMaxAbs != h.UpdateMaxAbs ? $"max |update| {g.UpdateMaxAbs:R} vs {h.UpdateMaxAbs:R}"
                : g.SignAgreements != h.SignAgreements ? $"sign agreements {g.SignAgreements} vs {h.SignAgreements}"
                : !g.Histogram.SequenceEqual(h.Histogram) ? "histograms differ"
                : !Close(g.MeanU, h.MeanU) || !Close(g.GradL1, h.GradL1) || !Close(g.GradL2, h.GradL2)
                    ? $"sums: mean u {g.MeanU:R} vs {h.MeanU:R}, l1 {g.GradL1:R} vs {h.GradL1:R}, l2 {g.GradL2:R} vs {h.GradL2:R}"
                : null;
            if (why is not null) return $"diagnostics of {g.Name} (graph vs backend): {why}";
        }
        return null;

        static bool Close(double a, double b) => double.IsNaN(a) ? double.IsNaN(b) : Math.Abs(a - b) <= 1e-300 + 1e-12 * Math.Abs(a);
    }

    private static string? Compare(float[]? expected, float[]? actual, string what)
    {
        if (expected is null && actual is null) return null;
        if (expected is null || actual is null || expected.Length != actual.Length) return $"{what}: buffers differ in presence or length";
        for (int j = 0; j < expected.Length; j++)
            if (BitConverter.SingleToInt32Bits(expected[j]) != BitConverter.SingleToInt32Bits(actual[j]))
                return $"{what}[{j}]: expected {expected[j]:R}, got {actual[j]:R}";
        return null;
    }
}
