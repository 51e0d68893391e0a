namespace CudaAdam;

/// <summary>Which dynamic quantization map an 8-bit state buffer uses (<see cref="DynamicMap"/>).</summary>
public enum QuantMap : byte
{
    /// <summary>The signed dynamic map: 127 negative values, 0, 128 positive values up to 1 (Adam's m, exp_avg).</summary>
    Signed = 1,
    /// <summary>The unsigned dynamic map: 0, then 255 positive values up to 1 (Adam's v, exp_avg_sq).</summary>
    Unsigned = 2,
}

/// <summary>
/// The dynamic ("tree") quantization maps of Dettmers et al., "8-bit Optimizers via Block-wise Quantization" (ICLR 2022;
/// the map itself from Dettmers 2016, "8-Bit Approximations for Parallelism in Deep Learning"), as 256 float32 values in
/// ascending order: code c stands for <c>Map[c]</c>, a value in [−1, 1] that is multiplied by its block's absmax.
/// </summary>
/// <remarks>
/// <para>How the maps are made (deterministic: exact integers and ONE correctly rounded double division per value, then
/// rounded to float32; no pow, no linspace, the same bits on every machine). An 8-bit code is a sign bit, then E zero
/// bits (the exponent: the value's order of magnitude is 10^−E), an indicator 1 bit, and the remaining bits a linear
/// fraction in [0.1, 1]. With 7 exponent levels i = 0 … 6 (scale 10^(i−6)), level i holds K_i fraction values, the
/// midpoints of K_i equal steps of [0.1, 1]:</para>
/// <code>
/// value(i, k) = 10^(i−6) · (0.1 + (k + ½)·0.9/K_i) = (2K_i + 18k + 9) / (20·K_i·10^(6−i)),   k = 0 … K_i − 1
/// signed:   K_i = 2^i     for each sign:  2·(1 + 2 + … + 64) = 254 values, plus 0 and +1   = 256
/// unsigned: K_i = 2^(i+1) (the sign bit becomes a fraction bit): 2 + 4 + … + 128 = 254, plus 0 and 1 = 256
/// </code>
/// <para>This is bitsandbytes' <c>create_dynamic_map(signed, max_exponent_bits=7, total_bits=8)</c> as its paper describes it;
/// bitsandbytes evaluates it in float32 torch ops (linspace, means, a power of ten), so an entry may differ from ours in
/// the last bit. What the maps promise (tested): strictly increasing, 0 exactly representable (every block that is all
/// zero stays exactly zero), the largest value exactly 1 (the block's absmax round-trips exactly), the signed map down to
/// −0.99296875 (not −1: the negative end of a block carries at most half the map's largest gap of error), the unsigned
/// map from exactly 0. The smallest non-zero magnitudes are 5.5e-7 (signed) and 3.25e-7 (unsigned) of the absmax: the
/// dynamic range that lets a block hold values of very different sizes.</para>
/// </remarks>
public static class DynamicMap
{
    /// <summary>Exponent levels (bitsandbytes' max_exponent_bits).</summary>
    public const int Levels = 7;

    private static readonly float[] SignedValues = Create(signed: true), UnsignedValues = Create(signed: false);

    /// <summary>The signed map, ascending.</summary>
    public static ReadOnlySpan<float> Signed => SignedValues;

    /// <summary>The unsigned map, ascending.</summary>
    public static ReadOnlySpan<float> Unsigned => UnsignedValues;

    /// <summary>The map of <paramref name="map"/>.</summary>
    public static ReadOnlySpan<float> Of(QuantMap map) => map switch
    {
        QuantMap.Signed => SignedValues,
        QuantMap.Unsigned => UnsignedValues,
        _ => throw new ArgumentOutOfRangeException(nameof(map), map, "not a quantization map"),
    };

    /// <summary>The code of the exact 0 (127 in the signed map, 0 in the unsigned one).</summary>
    public static byte ZeroCode(QuantMap map) => (byte)IndexOfZero(Of(map));

    /// <summary>Builds a map as the remarks say, sorted ascending.</summary>
    public static float[] Create(bool signed)
    {
        var values = new List<float> { 0f, 1f };
        for (int i = 0; i < Levels; i++)
        {
            long k = signed ? 1L << i : 1L << (i + 1);
            double tenPower = 1;
            for (int e = 0; e < Levels - 1 - i; e++) tenPower *= 10;     // 10^(6−i), an exact integer
            for (long j = 0; j < k; j++)
            {
                float v = (float)((2 * k + 18 * j + 9) / (20 * k * tenPower));
                values.Add(v);
                if (signed) values.Add(-v);
            }
        }
        if (values.Count != 256) throw new InvalidOperationException($"the dynamic map has {values.Count} values, not 256");
        values.Sort();
        return values.ToArray();
    }

    /// <summary>
    /// The code of <paramref name="x"/> (a value already divided by its block's absmax, so in [−1, 1]): the index of the
    /// nearest map value. Precisely: lo = the largest index with <c>map[lo] ≤ x</c> (0 when x is below map[0]), found by a
    /// binary search over 8 halvings; then lo + 1 when <c>map[lo+1] − x &lt; x − map[lo]</c> (float32 differences; a tie
    /// keeps lo). NaN (a block whose absmax is 0, NaN or ±inf) gives the code of 0. The kernel
    /// (<c>kernels/state8.cu</c>, <c>ca_q8_encode</c>) is this, line by line.
    /// </summary>
    public static byte Encode(float x, ReadOnlySpan<float> map)
    {
        if (float.IsNaN(x)) return (byte)IndexOfZero(map);
        int lo = 0;
        for (int step = 128; step > 0; step >>= 1)       // lo + step <= 255 always holds: 128 + 64 + … + 1 = 255
            lo += map[lo + step] <= x ? step : 0;
        if (lo < 255 && map[lo + 1] - x < x - map[lo]) lo++;
        return (byte)lo;
    }

    /// <summary>Half the largest gap between neighbouring map values: with the ends of [−1, 1] (signed) or [0, 1]
    /// (unsigned) within this of the map, <c>|x − Map[Encode(x)]| ≤ HalfLargestGap</c> for every x in the range.</summary>
    public static double HalfLargestGap(ReadOnlySpan<float> map)
    {
        double gap = 0;
        for (int i = 1; i < map.Length; i++) gap = Math.Max(gap, (double)map[i] - map[i - 1]);
        return gap / 2;
    }

    private static int IndexOfZero(ReadOnlySpan<float> map)
    {
        for (int i = 0; i < map.Length; i++)
            if (map[i] == 0) return i;
        throw new InvalidOperationException("the map has no 0");
    }
}

/// <summary>
/// One optimizer state buffer stored block-wise in 8 bits (Dettmers et al. 2022): the tensor is cut into blocks of
/// <see cref="BlockSize"/> elements (the last one shorter); each block keeps its absolute maximum in float32
/// (<see cref="Absmax"/>) and each element a byte code into the block's <see cref="DynamicMap"/>:
/// <code>
/// quantize a block x[0..n):  a = max_i |x_i|   (NaN when any x_i is NaN; then the canonical NaN 0x7fc00000)
///                            c_i = Encode(x_i / a)          (float32 division; NaN, from a = 0, NaN or inf, → the code of 0)
/// dequantize:                x_i ≈ Map[c_i] · a             (float32 product)
/// </code>
/// The maximum is exact whatever order a reduction takes (the one NaN is canonical), so the kernel's tree reduction and
/// this sequential loop give the same bits. Memory: 1 byte per element plus 4 bytes per 2,048 (0.002 bytes per element).
/// </summary>
public sealed class QuantizedBuffer
{
    /// <summary>Elements per block, on every backend (bitsandbytes' GPU block size).</summary>
    public const int BlockSize = 2048;

    /// <summary>The one NaN a non-finite block's absmax holds (0x7fc00000), so that every backend writes the same bits.</summary>
    public static readonly float CanonicalNaN = BitConverter.Int32BitsToSingle(0x7fc00000);

    /// <summary>A quantized buffer over <paramref name="map"/>: one code per element and one float32 absmax per
    /// <see cref="BlockSize"/>-element block.</summary>
    public QuantizedBuffer(QuantMap map, byte[] codes, float[] absmax)
    {
        ArgumentNullException.ThrowIfNull(codes);
        ArgumentNullException.ThrowIfNull(absmax);
        _ = DynamicMap.Of(map);
        if (absmax.Length != Blocks(codes.Length))
            throw new ArgumentException($"{codes.Length} codes need {Blocks(codes.Length)} absmax values (blocks of {BlockSize}), not {absmax.Length}");
        (Map, Codes, Absmax) = (map, codes, absmax);
    }

    /// <summary>The state before the first step: every code the map's 0, every absmax 0 (dequantizes to exactly 0).</summary>
    public static QuantizedBuffer Zeros(QuantMap map, int length)
    {
        var codes = new byte[length];
        Array.Fill(codes, DynamicMap.ZeroCode(map));
        return new QuantizedBuffer(map, codes, new float[Blocks(length)]);
    }

    /// <summary>Blocks of a tensor of <paramref name="length"/> elements: ⌈length / 2048⌉.</summary>
    public static int Blocks(int length) => (int)(((long)length + BlockSize - 1) / BlockSize);

    /// <summary>The quantization map the codes index (signed for exp_avg, unsigned for exp_avg_sq).</summary>
    public QuantMap Map { get; }
    /// <summary>One code per element.</summary>
    public byte[] Codes { get; }
    /// <summary>One float32 absmax per block.</summary>
    public float[] Absmax { get; }
    /// <summary>Elements.</summary>
    public int Length => Codes.Length;
    /// <summary>The bytes it holds: codes plus absmax values.</summary>
    public long Bytes => Codes.LongLength + Absmax.LongLength * sizeof(float);

    /// <summary>Block <paramref name="block"/> dequantized into <paramref name="into"/> (its length: the block's).</summary>
    public void DequantizeBlock(int block, Span<float> into)
    {
        var map = DynamicMap.Of(Map);
        int start = block * BlockSize;
        float a = Absmax[block];
        for (int i = 0; i < into.Length; i++) into[i] = map[Codes[start + i]] * a;
    }

    /// <summary>Quantizes <paramref name="values"/> (the block's elements) into block <paramref name="block"/>.</summary>
    public void QuantizeBlock(int block, ReadOnlySpan<float> values)
    {
        var map = DynamicMap.Of(Map);
        int start = block * BlockSize;
        float a = BlockAbsmax(values);
        Absmax[block] = a;
        for (int i = 0; i < values.Length; i++) Codes[start + i] = DynamicMap.Encode(values[i] / a, map);
    }

    /// <summary>max |x| over a block, NaN (the canonical one) when any x is NaN; +0 for an empty or all-zero block.</summary>
    public static float BlockAbsmax(ReadOnlySpan<float> values)
    {
        float a = 0f;
        foreach (float x in values)
        {
            float abs = MathF.Abs(x);
            if (abs > a || float.IsNaN(abs)) a = abs;
        }
        return float.IsNaN(a) ? CanonicalNaN : a;
    }

    /// <summary>The whole buffer dequantized (tests, diagnostics, converting a checkpoint).</summary>
    public float[] Dequantize()
    {
        var x = new float[Length];
        for (int b = 0; b < Absmax.Length; b++) DequantizeBlock(b, x.AsSpan(b * BlockSize, BlockLength(b)));
        return x;
    }

    /// <summary><paramref name="values"/> quantized block by block with <paramref name="map"/>.</summary>
    public static QuantizedBuffer Quantize(QuantMap map, ReadOnlySpan<float> values)
    {
        var q = new QuantizedBuffer(map, new byte[values.Length], new float[Blocks(values.Length)]);
        for (int b = 0; b < q.Absmax.Length; b++) q.QuantizeBlock(b, values.Slice(b * BlockSize, q.BlockLength(b)));
        return q;
    }

    /// <summary>Elements of block <paramref name="block"/> (2,048 but for the last).</summary>
    public int BlockLength(int block) => Math.Min(BlockSize, Length - block * BlockSize);

    /// <summary>A deep copy.</summary>
    public QuantizedBuffer Clone() => new(Map, (byte[])Codes.Clone(), (float[])Absmax.Clone());
}
