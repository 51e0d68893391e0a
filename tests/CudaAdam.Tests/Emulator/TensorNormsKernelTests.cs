using CudaAdam.Cuda;
using CudaAdam.Cuda.Emulator;
using CudaAdam.Device;
using static CudaAdam.Tests.Emulator.EmulatorTestSupport;
using Canon = CudaAdam.Reference.Reference;

namespace CudaAdam.Tests.Emulator;

/// <summary>
/// The per-tensor norm primitive (<see cref="CudaAdam.Reference.Reference.CanonicalSumSquares"/>, kernels/common.cuh
/// <c>ca_norm_pieces</c> / <c>ca_norm_tree</c>, kernels/norms.cu): the kernels on the emulator give the reference's
/// sums, trust ratios and decay scalars BITWISE, for lengths around the 4,096-element piece and the 256 lanes.
/// </summary>
[NonParallelizable] // the emulator's thread-pool size is process-wide
public class TensorNormsKernelTests
{
    private EmulatedDevice _device = null!;
    private KernelArgs _args = null!;

    [SetUp]
    public void SetUp()
    {
        _device = CreateOrIgnore();
        _args = new KernelArgs();
    }

    [TearDown]
    public void TearDown()
    {
        _args?.Dispose();
        if (_device != null)
        {
            Assert.That(_device.LiveBuffers, Is.EqualTo(0), "every buffer of the test was disposed");
            _device.Dispose();
        }
    }

    [Test]
    public void CanonicalSumOfOnesIsExactAndEmptyIsZero()
    {
        foreach (int n in new[] { 1, 255, 256, 257, 4095, 4096, 4097, 3 * 4096 + 17, 100_003 })
            Assert.That(Canon.CanonicalSumSquares(Enumerable.Repeat(1f, n).ToArray()), Is.EqualTo((double)n), $"n = {n}");
        Assert.That(Canon.CanonicalSumSquares([]), Is.EqualTo(0.0));
        Assert.That(Canon.CanonicalSumSquares([float.NaN, 1f]), Is.NaN);
        Assert.That(Canon.CanonicalSumSquares([float.PositiveInfinity, 1f]), Is.EqualTo(double.PositiveInfinity));
    }

    [TestCase(1)]
    [TestCase(4097)]
    [TestCase(1_000_003)]
    public void CanonicalSumIsWithinDoubleRoundingOfTheExactSum(int n)
    {
        var x = RandomFloats(n, n, -30f, 30f);
        // Neumaier's compensated sum as the near-exact value; the canonical tree rounds about log2(n) times per element.
        double sum = 0, c = 0;
        foreach (float v in x)
        {
            double sq = (double)v * v, t = sum + sq;
            c += Math.Abs(sum) >= sq ? (sum - t) + sq : (sq - t) + sum;
            sum = t;
        }
        double exact = sum + c, got = Canon.CanonicalSumSquares(x);
        Assert.That(Math.Abs(got - exact), Is.LessThanOrEqualTo(1e-14 * exact), $"n = {n}: {got:R} vs {exact:R}");
    }

    [Test]
    public void CanonicalTreeFoldsPairsLeftFirst()
    {
        // Width 1: (a0+a1), (a2+a3), a4; width 2: ((a0+a1)+(a2+a3)), a4; width 4: that + a4.
        double[] a = [1e16, 1, -1e16, 1, 3];
        Assert.That(Canon.CanonicalTree(a), Is.EqualTo(((1e16 + 1) + (-1e16 + 1)) + 3));
        Assert.That(Canon.CanonicalTree(Span<double>.Empty), Is.EqualTo(0.0));
    }

    // Tensor sets around the piece (4,096) and lane (256) boundaries, a zero-size tensor, a zero tensor (τ = 1).
    private static readonly int[][] Sets =
    [
        [1],
        [255, 256, 257],
        [4095, 4096, 4097],
        [0, 12_289, 3, 100_003],
        [70_000, 0, 8192],
    ];

    [Test]
    public void KernelSumsAndTrustAreBitwiseTheReference([Range(0, 4)] int set, [Values(false, true)] bool maximize)
    {
        int[] lengths = Sets[set];
        int count = lengths.Length;
        long[] offsets = new long[count];
        long total = 0;
        for (int t = 0; t < count; t++) { offsets[t] = total; total += lengths[t] + 3; }   // odd gaps: unaligned tensors
        var x = RandomFloats(11 + set, (int)total, -2f, 2f);
        var g = RandomFloats(97 + set, (int)total, -1e-3f, 1e-3f);
        if (count > 1)
            for (int i = 0; i < lengths[1]; i++) x[offsets[1] + i] = 0f;   // ‖x‖ = 0 for tensor 1: τ = 1
        const float invScale = 0.5f;
        const float clip = 0.75f;
        var rule = new TrustRule(Coefficient: 0.001, DenominatorWd: 1e-4, Eps: 1e-8, WeightDecay: 0.01);
        const double lr = 0.1;

        using var dx = _device.Upload(x);
        using var dg = _device.Upload(g);
        using var dclip = _device.Upload(new[] { clip });
        var table = new CaTensor[count];
        var norms = new CaNormTensor[count];
        var pieces = TensorNorms.Pieces(lengths.Select(l => (long)l).ToArray());
        for (int t = 0; t < count; t++)
        {
            table[t].P = dx.Pointer + (nint)(offsets[t] * sizeof(float));
            table[t].G = dg.Pointer + (nint)(offsets[t] * sizeof(float));
            table[t].N = lengths[t];
            table[t].Flags = KernelFlags.Active | (maximize && t == count - 1 ? KernelFlags.Maximize : 0);
            int first = Array.FindIndex(pieces, p => p.Tensor == t);
            norms[t] = new CaNormTensor
            {
                First = Math.Max(0, first), Pieces = (lengths[t] + 4095) / 4096, Group = 0, Kind = CaNormTensor.KindTrust,
                TrustSlot = 3, DecaySlot = 5, Coefficient = rule.Coefficient, DenominatorWd = rule.DenominatorWd, Eps = rule.Eps,
                WeightDecay = rule.WeightDecay,
            };
        }
        using var dtable = _device.Upload(table);
        using var dpieces = _device.Upload(pieces.Length == 0 ? new CaChunk[1] : pieces);
        using var dnorms = _device.Upload(norms);
        using var dlrs = _device.Upload(new[] { lr });
        using var partials = _device.Allocate<double>(Math.Max(1, 2 * pieces.Length));
        using var sums = _device.Allocate<double>(2 * count);
        _args.Clear().Add(dtable).Add(dpieces).Add(invScale).Add(dclip).Add((nint)0).Add(1).Add(partials);
        _device.Launch(_device.GetKernel("norms", "norms_param_grad"), (uint)pieces.Length, (uint)Canon.NormLanes, _args);
        _args.Clear().Add(partials).Add(dnorms).Add(count).Add(dlrs).Add(dtable).Add(sums).Add((nint)0).Add(1);
        _device.Launch(_device.GetKernel("norms", "tensor_norms_finalize"), 1, 128, _args);
        _device.Synchronize();
        var gotSums = _device.Download(sums);
        var gotTable = _device.Download(dtable);

        for (int t = 0; t < count; t++)
        {
            var xt = x.AsSpan((int)offsets[t], lengths[t]).ToArray();
            var gt = g.AsSpan((int)offsets[t], lengths[t]).ToArray().Select(v => v * invScale * clip).ToArray();   // as ca_load: (g·inv_scale)·coef
            if (maximize && t == count - 1) for (int i = 0; i < gt.Length; i++) gt[i] = -gt[i];
            double sa = Canon.CanonicalSumSquares(xt), sb = Canon.CanonicalSumSquares(gt);
            Assert.That(BitConverter.DoubleToInt64Bits(gotSums[2 * t]), Is.EqualTo(BitConverter.DoubleToInt64Bits(sa)), $"tensor {t} ({lengths[t]}): Σx²");
            Assert.That(BitConverter.DoubleToInt64Bits(gotSums[2 * t + 1]), Is.EqualTo(BitConverter.DoubleToInt64Bits(sb)), $"tensor {t}: Σg²");
            double trust = TensorNorms.TrustRatio(sa, sb, rule);
            if (lengths[t] == 0 || t == 1 && count > 1) Assert.That(trust, Is.EqualTo(1.0), "a zero norm gives τ = 1");
            else Assert.That(trust, Is.Not.EqualTo(1.0));
            unsafe
            {
                var e = gotTable[t];
                Assert.That(e.S[3], Is.EqualTo((float)trust), $"tensor {t}: trust slot");
                Assert.That(BitConverter.SingleToInt32Bits(e.S[5]), Is.EqualTo(BitConverter.SingleToInt32Bits(TensorNorms.Decay(lr, trust, rule.WeightDecay))), $"tensor {t}: decay slot");
            }
        }
    }

    [Test]
    public void SkippedStepAndInactiveTensorWriteNoTrust()
    {
        var x = RandomFloats(5, 5000);
        using var dx = _device.Upload(x);
        using var dg = _device.Upload(x);
        var table = new CaTensor[2];
        table[0].P = table[1].P = dx.Pointer;
        table[0].G = table[1].G = dg.Pointer;
        table[0].N = table[1].N = x.Length;
        table[0].Flags = KernelFlags.Active;   // tensor 1 inactive
        var pieces = TensorNorms.Pieces([x.Length, x.Length]);
        var norms = new[]
        {
            new CaNormTensor { First = 0, Pieces = 2, Kind = CaNormTensor.KindTrust, TrustSlot = 0, DecaySlot = -1, Coefficient = 2 },
            new CaNormTensor { First = 2, Pieces = 2, Kind = CaNormTensor.KindTrust, TrustSlot = 0, DecaySlot = -1, Coefficient = 2 },
        };
        using var dtable = _device.Upload(table);
        using var dpieces = _device.Upload(pieces);
        using var dnorms = _device.Upload(norms);
        using var dlrs = _device.Upload(new[] { 1.0 });
        using var partials = _device.Allocate<double>(2 * pieces.Length);
        using var sums = _device.Allocate<double>(4);
        using var flag = _device.Upload(new[] { 7 });
        foreach (int epoch in new[] { 7, 8 })   // 7: the flag says skipped; 8: a step that runs
        {
            _args.Clear().Add(dtable).Add(dpieces).Add(1f).Add((nint)0).Add(flag).Add(epoch).Add(partials);
            _device.Launch(_device.GetKernel("norms", "norms_param_grad"), (uint)pieces.Length, 256, _args);
            _args.Clear().Add(partials).Add(dnorms).Add(2).Add(dlrs).Add(dtable).Add(sums).Add(flag).Add(epoch);
            _device.Launch(_device.GetKernel("norms", "tensor_norms_finalize"), 1, 128, _args);
            _device.Synchronize();
            var got = _device.Download(dtable);
            unsafe
            {
                Assert.That(got[0].S[0], Is.EqualTo(epoch == 7 ? 0f : 2f), $"epoch {epoch}: the active tensor's trust (‖x‖ = ‖g‖: τ = η)");
                Assert.That(got[1].S[0], Is.EqualTo(0f), "the inactive tensor's slot is never written");
            }
            var s = _device.Download(sums);
            if (epoch == 8) Assert.That(s[2], Is.EqualTo(0.0), "an inactive tensor's pieces sum to 0");
        }
    }
}
