using CudaAdam.Cuda.Interop;

namespace CudaAdam.Tests.Cuda;

[TestFixture]
public class NativeLibrariesTests
{
    private static readonly NativeLibrarySpec Fake = new("fake", ["libcudaadam_fake.so.9", "libcudaadam_fake.so"], "CUDAADAM_FAKE",
        "Install the fake package.");

    private static Func<string, string?> Env(params (string Key, string Value)[] values) =>
        key => values.FirstOrDefault(v => v.Key == key).Value;

    [Test]
    public void FailureListsEveryCandidateAndWhatToInstall()
    {
        var e = Assert.Throws<NativeLibraryNotFoundException>(() =>
            NativeLibraries.Probe(Fake, Env(("CUDA_PATH", "/opt/nocuda"), ("CUDA_HOME", "/opt/nocuda2"))))!;
        Assert.That(e.Tried, Has.Count.EqualTo(6));
        string[] expected =
        [
            "/opt/nocuda/lib64/libcudaadam_fake.so.9", "/opt/nocuda2/lib64/libcudaadam_fake.so.9", "libcudaadam_fake.so.9",
            "/opt/nocuda/lib64/libcudaadam_fake.so", "/opt/nocuda2/lib64/libcudaadam_fake.so", "libcudaadam_fake.so",
        ];
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.That(e.Tried[i], Does.StartWith(expected[i] + " ("));
            Assert.That(e.Message, Does.Contain(expected[i]));
        }
        Assert.That(e.Message, Does.Contain("Install the fake package."));
        Assert.That(e.Message, Does.Contain("CUDAADAM_FAKE"));
    }

    [Test]
    public void ExplicitPathIsTheOnlyCandidate()
    {
        var env = Env(("CUDAADAM_NVRTC", "/nonexistent/libnvrtc.so.99"), ("CUDA_PATH", "/usr"));
        Assert.That(NativeLibraries.Candidates(NativeLibraries.Nvrtc, env), Is.EqualTo(new[] { "/nonexistent/libnvrtc.so.99" }));
        var e = Assert.Throws<NativeLibraryNotFoundException>(() => NativeLibraries.Probe(NativeLibraries.Nvrtc, env))!;
        Assert.That(e.Tried, Is.EqualTo(new[] { "/nonexistent/libnvrtc.so.99 (no such file)" }));
        Assert.That(e.Message, Does.Contain("libnvrtc11.2"), "says what to install");
    }

    [Test]
    public void NvrtcSonamesAreProbedNewestFirst()
    {
        var list = NativeLibraries.Candidates(NativeLibraries.Nvrtc, Env());
        Assert.That(list, Is.EqualTo(new[]
        {
            "libnvrtc.so.13", "/usr/local/cuda/lib64/libnvrtc.so.13", "libnvrtc.so.12", "/usr/local/cuda/lib64/libnvrtc.so.12",
            "libnvrtc.so.11.2", "/usr/local/cuda/lib64/libnvrtc.so.11.2", "libnvrtc.so", "/usr/local/cuda/lib64/libnvrtc.so",
        }));
        Assert.That(NativeLibraries.Candidates(NativeLibraries.Cuda, Env()), Is.EqualTo(new[] { "libcuda.so.1" }));
        Assert.That(NativeLibraries.Candidates(NativeLibraries.Cublas, Env(("CUDA_HOME", "/usr/local/cuda"))),
            Is.EqualTo(new[] { "/usr/local/cuda/lib64/libcublas.so.13", "libcublas.so.13", "/usr/local/cuda/lib64/libcublas.so.12",
                "libcublas.so.12", "/usr/local/cuda/lib64/libcublas.so.11", "libcublas.so.11" }),
            "CUDA_HOME is /usr/local/cuda, so the fallback directory adds nothing new");
    }

    [Test]
    public void StubsDirectoryIsNeverLoaded()
    {
        var dir = Requirements.TempDirectory();
        try
        {
            var stubs = Directory.CreateDirectory(Path.Combine(dir, "stubs")).FullName;
            var stub = Path.Combine(stubs, "libcuda.so.1");
            File.WriteAllText(stub, "not a library");
            var e = Assert.Throws<NativeLibraryNotFoundException>(() => NativeLibraries.Probe(NativeLibraries.Cuda, Env(("CUDAADAM_LIBCUDA", stub))))!;
            Assert.That(e.Tried.Single(), Does.Contain("skipped: a stubs/ library"));
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Test]
    public void AFileThatIsNotALibraryIsReportedWithTheLoadersReason()
    {
        var dir = Requirements.TempDirectory();
        try
        {
            var path = Path.Combine(dir, "libcudaadam_fake.so.9");
            File.WriteAllText(path, "not an ELF file");
            var e = Assert.Throws<NativeLibraryNotFoundException>(() => NativeLibraries.Probe(Fake, Env(("CUDAADAM_FAKE", path))))!;
            Assert.That(e.Tried.Single(), Does.StartWith(path + " ("));
            Assert.That(e.Tried.Single(), Does.Not.Contain("no such file"));
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Test]
    public void ARawCallWithoutTheLibraryRaisesTheResolversMessage()
    {
        if (NativeLibraries.TryLoad(NativeLibraries.Cuda, out _) is not null) Assert.Ignore("libcuda.so.1 is present here");
        var e = Assert.Catch<Exception>(() => CudaAdam.Cuda.Driver.CudaDriver.Initialize())!;
        Assert.That(e, Is.InstanceOf<NativeLibraryNotFoundException>());
        Assert.That(e.Message, Does.Contain("libcuda.so.1"));
        var raw = Assert.Catch<Exception>(() => DriverNative.cuInit(0))!;
        Assert.That(raw.ToString(), Does.Contain("libcuda.so.1"), "the P/Invoke itself surfaces the list of paths tried");
    }

    [Test]
    public void NvrtcLoadsFromAVersionedSoname()
    {
        Requirements.Nvrtc();
        var lib = NativeLibraries.Load(NativeLibraries.Nvrtc);
        Assert.That(lib.Handle, Is.Not.EqualTo(0));
        Assert.That(Path.GetFileName(lib.Path), Does.StartWith("libnvrtc.so"));
        Assert.That(lib.Path, Does.Not.Contain("/stubs/"));
    }
}
