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
        Assert.That(e.Tried, Has.Count.EqualTo(10));
        const string t = "targets/x86_64-linux/lib";
        string[] expected =
        [
            "/opt/nocuda/lib64/libcudaadam_fake.so.9", $"/opt/nocuda/{t}/libcudaadam_fake.so.9", "/opt/nocuda2/lib64/libcudaadam_fake.so.9",
            $"/opt/nocuda2/{t}/libcudaadam_fake.so.9", "libcudaadam_fake.so.9",
            "/opt/nocuda/lib64/libcudaadam_fake.so", $"/opt/nocuda/{t}/libcudaadam_fake.so", "/opt/nocuda2/lib64/libcudaadam_fake.so",
            $"/opt/nocuda2/{t}/libcudaadam_fake.so", "libcudaadam_fake.so",
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
        var list = NativeLibraries.Candidates(NativeLibraries.Nvrtc, Env(), []);
        const string t = "/usr/local/cuda/targets/x86_64-linux/lib";
        Assert.That(list, Is.EqualTo(new[]
        {
            "libnvrtc.so.13", "/usr/local/cuda/lib64/libnvrtc.so.13", $"{t}/libnvrtc.so.13",
            "libnvrtc.so.12", "/usr/local/cuda/lib64/libnvrtc.so.12", $"{t}/libnvrtc.so.12",
            "libnvrtc.so.11.2", "/usr/local/cuda/lib64/libnvrtc.so.11.2", $"{t}/libnvrtc.so.11.2",
            "libnvrtc.so", "/usr/local/cuda/lib64/libnvrtc.so", $"{t}/libnvrtc.so",
        }));
        Assert.That(NativeLibraries.Candidates(NativeLibraries.Cuda, Env()), Is.EqualTo(new[] { "libcuda.so.1" }));
        Assert.That(NativeLibraries.Candidates(NativeLibraries.Cublas, Env(("CUDA_HOME", "/usr/local/cuda")), []),
            Is.EqualTo(new[]
            {
                "/usr/local/cuda/lib64/libcublas.so.13", $"{t}/libcublas.so.13", "libcublas.so.13",
                "/usr/local/cuda/lib64/libcublas.so.12", $"{t}/libcublas.so.12", "libcublas.so.12",
                "/usr/local/cuda/lib64/libcublas.so.11", $"{t}/libcublas.so.11", "libcublas.so.11",
            }),
            "CUDA_HOME is /usr/local/cuda, so the fallback directories add nothing new");
    }

    [Test]
    public void CudaHomesTargetsFolderComesRightAfterItsLib64()
    {
        var list = NativeLibraries.Candidates(NativeLibraries.Cublas, Env(("CUDA_HOME", "/opt/cuda-13")), []);
        Assert.That(list.Take(3), Is.EqualTo(new[]
            { "/opt/cuda-13/lib64/libcublas.so.13", "/opt/cuda-13/targets/x86_64-linux/lib/libcublas.so.13", "libcublas.so.13" }));
    }

    [Test]
    public void PipWheelFoldersAreProbedLastForNvrtcAndCublasOnly()
    {
        var dir = Requirements.TempDirectory();
        try
        {
            // A virtualenv as PyTorch's pip wheels lay it out: site-packages/nvidia/<package>/lib.
            var site = Path.Combine(dir, "lib", "python3.12", "site-packages");
            foreach (var package in new[] { "cublas", "cuda_nvrtc", "cu13" })
                Directory.CreateDirectory(Path.Combine(site, "nvidia", package, "lib"));
            Directory.CreateDirectory(Path.Combine(site, "nvidia", "no_lib_folder"));
            var env = Env(("VIRTUAL_ENV", dir));
            Assert.That(NativeLibraries.PythonSitePackages(env), Does.Contain(site));
            var wheels = NativeLibraries.WheelLibraryDirectories([site]);
            Assert.That(wheels, Is.EqualTo(new[]
                { Path.Combine(site, "nvidia", "cu13", "lib"), Path.Combine(site, "nvidia", "cublas", "lib"), Path.Combine(site, "nvidia", "cuda_nvrtc", "lib") }));

            var nvrtc = NativeLibraries.Candidates(NativeLibraries.Nvrtc, env);
            int i = nvrtc.ToList().IndexOf(Path.Combine(site, "nvidia", "cuda_nvrtc", "lib", "libnvrtc.so.13"));
            Assert.That(i, Is.GreaterThan(nvrtc.ToList().IndexOf("/usr/local/cuda/targets/x86_64-linux/lib/libnvrtc.so.13")),
                "after the system loader and the toolkit folders");
            Assert.That(nvrtc[i + 1], Does.EndWith("libnvrtc.so.12"), "then the next soname");
            Assert.That(NativeLibraries.Candidates(NativeLibraries.Cublas, env), Does.Contain(Path.Combine(site, "nvidia", "cublas", "lib", "libcublas.so.13")));
            Assert.That(NativeLibraries.Candidates(NativeLibraries.Cuda, env), Is.EqualTo(new[] { "libcuda.so.1" }), "the driver never comes from a wheel");
        }
        finally
        {
            Directory.Delete(dir, true);
        }
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
