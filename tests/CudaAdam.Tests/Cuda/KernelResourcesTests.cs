using System.Text.RegularExpressions;
using CudaAdam.Cuda;
using CudaAdam.Cuda.Compilation;
using CudaAdam.Cuda.Diagnostics;
using CudaAdam.Cuda.Emulator;
using CudaAdam.Device;

namespace CudaAdam.Tests.Cuda;

/// <summary>
/// Kernel resource limits known before a launch (issue 14): every kernel compiled by NVRTC to sm_80 and sm_90 cubins,
/// the registers read from the cubin's .nv.info attributes (cross-checked against ptxas's own -v report), and each
/// kernel's largest launchable block (the register file and __launch_bounds__) compared with the block sizes the code
/// allows: the backends' validators for the kernels launched with BlockSize, 1,024 (or the declared bound) otherwise.
/// </summary>
[TestFixture]
public partial class KernelResourcesTests
{
    private static bool LaunchedWithBlockSize(string kernel) => KernelLimits.IsLaunchedWithBlockSize(kernel);

    private static readonly Dictionary<string, (IReadOnlyDictionary<string, KernelResources> Resources, string Log)> Compiled = new();

    private static (IReadOnlyDictionary<string, KernelResources> Resources, string Log) Compile(string file, string arch)
    {
        lock (Compiled)
        {
            if (Compiled.TryGetValue(file + "@" + arch, out var known)) return known;
            var image = NvrtcCompiler.Compile(KernelSources.ForFamily(file), NvrtcCompiler.Options(CompileTarget.Parse(arch), ["-Xptxas=-v"]), cubin: true);
            Assert.That(image.IsCubin, Is.True);
            return Compiled[file + "@" + arch] = (CubinResources.Read(image.Image), image.Log);
        }
    }

    public static IEnumerable<TestCaseData> FilesAndArchs() =>
        from file in KernelSources.KernelFiles from arch in new[] { "sm_80", "sm_90" } select new TestCaseData(file, arch);

    [SetUp]
    public void RequireNvrtc() => Requirements.Nvrtc();

    [Test]
    public void ThisNvrtcEmitsCubinsForBothArchs()
    {
        // Debian's libnvrtc11.2 package is NVRTC 11.8 (libnvrtc.so.11.8.89): sm_90 is supported since 11.8.
        Assert.That(NvrtcCompiler.SupportedArchs, Does.Contain(80).And.Contain(90),
            $"NVRTC {NvrtcCompiler.Version.Major}.{NvrtcCompiler.Version.Minor} supports {string.Join(" ", NvrtcCompiler.SupportedArchs)}");
    }

    [TestCaseSource(nameof(FilesAndArchs))]
    public void EveryKernelLaunchesAtEveryBlockSizeTheCodeAllows(string file, string arch)
    {
        var (resources, log) = Compile(file, arch);
        var names = KernelCompileReport.KernelNames(KernelSources.Files[file]);
        Assert.That(resources.Keys, Is.EquivalentTo(names), "the cubin holds exactly the source's extern \"C\" __global__ kernels");

        // The parser against ptxas's own report of the same compilation.
        var reported = PtxasRegisters().Matches(log).ToDictionary(m => m.Groups[1].Value, m => int.Parse(m.Groups[3].Value));
        Assert.That(reported.Keys, Is.EquivalentTo(names), "ptxas -v reports every kernel:\n" + log);
        foreach (var name in names)
            Assert.That(resources[name].Registers, Is.EqualTo(reported[name]), $"{file}:{name} ({arch}): EIATTR_REGCOUNT vs ptxas -v");

        var problems = new List<string>();
        foreach (var r in resources.Values.OrderBy(r => r.Name, StringComparer.Ordinal))
        {
            int required = LaunchedWithBlockSize(r.Name) ? KernelLimits.MaxBlockSize : r.LaunchBound > 0 ? r.LaunchBound : 1024;
            if (LaunchedWithBlockSize(r.Name) && r.LaunchBound != KernelLimits.MaxBlockSize)
                problems.Add($"{r.Name}: launched with BlockSize up to {KernelLimits.MaxBlockSize} but declares __launch_bounds__ {r.LaunchBound} (0: none)");
            if (r.MaxThreadsPerBlock < required)
                problems.Add($"{r.Name}: {r.Registers} registers/thread allow {r.MaxThreadsPerBlock} threads/block, the code launches up to {required}");
            if (LaunchedWithBlockSize(r.Name) && r.StackBytes != 0)
                problems.Add($"{r.Name}: {r.StackBytes} bytes of stack (register spills under the 64-register bound)");
            if (r.StaticSharedBytes > 48 * 1024 + 1024)
                problems.Add($"{r.Name}: {r.StaticSharedBytes} bytes of static shared memory, over 48 KiB");
        }
        Assert.That(problems, Is.Empty, $"{file} on {arch}:\n  " + string.Join("\n  ", problems));
    }

    [Test]
    public void WithoutTheBoundsTheDiagnosticsKernelsCannotLaunchAt1024()
    {
        // The control: the same source with __launch_bounds__ removed is the bug of issue 14 (73-107 registers).
        var source = KernelSources.ForFamily("adam");
        var stripped = new KernelSource(source.FileName, LaunchBounds().Replace(source.Text, ""), source.Headers);
        Assert.That(stripped.Text, Does.Not.Contain("__launch_bounds__"));
        var image = NvrtcCompiler.Compile(stripped, NvrtcCompiler.Options(CompileTarget.Parse("sm_90")), cubin: true);
        var diag = CubinResources.Read(image.Image)["adam_step_diag"];
        Assert.That(diag.LaunchBound, Is.EqualTo(0));
        Assert.That(diag.Registers, Is.GreaterThan(64));
        Assert.That(diag.MaxThreadsPerBlock, Is.LessThan(KernelLimits.MaxBlockSize));
    }

    [Test]
    public void TheBoundCostsTheDiagnosticsKernelsNoSpills()
    {
        var adam = Compile("adam", "sm_90").Resources["adam_step_diag"];
        Assert.That(adam.LaunchBound, Is.EqualTo(1024));
        Assert.That(adam.MaxRegisterCount, Is.EqualTo(64), "EIATTR_MAXREG_COUNT: 65536 / 1024");
        Assert.That(adam.Registers, Is.LessThanOrEqualTo(64));
        Assert.That(adam.StackBytes, Is.EqualTo(0));
        Assert.That(adam.StaticSharedBytes, Is.GreaterThan(12 * 1024), "CaDiagShared (edges, 32 warp histograms, warp shares)");
    }

    [Test]
    public void TheKernelsBoundIsTheValidatorsBound()
    {
        var define = Regex.Match(KernelSources.Headers["common.cuh"], @"#define\s+CA_MAX_BLOCK\s+(\d+)");
        Assert.That(define.Success, Is.True);
        Assert.That(int.Parse(define.Groups[1].Value), Is.EqualTo(KernelLimits.MaxBlockSize));
    }

    [TestCase(32)]
    [TestCase(256)]
    [TestCase(1024)]
    public void ValidatorsAcceptWholeWarpsUpToTheBound(int blockSize)
    {
        Assert.DoesNotThrow(() => new DeviceBackendOptions { BlockSize = blockSize }.Validate());
        Assert.DoesNotThrow(() => new DeviceBackendOptions { BlockSize = blockSize, Residency = Residency.Device, CaptureGraph = true }.Validate());
    }

    [TestCase(0)]
    [TestCase(16)]
    [TestCase(100)]
    [TestCase(1056)]
    [TestCase(2048)]
    public void ValidatorsRefuseOtherBlockSizes(int blockSize)
    {
        var e = Assert.Throws<ArgumentException>(() => new DeviceBackendOptions { BlockSize = blockSize }.Validate())!;
        Assert.That(e.Message, Does.Contain($"BlockSize {blockSize}").And.Contain("[32, 1024]").And.Contain("__launch_bounds__(1024)"));
        Assert.Throws<ArgumentException>(() => new DeviceBackendOptions { BlockSize = blockSize, Residency = Residency.Device }.Validate());
    }

    [Test]
    public void RegisterFileArithmeticMatchesTheOccupancyRules()
    {
        // ceil(32 * regs / 256) * 256 registers per warp, 65,536 per block: 64 registers -> 32 warps, 81 -> 23 warps.
        Assert.That(new KernelResources("k", 64, 0, 0, 0, 0).MaxThreadsPerBlock, Is.EqualTo(1024));
        Assert.That(new KernelResources("k", 81, 0, 0, 0, 0).MaxThreadsPerBlock, Is.EqualTo(736));
        Assert.That(new KernelResources("k", 107, 0, 0, 0, 0).MaxThreadsPerBlock, Is.EqualTo(576));
        Assert.That(new KernelResources("k", 255, 0, 0, 0, 0).MaxThreadsPerBlock, Is.EqualTo(256));
        Assert.That(new KernelResources("k", 20, 256, 0, 0, 0).MaxThreadsPerBlock, Is.EqualTo(256), "the declared bound");
    }

    [Test]
    public void NotACubinIsAFormatError()
    {
        Assert.Throws<FormatException>(() => CubinResources.Read("// PTX text, not ELF"u8.ToArray().Concat(new byte[64]).ToArray()));
        var truncated = Compile("sign", "sm_80");
        Assert.That(truncated.Resources, Is.Not.Empty);
        var image = NvrtcCompiler.Compile(KernelSources.ForFamily("sign"), NvrtcCompiler.Options(CompileTarget.Parse("sm_80")), cubin: true).Image;
        Assert.Throws<FormatException>(() => CubinResources.Read(image.AsSpan(0, 200)));
    }

    [Test]
    public void LaunchCheckNamesTheKernelAndTheLimit()
    {
        var limits = KernelLimits.Standard;
        var e = Assert.Throws<ArgumentException>(() => KernelLimits.CheckLaunch("adam.cu:adam_step_diag", 1, 1024, limits, 736))!;
        Assert.That(e.Message, Does.Contain("adam.cu:adam_step_diag").And.Contain("736").And.Contain("MAX_THREADS_PER_BLOCK"));
        e = Assert.Throws<ArgumentException>(() => KernelLimits.CheckLaunch("train.cu:train_sgemm", new Dim3(1, 65536), 256, limits, 0))!;
        Assert.That(e.Message, Does.Contain("train.cu:train_sgemm").And.Contain("grid y = 65536").And.Contain("65535"));
        e = Assert.Throws<ArgumentException>(() => KernelLimits.CheckLaunch("k", 1, new Dim3(1, 1, 65), limits, 0))!;
        Assert.That(e.Message, Does.Contain("block z = 65").And.Contain("64"));
        e = Assert.Throws<ArgumentException>(() => KernelLimits.CheckLaunch("k", 1, new Dim3(32, 32, 2), limits, 0))!;
        Assert.That(e.Message, Does.Contain("2048 threads").And.Contain("1024"));
        Assert.DoesNotThrow(() => KernelLimits.CheckLaunch("k", new Dim3(int.MaxValue, 65535, 65535), new Dim3(1024), limits, 1024));
    }

    [Test]
    public void TheEmulatorRefusesWhatAGpuWould()
    {
        if (!EmulatedDevice.IsAvailable(out var why)) Assert.Fail("the host emulator must be built in CI: " + why);
        using var device = new EmulatedDevice();
        var kernel = device.GetKernel("testing", "saxpy");
        using var y = device.Allocate<float>(4);
        using var args = new KernelArgs().Add(4L).Add(1f).Add(y).Add(y);
        var e = Assert.Throws<ArgumentException>(() => device.Launch(kernel, new Dim3(1, 65536), 32, args))!;
        Assert.That(e.Message, Does.Contain("testing.cu:saxpy").And.Contain("grid y = 65536"));
    }

    [Test]
    [Category("Gpu")]
    public void OnTheGpuEveryBlockSizeKernelAllowsTheValidatorsBound()
    {
        using var device = Requirements.Device(Requirements.TempDirectory());
        var problems = new List<string>();
        foreach (var file in KernelSources.KernelFiles)
            foreach (var name in KernelCompileReport.KernelNames(KernelSources.Files[file]).Where(LaunchedWithBlockSize))
            {
                var k = device.GetKernel(file, name);
                if (k.MaxThreadsPerBlock < KernelLimits.MaxBlockSize) problems.Add($"{k}: CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK {k.MaxThreadsPerBlock}");
            }
        Assert.That(problems, Is.Empty, $"{device.Name}, {device.Target}");
    }

    [GeneratedRegex(@"Compiling entry function '(\w+)' for '(sm_\d+)'[\s\S]*?Used (\d+) registers")]
    private static partial Regex PtxasRegisters();

    [GeneratedRegex(@"__launch_bounds__\([^)]*\)\s*")]
    private static partial Regex LaunchBounds();
}
