using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace CudaAdam.Cpu;

/// <summary>One element step at index i, for any vector width (written once, run at 16, 8, 4 and 1 lanes).</summary>
internal interface IStepKernel
{
    void At<TV, TO>(nuint i) where TV : struct where TO : IVecOps<TV>;
}

/// <summary>
/// The element loops of the fast CPU step, one kernel per reference, each a line-by-line transcription of the loop
/// body of that reference (<c>Reference/*.cs</c>) into <see cref="IVecOps{TV}"/> operations: the same IEEE operations
/// on the same operands in the same order (left-associative as C# evaluates <c>a * b * c</c>), so every width gives
/// the reference's bits. The loads of a state slot happen where the reference reads it and the stores where it
/// writes it.
/// </summary>
internal static class SimdKernels
{
    /// <summary>The widest vector the loops may use (16, 8, 4 or 1 lanes): tests lower it to run every width here.</summary>
    internal static int MaxLanes { get; set; } = 16;

    /// <summary>The width the loops run at on this machine (the body; narrower widths take the tail).</summary>
    internal static int Lanes =>
        MaxLanes >= 16 && Vector512.IsHardwareAccelerated ? 16
        : MaxLanes >= 8 && Vector256.IsHardwareAccelerated ? 8
        : MaxLanes >= 4 && Vector128.IsHardwareAccelerated ? 4 : 1;

    /// <summary>Runs <paramref name="k"/> over [0, n): 16-lane body, then 8-, 4-lane and scalar tails.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Run<TK>(scoped ref TK k, nuint n) where TK : struct, IStepKernel, allows ref struct
    {
        nuint i = 0;
        int lanes = MaxLanes;
        if (lanes >= 16 && Vector512.IsHardwareAccelerated)
            for (; n - i >= 16; i += 16) k.At<Vector512<float>, Ops512>(i);
        if (lanes >= 8 && Vector256.IsHardwareAccelerated)
            for (; n - i >= 8; i += 8) k.At<Vector256<float>, Ops256>(i);
        if (lanes >= 4 && Vector128.IsHardwareAccelerated)
            for (; n - i >= 4; i += 4) k.At<Vector128<float>, Ops128>(i);
        for (; i < n; i++) k.At<float, Ops1>(i);
    }

    /// <summary><see cref="Reference.Reference.Grad"/> of the transformed gradient: <c>g·inv_scale</c>, <c>·clip</c>
    /// (each when set, as the backends multiply), then −g when maximizing.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static TV Grad<TV, TO>(ref float grad, nuint i, in StepConstants c) where TV : struct where TO : IVecOps<TV>
    {
        TV g = TO.Load(ref grad, i);
        if (c.Unscale) g = TO.Mul(g, TO.Splat(c.InvScale));
        if (c.Clip) g = TO.Mul(g, TO.Splat(c.ClipCoefficient));
        return c.Maximize ? TO.Neg(g) : g;
    }
}

/// <summary>Mirrors <see cref="Reference.AdamReference"/>'s <c>Update</c> (Adam, AdamW, SignAdam; AMSGrad with VMax).</summary>
internal ref struct AdamKernel(in StepConstants c) : IStepKernel
{
    public ref float P, G, M, V, VMax;
    private readonly StepConstants _c = c;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public readonly void At<TV, TO>(nuint i) where TV : struct where TO : IVecOps<TV>
    {
        TV g = SimdKernels.Grad<TV, TO>(ref G, i, _c);
        TV x = TO.Load(ref P, i);
        if (_c.Decoupled) x = TO.Mul(x, TO.Splat(_c.Decay));
        else if (_c.WeightDecayNonZero) g = TO.Add(g, TO.Mul(TO.Splat(_c.Wd), x));
        TV m = TO.Add(TO.Mul(TO.Load(ref M, i), TO.Splat(_c.Beta1)), TO.Mul(TO.Splat(_c.OneMinusBeta1), g));
        TO.Store(m, ref M, i);
        TV v = TO.Add(TO.Mul(TO.Load(ref V, i), TO.Splat(_c.Beta2)), TO.Mul(TO.Mul(TO.Splat(_c.OneMinusBeta2), g), g));
        TO.Store(v, ref V, i);
        TV vHat = v;
        if (_c.HasVMax)
        {
            vHat = VecMath.Max<TV, TO>(TO.Load(ref VMax, i), v);
            TO.Store(vHat, ref VMax, i);
        }
        TV denom = TO.Add(TO.Div(TO.Sqrt(vHat), TO.Splat(_c.Bc2Sqrt)), TO.Splat(_c.Eps));
        if (_c.SignDecomposed)
        {
            TV uRaw = TO.Div(TO.Abs(m), denom);
            TO.Store(TO.Sub(x, TO.Mul(TO.Splat(_c.StepSize), TO.Mul(uRaw, VecMath.Sign<TV, TO>(m)))), ref P, i);
        }
        else
        {
            TO.Store(TO.Add(x, TO.Mul(TO.Splat(_c.NegStepSize), TO.Div(m, denom))), ref P, i);
        }
    }
}

/// <summary>Mirrors <see cref="Reference.AdaMaxReference"/>.</summary>
internal ref struct AdaMaxKernel(in StepConstants c) : IStepKernel
{
    public ref float P, G, M, U;
    private readonly StepConstants _c = c;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public readonly void At<TV, TO>(nuint i) where TV : struct where TO : IVecOps<TV>
    {
        TV g = SimdKernels.Grad<TV, TO>(ref G, i, _c);
        TV x = TO.Load(ref P, i);
        if (_c.WeightDecayNonZero) g = TO.Add(g, TO.Mul(TO.Splat(_c.Wd), x));
        TV m = TO.Add(TO.Mul(TO.Load(ref M, i), TO.Splat(_c.Beta1)), TO.Mul(TO.Splat(_c.OneMinusBeta1), g));
        TO.Store(m, ref M, i);
        TV u = VecMath.Max<TV, TO>(TO.Mul(TO.Load(ref U, i), TO.Splat(_c.Beta2)), TO.Add(TO.Abs(g), TO.Splat(_c.Eps)));
        TO.Store(u, ref U, i);
        TO.Store(TO.Add(x, TO.Div(TO.Mul(TO.Splat(_c.NegClr), m), u)), ref P, i);
    }
}

/// <summary>Mirrors <see cref="Reference.NAdamReference"/>.</summary>
internal ref struct NAdamKernel(in StepConstants c) : IStepKernel
{
    public ref float P, G, M, V;
    private readonly StepConstants _c = c;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public readonly void At<TV, TO>(nuint i) where TV : struct where TO : IVecOps<TV>
    {
        TV g = SimdKernels.Grad<TV, TO>(ref G, i, _c);
        TV x = TO.Load(ref P, i);
        if (_c.WeightDecayNonZero)
        {
            if (_c.Decoupled) x = TO.Mul(x, TO.Splat(_c.Decay));
            else g = TO.Add(g, TO.Mul(TO.Splat(_c.Wd), x));
        }
        TV m = TO.Add(TO.Mul(TO.Load(ref M, i), TO.Splat(_c.Beta1)), TO.Mul(TO.Splat(_c.OneMinusBeta1), g));
        TO.Store(m, ref M, i);
        TV v = TO.Add(TO.Mul(TO.Load(ref V, i), TO.Splat(_c.Beta2)), TO.Mul(TO.Mul(TO.Splat(_c.OneMinusBeta2), g), g));
        TO.Store(v, ref V, i);
        TV denom = TO.Add(TO.Sqrt(TO.Div(v, TO.Splat(_c.Bc2))), TO.Splat(_c.Eps));
        x = TO.Add(x, TO.Div(TO.Mul(TO.Splat(_c.NegGradStep), g), denom));
        TO.Store(TO.Add(x, TO.Div(TO.Mul(TO.Splat(_c.NegMomentumStep), m), denom)), ref P, i);
    }
}

/// <summary>Mirrors <see cref="Reference.RAdamReference"/>.</summary>
internal ref struct RAdamKernel(in StepConstants c) : IStepKernel
{
    public ref float P, G, M, V;
    private readonly StepConstants _c = c;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public readonly void At<TV, TO>(nuint i) where TV : struct where TO : IVecOps<TV>
    {
        TV g = SimdKernels.Grad<TV, TO>(ref G, i, _c);
        TV x = TO.Load(ref P, i);
        if (_c.WeightDecayNonZero)
        {
            if (_c.Decoupled) x = TO.Mul(x, TO.Splat(_c.Decay));
            else g = TO.Add(g, TO.Mul(TO.Splat(_c.Wd), x));
        }
        TV m = TO.Add(TO.Mul(TO.Load(ref M, i), TO.Splat(_c.Beta1)), TO.Mul(TO.Splat(_c.OneMinusBeta1), g));
        TO.Store(m, ref M, i);
        TV v = TO.Add(TO.Mul(TO.Load(ref V, i), TO.Splat(_c.Beta2)), TO.Mul(TO.Mul(TO.Splat(_c.OneMinusBeta2), g), g));
        TO.Store(v, ref V, i);
        TV mHat = TO.Div(m, TO.Splat(_c.Bc1));
        if (_c.Rectified)
        {
            TV adaptiveLr = TO.Mul(TO.Div(TO.Splat(1f), TO.Add(TO.Sqrt(v), TO.Splat(_c.Eps))), TO.Splat(_c.Bc2Sqrt));
            TO.Store(TO.Sub(x, TO.Mul(TO.Mul(TO.Mul(mHat, TO.Splat(_c.Lr)), adaptiveLr), TO.Splat(_c.Rect))), ref P, i);
        }
        else
        {
            TO.Store(TO.Sub(x, TO.Mul(mHat, TO.Splat(_c.Lr))), ref P, i);
        }
    }
}

/// <summary>Mirrors <see cref="Reference.SgdReference"/> (momentum, dampening, Nesterov; the first-step buffer copy).</summary>
internal ref struct SgdKernel(in StepConstants c) : IStepKernel
{
    public ref float P, G, Buf;
    private readonly StepConstants _c = c;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public readonly void At<TV, TO>(nuint i) where TV : struct where TO : IVecOps<TV>
    {
        TV g = SimdKernels.Grad<TV, TO>(ref G, i, _c);
        TV x = TO.Load(ref P, i);
        if (_c.WeightDecayNonZero) g = TO.Add(g, TO.Mul(TO.Splat(_c.Wd), x));
        if (_c.UseMomentum)
        {
            TV b = _c.FirstBuffer ? g
                : TO.Add(TO.Mul(TO.Load(ref Buf, i), TO.Splat(_c.Momentum)), TO.Mul(TO.Splat(_c.OneMinusDampening), g));
            TO.Store(b, ref Buf, i);
            g = _c.Nesterov ? TO.Add(g, TO.Mul(TO.Splat(_c.Momentum), b)) : b;
        }
        TO.Store(TO.Add(x, TO.Mul(TO.Splat(_c.NegLr), g)), ref P, i);
    }
}

/// <summary>Mirrors <see cref="Reference.AdaGradReference"/>.</summary>
internal ref struct AdaGradKernel(in StepConstants c) : IStepKernel
{
    public ref float P, G, Sum;
    private readonly StepConstants _c = c;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public readonly void At<TV, TO>(nuint i) where TV : struct where TO : IVecOps<TV>
    {
        TV g = SimdKernels.Grad<TV, TO>(ref G, i, _c);
        TV x = TO.Load(ref P, i);
        if (_c.WeightDecayNonZero) g = TO.Add(g, TO.Mul(TO.Splat(_c.Wd), x));
        TV sum = TO.Add(TO.Load(ref Sum, i), TO.Mul(g, g));
        TO.Store(sum, ref Sum, i);
        TV std = TO.Add(TO.Sqrt(sum), TO.Splat(_c.Eps));
        TO.Store(TO.Add(x, TO.Div(TO.Mul(TO.Splat(_c.NegClr), g), std)), ref P, i);
    }
}

/// <summary>Mirrors <see cref="Reference.RmsPropReference"/> (centered, momentum).</summary>
internal ref struct RmsPropKernel(in StepConstants c) : IStepKernel
{
    public ref float P, G, SquareAvg, GradAvg, Buf;
    private readonly StepConstants _c = c;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public readonly void At<TV, TO>(nuint i) where TV : struct where TO : IVecOps<TV>
    {
        TV g = SimdKernels.Grad<TV, TO>(ref G, i, _c);
        TV x = TO.Load(ref P, i);
        if (_c.WeightDecayNonZero) g = TO.Add(g, TO.Mul(TO.Splat(_c.Wd), x));
        TV sq = TO.Add(TO.Mul(TO.Load(ref SquareAvg, i), TO.Splat(_c.Alpha)), TO.Mul(TO.Mul(TO.Splat(_c.OneMinusAlpha), g), g));
        TO.Store(sq, ref SquareAvg, i);
        TV avg;
        if (_c.Centered)
        {
            TV ga = TO.Add(TO.Mul(TO.Load(ref GradAvg, i), TO.Splat(_c.Alpha)), TO.Mul(TO.Splat(_c.OneMinusAlpha), g));
            TO.Store(ga, ref GradAvg, i);
            // The reference's "+ -1f * ga * ga": a multiplication by −1 (not a negation: it quiets, keeps a NaN's sign).
            avg = TO.Sqrt(TO.Add(sq, TO.Mul(TO.Mul(TO.Splat(-1f), ga), ga)));
        }
        else
        {
            avg = TO.Sqrt(sq);
        }
        avg = TO.Add(avg, TO.Splat(_c.Eps));
        if (_c.UseMomentum)
        {
            TV b = TO.Add(TO.Mul(TO.Load(ref Buf, i), TO.Splat(_c.Momentum)), TO.Div(g, avg));
            TO.Store(b, ref Buf, i);
            TO.Store(TO.Add(x, TO.Mul(TO.Splat(_c.NegLr), b)), ref P, i);
        }
        else
        {
            TO.Store(TO.Add(x, TO.Div(TO.Mul(TO.Splat(_c.NegLr), g), avg)), ref P, i);
        }
    }
}

/// <summary>Mirrors <see cref="Reference.AdaDeltaReference"/>.</summary>
internal ref struct AdaDeltaKernel(in StepConstants c) : IStepKernel
{
    public ref float P, G, SquareAvg, AccDelta;
    private readonly StepConstants _c = c;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public readonly void At<TV, TO>(nuint i) where TV : struct where TO : IVecOps<TV>
    {
        TV g = SimdKernels.Grad<TV, TO>(ref G, i, _c);
        TV x = TO.Load(ref P, i);
        if (_c.WeightDecayNonZero) g = TO.Add(g, TO.Mul(TO.Splat(_c.Wd), x));
        TV sq = TO.Add(TO.Mul(TO.Load(ref SquareAvg, i), TO.Splat(_c.Rho)), TO.Mul(TO.Mul(TO.Splat(_c.OneMinusRho), g), g));
        TO.Store(sq, ref SquareAvg, i);
        TV std = TO.Sqrt(TO.Add(sq, TO.Splat(_c.Eps)));
        TV delta = TO.Mul(TO.Div(TO.Sqrt(TO.Add(TO.Load(ref AccDelta, i), TO.Splat(_c.Eps))), std), g);
        TV acc = TO.Add(TO.Mul(TO.Load(ref AccDelta, i), TO.Splat(_c.Rho)), TO.Mul(TO.Mul(TO.Splat(_c.OneMinusRho), delta), delta));
        TO.Store(acc, ref AccDelta, i);
        TO.Store(TO.Add(x, TO.Mul(TO.Splat(_c.NegLr), delta)), ref P, i);
    }
}

/// <summary>Mirrors <see cref="Reference.SignSgdReference"/>.</summary>
internal ref struct SignSgdKernel(in StepConstants c) : IStepKernel
{
    public ref float P, G;
    private readonly StepConstants _c = c;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public readonly void At<TV, TO>(nuint i) where TV : struct where TO : IVecOps<TV>
    {
        TV g = SimdKernels.Grad<TV, TO>(ref G, i, _c);
        TV x = TO.Load(ref P, i);
        if (_c.WeightDecayNonZero) g = TO.Add(g, TO.Mul(TO.Splat(_c.Wd), x));
        TO.Store(TO.Sub(x, TO.Mul(TO.Splat(_c.Lr), VecMath.Sign<TV, TO>(g))), ref P, i);
    }
}

/// <summary>Mirrors <see cref="Reference.SignumReference"/> (β in <see cref="StepConstants.Beta1"/>).</summary>
internal ref struct SignumKernel(in StepConstants c) : IStepKernel
{
    public ref float P, G, M;
    private readonly StepConstants _c = c;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public readonly void At<TV, TO>(nuint i) where TV : struct where TO : IVecOps<TV>
    {
        TV g = SimdKernels.Grad<TV, TO>(ref G, i, _c);
        TV x = TO.Load(ref P, i);
        if (_c.WeightDecayNonZero) g = TO.Add(g, TO.Mul(TO.Splat(_c.Wd), x));
        TV m = TO.Add(TO.Mul(TO.Load(ref M, i), TO.Splat(_c.Beta1)), TO.Mul(TO.Splat(_c.OneMinusBeta1), g));
        TO.Store(m, ref M, i);
        TO.Store(TO.Sub(x, TO.Mul(TO.Splat(_c.Lr), VecMath.Sign<TV, TO>(m))), ref P, i);
    }
}

/// <summary>Mirrors <see cref="Reference.LionReference"/>.</summary>
internal ref struct LionKernel(in StepConstants c) : IStepKernel
{
    public ref float P, G, M;
    private readonly StepConstants _c = c;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public readonly void At<TV, TO>(nuint i) where TV : struct where TO : IVecOps<TV>
    {
        TV g = SimdKernels.Grad<TV, TO>(ref G, i, _c);
        TV m = TO.Load(ref M, i);
        TV c = TO.Add(TO.Mul(m, TO.Splat(_c.Beta1)), TO.Mul(TO.Splat(_c.OneMinusBeta1), g));
        TO.Store(TO.Sub(TO.Mul(TO.Load(ref P, i), TO.Splat(_c.Decay)), TO.Mul(TO.Splat(_c.Lr), VecMath.Sign<TV, TO>(c))), ref P, i);
        TO.Store(TO.Add(TO.Mul(m, TO.Splat(_c.Beta2)), TO.Mul(TO.Splat(_c.OneMinusBeta2), g)), ref M, i);
    }
}

/// <summary>Mirrors <see cref="Reference.YogiReference"/>.</summary>
internal ref struct YogiKernel(in StepConstants c) : IStepKernel
{
    public ref float P, G, M, V;
    private readonly StepConstants _c = c;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public readonly void At<TV, TO>(nuint i) where TV : struct where TO : IVecOps<TV>
    {
        TV g = SimdKernels.Grad<TV, TO>(ref G, i, _c);
        TV x = TO.Load(ref P, i);
        if (_c.WeightDecayNonZero) g = TO.Add(g, TO.Mul(TO.Splat(_c.Wd), x));
        TV m = TO.Add(TO.Mul(TO.Load(ref M, i), TO.Splat(_c.Beta1)), TO.Mul(TO.Splat(_c.OneMinusBeta1), g));
        TO.Store(m, ref M, i);
        TV g2 = TO.Mul(g, g);
        TV v0 = TO.Load(ref V, i);
        TV v = TO.Sub(v0, TO.Mul(TO.Mul(TO.Splat(_c.OneMinusBeta2), VecMath.Sign<TV, TO>(TO.Sub(v0, g2))), g2));
        TO.Store(v, ref V, i);
        TO.Store(TO.Sub(x, TO.Mul(TO.Splat(_c.Lr), TO.Div(m, TO.Add(TO.Sqrt(v), TO.Splat(_c.Eps))))), ref P, i);
    }
}

/// <summary>Mirrors <see cref="Reference.AdamWScheduleFreeReference"/> (adaptive) and
/// <see cref="Reference.SgdScheduleFreeReference"/>: torch's lerp with its branch chosen once per step (the weight c is a
/// constant), z read as y on the first step (the reference's copy of the parameter).</summary>
internal ref struct ScheduleFreeKernel(in StepConstants c, bool adaptive) : IStepKernel
{
    public ref float P, G, Z, V;
    private readonly StepConstants _c = c;
    private readonly bool _adaptive = adaptive;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public readonly void At<TV, TO>(nuint i) where TV : struct where TO : IVecOps<TV>
    {
        TV g = SimdKernels.Grad<TV, TO>(ref G, i, _c);
        TV y = TO.Load(ref P, i);
        TV u = g;
        if (_adaptive)
        {
            TV v = TO.Add(TO.Mul(TO.Load(ref V, i), TO.Splat(_c.Beta2)), TO.Mul(TO.Mul(TO.Splat(_c.OneMinusBeta2), g), g));
            TO.Store(v, ref V, i);
            TV d = TO.Add(TO.Sqrt(TO.Div(v, TO.Splat(_c.Bc2))), TO.Splat(_c.Eps));
            u = TO.Div(g, d);
        }
        if (_c.WeightDecayNonZero) u = TO.Add(u, TO.Mul(TO.Splat(_c.Wd), y));
        TV z = _c.FirstBuffer ? y : TO.Load(ref Z, i);
        TV lerp = _c.LerpSmall
            ? TO.Add(y, TO.Mul(TO.Splat(_c.Ckp1), TO.Sub(z, y)))
            : TO.Sub(z, TO.Mul(TO.Sub(z, y), TO.Splat(_c.OneMinusCkp1)));
        TO.Store(TO.Add(lerp, TO.Mul(TO.Splat(_c.YStep), u)), ref P, i);
        TO.Store(TO.Sub(z, TO.Mul(TO.Splat(_c.Lr), u)), ref Z, i);
    }
}
