#pragma warning disable CS1591 // CS1591 backlog (issue 13): 29 public members here have no XML doc yet; document them, then delete this line
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace CudaAdam.Device;

/// <summary>
/// The per-tensor entry of a fused step's tensor table: the C# twin of <c>struct CaTensor</c> in
/// <c>kernels/common.cuh</c> (128 bytes; field order, sizes and <see cref="KernelFlags"/> must stay identical).
/// Pointers are device addresses (host addresses on the emulator); a slot the algorithm does not use is 0.
/// <see cref="P"/> is the fp32 parameter, or with 16-bit parameters the fp32 master weights (0 without);
/// <see cref="Lp"/> the 16-bit parameter (0 for fp32). <see cref="Key"/>: the stochastic rounding stream.
/// </summary>
[StructLayout(LayoutKind.Sequential, Size = 128)]
public unsafe struct CaTensor
{
    /// <summary>Number of float scalars per tensor (<c>CA_SCALARS</c>).</summary>
    public const int ScalarCount = 14;

    public nint P, G, M, V, VMax, Aux, Lp;
    public long N;
    public uint Flags;
    public uint Key;
    public fixed float S[ScalarCount];
}

/// <summary>A piece [Start, Start + Length) of tensor <see cref="Tensor"/>, one thread block per chunk: the twin of
/// <c>struct CaChunk</c> in <c>kernels/common.cuh</c> (24 bytes).</summary>
[StructLayout(LayoutKind.Sequential, Size = 24)]
public struct CaChunk
{
    public long Start;
    public long Length;
    public int Tensor;
    public int Reserved;
}

/// <summary>One tensor's entry of the per-tensor norms table: the twin of <c>struct CaNormTensor</c> in
/// <c>kernels/common.cuh</c> (64 bytes). Where its pieces of <see cref="Reference.Reference.NormPiece"/> elements are, and
/// what <c>tensor_norms_finalize</c> (kernels/norms.cu) writes into its <see cref="CaTensor"/> entry
/// (<see cref="TensorNormSpec"/>).</summary>
[StructLayout(LayoutKind.Sequential, Size = 64)]
public struct CaNormTensor
{
    /// <summary>The tensor's first piece (index into the piece table and the partials).</summary>
    public int First;
    /// <summary>Its pieces, ceil(n / 4096).</summary>
    public int Pieces;
    /// <summary>The index of its lr in the finalize's lrs[].</summary>
    public int Group;
    /// <summary><c>CA_NORMS_SUMS</c> (0) or <c>CA_NORMS_TRUST</c> (1).</summary>
    public int Kind;
    /// <summary>The scalar slot of (float)trust, or −1.</summary>
    public int TrustSlot;
    /// <summary>The scalar slot of (float)(1 − lr·trust·λ), or −1.</summary>
    public int DecaySlot;
    /// <summary>η, λ_b, ε of the trust ratio η‖a‖/(‖b‖ + λ_b‖a‖ + ε), and λ of the decay slot.</summary>
    public double Coefficient, DenominatorWd, Eps, WeightDecay;
    /// <summary>Unused (0).</summary>
    public double Reserved;

    /// <summary>The finalize kinds of kernels/common.cuh.</summary>
    public const int KindSums = 0, KindTrust = 1;
}

/// <summary>The <c>CA_*</c> per-tensor flags of <c>kernels/common.cuh</c>.</summary>
public static class KernelFlags
{
    public const uint Active = 1, Maximize = 2, Amsgrad = 4, Decoupled = 8, WeightDecay = 16, Nesterov = 32,
        Centered = 64, Momentum = 128, FirstStep = 256, Rectified = 512, ParamBf16 = 1024, ParamFp16 = 2048, Stochastic = 4096;
}

/// <summary>Builds the chunk table of a parameter set: every tensor cut into chunks of at most
/// <c>chunkSize</c> elements, in tensor order; zero-size tensors get no chunk.</summary>
public static class ChunkTable
{
    public static CaChunk[] Build(IReadOnlyList<long> lengths, long chunkSize)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(chunkSize, 1);
        var chunks = new List<CaChunk>();
        for (int t = 0; t < lengths.Count; t++)
            for (long start = 0; start < lengths[t]; start += chunkSize)
                chunks.Add(new CaChunk { Start = start, Length = Math.Min(chunkSize, lengths[t] - start), Tensor = t });
        return chunks.ToArray();
    }

    internal static void CheckLayout()
    {
        // The C side static_asserts the same sizes (common.cuh).
        if (Unsafe.SizeOf<CaTensor>() != 128 || Unsafe.SizeOf<CaChunk>() != 24 || Unsafe.SizeOf<CaNormTensor>() != 64)
            throw new InvalidOperationException(
                $"CaTensor is {Unsafe.SizeOf<CaTensor>()} bytes, CaChunk {Unsafe.SizeOf<CaChunk>()} and CaNormTensor {Unsafe.SizeOf<CaNormTensor>()}; " +
                "kernels/common.cuh expects 128, 24 and 64");
    }
}
