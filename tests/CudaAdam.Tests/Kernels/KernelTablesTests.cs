using System.Reflection;
using System.Runtime.CompilerServices;
using System.Text.RegularExpressions;
using CudaAdam.Cuda.Compilation;
using CudaAdam.Device;

namespace CudaAdam.Tests.Kernels;

/// <summary>The C# twins of the kernels' tables and flags agree with <c>kernels/common.cuh</c>.</summary>
public class KernelTablesTests
{
    private static string CommonHeader => KernelSources.Files["common.cuh"];

    [Test]
    public void StructLayoutsMatchTheKernelHeader()
    {
        Assert.That(Unsafe.SizeOf<CaTensor>(), Is.EqualTo(128));
        Assert.That(Unsafe.SizeOf<CaChunk>(), Is.EqualTo(24));
        var t = default(CaTensor);
        unsafe
        {
            byte* b = (byte*)&t;
            Assert.That((byte*)&t.Lp - b, Is.EqualTo(48), "lp is the seventh pointer");
            Assert.That((byte*)&t.N - b, Is.EqualTo(56), "n follows the seven pointers");
            Assert.That((byte*)&t.Flags - b, Is.EqualTo(64));
            Assert.That((byte*)&t.Key - b, Is.EqualTo(68));
            Assert.That((byte*)t.S - b, Is.EqualTo(72), "the scalars start at byte 72");
        }
        Assert.That(CommonHeader, Does.Contain("sizeof(CaTensor) == 128"));
        Assert.That(CommonHeader, Does.Contain("sizeof(CaChunk) == 24"));
        Assert.That(Define("CA_SCALARS"), Is.EqualTo((uint)CaTensor.ScalarCount));
    }

    [Test]
    public void NormsTableMatchesTheKernelHeader()
    {
        Assert.That(Unsafe.SizeOf<CaNormTensor>(), Is.EqualTo(64));
        var t = default(CaNormTensor);
        unsafe
        {
            byte* b = (byte*)&t;
            Assert.That((byte*)&t.DecaySlot - b, Is.EqualTo(20), "six ints");
            Assert.That((byte*)&t.Coefficient - b, Is.EqualTo(24), "then the doubles");
            Assert.That((byte*)&t.WeightDecay - b, Is.EqualTo(48));
        }
        Assert.That(CommonHeader, Does.Contain("sizeof(CaNormTensor) == 64"));
        Assert.That(Define("CA_NORM_PIECE"), Is.EqualTo((uint)CudaAdam.Reference.Reference.NormPiece));
        Assert.That(Define("CA_NORM_LANES"), Is.EqualTo((uint)CudaAdam.Reference.Reference.NormLanes));
        Assert.That(Define("CA_NORMS_SUMS"), Is.EqualTo((uint)CaNormTensor.KindSums));
        Assert.That(Define("CA_NORMS_TRUST"), Is.EqualTo((uint)CaNormTensor.KindTrust));
        Assert.That(TensorNorms.Pieces([0, 4096, 4097]).Select(p => (p.Tensor, p.Start, p.Length)),
            Is.EqualTo(new[] { (1, 0L, 4096L), (2, 0L, 4096L), (2, 4096L, 1L) }), "pieces of 4,096 from each tensor's start");
    }

    [Test]
    public void FlagsMatchTheKernelHeader()
    {
        var fields = typeof(KernelFlags).GetFields(BindingFlags.Public | BindingFlags.Static);
        Assert.That(fields, Has.Length.EqualTo(13));
        foreach (var f in fields)
        {
            string macro = "CA_" + Regex.Replace(f.Name, "(?<=[a-z])(?=[A-Z])", "_").ToUpperInvariant();
            Assert.That(Define(macro), Is.EqualTo((uint)f.GetValue(null)!), macro);
        }
    }

    [Test]
    public void ChunkTableCutsEveryTensorAndSkipsEmptyOnes()
    {
        var chunks = ChunkTable.Build([0, 5, 8, 9], 4);
        var got = chunks.Select(c => (c.Tensor, c.Start, c.Length)).ToArray();
        Assert.That(got, Is.EqualTo(new[]
        {
            (1, 0L, 4L), (1, 4L, 1L),
            (2, 0L, 4L), (2, 4L, 4L),
            (3, 0L, 4L), (3, 4L, 4L), (3, 8L, 1L),
        }));
        Assert.That(ChunkTable.Build([0, 0], 4), Is.Empty);
        Assert.Throws<ArgumentOutOfRangeException>(() => ChunkTable.Build([1], 0));
    }

    [Test]
    public void ChunkTableUses64BitOffsets()
    {
        // A tensor of 5e9 elements (never allocated: only its table) gets chunks starting beyond 2^32.
        var chunks = ChunkTable.Build([5_000_000_000L], 1L << 30);
        Assert.That(chunks, Has.Length.EqualTo(5));
        Assert.That(chunks[^1].Start, Is.EqualTo(4L << 30));
        Assert.That(chunks[^1].Length, Is.EqualTo(5_000_000_000L - (4L << 30)));
    }

    [Test]
    public void EveryAlgorithmHasAFusedKernelInItsFamilyFile()
    {
        foreach (var a in AlgorithmNames.All)
        {
            var (family, name) = KernelScalars.KernelOf(a);
            // The step kernels carry __launch_bounds__(CA_MAX_BLOCK) between __global__ and void (kernels/common.cuh).
            Assert.That(KernelSources.Files[family + ".cu"], Does.Contain($"extern \"C\" __global__ __launch_bounds__(CA_MAX_BLOCK) void {name}("), $"{a}");
        }
        var (cf, cn) = KernelScalars.NonFiniteCheck;
        Assert.That(KernelSources.Files[cf + ".cu"], Does.Contain($"extern \"C\" __global__ __launch_bounds__(CA_MAX_BLOCK) void {cn}("));
    }

    [Test]
    public void KernelsNeverFuseOrApproximate()
    {
        foreach (var file in new[] { "adam.cu", "sign.cu", "baselines.cu", "common.cuh" })
        {
            string src = Regex.Replace(KernelSources.Files[file], @"//[^\n]*", ""); // code only, not comments
            foreach (var banned in new[] { "fmaf", "__fmaf", "__fdividef", "rsqrtf", "__powf", "__expf", "fmaxf", "fminf" })
                Assert.That(src, Does.Not.Contain(banned), $"{file} calls {banned}");
        }
    }

    [Test]
    public void AdamScalarsAreTheReferencesFloatCasts()
    {
        var hp = Hyperparameters.Defaults(Algorithm.AdamW) with { Lr = 3e-4, WeightDecay = 0.1, Amsgrad = true };
        var state = ParamState.Create(Algorithm.AdamW, hp, 4);
        StepScalars.Advance(Algorithm.AdamW, hp, state);
        var k = StepScalars.Advance(Algorithm.AdamW, hp, state);
        var s = new float[CaTensor.ScalarCount];
        uint flags = KernelScalars.Pack(Algorithm.AdamW, hp, k, s);
        Assert.That(flags, Is.EqualTo(KernelFlags.WeightDecay | KernelFlags.Amsgrad | KernelFlags.Decoupled));
        Assert.That(s[0], Is.EqualTo((float)hp.Beta1));
        Assert.That(s[5], Is.EqualTo((float)(1 - hp.Beta2)));
        Assert.That(s[6], Is.EqualTo((float)(1 - hp.Lr * hp.WeightDecay)));
        Assert.That(s[7], Is.EqualTo((float)Math.Sqrt(1 - 0.999 * 0.999)));
        Assert.That(s[8], Is.EqualTo((float)(hp.Lr / (1 - 0.9 * 0.9))));
    }

    private static uint Define(string name)
    {
        var m = Regex.Match(CommonHeader + KernelSources.Files["scalars.gen.cuh"], $@"#define\s+{name}\s+(\d+)u?\b");
        Assert.That(m.Success, $"#define {name} not found in common.cuh nor scalars.gen.cuh");
        return uint.Parse(m.Groups[1].Value);
    }
}
