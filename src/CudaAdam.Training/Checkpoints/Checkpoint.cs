using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using CudaAdam.IO;
using CudaAdam.Training.Data;

namespace CudaAdam.Training;

/// <summary>A checkpoint file that cannot be used: corrupt, truncated, of another version, or of another
/// model/optimizer/data set. The message says which and what to do.</summary>
public sealed class CheckpointException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// Saves and restores everything a <see cref="Trainer"/> or a <see cref="ProblemTrainer"/> needs to continue bitwise
/// identically. A model run (<see cref="Trainer"/>): the model's parameters, every parameter's <see cref="ParamState"/>
/// (Step, M, V, VMax, Aux and the running products β1^t, β2^t, Πμ), the sampler's permutation and position, the states
/// of the shuffling generator and of the model's own generator (<see cref="ITrainable.Generator"/>: dropout masks, or
/// the VAE's reparameterization noise), the step count and the current epoch's running sums. A problem run
/// (<see cref="ProblemTrainer"/>): x and its optimizer state, the one generator of the run (minibatch order and noise),
/// the finite sum's sampler permutation and position, the step count and the epoch's running sums.
/// </summary>
/// <remarks>
/// File layout (little-endian), version 2:
/// <code>
/// magic   "CUDAADAM-CKPT\0\0\0" (16 bytes)
/// u32     format version (2; version 1 files are model runs without the kind string and are still read)
/// i64     payload length P
/// P bytes payload: string kind ("model" or "problem"), then that kind's section (below)
/// 32      SHA-256 of everything before it
/// model:   string model description, string algorithm, string base hyperparameters (one per group, '\n'-joined),
///          i32 train count, i32 batch size, i32 epochs, string schedule,
///          i64 step, f64 epoch loss sum, i64 epoch correct, i64 epoch seen, f64 elapsed seconds,
///          u64×4 shuffle rng, u8 has model generator (dropout / VAE noise) [u64×4], i32 sampler position, i32 n, i32×n permutation,
///          parameters
/// problem: string problem name, string problem description, i32 dimension, string run (the caller's key: the job's
///          seed), string algorithm, string base hyperparameters, string max gradient norm, i32 batch size, i32 epochs,
///          i32 steps per epoch, string schedule, i64 step, f64 epoch loss sum, i64 epoch seen, f64 elapsed seconds,
///          u64×4 rng, u8 has sampler (finite sum) [i32 sampler position, i32 n, i32×n permutation], parameters
/// parameters: i32 parameter count, per parameter: string name, i32 length, f32×length values, u8 has state
///          [i64 step, f64 β1^t, f64 β2^t, f64 Πμ, then for M, V, VMax, Aux: i32 length or −1 for none, f32×length]
/// strings: i32 byte length + UTF-8
/// </code>
/// Written with <see cref="AtomicFile"/>: the previous file stays intact until the new one is complete. Loading
/// parses and checks the whole file (checksum, version, kind, every name and size, the run's settings) before it
/// changes anything, so a rejected checkpoint leaves the trainer as it was.
/// </remarks>
public static class Checkpoint
{
    public const int FormatVersion = 2;
    private const string ModelKind = "model", ProblemKind = "problem";
    private static readonly byte[] Magic = "CUDAADAM-CKPT\0\0\0"u8.ToArray();
    private const int HeaderLength = 16 + 4 + 8, HashLength = 32;

    /// <summary>Writes <paramref name="trainer"/>'s state to <paramref name="path"/> atomically.</summary>
    public static void Save(string path, Trainer trainer) => Save(path, trainer, null);

    /// <summary><see cref="Save(string, Trainer)"/> with a wrapper around the file stream (tests inject failures).</summary>
    internal static void Save(string path, Trainer trainer, Func<Stream, Stream>? wrap)
    {
        trainer.SyncToHost();   // device path: parameters and state device -> host first (same file format)
        Write(path, Serialize(trainer), wrap);
    }

    /// <summary>Writes <paramref name="trainer"/>'s state (a problem run) to <paramref name="path"/> atomically.</summary>
    /// <param name="path">The file.</param>
    /// <param name="trainer">The problem run.</param>
    /// <param name="run">What else identifies the run that the trainer cannot see (the job passes its seed); compared
    /// on <see cref="Load(string, ProblemTrainer, string)"/>.</param>
    public static void Save(string path, ProblemTrainer trainer, string run = "") => Write(path, Serialize(trainer, run), null);

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
    /// by a different model, optimizer, data set or run configuration; the trainer is unchanged.</exception>
    /// <exception cref="FileNotFoundException">No file at <paramref name="path"/>.</exception>
    public static void Load(string path, Trainer trainer)
    {
        var r = Open(path, ModelKind);
        var pending = Parse(r, trainer);
        pending();
    }

    /// <summary>Restores the problem run <paramref name="trainer"/> from <paramref name="path"/>: all or nothing.</summary>
    /// <param name="path">The file.</param>
    /// <param name="trainer">The problem run, built from the same config.</param>
    /// <param name="run">The key given to <see cref="Save(string, ProblemTrainer, string)"/> (the job's seed).</param>
    /// <exception cref="CheckpointException">The file is corrupt, truncated, of another format version or kind, or was
    /// written by a different problem, optimizer, seed or run configuration; the trainer is unchanged.</exception>
    /// <exception cref="FileNotFoundException">No file at <paramref name="path"/>.</exception>
    public static void Load(string path, ProblemTrainer trainer, string run = "")
    {
        var r = Open(path, ProblemKind);
        var pending = Parse(r, trainer, run);
        pending();
    }

    /// <summary>Reads and verifies the file; returns a reader positioned after the kind, which must be <paramref name="kind"/>.</summary>
    private static Reader Open(string path, string kind)
    {
        // A regular file only, opened without blocking: a FIFO, /dev/zero or a directory is refused at once.
        byte[] bytes;
        try { bytes = SafeFile.ReadAllBytes(path); }
        catch (Exception e) when (e is PathRefusedException or InsufficientMemoryException or UnauthorizedAccessException)
        {
            throw new CheckpointException($"checkpoint {e.Message}", e);
        }
        var (payload, version) = Verify(bytes, path);
        var r = new Reader(payload, path);
        string found = version == 1 ? ModelKind : r.Str();
        if (found != kind)
            throw found is ModelKind or ProblemKind
                ? new CheckpointException($"checkpoint '{path}' is of a {found} run, this run is a {kind} run " +
                    "(resume with the same config, or start a new run)")
                : r.Bad($"unknown checkpoint kind '{found}'");
        return r;
    }

    private static (ReadOnlyMemory<byte> Payload, uint Version) Verify(byte[] bytes, string path)
    {
        if (bytes.Length < HeaderLength + HashLength || !bytes.AsSpan(0, 16).SequenceEqual(Magic))
            throw new CheckpointException(bytes.Length >= 16 && bytes.AsSpan(0, 16).SequenceEqual(Magic)
                ? $"checkpoint '{path}' is truncated ({bytes.Length} bytes): delete it and start again, or use an older copy"
                : $"'{path}' is not a CudaAdam checkpoint (bad magic bytes)");
        uint version = BitConverter.ToUInt32(bytes, 16);
        if (version is not (1 or FormatVersion))
            throw new CheckpointException($"checkpoint '{path}' has format version {version}; this build reads versions 1 to {FormatVersion}");
        long length = BitConverter.ToInt64(bytes, 20);
        if (length < 0 || HeaderLength + length + HashLength != bytes.Length)
            throw new CheckpointException(
                $"checkpoint '{path}' is truncated or has trailing bytes: the header promises {HeaderLength + length + HashLength} bytes, " +
                $"the file has {bytes.Length}; delete it and start again, or use an older copy");
        var expected = SHA256.HashData(bytes.AsSpan(0, HeaderLength + (int)length));
        if (!expected.AsSpan().SequenceEqual(bytes.AsSpan(HeaderLength + (int)length, HashLength)))
            throw new CheckpointException($"checkpoint '{path}' is corrupt: its SHA-256 checksum does not match its content");
        return (bytes.AsMemory(HeaderLength, (int)length), version);
    }

    private static byte[] Serialize(Trainer t)
    {
        using var ms = new MemoryStream();
        using var w = new BinaryWriter(ms, Encoding.UTF8, leaveOpen: true);
        Str(w, ModelKind);
        Str(w, t.Model.Describe());
        Str(w, t.Optimizer.Algorithm.Name());
        Str(w, HyperparameterText(t.BaseHyperparameters));
        w.Write(t.Train.Count); w.Write(t.Options.BatchSize); w.Write(t.Options.Epochs);
        Str(w, t.Options.Schedule.ToString());
        var (step, lossSum, correct, seen, elapsed) = t.Counters;
        w.Write(step); w.Write(lossSum); w.Write(correct); w.Write(seen); w.Write(elapsed);
        foreach (var word in t.Sampler.Rng.GetState()) w.Write(word);
        w.Write(t.DropoutRng is not null);
        if (t.DropoutRng is not null) foreach (var word in t.DropoutRng.GetState()) w.Write(word);
        w.Write(t.Sampler.Position);
        w.Write(t.Sampler.Order.Count);
        foreach (int i in t.Sampler.Order) w.Write(i);
        Parameters(w, t.Model.Parameters, t.Optimizer);
        w.Flush();
        return ms.ToArray();
    }

    private static byte[] Serialize(ProblemTrainer t, string run)
    {
        using var ms = new MemoryStream();
        using var w = new BinaryWriter(ms, Encoding.UTF8, leaveOpen: true);
        Str(w, ProblemKind);
        Str(w, t.Problem.Name);
        Str(w, t.Problem.Description);
        w.Write(t.Problem.Dimension);
        Str(w, run);
        Str(w, t.Optimizer.Algorithm.Name());
        Str(w, HyperparameterText(t.BaseHyperparameters));
        Str(w, GradNormText(t.Optimizer));
        w.Write(t.Options.BatchSize); w.Write(t.Options.Epochs); w.Write(t.StepsPerEpoch);
        Str(w, t.Options.Schedule.ToString());
        var (step, lossSum, seen, elapsed) = t.Counters;
        w.Write(step); w.Write(lossSum); w.Write(seen); w.Write(elapsed);
        foreach (var word in t.Rng.GetState()) w.Write(word);
        w.Write(t.Sampler is not null);
        if (t.Sampler is not null)
        {
            w.Write(t.Sampler.Position);
            w.Write(t.Sampler.Order.Count);
            foreach (int i in t.Sampler.Order) w.Write(i);
        }
        Parameters(w, [t.X], t.Optimizer);
        w.Flush();
        return ms.ToArray();
    }

    private static void Parameters(BinaryWriter w, IReadOnlyList<Parameter> ps, Optimizer optimizer)
    {
        w.Write(ps.Count);
        foreach (var p in ps)
        {
            Str(w, p.Name);
            Floats(w, p.Data);
            var s = optimizer.State(p);
            w.Write(s is not null);
            if (s is null) continue;
            w.Write(s.Step); w.Write(s.Beta1Power); w.Write(s.Beta2Power); w.Write(s.MuProduct);
            foreach (var buf in new[] { s.M, s.V, s.VMax, s.Aux })
                if (buf is null) w.Write(-1); else Floats(w, buf);
        }
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

    private static string GradNormText(Optimizer o) =>
        o.MaxGradNorm is { } c ? c.ToString("R", System.Globalization.CultureInfo.InvariantCulture) : "none";

    private static string HyperparameterText(IReadOnlyList<Hyperparameters> hs) => string.Join("\n", hs.Select(h => h.ToString()));

    /// <summary>Reads and checks the whole payload; returns the action that applies it (which cannot fail).</summary>
    private static Action Parse(Reader r, Trainer t)
    {
        Expect("model", r.Str(), t.Model.Describe());
        Expect("optimizer", r.Str(), t.Optimizer.Algorithm.Name());
        Expect("hyperparameters", r.Str(), HyperparameterText(t.BaseHyperparameters));
        Expect("training set size", r.I32().ToString(), t.Train.Count.ToString());
        Expect("batch size", r.I32().ToString(), t.Options.BatchSize.ToString());
        Expect("epochs", r.I32().ToString(), t.Options.Epochs.ToString());
        Expect("schedule", r.Str(), t.Options.Schedule.ToString());
        long step = r.I64();
        double lossSum = r.F64();
        long correct = r.I64(), seen = r.I64();
        double elapsed = r.F64();
        if (step < 0 || step > t.TotalSteps) throw r.Bad($"step {step} is outside [0, {t.TotalSteps}]");
        ulong[] shuffle = [r.U64(), r.U64(), r.U64(), r.U64()];
        bool hasDropout = r.Bool();
        ulong[]? dropout = hasDropout ? [r.U64(), r.U64(), r.U64(), r.U64()] : null;
        if (hasDropout != (t.DropoutRng is not null))
            throw r.Mismatch("model generator (dropout masks / VAE noise)", hasDropout ? "present" : "absent", t.DropoutRng is not null ? "present" : "absent");
        int position = r.I32();
        int n = r.I32();
        if (n != t.Train.Count) throw r.Bad($"sampler holds {n} indices, the training set {t.Train.Count}");
        var order = new int[n];
        for (int i = 0; i < n; i++) order[i] = r.I32();
        try
        {
            new MinibatchSampler(t.Train.Count, t.Options.BatchSize, new Rng(0)).Restore(order, position);
            new Rng(0).SetState(shuffle);
            if (dropout is not null) new Rng(0).SetState(dropout);
        }
        catch (ArgumentException e) { throw r.Bad(e.Message); }

        var applyParameters = ParseParameters(r, t.Model.Parameters, t.Optimizer);
        return () =>
        {
            applyParameters();
            t.Sampler.Rng.SetState(shuffle);
            if (dropout is not null) t.DropoutRng!.SetState(dropout);
            t.Sampler.Restore(order, position);
            t.RestoreCounters(step, lossSum, correct, seen, elapsed);
            t.SyncFromHost();   // device path: host -> device
        };

        void Expect(string what, string found, string expected)
        {
            if (found != expected) throw r.Mismatch(what, found, expected);
        }
    }

    /// <summary>Reads and checks a problem run's payload; returns the action that applies it (which cannot fail).</summary>
    private static Action Parse(Reader r, ProblemTrainer t, string run)
    {
        Expect("problem", r.Str(), t.Problem.Name);
        Expect("problem description", r.Str(), t.Problem.Description);
        Expect("dimension", r.I32().ToString(), t.Problem.Dimension.ToString());
        Expect("run (seed)", r.Str(), run);
        Expect("optimizer", r.Str(), t.Optimizer.Algorithm.Name());
        Expect("hyperparameters", r.Str(), HyperparameterText(t.BaseHyperparameters));
        Expect("max gradient norm", r.Str(), GradNormText(t.Optimizer));
        Expect("batch size", r.I32().ToString(), t.Options.BatchSize.ToString());
        Expect("epochs", r.I32().ToString(), t.Options.Epochs.ToString());
        Expect("steps per epoch", r.I32().ToString(), t.StepsPerEpoch.ToString());
        Expect("schedule", r.Str(), t.Options.Schedule.ToString());
        long step = r.I64();
        double lossSum = r.F64();
        long seen = r.I64();
        double elapsed = r.F64();
        if (step < 0 || step > t.TotalSteps) throw r.Bad($"step {step} is outside [0, {t.TotalSteps}]");
        if (seen < 0 || seen > t.StepsPerEpoch) throw r.Bad($"{seen} steps in the current epoch, which has {t.StepsPerEpoch}");
        ulong[] rng = [r.U64(), r.U64(), r.U64(), r.U64()];
        bool hasSampler = r.Bool();
        if (hasSampler != (t.Sampler is not null))
            throw r.Mismatch("minibatch sampler (finite sum)", hasSampler ? "present" : "absent", t.Sampler is not null ? "present" : "absent");
        int position = 0;
        int[] order = [];
        if (t.Sampler is not null)
        {
            position = r.I32();
            int n = r.I32();
            if (n != t.Sampler.Count) throw r.Bad($"sampler holds {n} indices, the problem {t.Sampler.Count}");
            order = new int[n];
            for (int i = 0; i < n; i++) order[i] = r.I32();
        }
        try
        {
            if (t.Sampler is not null) new MinibatchSampler(t.Sampler.Count, t.Options.BatchSize, new Rng(0)).Restore(order, position);
            new Rng(0).SetState(rng);
        }
        catch (ArgumentException e) { throw r.Bad(e.Message); }
        var applyParameters = ParseParameters(r, [t.X], t.Optimizer);
        return () =>
        {
            applyParameters();
            t.Rng.SetState(rng);
            t.Sampler?.Restore(order, position);
            t.RestoreCounters(step, lossSum, seen, elapsed);
        };

        void Expect(string what, string found, string expected)
        {
            if (found != expected) throw r.Mismatch(what, found, expected);
        }
    }

    /// <summary>Reads and checks the parameters section (names, sizes, optimizer state layouts); returns the action
    /// that copies values and states in (which cannot fail). The reader must then be at the end.</summary>
    private static Action ParseParameters(Reader r, IReadOnlyList<Parameter> ps, Optimizer optimizer)
    {
        int count = r.I32();
        if (count != ps.Count) throw r.Mismatch("parameter count", count.ToString(), ps.Count.ToString());
        var values = new float[count][];
        var states = new ParamState?[count];
        for (int i = 0; i < count; i++)
        {
            var p = ps[i];
            string name = r.Str();
            if (name != p.Name) throw r.Mismatch($"parameter {i}", name, p.Name);
            values[i] = r.Floats();
            if (values[i].Length != p.Data.Length) throw r.Mismatch($"size of '{p.Name}'", values[i].Length.ToString(), p.Data.Length.ToString());
            if (!r.Bool()) continue;
            var s = new ParamState { Step = r.I64(), Beta1Power = r.F64(), Beta2Power = r.F64(), MuProduct = r.F64() };
            s.M = r.FloatsOrNull(); s.V = r.FloatsOrNull(); s.VMax = r.FloatsOrNull(); s.Aux = r.FloatsOrNull();
            states[i] = s;
        }
        if (!r.AtEnd) throw r.Bad("unexpected bytes after the last parameter");
        // The optimizer checks each state's layout; do it for all before changing any.
        var probe = new Optimizer(optimizer.Algorithm, optimizer.Groups.Select(g => new ParamGroup(g.Params, g.Hyperparameters)));
        for (int i = 0; i < count; i++)
        {
            if (states[i] is not { } s) continue;
            try { probe.SetState(ps[i], s); }
            catch (InvalidOperationException e) { throw r.Bad(e.Message); }
        }
        return () =>
        {
            for (int i = 0; i < count; i++)
            {
                values[i].CopyTo(ps[i].Data, 0);
                if (states[i] is { } s) optimizer.SetState(ps[i], s);
            }
        };
    }

    /// <summary>A bounds-checked reader over the payload; every failure names the file.</summary>
    private sealed class Reader(ReadOnlyMemory<byte> data, string path)
    {
        private int _pos;

        public bool AtEnd => _pos == data.Length;

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
            if (n < 0) throw Bad($"negative array length {n}");
            long bytes = 4L * n;   // 64-bit: n > 2^29 - 1 would overflow an int
            if (bytes > data.Length - _pos) throw Bad($"an array of {n} floats at byte {_pos} runs past the end of the payload");
            return MemoryMarshal.Cast<byte, float>(Take((int)bytes)).ToArray();
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
