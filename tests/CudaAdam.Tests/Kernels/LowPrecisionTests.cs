using CudaAdam.Cuda;
using CudaAdam.Device;

namespace CudaAdam.Tests.Kernels;

/// <summary>The host twin of the kernels' 16-bit conversions and stochastic rounding (<see cref="LowPrecision"/>),
/// checked against .NET's own <see cref="Half"/> and against first principles; and 16-bit parameters end to end.</summary>
public class LowPrecisionTests
{
    private static IEnumerable<float> Probes()
    {
        var rng = new Random(1234);
        float[] special =
        [
            0f, -0f, 1f, -1f, 65504f, 65519.99f, 65520f, -65520f, 65536f, float.MaxValue, float.Epsilon,
            MathF.Pow(2, -14), MathF.Pow(2, -24), MathF.Pow(2, -25), MathF.BitIncrement(MathF.Pow(2, -25)),
            1.5f * MathF.Pow(2, -24), 2.5f * MathF.Pow(2, -24), 1.00048828125f, 1.000732421875f,
            float.PositiveInfinity, float.NegativeInfinity,
        ];
        foreach (var f in special) yield return f;
        for (int i = 0; i < 200_000; i++)
        {
            // Random bit patterns over the exponents that matter to fp16 (2^-30 … 2^17), both signs.
            uint bits = (uint)rng.Next(97, 145) << 23 | (uint)rng.Next(0, 1 << 23) | (rng.Next(2) == 0 ? 0u : 0x80000000u);
            yield return BitConverter.UInt32BitsToSingle(bits);
        }
    }

    [Test]
    public void Fp16RoundingEqualsDotNetHalf()
    {
        foreach (var f in Probes())
            Assert.That(LowPrecision.ToFp16(f), Is.EqualTo(BitConverter.HalfToUInt16Bits((Half)f)), $"{f:R} (0x{BitConverter.SingleToUInt32Bits(f):x8})");
        Assert.That(float.IsNaN(LowPrecision.FromFp16(LowPrecision.ToFp16(float.NaN))));
    }

    [Test]
    public void Fp16WideningIsExactForEveryBitPattern()
    {
        for (int h = 0; h < 65536; h++)
        {
            float want = (float)BitConverter.UInt16BitsToHalf((ushort)h);
            float got = LowPrecision.FromFp16((ushort)h);
            if (float.IsNaN(want)) Assert.That(float.IsNaN(got), $"0x{h:x4}");
            else Assert.That(BitConverter.SingleToUInt32Bits(got), Is.EqualTo(BitConverter.SingleToUInt32Bits(want)), $"0x{h:x4}");
        }
    }

    [Test]
    public void Bf16RoundsToTheNearestNeighbourTiesToEven()
    {
        foreach (var f in Probes().Take(50_000))
        {
            if (!float.IsFinite(f)) continue;
            ushort h = LowPrecision.ToBf16(f);
            uint u = BitConverter.SingleToUInt32Bits(f);
            float down = BitConverter.UInt32BitsToSingle(u & 0xffff0000u), up = BitConverter.UInt32BitsToSingle((u & 0xffff0000u) + 0x10000u);
            // Above the largest bf16, "up" is 2^128 (as IEEE rounding sees it), which rounds to inf.
            double upD = float.IsInfinity(up) ? Math.CopySign(Math.Pow(2, 128), f) : up;
            double dd = Math.Abs((double)f - down), du = Math.Abs(upD - f);
            float r = LowPrecision.FromBf16(h);
            if (dd < du) Assert.That(r, Is.EqualTo(down));
            else if (du < dd) Assert.That(r, Is.EqualTo(up));
            else Assert.That(h & 1, Is.EqualTo(0), "ties go to even");
        }
        Assert.That(LowPrecision.ToBf16(float.NaN) & 0x7fc0, Is.EqualTo(0x7fc0), "NaN stays a quiet NaN");
        Assert.That(LowPrecision.ToBf16(float.PositiveInfinity), Is.EqualTo(0x7f80));
    }

    [Test]
    public void Bf16StochasticRoundingPicksANeighbourAndIsUnbiased()
    {
        float x = 1.00123f; // between the bf16 values 1 and 1.0078125
        double sum = 0;
        const int n = 200_000;
        for (int i = 0; i < n; i++)
        {
            float r = LowPrecision.FromBf16(LowPrecision.ToBf16Stochastic(x, LowPrecision.Random(99, i)));
            Assert.That(r, Is.EqualTo(1f).Or.EqualTo(1.0078125f));
            sum += r;
        }
        // Standard error of the mean: 0.0078125 * sqrt(p(1-p)/n) < 1e-5; allow 6 of them.
        Assert.That(sum / n, Is.EqualTo(x).Within(6e-5));
        Assert.That(LowPrecision.FromBf16(LowPrecision.ToBf16Stochastic(1f, 0xffffffff)), Is.EqualTo(1f), "representable values stay");
        Assert.That(LowPrecision.ToBf16Stochastic(float.PositiveInfinity, 0xffff), Is.EqualTo(0x7f80));
    }

    [Test]
    public void StreamKeysDifferBySeedNameAndStep()
    {
        var keys = new HashSet<uint>();
        foreach (uint seed in new uint[] { 0, 1 })
        foreach (var name in new[] { "w", "b", "w2" })
        for (long step = 1; step <= 50; step++)
            keys.Add(LowPrecision.Key(seed, name, step));
        Assert.That(keys, Has.Count.EqualTo(2 * 3 * 50));
        Assert.That(LowPrecision.Key(3, "w", 7), Is.EqualTo(LowPrecision.Key(3, "w", 7)));
    }

    [Test]
    public void PrecisionOptionsRejectWhatIsNotImplemented()
    {
        var e = Assert.Throws<ArgumentException>(() => new DeviceBackendOptions
            { Precision = new PrecisionOptions { Format = ParamFormat.Fp16, StochasticRounding = true } }.Validate());
        Assert.That(e!.Message, Does.Contain("bf16").And.Contain("Fp16"));
        Assert.Throws<ArgumentException>(() => new DeviceBackendOptions
            { Precision = new PrecisionOptions { MasterWeights = true } }.Validate());
    }

    [Test]
    public void Bf16ParametersOnTheEmulator()
    {
        using IDevice device = KernelDevices.OpenOrIgnore("emulator");
        var hp = Hyperparameters.Defaults(Algorithm.Adam) with { Lr = 1e-4 };
        float[] init = Enumerable.Range(0, 64).Select(i => 1f + i / 1000f).ToArray();

        // Without master weights (and round to nearest), Data mirrors bf16 and an update below half an ulp is lost.
        var plain = new Parameter("w", (float[])init.Clone());
        var b1 = new DeviceBackend(device, new DeviceBackendOptions { Precision = new PrecisionOptions { Format = ParamFormat.Bf16 } });
        using (var opt = new Optimizer(Algorithm.Adam, [plain], hp, b1))
        {
            plain.Grad = Enumerable.Repeat(1f, 64).ToArray();
            opt.Step();
            ushort[] bits = b1.LowPrecisionCopy(plain)!;
            for (int i = 0; i < 64; i++)
            {
                Assert.That(plain.Data[i], Is.EqualTo(LowPrecision.FromBf16(bits[i])));
                Assert.That(bits[i], Is.EqualTo(LowPrecision.ToBf16(init[i])), "a 1e-4 step is below half a bf16 ulp near 1");
            }
        }

        // With master weights the fp32 copy moves by lr and the bf16 copy is its rounding.
        var master = new Parameter("w", (float[])init.Clone());
        var b2 = new DeviceBackend(device, new DeviceBackendOptions
            { Precision = new PrecisionOptions { Format = ParamFormat.Bf16, MasterWeights = true } });
        using (var opt = new Optimizer(Algorithm.Adam, [master], hp, b2))
        {
            master.Grad = Enumerable.Repeat(1f, 64).ToArray();
            opt.Step();
            ushort[] bits = b2.LowPrecisionCopy(master)!;
            for (int i = 0; i < 64; i++)
            {
                Assert.That(master.Data[i], Is.EqualTo(init[i] - 1e-4f).Within(1e-6f));
                Assert.That(bits[i], Is.EqualTo(LowPrecision.ToBf16(master.Data[i])));
            }
        }
    }
}
