using System.Text;
using System.Text.Json;

namespace CudaAdam;

/// <summary>
/// A whole optimizer's state in torch's <c>optimizer.state_dict()</c> shape: the parameter groups (hyperparameters and
/// the indices of their parameters) and, per parameter index, its state under torch's slot names (<c>exp_avg</c>,
/// <c>exp_avg_sq</c>, <c>max_exp_avg_sq</c>, <c>momentum_buffer</c>, ...: the descriptor's <see cref="AlgorithmInfo.State"/>)
/// plus the step count and the running products. Made by <see cref="Optimizer.StateDict"/>, restored by
/// <see cref="Optimizer.LoadStateDict"/> (validated whole first: nothing changes on an error), written and read by
/// <see cref="Write"/>/<see cref="Read"/> (a versioned binary form; training checkpoints carry it as their optimizer section).
/// </summary>
/// <remarks>Convention: as in torch, parameters are identified by their index in group order, not by name; names and
/// lengths are kept so that a mismatch is refused with a message naming the parameter. Unlike torch, the running
/// products β1^t, β2^t (and NAdam's Πμ) are part of each parameter's state, because CudaAdam computes the bias
/// corrections from them, never from pow (DESIGN.md).</remarks>
public sealed record OptimizerStateDict
{
    /// <summary>The version this build writes; it reads 1, 2 and 3. Version 2 (issue 12, Schedule-Free) adds each parameter's
    /// shape, the Schedule-Free counters lr_max and weight_sum, and the train/eval mode; a version-1 dict reads as flat
    /// parameters, zero counters, train mode. Version 3 (issue 12, 8-bit state) adds, after each parameter's float32 buffers,
    /// its 8-bit buffers (<see cref="ParamStateEntry.Quantized"/>: name, map, block size, codes, absmax); an older dict has
    /// none. <see cref="Write"/> writes the fields of <see cref="Version"/>.</summary>
    public const int CurrentVersion = 3;

    /// <summary>The format version of this dictionary (<see cref="CurrentVersion"/> when written by this build).</summary>
    public int Version { get; init; } = CurrentVersion;
    /// <summary>The algorithm's name (<see cref="AlgorithmInfo.Name"/>).</summary>
    public required string Algorithm { get; init; }
    /// <summary><see cref="Optimizer.StepCount"/> and <see cref="Optimizer.SkippedSteps"/>.</summary>
    public long StepCount { get; init; }
    /// <summary>Steps the non-finite policy skipped (<see cref="Optimizer.SkippedSteps"/>).</summary>
    public long SkippedSteps { get; init; }
    /// <summary>Each group's hyperparameters and parameter indices (torch's <c>param_groups</c>).</summary>
    public required IReadOnlyList<ParamGroupState> ParamGroups { get; init; }
    /// <summary>Parameter index → its state; a parameter that has not stepped yet has none (as in torch).</summary>
    public required IReadOnlyDictionary<int, ParamStateEntry> State { get; init; }
    /// <summary>Schedule-Free: the parameters hold the evaluation point x (<see cref="Optimizer.EvalMode"/>); torch keeps
    /// it per group as <c>train_mode</c>.</summary>
    public bool EvalMode { get; init; }

    private static readonly byte[] Magic = "CAOPTSD\0"u8.ToArray();
    private static readonly JsonSerializerOptions Json = new() { UnmappedMemberHandling = System.Text.Json.Serialization.JsonUnmappedMemberHandling.Disallow };

    /// <summary>Writes the binary form (magic, version, then the fields; hyperparameters as JSON, buffers as float32).</summary>
    public void Write(BinaryWriter w)
    {
        w.Write(Magic);
        w.Write(Version);
        w.Write(Algorithm);
        w.Write(StepCount);
        w.Write(SkippedSteps);
        bool v2 = Version >= 2;
        if (v2) w.Write(EvalMode);
        w.Write(ParamGroups.Count);
        foreach (var g in ParamGroups)
        {
            w.Write(JsonSerializer.Serialize(g.Hyperparameters, Json));
            w.Write(g.Params.Count);
            for (int i = 0; i < g.Params.Count; i++)
            {
                w.Write(g.Params[i]);
                w.Write(g.Names[i]);
                w.Write(g.Lengths[i]);
                if (!v2) continue;
                var shape = g.Shapes?[i] ?? [g.Lengths[i]];
                w.Write(shape.Count);
                foreach (int d in shape) w.Write(d);
            }
        }
        w.Write(State.Count);
        foreach (var (index, s) in State.OrderBy(kv => kv.Key))
        {
            w.Write(index);
            w.Write(s.Step);
            w.Write(s.Beta1Power);
            w.Write(s.Beta2Power);
            w.Write(s.MuProduct);
            if (v2)
            {
                w.Write(s.LrMax);
                w.Write(s.WeightSum);
            }
            w.Write(s.Buffers.Count);
            foreach (var (name, values) in s.Buffers.OrderBy(kv => kv.Key, StringComparer.Ordinal))
            {
                w.Write(name);
                w.Write(values.Length);
                var bytes = new byte[values.Length * sizeof(float)];
                Buffer.BlockCopy(values, 0, bytes, 0, bytes.Length);
                w.Write(bytes);
            }
            if (Version < 3)
            {
                if (s.Quantized.Count > 0) throw new InvalidOperationException($"a version {Version} state dict cannot hold 8-bit state");
                continue;
            }
            w.Write(s.Quantized.Count);
            foreach (var (name, q) in s.Quantized.OrderBy(kv => kv.Key, StringComparer.Ordinal))
            {
                w.Write(name);
                w.Write((byte)q.Map);
                w.Write(QuantizedBuffer.BlockSize);
                w.Write(q.Length);
                w.Write(q.Codes);
                var bytes = new byte[q.Absmax.Length * sizeof(float)];
                Buffer.BlockCopy(q.Absmax, 0, bytes, 0, bytes.Length);
                w.Write(bytes);
            }
        }
    }

    /// <summary>Reads the binary form from <paramref name="data"/> (all of it).</summary>
    /// <exception cref="InvalidDataException">Not a state dict, another version, or malformed: the message says what.</exception>
    public static OptimizerStateDict Read(ReadOnlySpan<byte> data)
    {
        using var ms = new MemoryStream(data.ToArray(), writable: false);
        using var r = new BinaryReader(ms, Encoding.UTF8);
        try
        {
            if (!r.ReadBytes(Magic.Length).AsSpan().SequenceEqual(Magic)) throw new InvalidDataException("not an optimizer state dict (bad magic bytes)");
            int version = r.ReadInt32();
            if (version is < 1 or > CurrentVersion)
                throw new InvalidDataException($"optimizer state dict version {version}; this build reads versions 1 … {CurrentVersion}");
            bool v2 = version >= 2;
            string algorithm = r.ReadString();
            long stepCount = r.ReadInt64(), skipped = r.ReadInt64();
            bool evalMode = v2 && r.ReadBoolean();
            var groups = new ParamGroupState[Count(r, ms, 1, "parameter groups")];
            for (int g = 0; g < groups.Length; g++)
            {
                var hp = JsonSerializer.Deserialize<Hyperparameters>(r.ReadString(), Json)
                         ?? throw new InvalidDataException($"parameter group {g}: no hyperparameters");
                int n = Count(r, ms, 12, $"parameters of group {g}");
                var (ids, names, lengths, shapes) = (new int[n], new string[n], new int[n], new int[n][]);
                for (int i = 0; i < n; i++)
                {
                    (ids[i], names[i], lengths[i]) = (r.ReadInt32(), r.ReadString(), r.ReadInt32());
                    if (!v2) continue;   // not recorded: not checked
                    shapes[i] = new int[Count(r, ms, 4, $"dimensions of parameter {ids[i]}")];
                    for (int d = 0; d < shapes[i].Length; d++) shapes[i][d] = r.ReadInt32();
                }
                groups[g] = new ParamGroupState(hp, ids, names, lengths) { Shapes = v2 ? shapes : null };
            }
            var state = new Dictionary<int, ParamStateEntry>();
            int entries = Count(r, ms, 40, "state entries");
            for (int e = 0; e < entries; e++)
            {
                int index = r.ReadInt32();
                long step = r.ReadInt64();
                double b1 = r.ReadDouble(), b2 = r.ReadDouble(), mu = r.ReadDouble();
                double lrMax = v2 ? r.ReadDouble() : 0, weightSum = v2 ? r.ReadDouble() : 0;
                var buffers = new Dictionary<string, float[]>(StringComparer.Ordinal);
                int nb = Count(r, ms, 5, $"buffers of parameter {index}");
                for (int b = 0; b < nb; b++)
                {
                    string name = r.ReadString();
                    int len = Count(r, ms, sizeof(float), $"elements of {name} of parameter {index}");
                    var values = new float[len];
                    Buffer.BlockCopy(r.ReadBytes(len * sizeof(float)), 0, values, 0, len * sizeof(float));
                    if (!buffers.TryAdd(name, values)) throw new InvalidDataException($"parameter {index}: buffer {name} twice");
                }
                var quantized = new Dictionary<string, QuantizedBuffer>(StringComparer.Ordinal);
                int nq = version >= 3 ? Count(r, ms, 10, $"8-bit buffers of parameter {index}") : 0;
                for (int b = 0; b < nq; b++)
                {
                    string name = r.ReadString();
                    byte map = r.ReadByte();
                    if (map is not ((byte)QuantMap.Signed or (byte)QuantMap.Unsigned))
                        throw new InvalidDataException($"parameter {index}: 8-bit buffer {name} names map {map}, which does not exist");
                    int blockSize = r.ReadInt32();
                    if (blockSize != QuantizedBuffer.BlockSize)
                        throw new InvalidDataException($"parameter {index}: 8-bit buffer {name} has blocks of {blockSize}, this build uses {QuantizedBuffer.BlockSize}");
                    int len = Count(r, ms, 1, $"codes of {name} of parameter {index}");
                    var codes = r.ReadBytes(len);
                    int blocks = QuantizedBuffer.Blocks(len);
                    if ((long)blocks * sizeof(float) > ms.Length - ms.Position)
                        throw new InvalidDataException($"parameter {index}: 8-bit buffer {name} is cut short");
                    var absmax = new float[blocks];
                    Buffer.BlockCopy(r.ReadBytes(blocks * sizeof(float)), 0, absmax, 0, blocks * sizeof(float));
                    if (!quantized.TryAdd(name, new QuantizedBuffer((QuantMap)map, codes, absmax)) || buffers.ContainsKey(name))
                        throw new InvalidDataException($"parameter {index}: buffer {name} twice");
                }
                if (!state.TryAdd(index, new ParamStateEntry(step, b1, b2, mu, buffers, lrMax, weightSum) { Quantized = quantized }))
                    throw new InvalidDataException($"parameter {index} has two state entries");
            }
            if (ms.Position != ms.Length) throw new InvalidDataException($"{ms.Length - ms.Position} unexpected bytes after the state dict");
            return new OptimizerStateDict
            {
                Version = version, Algorithm = algorithm, StepCount = stepCount, SkippedSteps = skipped, ParamGroups = groups, State = state,
                EvalMode = evalMode,
            };
        }
        catch (Exception e) when (e is EndOfStreamException or JsonException or FormatException)
        {
            throw new InvalidDataException($"truncated or malformed optimizer state dict: {e.Message}", e);
        }
    }

    /// <summary>A count that the remaining bytes can hold (each item at least <paramref name="minBytes"/>), so a
    /// corrupt count is refused before anything is allocated.</summary>
    private static int Count(BinaryReader r, MemoryStream ms, int minBytes, string what)
    {
        int n = r.ReadInt32();
        if (n < 0 || (long)n * minBytes > ms.Length - ms.Position)
            throw new InvalidDataException($"{n} {what} cannot fit in the {ms.Length - ms.Position} bytes left");
        return n;
    }
}

/// <summary>One parameter group of a state dict: its hyperparameters and its parameters' indices, names, lengths and
/// shapes (<see cref="Shapes"/> null: not recorded, as in version 1; not checked then).</summary>
public sealed record ParamGroupState(Hyperparameters Hyperparameters, IReadOnlyList<int> Params, IReadOnlyList<string> Names, IReadOnlyList<int> Lengths)
{
    /// <summary>Each parameter's <see cref="Parameter.Shape"/>, or null.</summary>
    public IReadOnlyList<IReadOnlyList<int>>? Shapes { get; init; }
}

/// <summary>One parameter's state in a state dict: torch's <c>step</c>, the running products, the buffers by torch's names
/// (float32 in <see cref="Buffers"/>; with state_bits = 8, the 8-bit ones in <see cref="Quantized"/>, codes and absmax, under
/// the same torch names), and Schedule-Free's lr_max and weight_sum (0 for every other algorithm).</summary>
public sealed record ParamStateEntry(long Step, double Beta1Power, double Beta2Power, double MuProduct, IReadOnlyDictionary<string, float[]> Buffers,
    double LrMax = 0, double WeightSum = 0)
{
    /// <summary>The 8-bit buffers (<see cref="Hyperparameters.StateBits"/> = 8), by torch's slot names; empty for float32 state.</summary>
    public IReadOnlyDictionary<string, QuantizedBuffer> Quantized { get; init; } = new Dictionary<string, QuantizedBuffer>();
}
