using CudaAdam.Cuda;
using CudaAdam.Cuda.Compilation;
using CudaAdam.Cuda.Interop;

namespace CudaAdam.Tests.Cuda;

[TestFixture]
public class NvrtcTests
{
    [SetUp]
    public void RequireNvrtc() => Requirements.Nvrtc();

    /// <summary>Every embedded kernels/*.cu (more arrive as the kernels are written).</summary>
    public static IEnumerable<string> KernelFiles() =>
        KernelSources.KernelFiles.Count > 0 ? KernelSources.KernelFiles : ["(none embedded)"];

    [TestCaseSource(nameof(KernelFiles))]
    public void EveryEmbeddedKernelCompilesToPtx(string file)
    {
        if (file == "(none embedded)") Assert.Ignore("no kernels/*.cu embedded yet: the kernel files land on branch 'kernels'");
        var source = KernelSources.ForFamily(file);
        var image = NvrtcCompiler.Compile(source, NvrtcCompiler.Options(CompileTarget.Default), cubin: false);
        var ptx = System.Text.Encoding.UTF8.GetString(image.Image);
        Assert.That(ptx, Does.Contain(".target sm_80"));
        Assert.That(ptx, Does.Contain(".visible .entry"), "an embedded kernel file should define at least one extern \"C\" __global__ kernel");
        // The numerical contract (DESIGN.md): --fmad=false and no fmaf in optimizer math, so no fused fp32 multiply-add.
        Assert.That(ptx, Does.Not.Contain("fma.rn.f32"), $"{file}: a fused multiply-add breaks bitwise parity with the CPU reference");
    }

    [Test]
    public void CommonHeaderIsEmbedded()
    {
        Assert.That(KernelSources.Headers.Keys, Does.Contain("common.cuh"));
        Assert.That(KernelSources.Headers["common.cuh"], Does.Contain("cudaadam_global_index"));
    }

    [Test]
    public void ProbeCompilesWithoutFmaContraction()
    {
        var image = NvrtcCompiler.Compile(ProbeKernels.Source, NvrtcCompiler.Options(CompileTarget.Default), cubin: false);
        var ptx = System.Text.Encoding.UTF8.GetString(image.Image);
        Assert.That(image.IsCubin, Is.False);
        Assert.That(ptx, Does.Contain(".visible .entry probe_axpy"));
        Assert.That(ptx, Does.Contain(".visible .entry probe_add_scalar"));
        Assert.That(ptx, Does.Contain(".visible .entry probe_reverse_shared"));
        // --fmad=false: a*x + y stays a rounded multiply then a rounded add, as in the CPU reference.
        Assert.That(ptx, Does.Contain("mul.rn.f32"));
        Assert.That(ptx, Does.Contain("add.rn.f32"));
        Assert.That(ptx, Does.Not.Contain("fma.rn.f32"));
    }

    [Test]
    public void WithFmadTheSameSourceContractsToFma()
    {
        // The control for the test above: the option is what removes the fma.
        var options = NvrtcCompiler.Options(CompileTarget.Default).Where(o => o != "--fmad=false").Append("--fmad=true").ToList();
        var ptx = System.Text.Encoding.UTF8.GetString(NvrtcCompiler.Compile(ProbeKernels.Source, options, cubin: false).Image);
        Assert.That(ptx, Does.Contain("fma.rn.f32"));
    }

    [Test]
    public void CubinForARealArch()
    {
        var target = CompileTarget.Parse("sm_80");
        var image = NvrtcCompiler.Compile(ProbeKernels.Source, NvrtcCompiler.Options(target), cubin: true);
        Assert.That(image.IsCubin, Is.True);
        Assert.That(image.Image.AsSpan(0, 4).ToArray(), Is.EqualTo(new byte[] { 0x7f, (byte)'E', (byte)'L', (byte)'F' }));
    }

    [Test]
    public void PlantedErrorReportsLogAndOffendingLine()
    {
        const string text = """
            #include "common.cuh"
            extern "C" __global__ void broken(float* x, long long n) {
                cudaadam_index i = cudaadam_global_index();
                if (i < n) x[i] = undefined_symbol_planted_here * 2.0f;
            }
            """;
        var source = KernelSource.WithEmbeddedHeaders("planted.cu", text);
        var options = NvrtcCompiler.Options(CompileTarget.Default);
        var e = Assert.Throws<NvrtcCompileException>(() => NvrtcCompiler.Compile(source, options, cubin: false))!;
        Assert.That(e.FileName, Is.EqualTo("planted.cu"));
        Assert.That(e.Log, Does.Contain("undefined_symbol_planted_here"));
        Assert.That(e.ErrorLines, Is.EqualTo(new[] { 4 }));
        Assert.That(e.Options, Does.Contain("--fmad=false"));
        Assert.That(e.Message, Does.Contain("planted.cu:4:     if (i < n) x[i] = undefined_symbol_planted_here * 2.0f;"));
        Assert.That(e.Message, Does.Contain("4 > "), "the numbered source marks the offending line");
        Assert.That(e.Message, Does.Contain("--gpu-architecture=compute_80"));
    }

    [Test]
    public void MissingHeaderIsACompileError()
    {
        var source = new KernelSource("noheader.cu", "#include \"common.cuh\"\nextern \"C\" __global__ void k() {}\n", new Dictionary<string, string>());
        var e = Assert.Throws<NvrtcCompileException>(() => NvrtcCompiler.Compile(source, NvrtcCompiler.Options(CompileTarget.Default), false))!;
        Assert.That(e.Log, Does.Contain("common.cuh"));
        Assert.That(e.ErrorLines, Is.EqualTo(new[] { 1 }));
    }

    [Test]
    public void UnknownOptionIsAnNvrtcException()
    {
        var options = NvrtcCompiler.Options(CompileTarget.Default, ["--no-such-option-cudaadam"]);
        var e = Assert.Throws<NvrtcException>(() => NvrtcCompiler.Compile(ProbeKernels.Source, options, false))!;
        Assert.That(e.Result, Is.EqualTo(NvrtcResult.InvalidOption));
        Assert.That(e.Message, Does.Contain("nvrtcCompileProgram(probe.cu"));
    }

    [Test]
    public void VersionAndArchsAreReported()
    {
        var (major, minor) = NvrtcCompiler.Version;
        Assert.That(major, Is.GreaterThanOrEqualTo(11));
        Assert.That(minor, Is.GreaterThanOrEqualTo(0));
        Assert.That(NvrtcCompiler.SupportedArchs, Does.Contain(80));
        Assert.That(NvrtcCompiler.SupportedArchs, Is.Ordered);
    }
}
