using System.Globalization;
using System.Text;
using CudaAdam.Cuda;

namespace CudaAdam.Device;

/// <summary>
/// Bytes of optimizer state per parameter, float32 against 8-bit state (<see cref="Hyperparameters.StateBits"/>), measured
/// from what is actually allocated: on the host, the GC's count of bytes allocated by <see cref="ParamState.Create"/> (what
/// the optimizer calls on a parameter's first step: arrays, headers and the state object); on a device backend
/// (host-resident), the state arenas it allocated for the parameter set (<see cref="DeviceBackend.StateBytes"/>), after a
/// real step. <c>cudaadam bench memory</c> writes the table.
/// </summary>
public static class StateMemory
{
    /// <summary>One row: the parameter set, the algorithm, the state bits, and the bytes measured.</summary>
    public sealed record Row(string Set, long Parameters, Algorithm Algorithm, int StateBits, long HostBytes, long? DeviceBytes)
    {
        /// <summary>Bytes of optimizer state per parameter in host memory (state and absmax, measured).</summary>
        public double HostPerParameter => HostBytes / (double)Parameters;
        /// <summary>Bytes of optimizer state per parameter in device memory, where it was measured (null without a device).</summary>
        public double? DevicePerParameter => DeviceBytes / (double)Parameters;
    }

    /// <summary>The parameter sets: the Fashion-MNIST MLP of the main job (784-256-256-10, weights and biases), and one
    /// tensor of 10 million elements.</summary>
    public static IReadOnlyList<(string Name, int[] Lengths)> Sets { get; } =
    [
        ("MLP 784-256-256-10 (6 tensors)", [784 * 256, 256, 256 * 256, 256, 256 * 10, 10]),
        ("one tensor of 10,000,000", [10_000_000]),
    ];

    /// <summary>Measures every set × {adam, adamw} × {32, 8}; the device column when <paramref name="device"/> is given.</summary>
    public static IReadOnlyList<Row> Measure(IDevice? device)
    {
        var rows = new List<Row>();
        foreach (var (name, lengths) in Sets)
            foreach (var a in new[] { Algorithm.Adam, Algorithm.AdamW })
                foreach (int bits in new[] { 32, 8 })
                {
                    var hp = Hyperparameters.Defaults(a) with { StateBits = bits };
                    ParamState.Create(a, hp, 16);   // the code paths warm, so the count holds only the state
                    long before = GC.GetAllocatedBytesForCurrentThread();
                    var states = lengths.Select(n => ParamState.Create(a, hp, n)).ToArray();
                    long host = GC.GetAllocatedBytesForCurrentThread() - before;
                    GC.KeepAlive(states);
                    rows.Add(new Row(name, lengths.Sum(n => (long)n), a, bits, host, device is null ? null : DeviceBytes(device, a, hp, lengths)));
                }
        return rows;
    }

    private static long DeviceBytes(IDevice device, Algorithm a, Hyperparameters hp, int[] lengths)
    {
        using var backend = new DeviceBackend(device);
        var ps = lengths.Select((n, i) => new Parameter($"p{i}", new float[n]) { Grad = new float[n] }).ToArray();
        using var opt = new Optimizer(a, ps, hp, backend);
        opt.Step();
        return backend.StateBytes;
    }

    /// <summary>The markdown table, with the command and what was measured.</summary>
    public static string Markdown(IReadOnlyList<Row> rows, string command, string deviceName)
    {
        var inv = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.AppendLine("# Optimizer state memory: float32 vs 8-bit state (state_bits = 8)").AppendLine();
        sb.AppendLine($"Command: `{command}` ({DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC).").AppendLine();
        sb.AppendLine("Host: bytes the GC counted as allocated by `ParamState.Create` for every tensor of the set (what the optimizer");
        sb.AppendLine($"creates on a tensor's first step: arrays with their headers, the state object). Device ({deviceName}): the bytes of");
        sb.AppendLine("the state arenas `DeviceBackend` allocated for the set after one step (host-resident; alignment padding included).");
        sb.AppendLine("Expected: float32 keeps m and v, 8 bytes per parameter; 8-bit keeps a code each (2 bytes) plus a float32 absmax per");
        sb.AppendLine("2,048 elements for each (8/2,048 = 0.0039 bytes per parameter).").AppendLine();
        sb.AppendLine("| parameters | algorithm | state | host bytes | host B/param | device bytes | device B/param | 8-bit / float32 |");
        sb.AppendLine("|---|---|---|---:|---:|---:|---:|---:|");
        foreach (var r in rows)
        {
            var fp32 = rows.First(x => x.Set == r.Set && x.Algorithm == r.Algorithm && x.StateBits == 32);
            string ratio = r.StateBits == 8 ? (r.HostBytes / (double)fp32.HostBytes).ToString("0.0000", inv) : "";
            string dev = r.DeviceBytes is { } d ? d.ToString("N0", inv) : "n/a";
            string devPer = r.DevicePerParameter is { } dp ? dp.ToString("0.0000", inv) : "n/a";
            sb.AppendLine(string.Create(inv, $"| {r.Set} ({r.Parameters:N0}) | {r.Algorithm.Name()} | {(r.StateBits == 8 ? "8-bit" : "float32")} | {r.HostBytes:N0} | {r.HostPerParameter:0.0000} | {dev} | {devPer} | {ratio} |"));
        }
        return sb.ToString();
    }
}
