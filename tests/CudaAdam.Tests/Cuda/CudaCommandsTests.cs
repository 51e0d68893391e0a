using CudaAdam.Cli;
using CudaAdam.Cuda;
using CudaAdam.Cuda.Compilation;
using CudaAdam.Cuda.Diagnostics;

namespace CudaAdam.Tests.Cuda;

[TestFixture]
public class CudaCommandsTests
{
    private static (int Code, string Out, string Err) Cli(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = Program.Run(args, stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }

    [Test]
    public void InfoListsEveryLibraryAndWhatIsMissing()
    {
        var (code, output, _) = Cli("info");
        Assert.That(code, Is.EqualTo(0));
        Assert.That(output, Does.Contain("libcuda (driver)"));
        Assert.That(output, Does.Contain("NVRTC"));
        Assert.That(output, Does.Contain("cuBLAS"));
        Assert.That(output, Does.Contain("cache "));
        Assert.That(output, Does.Contain("host emulator:"));
        var report = CudaEnvironmentReport.Collect();
        foreach (var lib in report.Libraries.Where(l => l.Path is null))
            Assert.That(report.Missing.Any(m => m.Contains(lib.Name.Split(' ')[0], StringComparison.OrdinalIgnoreCase)), Is.True,
                $"{lib.Name} is absent, so 'missing' must say how to get it");
        if (report.Devices.Count == 0) Assert.That(output, Does.Contain("devices:\n  none"));
    }

    [Test]
    public void InfoCheckWithoutAGpuFailsSayingWhy()
    {
        if (CudaAdam.Cuda.Driver.CudaDriver.Unavailable() is null)
            Assert.Ignore("a GPU is present: 'info --check' runs the real checks (see CudaDeviceTests)");
        var (code, _, err) = Cli("info", "--check");
        Assert.That(code, Is.EqualTo(1));
        Assert.That(err, Does.Contain("no usable GPU"));
    }

    [Test]
    [Category("Gpu")]
    public void InfoCheckPassesOnAGpu()
    {
        var reason = CudaAdam.Cuda.Driver.CudaDriver.Unavailable();
        if (reason is not null) Assert.Ignore("no CUDA device here (GPU tests run on the GPU machine): " + reason);
        var (code, output, err) = Cli("info", "--check");
        Assert.That(code, Is.EqualTo(0), output + err);
        Assert.That(output, Does.Contain("checks passed"));
        Assert.That(output, Does.Not.Contain("FAIL"));
    }

    [Test]
    public void KernelsListsTheEmbeddedFilesAndTheirKernels()
    {
        var (code, output, _) = Cli("kernels");
        Assert.That(code, Is.EqualTo(0));
        foreach (var file in KernelSources.KernelFiles) Assert.That(output, Does.Contain(file + ":"));
        Assert.That(output, Does.Contain("headers: common.cuh"));
    }

    [Test]
    public void KernelsCompileReportsEveryFile()
    {
        Requirements.Nvrtc();
        if (KernelSources.KernelFiles.Count == 0) Assert.Ignore("no kernels/*.cu embedded yet");
        var (code, output, err) = Cli("kernels", "--compile", "--fresh", "--arch", "compute_75");
        Assert.That(code, Is.EqualTo(0), err + output);
        foreach (var file in KernelSources.KernelFiles) Assert.That(output, Does.Match($@"{file}\s+compute_75\s+PTX\s+compiled\s+[0-9.]+\s+[1-9][0-9]*"));
        Assert.That(output, Does.Contain($"{KernelSources.KernelFiles.Count} files"));
        Assert.That(output, Does.Contain("0 failed"));
    }

    [Test]
    public void KernelsRejectsABadArch()
    {
        var (code, _, err) = Cli("kernels", "--compile", "--arch", "ampere");
        Assert.That(code, Is.EqualTo(2));
        Assert.That(err, Does.Contain("sm_XX"));
    }

    [Test]
    public void KernelNamesFindsExternCGlobals()
    {
        const string text = "extern \"C\" __global__ void a_step(float* x) {}\n" +
                            "extern \"C\" __global__ __launch_bounds__(256) void b_step(int n) {}\n" +
                            "__device__ void helper() {}\n__global__ void mangled() {}\n";
        Assert.That(KernelCompileReport.KernelNames(text), Is.EqualTo(new[] { "a_step", "b_step" }));
    }

    [Test]
    public void CacheBenchmarkMeasuresEveryLevel()
    {
        Requirements.Nvrtc();
        Assert.That(KernelCacheBenchmark.Sources().Select(s => s.FileName), Is.EqualTo(KernelSources.KernelFiles.Append(ProbeKernels.FileName)));
        var rows = KernelCacheBenchmark.Run(CompileTarget.Default, rounds: 1, [ProbeKernels.Source]); // one small file: NVRTC is slow here
        Assert.That(rows.Single().File, Is.EqualTo(ProbeKernels.FileName));
        foreach (var r in rows)
        {
            Assert.That(r.ImageBytes, Is.GreaterThan(0));
            Assert.That(new[] { r.ColdMs, r.DiskMs, r.MemoryMs }, Is.All.GreaterThan(0.0));
        }
        var text = new StringWriter();
        KernelCacheBenchmark.Write(rows, CompileTarget.Default, 1, text);
        Assert.That(text.ToString(), Does.Contain("cold ms"));
    }
}
