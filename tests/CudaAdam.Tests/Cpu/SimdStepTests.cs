using CudaAdam.Cpu;
using CudaAdam.Device;
using CudaAdam.Reference;
using CudaAdam.Tests.Emulator;

namespace CudaAdam.Tests.Cpu;

/// <summary>
/// The fast CPU step (<see cref="SimdStep"/>, <see cref="SimdStepper"/>, <see cref="CpuSimdBackend"/>) against the
/// scalar reference, BITWISE: every fp32 conformance case at 1 and 2 threads, adversarial values (±0, NaNs with
/// payloads, ±inf, subnormals, float.MaxValue) at every vector width over lengths 0 … 67 and misaligned spans, the
/// clipping norm's independence of the thread count, the step contract (unscale, clipping, non-finite refusal), and zero
/// allocation per step.
/// </summary>
[NonParallelizable] // SimdKernels.MaxLanes is process-wide
public class SimdStepTests
{
    // ---- the conformance registry, fp32 cases -----------------------------------------------------------------

    /// <summary>Every conformance case with fp32 parameters (16-bit storage and the fused diagnostics belong to the
    /// device backends), each at 1 and 2 threads.</summary>
    public static IEnumerable<TestCaseData> ConformanceCases() =>
        from c in Conformance.Cases
        where c.Edge.Options.Precision.Format == ParamFormat.Fp32 && !c.Edge.Options.Diagnostics
        from threads in new[] { 1, 2 }
        select new TestCaseData(c.Name, threads).SetName($"{c.Name} @{threads}t");

    [TestCaseSource(nameof(ConformanceCases))]
    public void ConformanceCaseIsBitwiseTheReference(string name, int threads)
    {
        var r = RunConformance(Conformance.Find(name), threads);
        Assert.That(r.Passed, r.Describe());
        Assert.That(r.Compared, Is.GreaterThan(0), "values were compared");
    }

    [Test]
    public void ConformanceAtNarrowerWidthsIsBitwiseTheReference([Values(8, 4, 1)] int lanes)
    {
        string[] names = ["adam/amsgrad-wd/single-odd", "adamw/default/odd-lengths", "adamax/wd-maximize/single-odd",
            "nadam/decoupled-wd/many-steps", "radam/wd/many-steps", "sgd/nesterov-maximize/skipped-grad",
            "rmsprop/centered-momentum-wd/single-odd", "adadelta/wd-maximize/single-odd", "lion/wd/single-odd",
            "signum/wd-maximize/single-odd", "signsgd/wd/single-odd", "adagrad/lr-decay-wd-init/single-odd",
            "signadam/wd-maximize/non-finite", "adam/default/clip", "yogi/default/odd-lengths"];
        int before = SimdKernels.MaxLanes;
        try
        {
            SimdKernels.MaxLanes = lanes;
            foreach (var name in names)
            {
                var r = RunConformance(Conformance.Find(name), threads: 2);
                Assert.That(r.Passed, $"{lanes} lanes: {r.Describe()}");
            }
        }
        finally
        {
            SimdKernels.MaxLanes = before;
        }
    }

    /// <summary>One case of the registry through <c>Conformance.Run</c>: the reference
    /// (<see cref="CpuReferenceBackend"/>) and the fast backend under the same <see cref="StepContract"/> on identical
    /// inputs, every parameter and state slot compared bit for bit after every step (any NaN equals any NaN), the
    /// step results alike, the norms within 1e-11 relative. Small chunks and no serial threshold, so that the
    /// registry's small tensors split and run on every thread.</summary>
    private static ConformanceResult RunConformance(ConformanceCase c, int threads) =>
        Conformance.Run(c, _ => new CpuSimdBackend(new SimdStepper(threads, chunkElements: 64, minParallelElements: 0)));

    // ---- adversarial values, every width, every tail, misaligned ----------------------------------------------

    // The algorithms with a fast kernel (the others step on the reference itself: SimdStep.Kernels).
    // The 8-bit state sets (state_bits = 8) step float32 blocks through the same Elements as their float32 sets; their
    // blocks are State8Tests' (adversarial values) and the registry's (RegistryCase on this backend).
    public static IEnumerable<TestCaseData> AlgorithmSets() =>
        from a in AlgorithmNames.All
        where SimdStep.Kernels.Contains(a)   // the others step on the reference itself (OnTheReference)
        from s in Conformance.HyperparameterSets(a)
        where s.Hp.StateBits == 32
        select new TestCaseData(a, s.Name).SetName($"{a.Name()}/{s.Name}");

    /// <summary>
    /// Lengths 0 … 67 (every tail of every width), spans starting 0 … 3 floats into their arrays (misaligned), values
    /// drawn a third of the time from ±0, NaNs with several payloads (a signaling one among them), ±inf, subnormals,
    /// ±float.MaxValue, in parameters, gradients AND state, four steps, at 16, 8, 4 and 1 lanes: the bits equal the
    /// reference's exactly (NaN where the reference has NaN, see Diff).
    /// </summary>
    [TestCaseSource(nameof(AlgorithmSets))]
    public void AdversarialValuesAreBitwiseTheReferenceAtEveryWidth(Algorithm algorithm, string setName)
    {
        var hp = Conformance.HyperparameterSets(algorithm).First(s => s.Name == setName).Hp;
        int before = SimdKernels.MaxLanes;
        try
        {
            foreach (int lanes in new[] { 16, 8, 4, 1 })
            {
                SimdKernels.MaxLanes = lanes;
                var rng = new Random(Fnv($"{algorithm}/{setName}/{lanes}"));
                for (int n = 0; n <= 67; n++)
                {
                    int offset = n % 4;
                    string? why = Adversarial(algorithm, hp, n, offset, rng);
                    Assert.That(why, Is.Null, $"{algorithm.Name()}/{setName}, {lanes} lanes, length {n}, offset {offset}");
                }
            }
        }
        finally
        {
            SimdKernels.MaxLanes = before;
        }
    }

    private static readonly float[] Specials =
    [
        0f, -0f, 1f, -1f, float.PositiveInfinity, float.NegativeInfinity, float.MaxValue, -float.MaxValue,
        float.Epsilon, -float.Epsilon, 1e-40f, -3e-39f, 1e-20f, 1e20f, 0.5f,
        BitConverter.Int32BitsToSingle(0x7fc00000), BitConverter.Int32BitsToSingle(unchecked((int)0xffc00000)),
        BitConverter.Int32BitsToSingle(0x7fc12345), BitConverter.Int32BitsToSingle(unchecked((int)0xffd00001)),
        BitConverter.Int32BitsToSingle(0x7f800001), // signaling
    ];

    private static float Draw(Random rng) =>
        rng.NextDouble() < 0.33 ? Specials[rng.Next(Specials.Length)] : (float)(Gaussian(rng) * Math.Pow(10, rng.Next(-4, 3)));

    private static string? Adversarial(Algorithm algorithm, Hyperparameters hp, int n, int offset, Random rng)
    {
        float[] Fill(int len) => Enumerable.Range(0, len).Select(_ => Draw(rng)).ToArray();
        var refState = ParamState.Create(algorithm, hp, n);
        foreach (var slot in new[] { refState.M, refState.V, refState.VMax, refState.Aux })
            if (slot is not null)
                for (int i = 0; i < n; i++) slot[i] = Draw(rng);
        // The fast side: the same values in bigger arrays, each starting 0 … 3 floats in (misaligned), guarded by
        // sentinels. fastState carries the layout (VMax present, ...) and the step counters.
        var fastState = refState.Clone();
        var x = Fill(n);
        var fx = EmbedAt(x, offset);
        float[]? fm = Embed(fastState.M, 1), fv = Embed(fastState.V, 2), fvmax = Embed(fastState.VMax, 3), faux = Embed(fastState.Aux, 4);
        for (int step = 1; step <= 4; step++)
        {
            var g = Fill(n);
            var kr = StepScalars.Advance(algorithm, hp, refState);
            var kf = StepScalars.Advance(algorithm, hp, fastState);
            global::CudaAdam.Reference.Reference.Step(algorithm, x, g, refState, hp, kr);
            var c = StepConstants.Create(algorithm, hp, kf, fastState, n);
            fm ??= Embed(fastState.M, 1);   // SGD's buffer, created by its first step with momentum
            SimdStep.Elements(c, fx.AsSpan(offset, n), EmbedAt(g, Off(5)).AsSpan(Off(5), n),
                Span(fm, 1), Span(fv, 2), Span(fvmax, 3), Span(faux, 4));
            long compared = 0;
            string? why = Diff("param", x, fx.AsSpan(offset, n).ToArray(), ref compared)
                          ?? Diff("M", refState.M, fm is null ? null : Span(fm, 1).ToArray(), ref compared)
                          ?? Diff("V", refState.V, fv is null ? null : Span(fv, 2).ToArray(), ref compared)
                          ?? Diff("VMax", refState.VMax, fvmax is null ? null : Span(fvmax, 3).ToArray(), ref compared)
                          ?? Diff("Aux", refState.Aux, faux is null ? null : Span(faux, 4).ToArray(), ref compared)
                          ?? Sentinels(fx, offset, n) ?? Sentinels(fm, Off(1), n) ?? Sentinels(fv, Off(2), n)
                          ?? Sentinels(fvmax, Off(3), n) ?? Sentinels(faux, Off(4), n);
            if (why is not null) return $"step {step}: {why}";
        }
        return null;

        int Off(int salt) => (offset + salt) % 4;
        float[]? Embed(float[]? values, int salt) => values is null ? null : EmbedAt(values, Off(salt));
        Span<float> Span(float[]? a, int salt) => a is null ? default : a.AsSpan(Off(salt), n);
    }

    private const float Sentinel = 12345.678f;

    private static float[] EmbedAt(float[] values, int offset)
    {
        var a = new float[values.Length + 8];
        Array.Fill(a, Sentinel);
        values.CopyTo(a, offset);
        return a;
    }

    private static string? Sentinels(float[]? a, int offset, int n)
    {
        if (a is null) return null;
        for (int i = 0; i < a.Length; i++)
            if ((i < offset || i >= offset + n) && a[i] != Sentinel) return $"wrote outside its span at {i}";
        return null;
    }

    // ---- threads, clipping, allocation, registration ---------------------------------------------------------

    [Test]
    public void ClippingNormDoesNotDependOnTheThreadCountAndMatchesTheSequentialSum()
    {
        var rng = new Random(5);
        var items = MakeItems(Algorithm.Adam, [100_003, 0, 7, 65_536, 1], rng);
        double n1 = new SimdStepper(1, 1000, 0).TotalNorm(items, 0.3f);
        double n2 = new SimdStepper(2, 1000, 0).TotalNorm(items, 0.3f);
        double n2Big = new SimdStepper(2, 1000, 0).TotalNorm(items, 0.3f);
        double sequential = GradClipping.TotalNorm(items.Select(it => it.Param.Grad!), 0.3f);
        Assert.That(BitConverter.DoubleToInt64Bits(n2), Is.EqualTo(BitConverter.DoubleToInt64Bits(n1)), "1 vs 2 threads");
        Assert.That(n2Big, Is.EqualTo(n2));
        // Different summation order only: the documented rule |ref - x| <= rtol |ref| with rtol 1e-12.
        Assert.That(Math.Abs(n1 - sequential), Is.LessThanOrEqualTo(1e-12 * sequential));
        int before = SimdKernels.MaxLanes;
        try
        {
            SimdKernels.MaxLanes = 1;   // the scalar order is the vector order
            Assert.That(new SimdStepper(2, 1000, 0).TotalNorm(items, 0.3f), Is.EqualTo(n1));
        }
        finally
        {
            SimdKernels.MaxLanes = before;
        }
    }

    [Test]
    public void TheBackendClipsAndUnscalesAsTheReferenceBackendGivenTheSameCoefficient()
    {
        var rng = new Random(11);
        var fastItems = MakeItems(Algorithm.AdamW, [70_001, 3, 40_000], rng);
        var refItems = fastItems.Select(it => it with { Param = new Parameter(it.Param.Name, (float[])it.Param.Data.Clone()) { Grad = it.Param.Grad }, State = it.State.Clone() }).ToList();
        var contract = new StepContract(0.3f, 0.5, NonFinitePolicy.Skip);
        using var fast = new CpuSimdBackend(2);
        var outcome = fast.Step(Algorithm.AdamW, fastItems, contract);
        var reference = new CpuReferenceBackend { FixedClipCoefficient = outcome.ClipCoefficient };
        var refOutcome = reference.Step(Algorithm.AdamW, refItems, contract);
        Assert.That(outcome.NonFinite, Is.False);
        Assert.That(outcome.ClipCoefficient, Is.LessThan(1f), "the gradients were clipped");
        Assert.That(Math.Abs(outcome.GradNorm - refOutcome.GradNorm), Is.LessThanOrEqualTo(1e-12 * refOutcome.GradNorm));
        for (int t = 0; t < fastItems.Count; t++)
        {
            long compared = 0;
            Assert.That(Diff("param", refItems[t].Param.Data, fastItems[t].Param.Data, ref compared), Is.Null);
            Assert.That(Diff("V", refItems[t].State.V, fastItems[t].State.V, ref compared), Is.Null);
        }
        fastItems[1].Param.Grad![2] = float.PositiveInfinity;
        var before = fastItems[0].Param.Data.ToArray();
        Assert.That(fast.Step(Algorithm.AdamW, fastItems, contract).NonFinite, Is.True, "a non-finite gradient refuses the step");
        Assert.That(fastItems[0].Param.Data, Is.EqualTo(before), "and nothing changed");
    }

    [TestCase(Algorithm.Adam, false)]
    [TestCase(Algorithm.AdamW, true)]
    [TestCase(Algorithm.Lion, false)]
    [TestCase(Algorithm.Sgd, true)]
    [TestCase(Algorithm.Yogi, false)]
    public void NoAllocationPerStepAfterTheFirst(Algorithm algorithm, bool clip)
    {
        var rng = new Random(3);
        var hp = algorithm == Algorithm.Sgd ? Hyperparameters.Defaults(algorithm) with { Momentum = 0.9 } : Hyperparameters.Defaults(algorithm);
        var items = MakeItems(algorithm, [300_000, 5, 70_000], rng, hp);
        using var backend = new CpuSimdBackend(2);
        // Clipping with an unscale and the non-finite check: every pass of the contract.
        var contract = clip ? new StepContract(1f / 1024, 1.0, NonFinitePolicy.Skip) : StepContract.Default;
        backend.Step(algorithm, items, contract);   // first: state buffers (SGD), tables, JIT
        backend.Step(algorithm, items, contract);
        // The whole-process count also sees the runtime's own threads (tiered JIT, a finalizer, an earlier test's
        // output readers), which allocate now and then: a CI run once saw 168 bytes. A per-step allocation shows in
        // every attempt (≥ 5 × its size), background noise in few: the quietest of 5 attempts must be 0.
        long thread = long.MaxValue, total = long.MaxValue;
        for (int attempt = 0; attempt < 5 && (thread > 0 || total > 0); attempt++)
        {
            long before = GC.GetTotalAllocatedBytes(precise: true);
            long beforeThread = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < 5; i++) backend.Step(algorithm, items, contract);
            thread = Math.Min(thread, GC.GetAllocatedBytesForCurrentThread() - beforeThread);
            total = Math.Min(total, GC.GetTotalAllocatedBytes(precise: true) - before);
        }
        Assert.That(thread, Is.EqualTo(0), "bytes allocated on the calling thread in 5 steps (the quietest attempt)");
        Assert.That(total, Is.EqualTo(0), "bytes allocated by the whole process (the worker threads included) in 5 steps (the quietest attempt)");
    }

    [Test]
    public void OptimizerStepAllocatesNothingAfterTheFirst()
    {
        var w = new Parameter("w", new float[1_000_000]);
        using var opt = new Optimizer(Algorithm.Adam, [w], backend: new CpuSimdBackend(2));
        w.Grad = new float[w.Data.Length];
        opt.Step();
        opt.Step();
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 4; i++) opt.Step();
        long perStep = (GC.GetAllocatedBytesForCurrentThread() - before) / 4;
        // CheckState used to build a fresh ParamState (8 MB of M and V here) every step, and the step's lists were new
        // each time; now the lists are the Optimizer's own, refilled: the engine allocates nothing per step.
        Assert.That(perStep, Is.EqualTo(0), "bytes per Optimizer.Step of a 1M-parameter Adam, on the calling thread");
    }

    /// <summary>The algorithms that step on the reference on the <c>cpu</c> backend (added through their descriptors alone,
    /// issue 12): bitwise the reference by construction. Take one out when it gets a SIMD kernel in SimdStep.Kernels.</summary>
    private static readonly Algorithm[] OnTheReference = [Algorithm.Rprop, Algorithm.Asgd, Algorithm.AdaBelief, Algorithm.AdEMAMix, Algorithm.Adan];

    [Test]
    public void EveryAlgorithmHasAFastKernelOrIsAKnownReferenceFallback()
    {
        Assert.That(SimdStep.Kernels.Concat(OnTheReference), Is.EquivalentTo(Algorithms.All.Select(i => i.Algorithm)),
            "an algorithm without a fast kernel steps on the reference (see the next test); list it in OnTheReference, or its kernel in SimdStep.Kernels");
        Assert.That(SimdStep.Kernels.Intersect(OnTheReference), Is.Empty);
    }

    [Test]
    public void AnAlgorithmWithoutAFastKernelStepsOnTheReferenceUnderTheSameContract()
    {
        // As an algorithm added through its descriptor alone would: no entry in the kernel set.
        var (fast, reference) = (new Parameter("w", EmulatorTestSupport.RandomFloats(5, 37)), new Parameter("w", EmulatorTestSupport.RandomFloats(5, 37)));
        using var a = new Optimizer(Algorithm.Yogi, [fast], null, new CpuSimdBackend(new SimdStepper(2), kernels: new HashSet<Algorithm>()));
        using var b = new Optimizer(Algorithm.Yogi, [reference], null, new CpuReferenceBackend());
        for (int t = 1; t <= 4; t++)
        {
            var g = EmulatorTestSupport.RandomFloats(50 + t, 37);
            if (t == 3) g[4] = float.NaN;
            (fast.Grad, reference.Grad) = (g, (float[])g.Clone());
            Assert.That(a.Step(), Is.EqualTo(b.Step()), $"step {t}: the same result");
        }
        EmulatorTestSupport.AssertBitwiseEqual(reference.Data, fast.Data, "w");
        Assert.That(a.SkippedSteps, Is.EqualTo(1));
    }

    [Test]
    public void ShortStateIsRefusedBeforeAnythingChanges()
    {
        var rng = new Random(2);
        var items = MakeItems(Algorithm.Adam, [10, 20], rng);
        items[1].State.V = new float[19];
        var before = items[0].Param.Data.ToArray();
        var ex = Assert.Throws<ArgumentException>(() => new SimdStepper(1).Step(Algorithm.Adam, items));
        Assert.That(ex!.Message, Does.Contain("p1"));
        Assert.That(items[0].Param.Data, Is.EqualTo(before), "the first tensor did not step");
        Assert.Throws<ArgumentException>(() =>
            SimdStep.Step(Algorithm.Adam, new float[5], new float[4], ParamState.Create(Algorithm.Adam, Hyperparameters.Defaults(Algorithm.Adam), 5),
                Hyperparameters.Defaults(Algorithm.Adam), default));
    }

    [Test]
    public void CpuIsTheFastPathAndReferenceTheOracle()
    {
        using var cpu = Backends.Create("cpu");
        using var reference = Backends.Create("reference");
        Assert.That(cpu, Is.InstanceOf<CpuSimdBackend>());
        Assert.That(reference, Is.InstanceOf<CpuReferenceBackend>());
        Assert.That(((CpuSimdBackend)cpu).Description, Does.Contain("lanes").And.Contain("thread"));
    }

    // ---- helpers ---------------------------------------------------------------------------------------------

    private static List<StepItem> MakeItems(Algorithm algorithm, int[] lengths, Random rng, Hyperparameters? hp = null)
    {
        hp ??= Hyperparameters.Defaults(algorithm);
        var items = new List<StepItem>();
        for (int t = 0; t < lengths.Length; t++)
        {
            var p = new Parameter($"p{t}", Enumerable.Range(0, lengths[t]).Select(_ => (float)Gaussian(rng)).ToArray())
            {
                Grad = Enumerable.Range(0, lengths[t]).Select(_ => (float)(Gaussian(rng) * 0.01)).ToArray(),
            };
            var s = ParamState.Create(algorithm, hp, lengths[t]);
            items.Add(new StepItem(p, s, hp, StepScalars.Advance(algorithm, hp, s)));
        }
        return items;
    }

    /// <summary>The first difference of bits, or null when equal. Two NaNs are equal whatever their payloads: when
    /// several operands of an operation are NaN, IEEE 754 leaves which payload propagates to the implementation, and
    /// x86 takes the first operand's, an order RyuJIT may swap for commutative operations (even the reference's own
    /// scalar code has no fixed NaN payload; the conformance registry and the GPU compare likewise). Every other bit
    /// pattern, ±0 included, must match.</summary>
    private static string? Diff(string slot, float[]? r, float[]? f, ref long compared)
    {
        if (r is null && f is null) return null;
        if (r is null || f is null || r.Length != f.Length)
            return $"{slot}: reference {(r is null ? "null" : $"[{r.Length}]")}, fast {(f is null ? "null" : $"[{f.Length}]")}";
        for (int i = 0; i < r.Length; i++)
        {
            compared++;
            int rb = BitConverter.SingleToInt32Bits(r[i]), fb = BitConverter.SingleToInt32Bits(f[i]);
            if (rb != fb && !(float.IsNaN(r[i]) && float.IsNaN(f[i]))) return $"{slot}[{i}]: reference {r[i]:R} (0x{rb:x8}), fast {f[i]:R} (0x{fb:x8})";
        }
        return null;
    }

    private static double Gaussian(Random rng)
    {
        double u1 = 1.0 - rng.NextDouble(), u2 = rng.NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }

    private static int Fnv(string s)
    {
        uint h = 2166136261;
        foreach (char ch in s) h = (h ^ ch) * 16777619;
        return (int)(h & 0x7fffffff);
    }
}
