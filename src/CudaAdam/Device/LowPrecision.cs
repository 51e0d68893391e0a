#pragma warning disable CS1591 // CS1591 backlog (issue 13): 2 public members here have no XML doc yet; document them, then delete this line
namespace CudaAdam.Device;

/// <summary>How the parameters are stored on the device.</summary>
public enum ParamFormat
{
    /// <summary>float32 (the default).</summary>
    Fp32,
    /// <summary>bfloat16 (8-bit exponent, 7-bit mantissa), fp32 state.</summary>
    Bf16,
    /// <summary>IEEE 754 half (5-bit exponent, 10-bit mantissa), fp32 state.</summary>
    Fp16,
}

/// <summary>
/// 16-bit parameters with fp32 optimizer state (the usual mixed-precision setup). The step's math is fp32 as
/// always; the parameter is widened (exactly) from 16 bits, or read from fp32 master weights, and the new value is
/// rounded back to 16 bits.
/// </summary>
/// <remarks>
/// Host view (<see cref="Parameter.Data"/>): without master weights it mirrors the 16-bit parameter: every value is
/// exactly representable in the format (values that are not are rounded to nearest on the first upload). With
/// master weights it is the fp32 master copy, and the 16-bit copy is read with
/// <see cref="DeviceBackend.LowPrecisionCopy"/>. Stochastic rounding (bf16 only, Gupta et al. 2015):
/// round(x) is the bf16 just below |x| or just above, with probabilities that make E[round(x)] = x; without it
/// updates smaller than half a bf16 ulp of the parameter are lost when there are no master weights.
/// </remarks>
public sealed record PrecisionOptions
{
    public ParamFormat Format { get; init; } = ParamFormat.Fp32;
    /// <summary>Keep fp32 master weights beside the 16-bit parameters (in <see cref="Parameter.Data"/>).</summary>
    public bool MasterWeights { get; init; }
    /// <summary>Round the new bf16 parameter stochastically (bf16 only).</summary>
    public bool StochasticRounding { get; init; }
    /// <summary>Seed of the stochastic rounding streams; with the parameter's name and step it keys the random bits.</summary>
    public uint Seed { get; init; }

    public static PrecisionOptions Fp32 { get; } = new();

    internal void Validate()
    {
        if (Format == ParamFormat.Fp32 && (MasterWeights || StochasticRounding))
            throw new ArgumentException("master weights and stochastic rounding need 16-bit parameters (Format = Bf16 or Fp16)");
        if (StochasticRounding && Format != ParamFormat.Bf16)
            throw new ArgumentException($"stochastic rounding is implemented for bf16 parameters, not {Format}");
    }

    /// <summary>The kernel flags of this setting.</summary>
    internal uint Flags => (Format switch
    {
        ParamFormat.Bf16 => KernelFlags.ParamBf16,
        ParamFormat.Fp16 => KernelFlags.ParamFp16,
        _ => 0u,
    }) | (StochasticRounding ? KernelFlags.Stochastic : 0u);
}

/// <summary>
/// The host twin of the 16-bit section of <c>kernels/common.cuh</c>, line by line: conversions with integer bit
/// operations, the counter-based random bits of stochastic rounding, and the per-tensor stream key.
/// </summary>
public static class LowPrecision
{
    /// <summary><c>ca_random</c>: 32 random bits for element <paramref name="i"/> of stream <paramref name="key"/>.</summary>
    public static uint Random(uint key, long i)
    {
        ulong z = ((ulong)key << 32) ^ (ulong)i;
        z += 0x9e3779b97f4a7c15UL;
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9UL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebUL;
        z ^= z >> 31;
        return (uint)(z >> 32);
    }

    /// <summary>The stochastic rounding stream of parameter <paramref name="name"/> at step <paramref name="step"/>:
    /// differs per seed, parameter and step; independent of the order of parameters.</summary>
    public static uint Key(uint seed, string name, long step)
    {
        uint h = 2166136261;
        foreach (char ch in name) h = (h ^ ch) * 16777619;
        ulong z = ((ulong)seed << 32 | h) ^ ((ulong)step * 0x9e3779b97f4a7c15UL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9UL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebUL;
        return (uint)((z ^ (z >> 31)) >> 32);
    }

    /// <summary><c>ca_f32_to_bf16_rn</c>: round to nearest even; NaN stays a quiet NaN.</summary>
    public static ushort ToBf16(float x)
    {
        uint u = BitConverter.SingleToUInt32Bits(x);
        if ((u & 0x7fffffffu) > 0x7f800000u) return (ushort)((u >> 16) | 0x0040u);
        u += 0x7fffu + ((u >> 16) & 1u);
        return (ushort)(u >> 16);
    }

    /// <summary><c>ca_f32_to_bf16_sr</c>: stochastic rounding with random bits <paramref name="r"/>.</summary>
    public static ushort ToBf16Stochastic(float x, uint r)
    {
        uint u = BitConverter.SingleToUInt32Bits(x);
        if ((u & 0x7f800000u) == 0x7f800000u) return ToBf16(x);
        u += r & 0xffffu;
        return (ushort)(u >> 16);
    }

    /// <summary><c>ca_f32_to_f16_rn</c>: IEEE half, round to nearest even (equal to .NET's <c>(Half)x</c>).</summary>
    public static ushort ToFp16(float x)
    {
        uint u = BitConverter.SingleToUInt32Bits(x);
        uint sign = (u >> 16) & 0x8000u;
        uint a = u & 0x7fffffffu;
        if (a > 0x7f800000u) return (ushort)(sign | 0x7e00u);
        if (a >= 0x477ff000u) return (ushort)(sign | 0x7c00u);
        if (a >= 0x38800000u)
        {
            uint r = a + 0xfffu + ((a >> 13) & 1u);
            return (ushort)(sign | ((r >> 13) - (112u << 10)));
        }
        if (a < 0x33000000u) return (ushort)sign;
        uint e = a >> 23;
        uint m = (a & 0x7fffffu) | 0x800000u;
        int shift = (int)(126u - e);
        uint k = m >> shift;
        uint rem = m & ((1u << shift) - 1u), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (k & 1u) != 0)) k++;
        return (ushort)(sign | k);
    }

    /// <summary>bfloat16 → float (exact).</summary>
    public static float FromBf16(ushort h) => BitConverter.UInt32BitsToSingle((uint)h << 16);

    /// <summary><c>ca_f16_to_f32</c>: IEEE half → float (exact).</summary>
    public static float FromFp16(ushort h)
    {
        uint sign = ((uint)h & 0x8000u) << 16;
        uint e = ((uint)h >> 10) & 0x1fu, m = (uint)h & 0x3ffu;
        if (e == 0x1fu) return BitConverter.UInt32BitsToSingle(sign | 0x7f800000u | (m << 13));
        if (e == 0u)
        {
            float v = m * 5.9604644775390625e-8f;
            return sign != 0 ? -v : v;
        }
        return BitConverter.UInt32BitsToSingle(sign | ((e + 112u) << 23) | (m << 13));
    }

    /// <summary><c>ca_widen</c>.</summary>
    public static float Widen(ushort h, ParamFormat format) => format == ParamFormat.Fp16 ? FromFp16(h) : FromBf16(h);

    /// <summary><c>ca_narrow</c> for element <paramref name="i"/> of a tensor whose stream is <paramref name="key"/>.</summary>
    public static ushort Narrow(float x, PrecisionOptions p, uint key, long i) =>
        p.Format == ParamFormat.Fp16 ? ToFp16(x)
        : p.StochasticRounding ? ToBf16Stochastic(x, Random(key, i))
        : ToBf16(x);

    /// <summary>Round to nearest (no randomness): how an fp32 host value enters 16-bit storage.</summary>
    public static ushort RoundNearest(float x, ParamFormat format) => format == ParamFormat.Fp16 ? ToFp16(x) : ToBf16(x);
}
