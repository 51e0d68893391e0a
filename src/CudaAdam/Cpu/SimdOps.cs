using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace CudaAdam.Cpu;

/// <summary>
/// The handful of IEEE operations the fused CPU step needs, over a vector type <typeparamref name="TV"/>
/// (<see cref="Vector512{T}"/>, <see cref="Vector256{T}"/>, <see cref="Vector128{T}"/> of float, or one float).
/// Every operation is the exact IEEE single-precision one, lane by lane: add, subtract, multiply, divide and sqrt
/// correctly rounded, never fused (no FMA), so a kernel written once over <typeparamref name="TV"/> gives the same
/// bits at every width and as the scalar reference (<c>Reference/*.cs</c>). Masks are lane values produced by the
/// comparisons and consumed only by <see cref="Select"/> and <see cref="Or"/>: all-ones/zero lanes for the vectors,
/// 1f/0f for the scalar, never read as numbers.
/// </summary>
internal interface IVecOps<TV> where TV : struct
{
    /// <summary>Lanes per vector.</summary>
    static abstract int Count { get; }
    static abstract TV Load(ref float source, nuint index);
    static abstract void Store(TV value, ref float destination, nuint index);
    static abstract TV Splat(float x);
    static abstract TV Add(TV a, TV b);
    static abstract TV Sub(TV a, TV b);
    static abstract TV Mul(TV a, TV b);
    static abstract TV Div(TV a, TV b);
    /// <summary>Correctly rounded square root (MathF.Sqrt).</summary>
    static abstract TV Sqrt(TV a);
    /// <summary>The sign bit cleared (MathF.Abs), NaN payload kept.</summary>
    static abstract TV Abs(TV a);
    /// <summary>The sign bit flipped (C#'s unary minus on a float), NaN payload kept.</summary>
    static abstract TV Neg(TV a);
    /// <summary>Ordered a &gt; b (false when either is NaN).</summary>
    static abstract TV GreaterThan(TV a, TV b);
    /// <summary>Ordered a &lt; b (false when either is NaN).</summary>
    static abstract TV LessThan(TV a, TV b);
    /// <summary>Ordered a == b (false when either is NaN; +0 == −0).</summary>
    static abstract TV Equal(TV a, TV b);
    /// <summary>a is NaN.</summary>
    static abstract TV IsNaN(TV a);
    /// <summary>The sign bit of a is set (−0 and negative NaNs included): float.IsNegative.</summary>
    static abstract TV IsNegative(TV a);
    static abstract TV Or(TV maskA, TV maskB);
    /// <summary>mask ? a : b, lane by lane.</summary>
    static abstract TV Select(TV mask, TV a, TV b);
}

/// <summary>The compound operations of the reference, written with <see cref="IVecOps{TV}"/> primitives.</summary>
internal static class VecMath
{
    /// <summary>
    /// <see cref="Reference.Reference.Sign"/>: <c>x &gt; 0 ? 1 : x &lt; 0 ? −1 : x</c>, so ±0 stays ±0 and NaN stays
    /// the same NaN.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Sign<TV, TO>(TV x) where TV : struct where TO : IVecOps<TV>
    {
        TV zero = TO.Splat(0f);
        return TO.Select(TO.GreaterThan(x, zero), TO.Splat(1f), TO.Select(TO.LessThan(x, zero), TO.Splat(-1f), x));
    }

    /// <summary>
    /// <see cref="MathF.Max(float, float)"/> (IEEE 754:2019 maximum, as .NET implements it and as
    /// <c>ca_max</c> in <c>kernels/common.cuh</c> mirrors it):
    /// <code>
    /// if (x != y) return IsNaN(x) ? x : (y &lt; x ? x : y);   // a NaN wins, x's NaN first
    /// return IsNegative(y) ? x : y;                         // equal: +0 beats −0
    /// </code>
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Max<TV, TO>(TV x, TV y) where TV : struct where TO : IVecOps<TV>
    {
        TV pickX = TO.Select(TO.Equal(x, y), TO.IsNegative(y), TO.Or(TO.IsNaN(x), TO.LessThan(y, x)));
        return TO.Select(pickX, x, y);
    }
}

/// <summary>512-bit lanes (AVX-512).</summary>
internal readonly struct Ops512 : IVecOps<Vector512<float>>
{
    public static int Count => Vector512<float>.Count;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Load(ref float s, nuint i) => Vector512.LoadUnsafe(ref s, i);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(Vector512<float> v, ref float d, nuint i) => v.StoreUnsafe(ref d, i);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Splat(float x) => Vector512.Create(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Add(Vector512<float> a, Vector512<float> b) => a + b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Sub(Vector512<float> a, Vector512<float> b) => a - b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Mul(Vector512<float> a, Vector512<float> b) => a * b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Div(Vector512<float> a, Vector512<float> b) => a / b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Sqrt(Vector512<float> a) => Vector512.Sqrt(a);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Abs(Vector512<float> a) => Vector512.AndNot(a, Vector512.Create(-0f));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Neg(Vector512<float> a) => Vector512.Xor(a, Vector512.Create(-0f));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> GreaterThan(Vector512<float> a, Vector512<float> b) => Vector512.GreaterThan(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> LessThan(Vector512<float> a, Vector512<float> b) => Vector512.LessThan(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Equal(Vector512<float> a, Vector512<float> b) => Vector512.Equals(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> IsNaN(Vector512<float> a) => Vector512.OnesComplement(Vector512.Equals(a, a));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> IsNegative(Vector512<float> a) => Vector512.LessThan(a.AsInt32(), Vector512<int>.Zero).AsSingle();
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Or(Vector512<float> a, Vector512<float> b) => a | b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Select(Vector512<float> m, Vector512<float> a, Vector512<float> b) => Vector512.ConditionalSelect(m, a, b);
}

/// <summary>256-bit lanes (AVX).</summary>
internal readonly struct Ops256 : IVecOps<Vector256<float>>
{
    public static int Count => Vector256<float>.Count;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Load(ref float s, nuint i) => Vector256.LoadUnsafe(ref s, i);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(Vector256<float> v, ref float d, nuint i) => v.StoreUnsafe(ref d, i);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Splat(float x) => Vector256.Create(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Add(Vector256<float> a, Vector256<float> b) => a + b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Sub(Vector256<float> a, Vector256<float> b) => a - b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Mul(Vector256<float> a, Vector256<float> b) => a * b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Div(Vector256<float> a, Vector256<float> b) => a / b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Sqrt(Vector256<float> a) => Vector256.Sqrt(a);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Abs(Vector256<float> a) => Vector256.AndNot(a, Vector256.Create(-0f));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Neg(Vector256<float> a) => Vector256.Xor(a, Vector256.Create(-0f));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> GreaterThan(Vector256<float> a, Vector256<float> b) => Vector256.GreaterThan(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> LessThan(Vector256<float> a, Vector256<float> b) => Vector256.LessThan(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Equal(Vector256<float> a, Vector256<float> b) => Vector256.Equals(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> IsNaN(Vector256<float> a) => Vector256.OnesComplement(Vector256.Equals(a, a));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> IsNegative(Vector256<float> a) => Vector256.LessThan(a.AsInt32(), Vector256<int>.Zero).AsSingle();
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Or(Vector256<float> a, Vector256<float> b) => a | b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Select(Vector256<float> m, Vector256<float> a, Vector256<float> b) => Vector256.ConditionalSelect(m, a, b);
}

/// <summary>128-bit lanes (SSE, AdvSimd).</summary>
internal readonly struct Ops128 : IVecOps<Vector128<float>>
{
    public static int Count => Vector128<float>.Count;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Load(ref float s, nuint i) => Vector128.LoadUnsafe(ref s, i);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(Vector128<float> v, ref float d, nuint i) => v.StoreUnsafe(ref d, i);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Splat(float x) => Vector128.Create(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Add(Vector128<float> a, Vector128<float> b) => a + b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Sub(Vector128<float> a, Vector128<float> b) => a - b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Mul(Vector128<float> a, Vector128<float> b) => a * b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Div(Vector128<float> a, Vector128<float> b) => a / b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Sqrt(Vector128<float> a) => Vector128.Sqrt(a);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Abs(Vector128<float> a) => Vector128.AndNot(a, Vector128.Create(-0f));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Neg(Vector128<float> a) => Vector128.Xor(a, Vector128.Create(-0f));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> GreaterThan(Vector128<float> a, Vector128<float> b) => Vector128.GreaterThan(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> LessThan(Vector128<float> a, Vector128<float> b) => Vector128.LessThan(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Equal(Vector128<float> a, Vector128<float> b) => Vector128.Equals(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> IsNaN(Vector128<float> a) => Vector128.OnesComplement(Vector128.Equals(a, a));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> IsNegative(Vector128<float> a) => Vector128.LessThan(a.AsInt32(), Vector128<int>.Zero).AsSingle();
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Or(Vector128<float> a, Vector128<float> b) => a | b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Select(Vector128<float> m, Vector128<float> a, Vector128<float> b) => Vector128.ConditionalSelect(m, a, b);
}

/// <summary>One float: the scalar tail, the reference's own operations (masks are 1f / 0f).</summary>
internal readonly struct Ops1 : IVecOps<float>
{
    public static int Count => 1;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Load(ref float s, nuint i) => Unsafe.Add(ref s, i);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(float v, ref float d, nuint i) => Unsafe.Add(ref d, i) = v;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Splat(float x) => x;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Add(float a, float b) => a + b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Sub(float a, float b) => a - b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Mul(float a, float b) => a * b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Div(float a, float b) => a / b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Sqrt(float a) => MathF.Sqrt(a);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Abs(float a) => MathF.Abs(a);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Neg(float a) => -a;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float GreaterThan(float a, float b) => a > b ? 1f : 0f;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float LessThan(float a, float b) => a < b ? 1f : 0f;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Equal(float a, float b) => a == b ? 1f : 0f;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float IsNaN(float a) => float.IsNaN(a) ? 1f : 0f;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float IsNegative(float a) => float.IsNegative(a) ? 1f : 0f;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Or(float a, float b) => a != 0f || b != 0f ? 1f : 0f;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Select(float m, float a, float b) => m != 0f ? a : b;
}
