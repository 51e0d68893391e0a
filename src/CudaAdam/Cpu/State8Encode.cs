namespace CudaAdam.Cpu;

/// <summary>
/// The fast CPU path's <see cref="DynamicMap.Encode"/>: the same code for every float, found through a table instead of
/// the reference's binary search (8 dependent loads and compares per element, the CPU path's bottleneck). The float's
/// bits, made monotone (<see cref="Key"/>), pick one of 65,536 buckets by their top 16 bits (sign, exponent, 7 mantissa
/// bits); the table holds, per bucket, the largest map index whose value is ≤ the bucket's smallest float (0 when there is
/// none). From there lo advances while <c>map[lo+1] ≤ x</c> (at most two steps for these maps), which leaves lo = the
/// largest index with <c>map[lo] ≤ x</c>, exactly the binary search's; the nearest-value step after it is the reference's,
/// line for line. Proven equal to <see cref="DynamicMap.Encode"/> around every map value, midpoint and bucket edge
/// (State8Tests), and through the conformance registry (the cpu backend runs every 8-bit case bitwise).
/// </summary>
internal static class State8Encode
{
    private static readonly byte[] SignedTable = Build(DynamicMap.Signed), UnsignedTable = Build(DynamicMap.Unsigned);
    private static readonly byte SignedZero = DynamicMap.ZeroCode(QuantMap.Signed), UnsignedZero = DynamicMap.ZeroCode(QuantMap.Unsigned);

    /// <summary>Float order as unsigned order: −NaN … −0 &lt; +0 … +NaN.</summary>
    internal static uint Key(float x)
    {
        uint b = BitConverter.SingleToUInt32Bits(x);
        return (b & 0x80000000u) == 0 ? b | 0x80000000u : ~b;
    }

    private static float FromKey(uint key) =>
        BitConverter.UInt32BitsToSingle((key & 0x80000000u) != 0 ? key & 0x7fffffffu : ~key);

    private static byte[] Build(ReadOnlySpan<float> map)
    {
        var table = new byte[1 << 16];
        for (int bucket = 0; bucket < table.Length; bucket++)
        {
            float least = FromKey((uint)bucket << 16);   // NaN for the NaN buckets: no map value is <= it, so 0 (never read)
            int lo = 0;
            for (int i = 0; i < map.Length; i++)
                if (map[i] <= least) lo = i;
            table[bucket] = (byte)lo;
        }
        return table;
    }

    /// <summary>The code of <paramref name="x"/>: bitwise <see cref="DynamicMap.Encode"/>.</summary>
    public static byte Encode(float x, QuantMap which) => which == QuantMap.Signed
        ? Encode(x, DynamicMap.Signed, SignedTable, SignedZero)
        : Encode(x, DynamicMap.Unsigned, UnsignedTable, UnsignedZero);

    private static byte Encode(float x, ReadOnlySpan<float> map, byte[] table, byte zero)
    {
        if (float.IsNaN(x)) return zero;
        int lo = table[Key(x) >> 16];
        while (lo < 255 && map[lo + 1] <= x) lo++;
        if (lo < 255 && map[lo + 1] - x < x - map[lo]) lo++;
        return (byte)lo;
    }

    /// <summary><see cref="QuantizedBuffer.QuantizeBlock"/> with this encoder: the same absmax, the same codes.</summary>
    public static void QuantizeBlock(QuantizedBuffer q, int block, ReadOnlySpan<float> values)
    {
        bool signed = q.Map == QuantMap.Signed;
        var map = signed ? DynamicMap.Signed : DynamicMap.Unsigned;
        var (table, zero) = signed ? (SignedTable, SignedZero) : (UnsignedTable, UnsignedZero);
        float a = QuantizedBuffer.BlockAbsmax(values);
        q.Absmax[block] = a;
        var codes = q.Codes.AsSpan(block * QuantizedBuffer.BlockSize, values.Length);
        for (int i = 0; i < values.Length; i++) codes[i] = Encode(values[i] / a, map, table, zero);
    }
}
