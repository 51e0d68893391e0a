namespace CudaAdam.Diagnostics;

/// <summary>
/// One tensor's inputs to the sign-decomposition diagnostics, after one Adam-family step: x before and after it, the
/// step's gradient, and the moments m, v the step produced.
/// </summary>
/// <param name="Name">For the report.</param>
/// <param name="PreviousParams">x_{t−1}.</param>
/// <param name="Params">x_t.</param>
/// <param name="Grad">g_t as the caller gave it (negated when <paramref name="Maximize"/>, as the moments saw it).</param>
/// <param name="M">m_t, uncorrected (the stored exp_avg).</param>
/// <param name="V">v_t, uncorrected (the stored exp_avg_sq; AMSGrad's max is not used).</param>
/// <param name="Eps">ε, rounded to float32 as the step's kernels do.</param>
/// <param name="Bound">R for this tensor's β1, β2 (<see cref="Hyperparameters.SignBound"/>), +∞ when β1 ≥ sqrt(β2) and β1 &gt; 0.</param>
/// <param name="Maximize">The optimizer maximizes: the moments saw −g.</param>
public sealed record SignTensorInput(string Name, float[] PreviousParams, float[] Params, float[] Grad, float[] M, float[] V,
    float Eps, double Bound, bool Maximize = false)
{
    internal void Check()
    {
        int n = Params.Length;
        if (PreviousParams.Length != n || Grad.Length != n || M.Length != n || V.Length != n)
            throw new ArgumentException(
                $"tensor '{Name}': previous params {PreviousParams.Length}, params {n}, grad {Grad.Length}, m {M.Length}, v {V.Length} " +
                "elements; all must have the parameter's length");
    }
}

/// <summary>
/// Statistics of Adam's sign decomposition x_t = x_{t−1} − γ·u∘sign(m) (arXiv 2507.05966) for one tensor, or for all
/// tensors together (<see cref="SignDiagnosticsReport.Global"/>), from one step.
/// </summary>
/// <remarks>
/// <para>u = |m_t| / (sqrt(v_t) + ε) is computed in float32 on the UNCORRECTED moments (the stored exp_avg and
/// exp_avg_sq, no 1 − β^t factors), because the bound R = (1−β1)/(sqrt(1−β2)·sqrt(1−β1²/β2)) of Lemma B.2 is for
/// uncorrected moments: <see cref="MaxUOverR"/> ≤ 1 is the claim (ε only lowers u). Adam's actual step is
/// γ·û with bias-corrected moments; its size is <see cref="UpdateMaxAbs"/>.</para>
/// <para>Exact on every backend: <see cref="MaxU"/>, <see cref="UpdateMaxAbs"/>, <see cref="SignAgreements"/>,
/// <see cref="Histogram"/>. Order-dependent (double sums): <see cref="MeanU"/>, <see cref="GradL1"/>,
/// <see cref="GradL2"/>, <see cref="Density"/>.</para>
/// </remarks>
/// <param name="Name">The tensor's name, or "global".</param>
/// <param name="Count">d, the number of coordinates.</param>
/// <param name="MaxU">max_i u_i (NaN if any u is NaN).</param>
/// <param name="MeanU">(1/d) Σ u_i, NaN when d = 0.</param>
/// <param name="MedianU">The 0.5-quantile of u from <see cref="Histogram"/> (<see cref="SignHistogram.Quantile"/>, within a factor 1.334).</param>
/// <param name="U90">The 0.9-quantile of u from the histogram.</param>
/// <param name="U99">The 0.99-quantile of u from the histogram.</param>
/// <param name="Histogram">Counts of u per bin of <see cref="SignHistogram"/>.</param>
/// <param name="Bound">R, or NaN for a global report over tensors with different β.</param>
/// <param name="MaxUOverR">max u ÷ R (per tensor; the largest ratio over tensors for the global report); 0 when R = +∞.</param>
/// <param name="SignAgreements">#{ i : sign(m_i) = sign(g_i) }, sign(0) = 0.</param>
/// <param name="SignAgreement">SignAgreements ÷ d.</param>
/// <param name="GradL1">‖g‖₁.</param>
/// <param name="GradL2">‖g‖₂.</param>
/// <param name="Density">‖g‖₁² ÷ (d·‖g‖₂²) ∈ [1/d, 1]: 1 for a dense gradient of equal magnitudes, 1/d for one non-zero coordinate; NaN when g = 0.</param>
/// <param name="UpdateMaxAbs">‖x_{t−1} − x_t‖∞, the differences in float32.</param>
public sealed record SignStats(
    string Name, long Count, double MaxU, double MeanU, double MedianU, double U90, double U99, long[] Histogram,
    double Bound, double MaxUOverR, long SignAgreements, double SignAgreement, double GradL1, double GradL2, double Density,
    double UpdateMaxAbs);

/// <summary>The diagnostics of one step: per tensor, and global (all coordinates of all tensors together).</summary>
public sealed record SignDiagnosticsReport(IReadOnlyList<SignStats> Tensors, SignStats Global);

/// <summary>
/// Raw accumulators of one tensor: exactly what <c>kernels/diagnostics.cu</c> writes per tensor. Merged and turned
/// into <see cref="SignStats"/> the same way for every backend.
/// </summary>
internal sealed class SignAccumulator
{
    public long Count;
    public double SumU, SumAbsG, SumG2;
    /// <summary>The bits of the largest u (non-negative floats order like their bits; NaN is above +∞).</summary>
    public uint MaxUBits, MaxUpdateBits;
    public long Agreements;
    public long[] Histogram = new long[SignHistogram.BinCount];

    /// <summary>Adds the coordinates of <paramref name="t"/>, in index order, in double (the reference).</summary>
    public void Add(SignTensorInput t)
    {
        t.Check();
        for (int i = 0; i < t.Params.Length; i++)
        {
            float g = t.Maximize ? -t.Grad[i] : t.Grad[i];
            float m = t.M[i];
            float u = MathF.Abs(m) / (MathF.Sqrt(t.V[i]) + t.Eps);
            float du = MathF.Abs(t.PreviousParams[i] - t.Params[i]);
            SumU += u;
            SumAbsG += MathF.Abs(g);
            SumG2 += (double)g * g;
            if (Sign(m) == Sign(g)) Agreements++;
            MaxUBits = Math.Max(MaxUBits, BitConverter.SingleToUInt32Bits(u));
            MaxUpdateBits = Math.Max(MaxUpdateBits, BitConverter.SingleToUInt32Bits(du));
            Histogram[SignHistogram.Bin(u)]++;
        }
        Count += t.Params.Length;
    }

    private static int Sign(float x) => x > 0 ? 1 : x < 0 ? -1 : 0;

    /// <summary>Adds another accumulator (tensors into the global one).</summary>
    public void Merge(SignAccumulator o)
    {
        Count += o.Count;
        SumU += o.SumU;
        SumAbsG += o.SumAbsG;
        SumG2 += o.SumG2;
        MaxUBits = Math.Max(MaxUBits, o.MaxUBits);
        MaxUpdateBits = Math.Max(MaxUpdateBits, o.MaxUpdateBits);
        Agreements += o.Agreements;
        for (int b = 0; b < Histogram.Length; b++) Histogram[b] += o.Histogram[b];
    }

    /// <summary>The statistics; <paramref name="maxUOverR"/> overrides max u ÷ R (the global report's largest per-tensor ratio).</summary>
    public SignStats ToStats(string name, double bound, double? maxUOverR = null)
    {
        double maxU = BitConverter.UInt32BitsToSingle(MaxUBits);
        double d = Count;
        double l2 = Math.Sqrt(SumG2);
        double ratio = maxUOverR ?? (double.IsPositiveInfinity(bound) ? 0.0 : maxU / bound);
        return new SignStats(name, Count, maxU,
            Count == 0 ? double.NaN : SumU / d,
            SignHistogram.Quantile(Histogram, 0.5, maxU), SignHistogram.Quantile(Histogram, 0.9, maxU), SignHistogram.Quantile(Histogram, 0.99, maxU),
            (long[])Histogram.Clone(), bound, ratio, Agreements, Count == 0 ? double.NaN : Agreements / d,
            SumAbsG, l2, SumG2 == 0 ? double.NaN : SumAbsG * SumAbsG / (d * SumG2),
            BitConverter.UInt32BitsToSingle(MaxUpdateBits));
    }

    /// <summary>The report from per-tensor accumulators (same order as <paramref name="inputs"/>).</summary>
    public static SignDiagnosticsReport Report(IReadOnlyList<SignTensorInput> inputs, IReadOnlyList<SignAccumulator> perTensor)
    {
        var global = new SignAccumulator();
        var tensors = new SignStats[inputs.Count];
        double maxRatio = 0;
        for (int k = 0; k < inputs.Count; k++)
        {
            tensors[k] = perTensor[k].ToStats(inputs[k].Name, inputs[k].Bound);
            global.Merge(perTensor[k]);
            if (perTensor[k].Count > 0 && !(tensors[k].MaxUOverR <= maxRatio)) maxRatio = tensors[k].MaxUOverR;
        }
        var bounds = inputs.Select(i => i.Bound).Distinct().ToArray();
        return new SignDiagnosticsReport(tensors, global.ToStats("global", bounds.Length == 1 ? bounds[0] : double.NaN, maxRatio));
    }
}

/// <summary>The CPU reference of the diagnostics: plain loops, float32 per element as the kernel, double sums.</summary>
public static class SignDiagnostics
{
    /// <summary>Computes the report of one step's tensors.</summary>
    /// <exception cref="ArgumentException">An input whose arrays do not all have the parameter's length.</exception>
    public static SignDiagnosticsReport Compute(IReadOnlyList<SignTensorInput> inputs)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        var acc = inputs.Select(t =>
        {
            var a = new SignAccumulator();
            a.Add(t);
            return a;
        }).ToArray();
        return SignAccumulator.Report(inputs, acc);
    }

    /// <summary>
    /// The magnitudes u_i = |m_i|/(sqrt(v_i)+ε) of one tensor in float32, exactly as the statistics see them: for
    /// distribution tests on u itself (e.g. a two-sample Kolmogorov–Smirnov test between two steps or two settings).
    /// </summary>
    public static float[] Magnitudes(float[] m, float[] v, float eps)
    {
        ArgumentNullException.ThrowIfNull(m);
        ArgumentNullException.ThrowIfNull(v);
        if (m.Length != v.Length) throw new ArgumentException($"m has {m.Length} elements and v {v.Length}: they must match", nameof(v));
        var u = new float[m.Length];
        for (int i = 0; i < u.Length; i++) u[i] = MathF.Abs(m[i]) / (MathF.Sqrt(v[i]) + eps);
        return u;
    }
}
