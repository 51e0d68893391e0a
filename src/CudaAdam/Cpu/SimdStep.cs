using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace CudaAdam.Cpu;

/// <summary>
/// The fast CPU step: every algorithm of <see cref="Reference.Reference"/> vectorized with
/// <c>System.Runtime.Intrinsics</c> (512-bit lanes where the CPU has them, then 256, 128, and the scalar tail), the same
/// IEEE operations in the same order as the reference, so the result is BITWISE the reference's (signed zeros, NaN
/// and <see cref="MathF.Max(float, float)"/> semantics included; see <see cref="VecMath"/>). Multi-threaded over fixed
/// chunks by <see cref="SimdStepper"/>; being element-wise, the result does not depend on the thread count.
/// NaNs: NaN exactly where the reference has NaN; which payload survives when several operands are NaN is left to
/// the implementation by IEEE 754 (x86 keeps the first operand's, and RyuJIT may swap commutative operands), so it is
/// not fixed even in the reference's own scalar code, and the tests, like the conformance registry, do not compare it.
/// </summary>
/// <remarks>
/// Layers: <see cref="Elements"/> is the unit (one range of one tensor, constants computed once by
/// <see cref="StepConstants.Create"/>); <see cref="Step(Algorithm, Span{float}, ReadOnlySpan{float}, ParamState, Hyperparameters, in StepScalars)"/>
/// has the reference's signature (one tensor, the calling thread); <see cref="SimdStepper"/> steps many tensors on
/// many threads; <see cref="CpuSimdBackend"/> puts it behind <see cref="IStepBackend"/>.
/// </remarks>
public static class SimdStep
{
    /// <summary>The widest vector in use here, for logs: "avx512 (16 lanes)", "avx2 (8 lanes)", ...</summary>
    /// <summary>The algorithms with a fast kernel here (the cases of <see cref="Elements"/> and StepConstants.Create).
    /// An algorithm added through its descriptor alone has none yet: <see cref="CpuSimdBackend"/> steps it with the
    /// reference, which is what this path must equal bitwise anyway, so a new algorithm costs no SIMD code.</summary>
    public static IReadOnlySet<Algorithm> Kernels { get; } = new HashSet<Algorithm>
    {
        Algorithm.Adam, Algorithm.AdamW, Algorithm.SignAdam, Algorithm.Yogi, Algorithm.AdaMax, Algorithm.NAdam, Algorithm.RAdam,
        Algorithm.Sgd, Algorithm.AdaGrad, Algorithm.RmsProp, Algorithm.AdaDelta, Algorithm.SignSgd, Algorithm.Signum, Algorithm.Lion,
        Algorithm.AdamWScheduleFree, Algorithm.SgdScheduleFree,
    };

    /// <summary>The SIMD path this machine runs, for logs: the vector width in float32 lanes and its instruction set.</summary>
    public static string Describe() => SimdKernels.Lanes switch
    {
        16 => "512-bit vectors (16 lanes)",
        8 => "256-bit vectors (8 lanes)",
        4 => "128-bit vectors (4 lanes)",
        _ => "scalar (no hardware vectors)",
    };

    /// <summary>One step of <paramref name="algorithm"/> on one parameter: the signature and the bits of
    /// <see cref="Reference.Reference.Step"/>, on the calling thread.</summary>
    public static void Step(Algorithm algorithm, Span<float> param, ReadOnlySpan<float> grad, ParamState state,
        Hyperparameters hp, in StepScalars k)
        => Step(algorithm, param, grad, state, hp, k, GradTransform.None);

    /// <summary>As <see cref="Step(Algorithm, Span{float}, ReadOnlySpan{float}, ParamState, Hyperparameters, in StepScalars)"/>
    /// with the gradient transformed first (<see cref="GradTransform"/>), fused into the pass.</summary>
    public static void Step(Algorithm algorithm, Span<float> param, ReadOnlySpan<float> grad, ParamState state,
        Hyperparameters hp, in StepScalars k, GradTransform transform)
    {
        if (param.Length != grad.Length)
            throw new ArgumentException($"param has {param.Length} elements but grad has {grad.Length}");
        var c = StepConstants.Create(algorithm, hp, k, state, param.Length, transform);
        if (hp.StateBits == 8) State8Elements(c, state, param, grad, 0);
        else Elements(c, param, grad, state.M, state.V, state.VMax, state.Aux);
    }

    [ThreadStatic] private static float[]? t_m, t_v;

    /// <summary>8-bit state (Reference/BlockwiseState8.cs, block by block) on elements [offset, offset + param.Length) of a
    /// tensor, offset a multiple of 2,048: dequantize m and v into this thread's block buffers, <see cref="Elements"/> on
    /// them (the float32 step, bitwise the reference's), requantize with <see cref="State8Encode"/> (bitwise
    /// DynamicMap.Encode). Blocks are independent, so any cut into whole blocks gives the same bits.</summary>
    internal static void State8Elements(in StepConstants c, ParamState state, Span<float> param, ReadOnlySpan<float> grad, int offset)
    {
        if (offset % QuantizedBuffer.BlockSize != 0) throw new ArgumentException($"offset {offset} is not a multiple of {QuantizedBuffer.BlockSize}");
        var (m8, v8) = (state.M8 ?? throw Missing("M8"), state.V8 ?? throw Missing("V8"));
        var m = t_m ??= new float[QuantizedBuffer.BlockSize];
        var v = t_v ??= new float[QuantizedBuffer.BlockSize];
        for (int at = 0; at < param.Length; at += QuantizedBuffer.BlockSize)
        {
            int block = (offset + at) / QuantizedBuffer.BlockSize, n = Math.Min(QuantizedBuffer.BlockSize, param.Length - at);
            Span<float> mb = m.AsSpan(0, n), vb = v.AsSpan(0, n);
            m8.DequantizeBlock(block, mb);
            v8.DequantizeBlock(block, vb);
            Elements(c, param.Slice(at, n), grad.Slice(at, n), mb, vb, Span<float>.Empty, Span<float>.Empty);
            State8Encode.QuantizeBlock(m8, block, mb);
            State8Encode.QuantizeBlock(v8, block, vb);
        }
        static ArgumentException Missing(string what) => new($"8-bit state (state_bits = 8) without its {what} buffer");
    }

    /// <summary>
    /// The element loop over one range: <paramref name="param"/>, <paramref name="grad"/> and the state slots
    /// (<see cref="ParamState"/>'s M, V, VMax, Aux, each the same range; unused ones may be empty) updated in place.
    /// The unit a step engine calls, per tensor or per chunk of a tensor, on any thread.
    /// </summary>
    /// <exception cref="ArgumentException">A span the algorithm reads is shorter than <paramref name="param"/>.</exception>
    public static void Elements(in StepConstants c, Span<float> param, ReadOnlySpan<float> grad,
        Span<float> m, Span<float> v, Span<float> vmax, Span<float> aux)
    {
        int n = param.Length;
        var algorithm = c.Algorithm;
        Need(grad.Length, "grad");
        ref float p = ref MemoryMarshal.GetReference(param);
        ref float g = ref Unsafe.AsRef(in MemoryMarshal.GetReference(grad));
        switch (c.Algorithm)
        {
            case Algorithm.Adam or Algorithm.AdamW or Algorithm.SignAdam:
            {
                Need(m.Length, "M"); Need(v.Length, "V");
                if (c.HasVMax) Need(vmax.Length, "VMax");
                var k = new AdamKernel(c) { P = ref p, G = ref g, M = ref Ref(m), V = ref Ref(v), VMax = ref Ref(vmax) };
                SimdKernels.Run(ref k, (nuint)n);
                break;
            }
            case Algorithm.Yogi:
            {
                Need(m.Length, "M"); Need(v.Length, "V");
                var k = new YogiKernel(c) { P = ref p, G = ref g, M = ref Ref(m), V = ref Ref(v) };
                SimdKernels.Run(ref k, (nuint)n);
                break;
            }
            case Algorithm.AdaMax:
            {
                Need(m.Length, "M"); Need(v.Length, "V");
                var k = new AdaMaxKernel(c) { P = ref p, G = ref g, M = ref Ref(m), U = ref Ref(v) };
                SimdKernels.Run(ref k, (nuint)n);
                break;
            }
            case Algorithm.NAdam:
            {
                Need(m.Length, "M"); Need(v.Length, "V");
                var k = new NAdamKernel(c) { P = ref p, G = ref g, M = ref Ref(m), V = ref Ref(v) };
                SimdKernels.Run(ref k, (nuint)n);
                break;
            }
            case Algorithm.RAdam:
            {
                Need(m.Length, "M"); Need(v.Length, "V");
                var k = new RAdamKernel(c) { P = ref p, G = ref g, M = ref Ref(m), V = ref Ref(v) };
                SimdKernels.Run(ref k, (nuint)n);
                break;
            }
            case Algorithm.Sgd:
            {
                if (c.UseMomentum) Need(m.Length, "M");
                var k = new SgdKernel(c) { P = ref p, G = ref g, Buf = ref Ref(m) };
                SimdKernels.Run(ref k, (nuint)n);
                break;
            }
            case Algorithm.AdaGrad:
            {
                Need(v.Length, "V");
                var k = new AdaGradKernel(c) { P = ref p, G = ref g, Sum = ref Ref(v) };
                SimdKernels.Run(ref k, (nuint)n);
                break;
            }
            case Algorithm.RmsProp:
            {
                Need(v.Length, "V");
                if (c.Centered) Need(aux.Length, "Aux");
                if (c.UseMomentum) Need(m.Length, "M");
                var k = new RmsPropKernel(c) { P = ref p, G = ref g, SquareAvg = ref Ref(v), GradAvg = ref Ref(aux), Buf = ref Ref(m) };
                SimdKernels.Run(ref k, (nuint)n);
                break;
            }
            case Algorithm.AdaDelta:
            {
                Need(v.Length, "V"); Need(aux.Length, "Aux");
                var k = new AdaDeltaKernel(c) { P = ref p, G = ref g, SquareAvg = ref Ref(v), AccDelta = ref Ref(aux) };
                SimdKernels.Run(ref k, (nuint)n);
                break;
            }
            case Algorithm.SignSgd:
            {
                var k = new SignSgdKernel(c) { P = ref p, G = ref g };
                SimdKernels.Run(ref k, (nuint)n);
                break;
            }
            case Algorithm.Signum:
            {
                Need(m.Length, "M");
                var k = new SignumKernel(c) { P = ref p, G = ref g, M = ref Ref(m) };
                SimdKernels.Run(ref k, (nuint)n);
                break;
            }
            case Algorithm.Lion:
            {
                Need(m.Length, "M");
                var k = new LionKernel(c) { P = ref p, G = ref g, M = ref Ref(m) };
                SimdKernels.Run(ref k, (nuint)n);
                break;
            }
            case Algorithm.AdamWScheduleFree or Algorithm.SgdScheduleFree:
            {
                bool adaptive = c.Algorithm == Algorithm.AdamWScheduleFree;
                Need(m.Length, "M");
                if (adaptive) Need(v.Length, "V");
                var k = new ScheduleFreeKernel(c, adaptive) { P = ref p, G = ref g, Z = ref Ref(m), V = ref Ref(v) };
                SimdKernels.Run(ref k, (nuint)n);
                break;
            }
            default:
                throw new ArgumentOutOfRangeException(nameof(c), c.Algorithm, "constants not made by StepConstants.Create");
        }
        return;

        void Need(int length, string what)
        {
            if (length < n)
                throw new ArgumentException($"{algorithm.Name()}: {what} has {length} elements, the parameter {n}");
        }

        static ref float Ref(Span<float> s) => ref MemoryMarshal.GetReference(s);
    }

    /// <summary>
    /// Σ (double)(g_i·inv_scale)² over one range, in a fixed order that does not depend on the vector width: eight
    /// double lanes, element j of the range into lane j mod 8, then ((l0+l1)+(l2+l3)) + ((l4+l5)+(l6+l7)).
    /// The products are float32 (as <see cref="GradClipping.TotalNorm"/>), their squares exact in double.
    /// </summary>
    public static double SumOfSquares(ReadOnlySpan<float> grad, float? invScale)
    {
        int n = grad.Length, i = 0;
        bool unscale = invScale.HasValue;
        float s = invScale ?? 1f;
        Span<double> lanes = stackalloc double[8];
        lanes.Clear();
        ref float g = ref MemoryMarshal.GetReference(grad);
        if (Vector256.IsHardwareAccelerated && SimdKernels.MaxLanes >= 8)
        {
            Vector256<double> a = Vector256<double>.Zero, b = Vector256<double>.Zero;
            var scale = Vector256.Create(s);
            for (; n - i >= 8; i += 8)
            {
                var x = Vector256.LoadUnsafe(ref g, (nuint)i);
                if (unscale) x *= scale;
                var lo = Vector256.WidenLower(x);
                var hi = Vector256.WidenUpper(x);
                a += lo * lo;
                b += hi * hi;
            }
            a.CopyTo(lanes);
            b.CopyTo(lanes[4..]);
        }
        for (; i < n; i++)
        {
            float x = unscale ? Unsafe.Add(ref g, i) * s : Unsafe.Add(ref g, i);
            lanes[i & 7] = lanes[i & 7] + (double)x * (double)x;
        }
        return ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]));
    }

    /// <summary>Whether every <c>g · invScale</c> (float32; g itself when null) is finite, as
    /// <see cref="float.IsFinite"/> of each product.</summary>
    public static bool AllFinite(ReadOnlySpan<float> grad, float? invScale)
    {
        int n = grad.Length, i = 0;
        bool unscale = invScale.HasValue;
        float s = invScale ?? 1f;
        ref float g = ref MemoryMarshal.GetReference(grad);
        if (Vector256.IsHardwareAccelerated)
        {
            var scale = Vector256.Create(s);
            var exponent = Vector256.Create(0x7f800000);
            var bad = Vector256<int>.Zero;
            for (; n - i >= 8; i += 8)
            {
                var x = Vector256.LoadUnsafe(ref g, (nuint)i);
                if (unscale) x *= scale;
                bad |= Vector256.Equals(x.AsInt32() & exponent, exponent);   // all exponent bits set: ±inf or NaN
            }
            if (bad != Vector256<int>.Zero) return false;
        }
        for (; i < n; i++)
            if (!float.IsFinite(unscale ? Unsafe.Add(ref g, i) * s : Unsafe.Add(ref g, i))) return false;
        return true;
    }

    /// <summary>The sum of <paramref name="partials"/> by a fixed pairwise tree (halves, left first).</summary>
    public static double TreeSum(ReadOnlySpan<double> partials) => partials.Length switch
    {
        0 => 0.0,
        1 => partials[0],
        _ => TreeSum(partials[..(partials.Length / 2)]) + TreeSum(partials[(partials.Length / 2)..]),
    };
}

/// <summary>
/// Steps many tensors at once on several threads: every tensor cut into fixed chunks of <see cref="ChunkElements"/>
/// (the cut depends only on the lengths), the chunks shared out to <see cref="CpuWorkers"/>. The element math is
/// <see cref="SimdStep.Elements"/>, so the bits are the reference's and do not depend on <see cref="Threads"/>. The
/// clipping norm sums per-chunk partials (<see cref="SimdStep.SumOfSquares"/>) by a fixed tree in double, so it does
/// not depend on the thread count either. No allocation per step once the tables have grown to the step's size.
/// Not thread-safe: one stepper per caller.
/// </summary>
public sealed class SimdStepper : IChunkJob
{
    /// <summary>Elements per chunk (128 KiB of each stream).</summary>
    public const int ChunkElements = 1 << 15;
    /// <summary>Below this many elements in a step, one thread (waking a helper costs more).</summary>
    public const int MinParallelElements = 1 << 16;

    private struct Entry
    {
        public float[] P;
        public float[] G;
        public ParamState S;
        public StepConstants C;
        public int Chunk;    // elements per chunk of this tensor
        public bool State8;  // 8-bit state (state_bits = 8): chunks are whole 2,048-element blocks
    }

    private Entry[] _entries = [];
    private int[] _chunkStart = [0];   // _chunkStart[t] = the first chunk of tensor t; [count] = all chunks
    private double[] _partials = [];
    private int _count;
    private enum Mode { Step, Norm, Finite }
    private Mode _mode;
    private float? _normInvScale;
    private int _nonFinite;

    private readonly int _chunkElements, _minParallelElements;

    /// <param name="threads">Threads to use, the caller's included; 0: <see cref="DefaultThreads"/>.</param>
    public SimdStepper(int threads = 0) : this(threads, ChunkElements, MinParallelElements) { }

    /// <summary>Tests: small chunks and no serial threshold, so that small tensors split and run on every thread.</summary>
    internal SimdStepper(int threads, int chunkElements, int minParallelElements)
    {
        if (threads < 0) throw new ArgumentOutOfRangeException(nameof(threads), threads, "must be >= 0 (0: all cores)");
        ArgumentOutOfRangeException.ThrowIfLessThan(chunkElements, 1);
        Threads = threads == 0 ? DefaultThreads : threads;
        _chunkElements = chunkElements;
        _minParallelElements = minParallelElements;
    }

    /// <summary>The environment's <c>CUDAADAM_CPU_THREADS</c> when set, else <see cref="Environment.ProcessorCount"/>.</summary>
    public static int DefaultThreads =>
        int.TryParse(Environment.GetEnvironmentVariable("CUDAADAM_CPU_THREADS"), out int t) && t > 0 ? t : Environment.ProcessorCount;

    /// <summary>The number of threads a step splits its elements over (1: the calling thread only).</summary>
    public int Threads { get; }

    /// <summary>One step of <paramref name="algorithm"/> on every item (each has a gradient), gradients transformed
    /// by <paramref name="transform"/>. Everything is checked before anything changes.</summary>
    public void Step(Algorithm algorithm, IReadOnlyList<StepItem> items, GradTransform transform = default)
    {
        long total = Load(items, algorithm, transform, withConstants: true);
        _mode = Mode.Step;
        Dispatch(total);
    }

    /// <summary>The 2-norm of all items' gradients times <paramref name="invScale"/> (float32 products), in double:
    /// per-chunk <see cref="SimdStep.SumOfSquares"/>, then <see cref="SimdStep.TreeSum"/> over the chunks in order.</summary>
    public double TotalNorm(IReadOnlyList<StepItem> items, float? invScale = null)
    {
        long total = Load(items, default, default, withConstants: false);
        int chunks = _chunkStart[_count];
        if (_partials.Length < chunks) _partials = new double[Math.Max(chunks, _partials.Length * 2)];
        _mode = Mode.Norm;
        _normInvScale = invScale;
        Dispatch(total);
        return Math.Sqrt(SimdStep.TreeSum(_partials.AsSpan(0, chunks)));
    }

    /// <summary>Whether every <c>g · invScale</c> (float32 products; g itself when null) of every item is finite.</summary>
    public bool AllFinite(IReadOnlyList<StepItem> items, float? invScale = null)
    {
        long total = Load(items, default, default, withConstants: false);
        _mode = Mode.Finite;
        _normInvScale = invScale;
        _nonFinite = 0;
        Dispatch(total);
        return _nonFinite == 0;
    }

    private long Load(IReadOnlyList<StepItem> items, Algorithm algorithm, GradTransform transform, bool withConstants)
    {
        ArgumentNullException.ThrowIfNull(items);
        int n = items.Count;
        if (_entries.Length < n)
        {
            _entries = new Entry[Math.Max(n, _entries.Length * 2)];
            _chunkStart = new int[_entries.Length + 1];
        }
        long total = 0;
        int chunk = 0;
        for (int t = 0; t < n; t++)
        {
            var it = items[t];
            var p = it.Param.Data;
            var g = it.Param.Grad ?? throw new ArgumentException($"parameter '{it.Param.Name}' has no gradient");
            if (g.Length != p.Length)
                throw new ArgumentException($"parameter '{it.Param.Name}' has {p.Length} elements but its gradient has {g.Length}");
            ref var e = ref _entries[t];
            e.P = p;
            e.G = g;
            e.S = it.State;
            // A step on 8-bit state cuts whole quantization blocks (the chunk size rounded up to a multiple of 2,048).
            e.State8 = withConstants && it.Hyperparameters.StateBits == 8;
            e.Chunk = e.State8 ? (_chunkElements + QuantizedBuffer.BlockSize - 1) / QuantizedBuffer.BlockSize * QuantizedBuffer.BlockSize : _chunkElements;
            _chunkStart[t] = chunk;
            chunk += (int)(((long)p.Length + e.Chunk - 1) / e.Chunk);
            total += p.Length;
        }
        _chunkStart[n] = chunk;
        _count = n;
        if (withConstants)
        {
            for (int t = 0; t < n; t++)
            {
                ref var e = ref _entries[t];
                var it = items[t];
                e.C = StepConstants.Create(algorithm, it.Hyperparameters, it.Scalars, e.S, e.P.Length, transform);
                // Check the slot lengths now, before any tensor changes (Elements checks again per chunk).
                CheckSlots(e, it.Param.Name);
            }
        }
        return total;
    }

    private static void CheckSlots(in Entry e, string name)
    {
        int n = e.P.Length;
        var s = e.S;
        var c = e.C;
        bool bad = e.State8 ? Short8(s.M8) || Short8(s.V8) : c.Algorithm switch
        {
            Algorithm.Adam or Algorithm.AdamW or Algorithm.SignAdam => Short(s.M) || Short(s.V) || (c.HasVMax && Short(s.VMax)),
            Algorithm.AdaMax or Algorithm.NAdam or Algorithm.RAdam or Algorithm.Yogi => Short(s.M) || Short(s.V),
            Algorithm.Sgd => c.UseMomentum && Short(s.M),
            Algorithm.AdaGrad => Short(s.V),
            Algorithm.RmsProp => Short(s.V) || (c.Centered && Short(s.Aux)) || (c.UseMomentum && Short(s.M)),
            Algorithm.AdaDelta => Short(s.V) || Short(s.Aux),
            Algorithm.Signum or Algorithm.Lion or Algorithm.SgdScheduleFree => Short(s.M),
            Algorithm.AdamWScheduleFree => Short(s.M) || Short(s.V),
            _ => false,
        };
        if (bad) throw new ArgumentException($"the state of parameter '{name}' does not fit {c.Algorithm.Name()} ({n} elements)");
        return;

        bool Short(float[]? a) => a is null || a.Length < n;
        bool Short8(QuantizedBuffer? q) => q is null || q.Length != n;
    }

    private void Dispatch(long total)
    {
        int chunks = _chunkStart[_count];
        int threads = total < _minParallelElements ? 1 : Threads;
        CpuWorkers.Shared.Run(this, chunks, threads);
    }

    void IChunkJob.RunChunk(int chunk)
    {
        // The tensor of this chunk: the last t with _chunkStart[t] <= chunk (zero-size tensors own no chunk).
        int lo = 0, hi = _count - 1;
        while (lo < hi)
        {
            int mid = (lo + hi + 1) >> 1;
            if (_chunkStart[mid] <= chunk) lo = mid;
            else hi = mid - 1;
        }
        ref var e = ref _entries[lo];
        int start = (chunk - _chunkStart[lo]) * e.Chunk;
        int count = Math.Min(e.Chunk, e.P.Length - start);
        if (_mode == Mode.Norm)
        {
            _partials[chunk] = SimdStep.SumOfSquares(e.G.AsSpan(start, count), _normInvScale);
            return;
        }
        if (_mode == Mode.Finite)
        {
            if (Volatile.Read(ref _nonFinite) == 0 && !SimdStep.AllFinite(e.G.AsSpan(start, count), _normInvScale))
                Interlocked.Exchange(ref _nonFinite, 1);
            return;
        }
        var s = e.S;
        if (e.State8)
        {
            SimdStep.State8Elements(e.C, s, e.P.AsSpan(start, count), e.G.AsSpan(start, count), start);
            return;
        }
        SimdStep.Elements(e.C, e.P.AsSpan(start, count), e.G.AsSpan(start, count),
            Slice(s.M), Slice(s.V), Slice(s.VMax), Slice(s.Aux));
        return;

        Span<float> Slice(float[]? a) => a is null || a.Length < start + count ? Span<float>.Empty : a.AsSpan(start, count);
    }
}
