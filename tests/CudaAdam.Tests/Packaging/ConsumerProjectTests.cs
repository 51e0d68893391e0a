using System.IO.Compression;
using System.Xml.Linq;
using CudaAdam.Cuda.Emulator;

namespace CudaAdam.Tests.Packaging;

/// <summary>
/// The NuGet packages as a user gets them: <c>./build.sh pack --no-build</c> packs what this suite runs against, with a
/// unique prerelease version (NuGet caches packages by id and version, so a rebuilt package under a version seen
/// before would be served stale), into a temporary folder feed. Then examples/consumer, a project outside the
/// solution, restores from that feed into its own packages folder (the machine's global folder serves the third-party
/// packages as a read-only fallback, and never sees CudaAdam's), builds, and runs its training loop on cpu and emulator;
/// and the CLI installs from the feed as a .NET tool and runs.
/// </summary>
[TestFixture]
[NonParallelizable]
public class ConsumerProjectTests
{
    private static readonly string[] Libraries = ["CudaAdam", "CudaAdam.Cuda", "CudaAdam.Training", "CudaAdam.Experiments"];
    private const string Tool = "CudaAdam.Cli";

    private TempDirectory _tmp = null!;
    private string _feed = "", _version = "", _packages = "";

    [OneTimeSetUp]
    public void Pack()
    {
        var emulator = TestPaths.InRepo(".build", "native", EmulatorLibrary.FileName);
        if (!File.Exists(emulator))
            Prerequisite.Missing($"{emulator} is missing (./build.sh setup builds it; needs g++): CudaAdam.Cuda's package carries it");
        _tmp = new TempDirectory();
        _feed = Directory.CreateDirectory(_tmp.File("feed")).FullName;
        _packages = Directory.CreateDirectory(_tmp.File("packages")).FullName;
        var suffix = $"test.{DateTime.UtcNow:yyyyMMddHHmmss}.{Environment.ProcessId}";
        var (code, output) = ChildProcess.Run("bash", ["build.sh", "pack", "--no-build", "-o", _feed], TestPaths.RepoRoot,
            TimeSpan.FromMinutes(4), new Dictionary<string, string> { ["VERSION_SUFFIX"] = suffix });
        Assert.That(code, Is.EqualTo(0), $"./build.sh pack --no-build failed:\n{output}");
        var prefix = XDocument.Load(TestPaths.InRepo("Directory.Build.props")).Descendants("VersionPrefix").Single().Value;
        _version = $"{prefix}-{suffix}";
    }

    [OneTimeTearDown]
    public void Clean() => _tmp?.Dispose();

    private string Package(string id, string ext = "nupkg") => Path.Combine(_feed, $"{id}.{_version}.{ext}");

    [Test]
    public void EveryPackageCarriesRealMetadataOneVersionAndItsSymbols()
    {
        Assert.That(Directory.GetFiles(_feed, "*.nupkg").Select(Path.GetFileName),
            Is.EquivalentTo(Libraries.Append(Tool).Select(id => $"{id}.{_version}.nupkg")), "one package per library and the tool, one version");
        foreach (var id in Libraries.Append(Tool))
        {
            using var zip = ZipFile.OpenRead(Package(id));
            var nuspec = XDocument.Load(zip.GetEntry($"{id}.nuspec")!.Open());
            string Field(string name) => nuspec.Descendants().FirstOrDefault(e => e.Name.LocalName == name)?.Value ?? "";
            Assert.That(Field("version"), Is.EqualTo(_version), id);
            Assert.That(Field("description"), Has.Length.GreaterThan(80).And.Not.Contain("Package Description"), id);
            Assert.That(Field("license"), Is.EqualTo("MIT"), id);
            Assert.That(Field("readme"), Is.EqualTo("README.md"), id);
            Assert.That(zip.GetEntry("README.md"), Is.Not.Null, $"{id} has no readme");
            var repository = nuspec.Descendants().Single(e => e.Name.LocalName == "repository");
            Assert.That(repository.Attribute("type")?.Value, Is.EqualTo("git"), id);
            Assert.That(repository.Attribute("commit")?.Value, Does.Match("^[0-9a-f]{40}$"), $"{id}: the commit it was built from");
            // Every dependency on another CudaAdam package names this very version.
            foreach (var d in nuspec.Descendants().Where(e => e.Name.LocalName == "dependency" && e.Attribute("id")!.Value.StartsWith("CudaAdam")))
                Assert.That(d.Attribute("version")!.Value, Is.EqualTo(_version), $"{id} -> {d.Attribute("id")!.Value}");
            Assert.That(File.Exists(Package(id, "snupkg")), Is.True, $"{id} has no symbol package");
            using var symbols = ZipFile.OpenRead(Package(id, "snupkg"));
            Assert.That(symbols.Entries.Any(e => e.FullName.EndsWith($"{id}.pdb")), Is.True, $"{id}.snupkg holds no {id}.pdb");
            if (id != Tool)
                Assert.That(zip.GetEntry($"lib/net10.0/{id}.xml"), Is.Not.Null, $"{id} ships no XML documentation");
        }
    }

    [Test]
    public void TheCudaPackageCarriesTheEmulatorAsItsLinuxX64NativeAsset()
    {
        using var zip = ZipFile.OpenRead(Package("CudaAdam.Cuda"));
        var entry = zip.GetEntry($"{EmulatorLibrary.PackageAssetFolder}/{EmulatorLibrary.FileName}");
        Assert.That(entry, Is.Not.Null, "runtimes/linux-x64/native/libcudaadam_emu.so is not in the package");
        using var packed = new MemoryStream();
        entry!.Open().CopyTo(packed);
        Assert.That(packed.ToArray(), Is.EqualTo(File.ReadAllBytes(TestPaths.InRepo(".build", "native", EmulatorLibrary.FileName))),
            "the packed emulator is not the one this build made");
    }

    [Test]
    public void TheConsumerProjectBuildsFromThePackagesAndTrainsOnCpuAndEmulator()
    {
        // A copy, so the repository's examples/consumer keeps no obj/ that points at this test's packages folder.
        var project = Directory.CreateDirectory(_tmp.File("consumer")).FullName;
        foreach (var f in Directory.GetFiles(TestPaths.InRepo("examples", "consumer")))
            File.Copy(f, Path.Combine(project, Path.GetFileName(f)));
        var global = Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } g
            ? g
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        string[] props = [$"-p:CudaAdamFeed={_feed}", $"-p:CudaAdamVersion={_version}", $"-p:RestorePackagesPath={_packages}",
                          $"-p:RestoreAdditionalProjectFallbackFolders={global}"];
        var (code, output) = ChildProcess.Run("dotnet", ["restore", "--nologo", .. props], project, TimeSpan.FromMinutes(4));
        Assert.That(code, Is.EqualTo(0), $"dotnet restore of the consumer failed:\n{output}");
        foreach (var id in Libraries)
            Assert.That(Directory.Exists(Path.Combine(_packages, id.ToLowerInvariant(), _version)), Is.True,
                $"{id} {_version} was not restored into the consumer's own packages folder");
        (code, output) = ChildProcess.Run("dotnet", ["build", "--no-restore", "-c", "Release", "--nologo", "-v", "q", .. props], project, TimeSpan.FromMinutes(4));
        Assert.That(code, Is.EqualTo(0), $"dotnet build of the consumer failed:\n{output}");
        var bin = Path.Combine(project, "bin", "Release", "net10.0");
        Assert.That(File.Exists(Path.Combine(bin, EmulatorLibrary.PackageAssetFolder, EmulatorLibrary.FileName)), Is.True,
            "the package's emulator did not arrive under bin/…/runtimes/linux-x64/native");
        (code, output) = ChildProcess.Run("dotnet", [Path.Combine(bin, "Consumer.dll"), "cpu", "emulator"], project, TimeSpan.FromMinutes(3),
            new Dictionary<string, string> { [EmulatorLibrary.EnvironmentVariable] = "" });
        Assert.That(code, Is.EqualTo(0), $"the consumer's training loop failed:\n{output}");
        Assert.That(output, Does.Contain("emulator: 0 of").And.Contain("consumer: OK (cpu, emulator)"), output);
    }

    [Test]
    public void TheCliInstallsFromTheFeedAsADotnetToolAndRuns()
    {
        var tools = _tmp.File("tools");
        var env = new Dictionary<string, string> { ["NUGET_PACKAGES"] = _packages };
        var (code, output) = ChildProcess.Run("dotnet", ["tool", "install", Tool, "--tool-path", tools, "--add-source", _feed, "--version", _version],
            _tmp.Path, TimeSpan.FromMinutes(3), env);
        Assert.That(code, Is.EqualTo(0), $"dotnet tool install failed:\n{output}");
        (code, output) = ChildProcess.Run(Path.Combine(tools, "cudaadam"), ["help", "lion"], _tmp.Path, TimeSpan.FromMinutes(1));
        Assert.That(code, Is.EqualTo(0), output);
        Assert.That(output, Does.Contain(Algorithm.Lion.Info().Source), "the tool did not print Lion's descriptor");
        (code, output) = ChildProcess.Run(Path.Combine(tools, "cudaadam"), ["info"], _tmp.Path, TimeSpan.FromMinutes(1));
        Assert.That(output, Does.Contain("host emulator:\n  " + tools), "the tool does not find the emulator it carries:\n" + output);
    }
}
