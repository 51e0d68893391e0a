using CudaAdam.Cpu;
using CudaAdam.Device;
using CudaAdam.Reference;
using CudaAdam.Tests.Emulator;
using CudaAdam.Tests.Kernels;

namespace CudaAdam.Tests.Reference;

/// <summary>
/// The 8-bit optimizer state (<see cref="Hyperparameters.StateBits"/> = 8; Dettmers et al. 2022): the dynamic maps'
/// properties, the block-wise round trip's error bound, the quantized Adam/AdamW step's properties, the fast CPU encoder
/// against the reference's, the state's validation, its state dict round trip, and the bytes it allocates. The bitwise
/// agreement of every backend with the reference is the conformance registry's (the <c>state8*</c> sets of adam and adamw).
/// </summary>
public class State8Tests
{
    private static readonly QuantMap[] Maps = [QuantMap.Signed, QuantMap.Unsigned];

    private static float[] MapOf(QuantMap m) => DynamicMap.Of(m).ToArray();

    // ---- the maps --------------------------------------------------------------------------------------------

    [TestCaseSource(nameof(Maps))]
    public void TheMap_Has256StrictlyIncreasingValues_WithZeroExactlyAndOneAtTheTop(QuantMap which)
    {
        var map = MapOf(which);
        Assert.That(map, Has.Length.EqualTo(256));
        for (int i = 1; i < map.Length; i++) Assert.That(map[i], Is.GreaterThan(map[i - 1]), $"map[{i}] > map[{i - 1}]");
        int zero = DynamicMap.ZeroCode(which);
        Assert.That(BitConverter.SingleToInt32Bits(map[zero]), Is.Zero, "0 (+0) is a map value");
        Assert.That(map[255], Is.EqualTo(1f), "the block's absmax round-trips exactly");
        Assert.That(DynamicMap.Create(which == QuantMap.Signed), Is.EqualTo(map), "deterministic");
    }

    [Test]
    public void TheSignedMap_Spans_Minus0_99296875_To1_With127NegativeValues_TheUnsignedOne0To1()
    {
        var s = MapOf(QuantMap.Signed);
        Assert.That(s.Count(x => x < 0), Is.EqualTo(127));
        Assert.That(s.Count(x => x > 0), Is.EqualTo(128));
        Assert.That(s[0], Is.EqualTo(-(float)(1271.0 / 1280)), "the largest fraction of the top level: 0.1 + 63.5·0.9/64");
        Assert.That(DynamicMap.ZeroCode(QuantMap.Signed), Is.EqualTo(127));
        var u = MapOf(QuantMap.Unsigned);
        Assert.That(u[0], Is.EqualTo(0f));
        Assert.That(u.All(x => x >= 0), "unsigned");
        Assert.That(DynamicMap.ZeroCode(QuantMap.Unsigned), Is.EqualTo(0));
        // The smallest magnitudes: level 0, 10^-6 times the midpoints of 1 (signed) or 2 (unsigned) steps of [0.1, 1].
        Assert.That(s[128], Is.EqualTo((float)(0.55e-6)).Within(1).Ulps);
        Assert.That(u[1], Is.EqualTo((float)(0.325e-6)).Within(1).Ulps);
    }

    /// <summary>The kernel hard-codes the zero codes; they must be the maps'.</summary>
    [Test]
    public void TheKernelsZeroCodes_AreTheMaps()
    {
        string cu = File.ReadAllText(TestPaths.InRepo("kernels", "state8.cu"));
        Assert.That(cu, Does.Contain($"#define CA_Q8_ZERO_SIGNED {DynamicMap.ZeroCode(QuantMap.Signed)} "));
        Assert.That(cu, Does.Contain($"#define CA_Q8_ZERO_UNSIGNED {DynamicMap.ZeroCode(QuantMap.Unsigned)} "));
        Assert.That(cu, Does.Contain($"#define CA_Q8_BLOCK {QuantizedBuffer.BlockSize} "));
    }

    /// <summary>Each value against the formula of the paper evaluated directly in double (10^(i−6)·(0.1 + (k+½)·0.9/K)):
    /// the same to the float's rounding.</summary>
    [TestCaseSource(nameof(Maps))]
    public void TheMapValues_AreThePapersFormula(QuantMap which)
    {
        bool signed = which == QuantMap.Signed;
        var expected = new List<double> { 0, 1 };
        for (int i = 0; i < 7; i++)
        {
            int k = signed ? 1 << i : 1 << (i + 1);
            for (int j = 0; j < k; j++)
            {
                double v = Math.Pow(10, i - 6) * (0.1 + (j + 0.5) * 0.9 / k);
                expected.Add(v);
                if (signed) expected.Add(-v);
            }
        }
        expected.Sort();
        var map = MapOf(which);
        for (int i = 0; i < 256; i++)
            Assert.That(map[i], Is.EqualTo((float)expected[i]).Within(1).Ulps, $"map[{i}]");
    }

    [TestCaseSource(nameof(Maps))]
    public void Encode_IsTheNearestCode_EveryMapValueEncodesToItself_NaNToZero(QuantMap which)
    {
        var map = MapOf(which);
        for (int i = 0; i < 256; i++) Assert.That(DynamicMap.Encode(map[i], map), Is.EqualTo(i), $"map[{i}] = {map[i]:R}");
        Assert.That(DynamicMap.Encode(float.NaN, map), Is.EqualTo(DynamicMap.ZeroCode(which)));
        var rng = new Random(5);
        for (int t = 0; t < 20_000; t++)
        {
            float x = Sample(rng, which);
            int c = DynamicMap.Encode(x, map);
            double best = Math.Abs((double)x - map[c]);
            for (int j = 0; j < 256; j++)
                Assert.That(best, Is.LessThanOrEqualTo(Math.Abs((double)x - map[j]) + 1e-7 * Math.Abs(x)),
                    $"x = {x:R}: code {c} ({map[c]:R}) but {j} ({map[j]:R}) is nearer");
        }
    }

    /// <summary>Values in the map's range with magnitudes over many decades, the ends, zeros and midpoints.</summary>
    private static float Sample(Random rng, QuantMap which)
    {
        double mag = Math.Pow(10, -8 * rng.NextDouble());
        float x = (float)(rng.Next(10) == 0 ? 1.0 : mag);
        if (rng.Next(20) == 0) x = 0;
        return which == QuantMap.Signed && rng.Next(2) == 0 ? -x : x;
    }

    // ---- the round trip --------------------------------------------------------------------------------------

    /// <summary>|x − dq(q(x))| ≤ (half the map's largest gap) · absmax per block, plus float32 rounding (the division
    /// x/absmax and the product code·absmax, each half an ulp of absmax at most), on blocks of very different kinds.</summary>
    [TestCase(QuantMap.Signed, "normal")]
    [TestCase(QuantMap.Signed, "heavy-tailed")]
    [TestCase(QuantMap.Signed, "decades")]
    [TestCase(QuantMap.Signed, "negative-max")]
    [TestCase(QuantMap.Unsigned, "normal")]
    [TestCase(QuantMap.Unsigned, "heavy-tailed")]
    [TestCase(QuantMap.Unsigned, "decades")]
    public void RoundTrip_ErrorPerBlock_IsAtMostHalfTheLargestGapTimesAbsmax(QuantMap which, string kind)
    {
        var map = MapOf(which);
        double half = DynamicMap.HalfLargestGap(map);
        // The ends of the range are within the bound too (the signed map stops at −0.99296875, not −1).
        double endGap = which == QuantMap.Signed ? 1 + (double)map[0] : map[0];
        Assert.That(endGap, Is.LessThanOrEqualTo(half + 1e-7), "the range's ends are within half the largest gap");
        Assert.That(1 - (double)map[255], Is.LessThanOrEqualTo(half));
        var rng = new Random(kind.Length * 31 + (int)which);
        var x = new float[3 * QuantizedBuffer.BlockSize + 77];
        for (int i = 0; i < x.Length; i++)
        {
            double g = Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());
            double v = kind switch
            {
                "normal" => g,
                "heavy-tailed" => Math.Tan(Math.PI * (rng.NextDouble() - 0.5)),   // Cauchy
                "decades" => g * Math.Pow(10, rng.Next(-9, 4)),
                _ => -Math.Abs(g),
            };
            x[i] = (float)(which == QuantMap.Unsigned ? Math.Abs(v) : v);
        }
        var q = QuantizedBuffer.Quantize(which, x);
        var back = q.Dequantize();
        Assert.That(q.Absmax, Has.Length.EqualTo(4));
        for (int b = 0; b < q.Absmax.Length; b++)
        {
            int start = b * QuantizedBuffer.BlockSize, n = q.BlockLength(b);
            double a = q.Absmax[b];
            Assert.That(a, Is.EqualTo(x.Skip(start).Take(n).Max(MathF.Abs)), $"block {b}: absmax = max |x|");
            double bound = half * a + 2 * Math.Pow(2, -24) * a;
            double worst = 0;
            for (int i = start; i < start + n; i++) worst = Math.Max(worst, Math.Abs((double)x[i] - back[i]));
            Assert.That(worst, Is.LessThanOrEqualTo(bound), $"block {b}: worst error {worst:R}, bound {bound:R} (absmax {a:R})");
            Assert.That(worst, Is.GreaterThan(0), "a real round trip loses something (the test can fail)");
        }
    }

    [Test]
    public void AZeroBlock_StaysExactlyZero_ANaNMakesItsBlockNaN_WithTheCanonicalNaN_AndNoOtherBlock()
    {
        var x = new float[QuantizedBuffer.BlockSize + 10];
        var q = QuantizedBuffer.Quantize(QuantMap.Signed, x);
        Assert.That(q.Absmax, Is.EqualTo(new[] { 0f, 0f }));
        Assert.That(q.Codes.All(c => c == DynamicMap.ZeroCode(QuantMap.Signed)));
        Assert.That(q.Dequantize().All(v => BitConverter.SingleToInt32Bits(v) == 0), "exactly +0");
        x[QuantizedBuffer.BlockSize + 3] = float.NaN;
        x[5] = 0.25f;
        q = QuantizedBuffer.Quantize(QuantMap.Signed, x);
        Assert.That(BitConverter.SingleToInt32Bits(q.Absmax[1]), Is.EqualTo(0x7fc00000));
        var back = q.Dequantize();
        Assert.That(back.Skip(QuantizedBuffer.BlockSize).All(float.IsNaN));
        Assert.That(back[5], Is.EqualTo(0.25f), "the absmax element of a block round-trips exactly");
        Assert.That(back.Take(QuantizedBuffer.BlockSize).Count(float.IsNaN), Is.Zero);
    }

    // ---- the fast CPU encoder ----------------------------------------------------------------------------------

    /// <summary>The cpu backend's table encoder against the reference's binary search: every map value and midpoint
    /// ± 64 ulps, every bucket edge ± 2 ulps (the table's boundaries), the ends, infinities, zeros, 200,000 samples.</summary>
    [TestCaseSource(nameof(Maps))]
    public void TheFastEncoder_IsTheReferenceEncoder(QuantMap which)
    {
        var map = MapOf(which);
        var probes = new List<float> { 0f, -0f, 1f, -1f, float.PositiveInfinity, float.NegativeInfinity, float.MaxValue, -float.MaxValue, float.Epsilon, -float.Epsilon };
        for (int i = 0; i < 256; i++)
        {
            probes.Add(map[i]);
            if (i < 255) probes.Add((float)(((double)map[i] + map[i + 1]) / 2));
        }
        var around = new List<float>();
        foreach (float p in probes)
            for (int d = -64; d <= 64; d++) around.Add(Step(p, d));
        for (uint bucket = 0; bucket < 1u << 16; bucket++)
        {
            uint key = bucket << 16;
            float edge = BitConverter.UInt32BitsToSingle((key & 0x80000000u) != 0 ? key & 0x7fffffffu : ~key);
            for (int d = -2; d <= 2; d++) around.Add(Step(edge, d));
        }
        var rng = new Random(9);
        for (int t = 0; t < 200_000; t++) around.Add(Sample(rng, which));
        int checkedCount = 0;
        foreach (float x in around)
        {
            if (float.IsNaN(x)) continue;
            checkedCount++;
            byte want = DynamicMap.Encode(x, map), got = State8Encode.Encode(x, which);
            if (want != got) Assert.Fail($"x = {x:R} (0x{BitConverter.SingleToInt32Bits(x):x8}): reference {want}, fast {got}");
        }
        Assert.That(checkedCount, Is.GreaterThan(500_000));

        static float Step(float x, int d) => d == 0 ? x : d > 0 ? Step(MathF.BitIncrement(x), d - 1) : Step(MathF.BitDecrement(x), d + 1);
    }

    // ---- the quantized step ------------------------------------------------------------------------------------

    private static Parameter Param(string name, int n, int seed) => new(name, EmulatorTestSupport.RandomFloats(seed, n));

    /// <summary>From the zero state (every value exactly 0) the first step is float32 Adam's bit for bit, and the state
    /// after it is the float32 state quantized.</summary>
    [TestCase(Algorithm.Adam, 0.0)]
    [TestCase(Algorithm.Adam, 0.1)]
    [TestCase(Algorithm.AdamW, 0.01)]
    public void TheFirstStep_IsFloat32AdamsBitwise_AndItsStateTheFloat32StateQuantized(Algorithm a, double wd)
    {
        var hp = Hyperparameters.Defaults(a) with { WeightDecay = wd, Lr = 0.01 };
        var (p32, p8) = (Param("w", 5000, 1), Param("w", 5000, 1));
        using var o32 = new Optimizer(a, [p32], hp, new CpuReferenceBackend());
        using var o8 = new Optimizer(a, [p8], hp with { StateBits = 8 }, new CpuReferenceBackend());
        p32.Grad = EmulatorTestSupport.RandomFloats(2, 5000);
        p8.Grad = (float[])p32.Grad.Clone();
        o32.Step();
        o8.Step();
        EmulatorTestSupport.AssertBitwiseEqual(p32.Data, p8.Data, "parameters after the first step");
        var (s32, s8) = (o32.State(p32)!, o8.State(p8)!);
        Assert.That((s8.M, s8.V), Is.EqualTo(((float[]?)null, (float[]?)null)), "no float32 buffers");
        Assert.That(s8.M8!.Codes, Is.EqualTo(QuantizedBuffer.Quantize(QuantMap.Signed, s32.M!).Codes));
        Assert.That(s8.V8!.Absmax, Is.EqualTo(QuantizedBuffer.Quantize(QuantMap.Unsigned, s32.V!).Absmax));
        // Later steps differ (the state was rounded), but stay close.
        for (int t = 0; t < 20; t++)
        {
            p32.Grad = EmulatorTestSupport.RandomFloats(3 + t, 5000);
            p8.Grad = (float[])p32.Grad.Clone();
            o32.Step();
            o8.Step();
        }
        double maxDiff = p32.Data.Zip(p8.Data).Max(z => Math.Abs(z.First - z.Second));
        Assert.That(maxDiff, Is.GreaterThan(0).And.LessThan(0.01 * 21 * 0.1), "21 steps of lr 0.01: the 8-bit trajectory stays within a tenth of the path");
    }

    /// <summary>Blocks are independent: a 5,000-element tensor steps as its three blocks stepped as separate tensors.</summary>
    [Test]
    public void ATensor_StepsAsItsBlocksSteppedSeparately()
    {
        var hp = Hyperparameters.Defaults(Algorithm.Adam) with { StateBits = 8 };
        var whole = Param("w", 5000, 4);
        var parts = new[] { new Parameter("a", whole.Data[..2048]), new Parameter("b", whole.Data[2048..4096]), new Parameter("c", whole.Data[4096..]) };
        using var ow = new Optimizer(Algorithm.Adam, [whole], hp, new CpuReferenceBackend());
        using var op = new Optimizer(Algorithm.Adam, parts, hp, new CpuReferenceBackend());
        for (int t = 0; t < 4; t++)
        {
            whole.Grad = EmulatorTestSupport.RandomFloats(10 + t, 5000);
            (parts[0].Grad, parts[1].Grad, parts[2].Grad) = (whole.Grad[..2048], whole.Grad[2048..4096], whole.Grad[4096..]);
            ow.Step();
            op.Step();
        }
        EmulatorTestSupport.AssertBitwiseEqual(whole.Data, [.. parts[0].Data, .. parts[1].Data, .. parts[2].Data], "parameters");
        Assert.That(ow.State(whole)!.M8!.Codes, Is.EqualTo(parts.SelectMany(p => op.State(p)!.M8!.Codes)));
    }

    /// <summary>The cpu backend's 8-bit step (<see cref="SimdStep.Step(Algorithm, Span{float}, ReadOnlySpan{float}, ParamState, Hyperparameters, in StepScalars)"/>:
    /// SIMD float32 blocks, the table encoder) against the reference's block loop on adversarial values: ±0, ±inf, NaNs,
    /// subnormals, ±MaxValue in parameters and gradients, lengths around the block size, 4 steps, at 16, 8, 4 and 1 lanes:
    /// parameters, codes and absmax (canonical NaN included) bit for bit.</summary>
    [TestCase(Algorithm.Adam)]
    [TestCase(Algorithm.AdamW)]
    public void TheCpuPath_IsBitwiseTheReference_OnAdversarialValues(Algorithm a)
    {
        float[] specials = [0f, -0f, 1f, -1f, float.PositiveInfinity, float.NegativeInfinity, float.MaxValue, -float.MaxValue,
            float.Epsilon, 1e-40f, 1e-20f, 1e20f, float.NaN];
        var hp = Hyperparameters.Defaults(a) with { StateBits = 8, WeightDecay = 0.1 };
        int before = SimdKernels.MaxLanes;
        try
        {
            foreach (int lanes in new[] { 16, 8, 4, 1 })
            {
                SimdKernels.MaxLanes = lanes;
                var rng = new Random(lanes);
                foreach (int n in new[] { 0, 1, 67, 2048, 2049, 4100 })
                {
                    float Draw() => rng.Next(3) == 0 ? specials[rng.Next(specials.Length)] : (float)((rng.NextDouble() - 0.5) * Math.Pow(10, rng.Next(-4, 3)));
                    var x = Enumerable.Range(0, n).Select(_ => Draw()).ToArray();
                    var fx = (float[])x.Clone();
                    var (rs, fs) = (ParamState.Create(a, hp, n), ParamState.Create(a, hp, n));
                    for (int step = 1; step <= 4; step++)
                    {
                        // Mostly ordinary gradients, so that some blocks stay finite and others meet inf and NaN.
                        var g = Enumerable.Range(0, n).Select(_ => rng.Next(200) == 0 ? Draw() : (float)(rng.NextDouble() - 0.5)).ToArray();
                        var (kr, kf) = (StepScalars.Advance(a, hp, rs), StepScalars.Advance(a, hp, fs));
                        global::CudaAdam.Reference.Reference.Step(a, x, g, rs, hp, kr);
                        SimdStep.Step(a, fx, g, fs, hp, kf);
                        string what = $"{lanes} lanes, length {n}, step {step}";
                        Assert.That(Bits(fx), Is.EqualTo(Bits(x)), $"{what}: parameters");
                        Assert.That((fs.M8!.Codes, fs.V8!.Codes), Is.EqualTo((rs.M8!.Codes, rs.V8!.Codes)), $"{what}: codes");
                        Assert.That((Raw(fs.M8.Absmax), Raw(fs.V8.Absmax)), Is.EqualTo((Raw(rs.M8.Absmax), Raw(rs.V8.Absmax))), $"{what}: absmax, bit for bit");
                    }
                }
            }
        }
        finally
        {
            SimdKernels.MaxLanes = before;
        }

        // NaN payloads of the parameters are not fixed by IEEE (SimdStep's remarks): compare NaN as one value there.
        static int[] Bits(float[] v) => v.Select(f => float.IsNaN(f) ? 0x7fc00000 : BitConverter.SingleToInt32Bits(f)).ToArray();
        static int[] Raw(float[] v) => v.Select(BitConverter.SingleToInt32Bits).ToArray();
    }

    // ---- validation --------------------------------------------------------------------------------------------

    [TestCase(Algorithm.Adam, 16, false, "Invalid state_bits value: 16 (must be 32, float32 state, or 8, block-wise 8-bit state)")]
    [TestCase(Algorithm.Sgd, 8, false, "state_bits = 8 is an option of adam, adamw, not sgd")]
    [TestCase(Algorithm.Adam, 8, true, "state_bits = 8 does not combine with amsgrad")]
    public void BadStateBits_AreRefusedWithAMessage(Algorithm a, int bits, bool amsgrad, string message)
    {
        var hp = Hyperparameters.Defaults(a) with { StateBits = bits, Amsgrad = amsgrad };
        Assert.That(() => hp.Validate(a), Throws.ArgumentException.With.Message.Contains(message));
    }

    [Test]
    public void TheDescriptor_SaysWhichAlgorithmsHaveTheOption_AndTheirSlotsMaps()
    {
        Assert.That(Algorithms.All.Where(i => i.State8Kernel is not null).Select(i => i.Name), Is.EqualTo(new[] { "adam", "adamw" }));
        foreach (var i in Algorithms.All)
            foreach (var slot in i.State.Where(s => s.Quantized is not null))
            {
                Assert.That(i.State8Kernel, Is.Not.Null, $"{i.Name}.{slot.TorchName}: a quantized slot needs the 8-bit kernel");
                Assert.That(slot.Buffer, Is.AnyOf(StateBuffer.M, StateBuffer.V), "only M and V have an 8-bit form");
                Assert.That(slot.Initial, Is.Null, "an 8-bit slot starts at 0");
            }
    }

    [Test]
    public void ChangingStateBitsAfterTheFirstStep_IsRefused_NothingChanges()
    {
        var p = Param("w", 100, 1);
        var group = new ParamGroup([p], Hyperparameters.Defaults(Algorithm.Adam));
        using var opt = new Optimizer(Algorithm.Adam, [group]);
        p.Grad = EmulatorTestSupport.RandomFloats(2, 100);
        opt.Step();
        var before = (float[])p.Data.Clone();
        group.Hyperparameters = group.Hyperparameters with { StateBits = 8 };
        Assert.That(() => opt.Step(), Throws.InvalidOperationException.With.Message.Contains("state_bits changed after the first step"));
        Assert.That(p.Data, Is.EqualTo(before));
    }

    [Test]
    public void TheDeviceResidentEngine_RefusesEightBitState_SayingWhatToDo()
    {
        var device = KernelDevices.OpenOrIgnore("emulator");
        var backend = new DeviceBackend(device, new DeviceBackendOptions { Residency = Residency.Device }, ownsDevice: true);
        var hp = Hyperparameters.Defaults(Algorithm.AdamW) with { StateBits = 8 };
        Assert.That(() => new Optimizer(Algorithm.AdamW, [Param("w", 10, 1)], hp, backend),
            Throws.TypeOf<NotSupportedException>().With.Message.Contains("host-resident only (Residency.Host)"));
        backend.Dispose();
    }

    // ---- the state dict ----------------------------------------------------------------------------------------

    [TestCase("cpu")]
    [TestCase("emulator")]
    public void TheStateDict_CarriesCodesAndAbsmax_AndAResumeContinuesBitwise(string backend)
    {
        IStepBackend Make() => backend == "cpu" ? new CpuSimdBackend() : new DeviceBackend(KernelDevices.OpenOrIgnore("emulator"), ownsDevice: true);
        var hp = Hyperparameters.Defaults(Algorithm.AdamW) with { StateBits = 8, Lr = 0.01 };
        Parameter[] Ps() => [Param("w", 4100, 1), Param("b", 7, 2)];
        var (pa, pb) = (Ps(), Ps());
        using var first = new Optimizer(Algorithm.AdamW, pa, hp, Make());
        void Grads(Parameter[] ps, int t) { foreach (var p in ps) p.Grad = EmulatorTestSupport.RandomFloats(100 * t + p.Data.Length, p.Data.Length); }
        for (int t = 1; t <= 3; t++) { Grads(pa, t); first.Step(); }
        var dict = first.StateDict();
        Assert.That(dict.Version, Is.EqualTo(3));
        Assert.That(dict.State[0].Buffers, Is.Empty, "no float32 buffers");
        Assert.That(dict.State[0].Quantized.Keys, Is.EquivalentTo(new[] { "exp_avg", "exp_avg_sq" }), "torch's slot names");
        Assert.That(dict.State[0].Quantized["exp_avg"].Absmax, Has.Length.EqualTo(3), "4,100 elements: 3 blocks");
        using var ms = new MemoryStream();
        using (var w = new BinaryWriter(ms, System.Text.Encoding.UTF8, leaveOpen: true)) dict.Write(w);
        var read = OptimizerStateDict.Read(ms.ToArray());
        for (int i = 0; i < pa.Length; i++) pa[i].Data.CopyTo(pb[i].Data, 0);
        using var second = new Optimizer(Algorithm.AdamW, pb, Hyperparameters.Defaults(Algorithm.AdamW), Make());
        second.LoadStateDict(read);
        Assert.That(second.Groups[0].Hyperparameters.StateBits, Is.EqualTo(8), "state_bits comes back with the group");
        for (int t = 4; t <= 6; t++)
        {
            Grads(pa, t); first.Step();
            Grads(pb, t); second.Step();
        }
        for (int i = 0; i < pa.Length; i++)
        {
            EmulatorTestSupport.AssertBitwiseEqual(pa[i].Data, pb[i].Data, pa[i].Name);
            Assert.That(second.State(pb[i])!.V8!.Codes, Is.EqualTo(first.State(pa[i])!.V8!.Codes));
        }
    }

    [Test]
    public void AStateDictOfTheWrongFormat_IsRefused_NamingTheSlot()
    {
        var p = Param("w", 50, 1);
        using var o32 = new Optimizer(Algorithm.Adam, [p], Hyperparameters.Defaults(Algorithm.Adam), new CpuReferenceBackend());
        p.Grad = EmulatorTestSupport.RandomFloats(2, 50);
        o32.Step();
        var dict = o32.StateDict();
        var group = dict.ParamGroups[0];
        var as8 = dict with { ParamGroups = [group with { Hyperparameters = group.Hyperparameters with { StateBits = 8 } }] };
        Assert.That(() => o32.ValidateStateDict(as8), Throws.ArgumentException.With.Message.Contains("slot 'exp_avg' is float32, but with state_bits = 8 it is kept 8-bit"));
        var entry = dict.State[0];
        var wrongMap = as8 with
        {
            State = new Dictionary<int, ParamStateEntry>
            {
                [0] = entry with
                {
                    Buffers = new Dictionary<string, float[]>(),
                    Quantized = new Dictionary<string, QuantizedBuffer>
                    {
                        ["exp_avg"] = QuantizedBuffer.Quantize(QuantMap.Unsigned, entry.Buffers["exp_avg"].Select(MathF.Abs).ToArray()),
                        ["exp_avg_sq"] = QuantizedBuffer.Quantize(QuantMap.Unsigned, entry.Buffers["exp_avg_sq"]),
                    },
                },
            },
        };
        Assert.That(() => o32.ValidateStateDict(wrongMap), Throws.ArgumentException.With.Message.Contains("slot 'exp_avg' uses the Unsigned map"));
    }

    /// <summary>A version-1 dict (float32 state, written before 8-bit state existed) still reads and loads.</summary>
    [Test]
    public void AVersion1StateDict_StillReadsAndLoads()
    {
        var p = Param("w", 30, 1);
        using var opt = new Optimizer(Algorithm.Adam, [p], Hyperparameters.Defaults(Algorithm.Adam), new CpuReferenceBackend());
        p.Grad = EmulatorTestSupport.RandomFloats(2, 30);
        opt.Step();
        var v1 = opt.StateDict() with { Version = 1 };
        using var ms = new MemoryStream();
        using (var w = new BinaryWriter(ms, System.Text.Encoding.UTF8, leaveOpen: true)) v1.Write(w);
        byte[] bytes = ms.ToArray();
        Assert.That(BitConverter.ToInt32(bytes, 8), Is.EqualTo(1), "the version field after the magic");
        var read = OptimizerStateDict.Read(bytes);
        Assert.That(read.Version, Is.EqualTo(1));
        opt.LoadStateDict(read);
        Assert.That(opt.State(p)!.M, Is.EqualTo(v1.State[0].Buffers["exp_avg"]));
        var current = opt.StateDict();
        Assert.That(current.Version, Is.EqualTo(3));
        long Length(OptimizerStateDict d)
        {
            using var m = new MemoryStream();
            using (var w = new BinaryWriter(m, System.Text.Encoding.UTF8, leaveOpen: true)) d.Write(w);
            return OptimizerStateDict.Read(m.ToArray()).Version == d.Version ? m.Length : -1;
        }
        Assert.That(Length(current), Is.EqualTo(Length(current with { Version = 2 }) + 4),
            "version 3 adds one count (of 8-bit buffers, here 0) per parameter to version 2");
    }

    // ---- memory --------------------------------------------------------------------------------------------------

    /// <summary>The bytes the state of a 1,000,000-element parameter allocates (measured with the GC's allocation counter
    /// around <see cref="ParamState.Create"/>, as the optimizer makes it): float32 8 bytes per parameter, 8-bit 2 plus
    /// 2 × 4 bytes per 2,048 elements (its absmax), plus the arrays' headers.</summary>
    [Test]
    public void EightBitState_AllocatesAQuarterOfFloat32s()
    {
        const int n = 1_000_000;
        long Allocated(int bits)
        {
            var hp = Hyperparameters.Defaults(Algorithm.Adam) with { StateBits = bits };
            ParamState.Create(Algorithm.Adam, hp, 16);   // warm up the code paths
            long before = GC.GetAllocatedBytesForCurrentThread();
            var s = ParamState.Create(Algorithm.Adam, hp, n);
            long bytes = GC.GetAllocatedBytesForCurrentThread() - before;
            Assert.That(s.StateBytes, Is.EqualTo(bits == 32 ? 8L * n : 2L * n + 2 * 4 * QuantizedBuffer.Blocks(n)));
            return bytes;
        }
        double per32 = Allocated(32) / (double)n, per8 = Allocated(8) / (double)n;
        Assert.That(per32, Is.EqualTo(8.0).Within(0.001), "float32: m and v, 4 bytes each");
        Assert.That(per8, Is.EqualTo(2.0 + 8.0 / 2048).Within(0.001), "8-bit: two codes and 2 × 4 bytes of absmax per 2,048");
        Assert.That(per8 / per32, Is.LessThan(0.26));
    }
}
