#pragma warning disable CS1591 // CS1591 backlog (issue 13): 1 public members here have no XML doc yet; document them, then delete this line
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using CudaAdam.IO;
using CudaAdam.Training.Data;

namespace CudaAdam.Training;

/// <summary>A checkpoint file that cannot be used: corrupt, truncated, of another version, or of another
/// model/optimizer/data set. The message says which and what to do.</summary>
public sealed class CheckpointException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// Saves and restores everything a <see cref="Trainer"/> needs to continue bitwise identically, as per-component
/// sections: the run's fingerprint (<see cref="Trainer.Fingerprint"/>: the objective — model and data sizes, or the
/// problem —, the optimizer and its hyperparameters, the training settings, and the caller's fields), the parameters
/// (a model's, or a problem's x), the optimizer state (every parameter's <see cref="ParamState"/>: Step, M, V, VMax,
/// Aux and the running products β1^t, β2^t, Πμ), the sampler's permutation and position, every generator's state
/// (shuffling, the model's own: dropout masks or VAE noise; a problem's one generator), and the counters (the step
/// count and the current epoch's running sums).
/// </summary>
/// <remarks>
/// File layout (little-endian), version 3:
/// <code>
/// magic   "CUDAADAM-CKPT\0\0\0" (16 bytes)
/// u32     format version (3; versions 1 and 2 are refused: they do not record the whole run)
/// i64     payload length P
/// P bytes payload: i32 section count, per section: string name, i64 length, that many bytes; the sections, in order:
///   fingerprint  i32 n, n × (string field, string value); the first field is the kind ("model" or "problem")
///   parameters   i32 n, n × (string name, i32 length, f32×length values)
///   optimizer    i32 n, n × (string name, u8 has state [i64 step, f64 β1^t, f64 β2^t, f64 Πμ,
///                then for M, V, VMax, Aux: i32 length or −1 for none, f32×length])
///   sampler      u8 has sampler [i32 position, i32 n, i32×n permutation]
///   generators   i32 n, n × (string name, u64×4 state)
///   counters     i64 step, f64 epoch loss sum, i64 epoch correct, i64 epoch seen, f64 elapsed seconds
/// 32      SHA-256 of everything before it
/// strings: i32 byte length + UTF-8
/// </code>
/// Written with <see cref="AtomicFile"/>: the previous file stays intact until the new one is complete. Loading
/// parses and checks the whole file (checksum, version, every section, name and size, the fingerprint) before it
/// changes anything, so a rejected checkpoint leaves the trainer as it was.
/// </remarks>
public static class Checkpoint
{
    public const int FormatVersion = 3;
    private static readonly byte[] Magic = "CUDAADAM-CKPT\0\0\0"u8.ToArray();
    private const int HeaderLength = 16 + 4 + 8, HashLength = 32;
    private static readonly string[] Sections = ["fingerprint", "parameters", "optimizer", "sampler", "generators", "counters"];

    /// <summary>Writes <paramref name="trainer"/>'s state to <paramref name="path"/> atomically.</summary>
    public static void Save(string path, Trainer trainer) => Save(path, trainer, null);

    /// <summary><see cref="Save(string, Trainer)"/> with a wrapper around the file stream (tests inject failures).</summary>
    internal static void Save(string path, Trainer trainer, Func<Stream, Stream>? wrap)
    {
        trainer.SyncToHost();   // device path: parameters and state device -> host first (same file format)
        Write(path, Serialize(trainer), wrap);
    }

    private static void Write(string path, byte[] payload, Func<Stream, Stream>? wrap)
    {
        AtomicFile.Write(path, stream =>
        {
            using var s = wrap?.Invoke(stream) ?? new NonClosing(stream);
            using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            var header = new byte[HeaderLength];
            Magic.CopyTo(header, 0);
            BitConverter.TryWriteBytes(header.AsSpan(16), (uint)FormatVersion);
            BitConverter.TryWriteBytes(header.AsSpan(20), (long)payload.Length);
            sha.AppendData(header);
            sha.AppendData(payload);
            s.Write(header);
            s.Write(payload);
            s.Write(sha.GetHashAndReset());
            s.Flush();
        });
    }

    /// <summary>Restores <paramref name="trainer"/> from <paramref name="path"/>: all or nothing.</summary>
    /// <exception cref="CheckpointException">The file is corrupt, truncated, of another format version, or was written
    /// by another run (its fingerprint differs: the message names the field); the trainer is unchanged.</exception>
    /// <exception cref="FileNotFoundException">No file at <paramref name="path"/>.</exception>
    public static void Load(string path, Trainer trainer)
    {
        // A regular file only, opened without blocking: a FIFO, /dev/zero or a directory is refused at once.
        byte[] bytes;
        try { bytes = SafeFile.ReadAllBytes(path); }
        catch (Exception e) when (e is PathRefusedException or InsufficientMemoryException or UnauthorizedAccessException)
        {
            throw new CheckpointException($"checkpoint {e.Message}", e);
        }
        var sections = SplitSections(new Reader(Verify(bytes, path), path));
        var apply = Parse(sections, trainer);
        apply();
    }

    private static ReadOnlyMemory<byte> Verify(byte[] bytes, string path)
    {
        if (bytes.Length < HeaderLength + HashLength || !bytes.AsSpan(0, 16).SequenceEqual(Magic))
            throw new CheckpointException(bytes.Length >= 16 && bytes.AsSpan(0, 16).SequenceEqual(Magic)
                ? $"checkpoint '{path}' is truncated ({bytes.Length} bytes): delete it and start again, or use an older copy"
                : $"'{path}' is not a CudaAdam checkpoint (bad magic bytes)");
        uint version = BitConverter.ToUInt32(bytes, 16);
        if (version is 1 or 2)
            throw new CheckpointException(
                $"checkpoint '{path}' has format version {version}, written before checkpoints recorded the whole run (seed, data, " +
                $"clipping, backend: version {FormatVersion}); this build cannot check that it belongs to this run and does not read it: " +
                "start the run again, or finish it with the cudaadam build that wrote it");
        if (version != FormatVersion)
            throw new CheckpointException($"checkpoint '{path}' has format version {version}; this build reads version {FormatVersion}");
        long length = BitConverter.ToInt64(bytes, 20);
        if (length < 0 || HeaderLength + length + HashLength != bytes.Length)
            throw new CheckpointException(
                $"checkpoint '{path}' is truncated or has trailing bytes: the header promises {HeaderLength + length + HashLength} bytes, " +
                $"the file has {bytes.Length}; delete it and start again, or use an older copy");
        var expected = SHA256.HashData(bytes.AsSpan(0, HeaderLength + (int)length));
        if (!expected.AsSpan().SequenceEqual(bytes.AsSpan(HeaderLength + (int)length, HashLength)))
            throw new CheckpointException($"checkpoint '{path}' is corrupt: its SHA-256 checksum does not match its content");
        return bytes.AsMemory(HeaderLength, (int)length);
    }

    private static byte[] Serialize(Trainer t)
    {
        using var ms = new MemoryStream();
        using var w = new BinaryWriter(ms, Encoding.UTF8, leaveOpen: true);
        w.Write(Sections.Length);
        Section(w, "fingerprint", s =>
        {
            s.Write(t.Fingerprint.Count);
            foreach (var (field, value) in t.Fingerprint) { Str(s, field); Str(s, value); }
        });
        Section(w, "parameters", s =>
        {
            s.Write(t.Parameters.Count);
            foreach (var p in t.Parameters) { Str(s, p.Name); Floats(s, p.Data); }
        });
        Section(w, "optimizer", s => WriteOptimizerState(s, t.Optimizer));
        Section(w, "sampler", s =>
        {
            s.Write(t.Sampler is not null);
            if (t.Sampler is null) return;
            s.Write(t.Sampler.Position);
            s.Write(t.Sampler.Order.Count);
            foreach (int i in t.Sampler.Order) s.Write(i);
        });
        Section(w, "generators", s =>
        {
            s.Write(t.Objective.Generators.Count);
            foreach (var (name, rng) in t.Objective.Generators)
            {
                Str(s, name);
                foreach (var word in rng.GetState()) s.Write(word);
            }
        });
        Section(w, "counters", s =>
        {
            var (step, lossSum, correct, seen, elapsed) = t.Counters;
            s.Write(step); s.Write(lossSum); s.Write(correct); s.Write(seen); s.Write(elapsed);
        });
        w.Flush();
        return ms.ToArray();
    }

    private static void Section(BinaryWriter w, string name, Action<BinaryWriter> write)
    {
        using var ms = new MemoryStream();
        using (var s = new BinaryWriter(ms, Encoding.UTF8, leaveOpen: true)) write(s);
        Str(w, name);
        w.Write(ms.Length);
        w.Write(ms.GetBuffer(), 0, (int)ms.Length);
    }

    /// <summary>The optimizer section: the optimizer's state dict (<see cref="Optimizer.StateDict"/>, torch's shape,
    /// its own versioned binary form).</summary>
    private static void WriteOptimizerState(BinaryWriter w, Optimizer optimizer) => optimizer.StateDict().Write(w);

    /// <summary>Reads the optimizer section and checks it against the optimizer (<see cref="Optimizer.ValidateStateDict"/>:
    /// groups, lengths, slots, running products) and the run (steps within the run's, finite buffers, second moments not
    /// negative); returns the action that loads it (which cannot fail).</summary>
    private static Action ReadOptimizerState(Reader r, Optimizer optimizer, long trainerStep)
    {
        OptimizerStateDict dict;
        try { dict = OptimizerStateDict.Read(r.Rest().Span); }
        catch (InvalidDataException e) { throw r.Bad(e.Message); }
        try { optimizer.ValidateStateDict(dict); }
        catch (ArgumentException e) { throw r.Invalid(e.Message); }
        var names = dict.ParamGroups.SelectMany(g => g.Names).ToArray();
        var own = optimizer.Groups.SelectMany(g => g.Params).ToArray();
        for (int i = 0; i < own.Length; i++)
            if (names[i] != own[i].Name) throw r.Mismatch($"optimizer parameter {i}", names[i], own[i].Name);
        var info = optimizer.Algorithm.Info();
        foreach (var (i, e) in dict.State)
        {
            string name = own[i].Name;
            if (e.Step > trainerStep)
                throw r.Invalid($"the optimizer state of '{name}' is at step {e.Step}, outside [0, {trainerStep}] (the run's step)");
            foreach (var (slot, q) in e.Quantized)
            {
                // 8-bit state: every code is a valid map index; the block maxima must be finite and >= 0.
                CheckFinite(r, $"the optimizer state {slot} (8-bit, block absmax) of '{name}'", q.Absmax);
                if (Array.FindIndex(q.Absmax, a => a < 0) is var k and >= 0)
                    throw r.Invalid(FormattableString.Invariant($"the optimizer state {slot} of '{name}' holds a block absmax of {q.Absmax[k]} in block {k}; an absolute maximum is never negative"));
            }
            foreach (var (slot, buffer) in e.Buffers)
            {
                CheckFinite(r, $"the optimizer state {slot} of '{name}'", buffer);
                bool secondMoment = info.State.First(x => x.TorchName == slot).Buffer is StateBuffer.V or StateBuffer.VMax;
                if (secondMoment && Array.FindIndex(buffer, v => v < 0) is var k and >= 0)
                    throw r.Invalid(FormattableString.Invariant($"the optimizer state {slot} of '{name}' holds {buffer[k]} at element {k}; a second moment is never negative"));
            }
        }
        return () => optimizer.LoadStateDict(dict);
    }

    private static void CheckFinite(Reader r, string what, float[] values)
    {
        int i = Array.FindIndex(values, v => !float.IsFinite(v));
        if (i >= 0) throw r.Invalid(FormattableString.Invariant($"{what} holds {values[i]} at element {i}, which is not finite"));
    }

    private static void Str(BinaryWriter w, string s)
    {
        var b = Encoding.UTF8.GetBytes(s);
        w.Write(b.Length);
        w.Write(b);
    }

    private static void Floats(BinaryWriter w, float[] a)
    {
        w.Write(a.Length);
        w.Write(MemoryMarshal.AsBytes(a.AsSpan()));
    }

    /// <summary>The payload's sections by name: exactly <see cref="Sections"/>, in order.</summary>
    private static Dictionary<string, Reader> SplitSections(Reader r)
    {
        int count = r.I32();
        if (count != Sections.Length) throw r.Bad($"{count} sections, expected {Sections.Length}");
        var result = new Dictionary<string, Reader>(StringComparer.Ordinal);
        foreach (string expected in Sections)
        {
            string name = r.Str();
            if (name != expected) throw r.Bad($"section '{name}' where '{expected}' belongs");
            result[name] = r.Sub(r.I64());
        }
        r.ExpectEnd();
        return result;
    }

    /// <summary>Reads and checks every section; returns the action that applies them (which cannot fail).</summary>
    private static Action Parse(Dictionary<string, Reader> sections, Trainer t)
    {
        CheckFingerprint(sections["fingerprint"], t.Fingerprint);

        var r = sections["counters"];
        long step = r.I64();
        double lossSum = r.F64();
        long correct = r.I64(), seen = r.I64();
        double elapsed = r.F64();
        r.ExpectEnd();
        CheckCounters(r, t, step, lossSum, correct, seen, elapsed);

        r = sections["parameters"];
        var ps = t.Parameters;
        int count = r.I32();
        if (count != ps.Count) throw r.Mismatch("parameter count", count.ToString(), ps.Count.ToString());
        var values = new float[count][];
        for (int i = 0; i < count; i++)
        {
            string name = r.Str();
            if (name != ps[i].Name) throw r.Mismatch($"parameter {i}", name, ps[i].Name);
            values[i] = r.Floats();
            if (values[i].Length != ps[i].Data.Length)
                throw r.Mismatch($"size of '{ps[i].Name}'", values[i].Length.ToString(), ps[i].Data.Length.ToString());
            CheckFinite(r, $"parameter '{name}'", values[i]);
        }
        r.ExpectEnd();

        var applyState = ReadOptimizerState(sections["optimizer"], t.Optimizer, step);

        r = sections["sampler"];
        bool hasSampler = r.Bool();
        if (hasSampler != (t.Sampler is not null))
            throw r.Mismatch("minibatch sampler", hasSampler ? "present" : "absent", t.Sampler is not null ? "present" : "absent");
        int position = 0;
        int[] order = [];
        if (t.Sampler is not null)
        {
            position = r.I32();
            int n = r.I32();
            if (n != t.Sampler.Count) throw r.Bad($"sampler holds {n} indices, the data set {t.Sampler.Count}");
            order = new int[n];
            for (int i = 0; i < n; i++) order[i] = r.I32();
            try { new MinibatchSampler(t.Sampler.Count, t.Sampler.BatchSize, new Rng(0)).Restore(order, position); }
            catch (ArgumentException e) { throw r.Bad(e.Message); }
        }
        r.ExpectEnd();

        r = sections["generators"];
        var generators = t.Objective.Generators;
        int ng = r.I32();
        if (ng != generators.Count)
            throw r.Mismatch("generators", ng.ToString(), $"{generators.Count} ({string.Join(", ", generators.Select(g => g.Name))})");
        var rngStates = new ulong[ng][];
        for (int i = 0; i < ng; i++)
        {
            string name = r.Str();
            if (name != generators[i].Name) throw r.Mismatch($"generator {i}", name, generators[i].Name);
            rngStates[i] = [r.U64(), r.U64(), r.U64(), r.U64()];
            try { new Rng(0).SetState(rngStates[i]); }
            catch (ArgumentException e) { throw r.Bad(e.Message); }
        }
        r.ExpectEnd();


        return () =>
        {
            for (int i = 0; i < count; i++) values[i].CopyTo(ps[i].Data, 0);
            applyState();
            for (int i = 0; i < ng; i++) generators[i].Rng.SetState(rngStates[i]);
            t.Sampler?.Restore(order, position);
            t.RestoreCounters(step, lossSum, correct, seen, elapsed);
            t.SyncFromHost();   // device path: host -> device
        };
    }

    /// <summary>The counters must be ones the trainer can have reached: a step in [0, T]; the epoch's loss sum finite,
    /// its counts not negative, empty at an epoch boundary (the epoch's record took them), at most the batches of the
    /// epoch so far otherwise.</summary>
    private static void CheckCounters(Reader r, Trainer t, long step, double lossSum, long correct, long seen, double elapsed)
    {
        if (step < 0 || step > t.TotalSteps) throw r.Invalid($"step {step} is outside [0, {t.TotalSteps}]");
        if (!double.IsFinite(lossSum)) throw r.Invalid(FormattableString.Invariant($"the epoch's loss sum is {lossSum}, which is not finite"));
        if (!(double.IsFinite(elapsed) && elapsed >= 0)) throw r.Invalid(FormattableString.Invariant($"the elapsed time is {elapsed} s"));
        long inEpoch = step % t.StepsPerEpoch;
        long most = inEpoch * t.Options.BatchSize;
        if (seen < 0 || seen > most || (inEpoch > 0 && seen == 0))
            throw r.Invalid($"the epoch's running sums count {seen} samples after {inEpoch} of its steps (at most {most}, at least 1 after a step)");
        if (correct < 0 || correct > seen) throw r.Invalid($"the epoch's running sums count {correct} correct of {seen} samples");
    }

    /// <summary>The file's fingerprint must be this run's, field by field; a difference names the first field.</summary>
    private static void CheckFingerprint(Reader r, IReadOnlyList<(string Field, string Value)> expected)
    {
        int n = r.I32();
        if (n < 0) throw r.Bad($"negative field count {n}");
        var found = new List<(string Field, string Value)>();
        for (int i = 0; i < n; i++) found.Add((r.Str(), r.Str()));
        r.ExpectEnd();
        string kind = expected[0].Value;
        string foundKind = found.FirstOrDefault(f => f.Field == "kind").Value ?? "?";
        if (foundKind != kind)
            throw new CheckpointException($"checkpoint '{r.Path}' is of a {foundKind} run, this run is a {kind} run " +
                "(resume with the same config, or start a new run)");
        var values = found.ToDictionary(f => f.Field, f => f.Value, StringComparer.Ordinal);
        if (values.ContainsKey("config hash") && expected.Any(e => e.Field == "config"))
            throw new CheckpointException($"checkpoint '{r.Path}' was written by an older CudaAdam build, which recorded a hash of every " +
                "config key; this build records the settings that differ from their defaults, so the two cannot be compared " +
                "(resume it with the build that wrote it, or start a new run)");
        foreach (var (field, value) in expected)
        {
            if (field == "config" && values.TryGetValue(field, out var recorded) && recorded != value)
                throw new CheckpointException($"checkpoint '{r.Path}' does not belong to this run: its config {ConfigDifference(recorded, value)} " +
                                              "(resume with the same config, or start a new run)");
            if (!values.TryGetValue(field, out var v) || (v != value && !(field == "hyperparameters" && SameHyperparameters(v, value))))
                throw r.Mismatch(field, v ?? "not recorded", value);
        }
        foreach (var (field, value) in found)
            if (!expected.Any(e => e.Field == field)) throw r.Mismatch(field, value, "not recorded");
    }

    /// <summary>The first path at which two configs' non-default settings (<c>TrainJob.ConfigFingerprint</c>) differ, as
    /// "has optimizers[0].lr = 0.001, this run's 0.002" (a setting left at its default is absent from the record).</summary>
    internal static string ConfigDifference(string recorded, string current)
    {
        static JsonNode? Parse(string s)
        {
            try { return JsonNode.Parse(s); }
            catch (System.Text.Json.JsonException) { return null; }
        }
        var (a, b) = (Parse(recorded), Parse(current));
        if (a is null || b is null) return $"is '{recorded}', this run's is '{current}'";
        var (path, x, y) = First(a, b, "") ?? ("", a, b);
        static string Show(JsonNode? n) => n is null ? "its default" : n.ToJsonString();
        return $"has {(path.Length == 0 ? "settings" : path)} = {Show(x)}, this run's {Show(y)}";

        static (string, JsonNode?, JsonNode?)? First(
            JsonNode? a, JsonNode? b, string path)
        {
            if (JsonNode.DeepEquals(a, b)) return null;
            if (a is JsonObject oa && b is JsonObject ob)
            {
                foreach (var key in oa.Select(p => p.Key).Union(ob.Select(p => p.Key)))
                    if (First(oa[key], ob[key], path.Length == 0 ? key : $"{path}.{key}") is { } d) return d;
                return null;
            }
            if (a is JsonArray xa && b is JsonArray xb && xa.Count == xb.Count)
            {
                for (int i = 0; i < xa.Count; i++)
                    if (First(xa[i], xb[i], $"{path}[{i}]") is { } d) return d;
                return null;
            }
            return (path, a, b);
        }
    }

    /// <summary>
    /// Whether a recorded hyperparameters fingerprint (<see cref="Hyperparameters"/>' record printing, one line per group)
    /// names this run's: equal, except that a property this build has and the checkpoint's build did not (a field added
    /// since, such as <see cref="Hyperparameters.StateBits"/>) may be missing from the record when this run leaves it at
    /// its default. So a checkpoint from before a new hyperparameter resumes the run it belongs to.
    /// </summary>
    internal static bool SameHyperparameters(string recorded, string current)
    {
        var (r, c) = (recorded.Split('\n'), current.Split('\n'));
        if (r.Length != c.Length) return false;
        var defaults = Properties(Hyperparameters.Defaults(Algorithm.Adam).ToString());   // the record's own defaults: Adam's row changes none
        for (int g = 0; g < r.Length; g++)
        {
            var (rp, cp) = (Properties(r[g]), Properties(c[g]));
            if (rp is null || cp is null || defaults is null) return false;
            if (rp.Keys.Any(k => !cp.ContainsKey(k))) return false;
            foreach (var (key, value) in cp)
                if (rp.TryGetValue(key, out var was) ? was != value : !(defaults.TryGetValue(key, out var d) && d == value)) return false;
        }
        return true;

        // "Hyperparameters { Lr = 0.001, Beta1 = 0.9, ... }" → { Lr: "0.001", ... }; null when it is not that shape.
        static Dictionary<string, string>? Properties(string printed)
        {
            const string Head = "Hyperparameters { ", Tail = " }";
            if (!printed.StartsWith(Head, StringComparison.Ordinal) || !printed.EndsWith(Tail, StringComparison.Ordinal)) return null;
            var result = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var part in printed[Head.Length..^Tail.Length].Split(", "))
            {
                int eq = part.IndexOf(" = ", StringComparison.Ordinal);
                if (eq <= 0 || !result.TryAdd(part[..eq], part[(eq + 3)..])) return null;
            }
            return result;
        }
    }

    /// <summary>A bounds-checked reader over the payload; every failure names the file.</summary>
    private sealed class Reader(ReadOnlyMemory<byte> data, string path)
    {
        private int _pos;

        public string Path => path;

        /// <summary>The rest of the data (a section read by another parser), which this reader then skips.</summary>
        public ReadOnlyMemory<byte> Rest()
        {
            var rest = data[_pos..];
            _pos = data.Length;
            return rest;
        }

        public void ExpectEnd()
        {
            if (_pos != data.Length) throw Bad($"{data.Length - _pos} unexpected bytes at the end of a section");
        }

        /// <summary>A reader over the next <paramref name="length"/> bytes (a section), which this one skips.</summary>
        public Reader Sub(long length)
        {
            if (length < 0 || length > data.Length - _pos) throw Bad($"a section of {length} bytes at byte {_pos} runs past the end of the payload");
            var sub = new Reader(data.Slice(_pos, (int)length), path);
            _pos += (int)length;
            return sub;
        }

        private ReadOnlySpan<byte> Take(int n)
        {
            if (n < 0 || _pos + n > data.Length) throw Bad($"a field at byte {_pos} runs past the end of the payload");
            var s = data.Span.Slice(_pos, n);
            _pos += n;
            return s;
        }

        public int I32() => BitConverter.ToInt32(Take(4));
        public long I64() => BitConverter.ToInt64(Take(8));
        public ulong U64() => BitConverter.ToUInt64(Take(8));
        public double F64() => BitConverter.ToDouble(Take(8));
        public bool Bool() => Take(1)[0] switch { 0 => false, 1 => true, var b => throw Bad($"byte {b} is not a boolean") };
        public string Str() => Encoding.UTF8.GetString(Take(I32()));

        public float[] Floats()
        {
            int n = I32();
            // 64-bit: a length past 2^29 floats must be refused as too long, not overflow the byte count.
            if (n < 0 || 4L * n > data.Length - _pos) throw Bad($"an array of {n} floats at byte {_pos} runs past the end of its section");
            return MemoryMarshal.Cast<byte, float>(Take(4 * n)).ToArray();
        }

        public float[]? FloatsOrNull()
        {
            if (_pos + 4 > data.Length) throw Bad($"a field at byte {_pos} runs past the end of the payload");
            if (BitConverter.ToInt32(data.Span.Slice(_pos, 4)) != -1) return Floats();
            _pos += 4;
            return null;
        }

        public CheckpointException Bad(string what) =>
            new($"checkpoint '{path}' is malformed ({what}) although its checksum matches: it was written by an incompatible build");

        public CheckpointException Invalid(string what) =>
            new($"checkpoint '{path}' holds a state no run can reach ({what}) although its checksum matches: it was changed, " +
                "or written by a faulty build; use an older copy, or delete it and start again");

        public CheckpointException Mismatch(string what, string found, string expected) =>
            new($"checkpoint '{path}' does not belong to this run: its {what} is '{found}', this run's is '{expected}' " +
                "(resume with the same config, or start a new run)");
    }

    /// <summary>Keeps AtomicFile's stream open when the writer's wrapper is disposed.</summary>
    private sealed class NonClosing(Stream inner) : Stream
    {
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => inner.Length;
        public override long Position { get => inner.Position; set => throw new NotSupportedException(); }
        public override void Flush() => inner.Flush();
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => inner.Write(buffer, offset, count);
        public override void Write(ReadOnlySpan<byte> buffer) => inner.Write(buffer);
    }
}
