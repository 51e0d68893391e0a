using CudaAdam.Cuda;
using CudaAdam.Cuda.Compilation;

namespace CudaAdam.Tests.Cuda;

[TestFixture]
public class KernelCacheTests
{
    private string _dir = "";

    [SetUp]
    public void SetUp() => _dir = Requirements.TempDirectory();

    [TearDown]
    public void TearDown()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    private static readonly KernelSource Source = ProbeKernels.Source;

    [Test]
    public void MissThenCompileThenHits()
    {
        Requirements.Nvrtc();
        var cache = new KernelCache(_dir);
        var first = cache.GetOrCompile(Source, CompileTarget.Default);
        var second = cache.GetOrCompile(Source, CompileTarget.Default);
        Assert.That(first.Outcome, Is.EqualTo(CacheOutcome.Compiled));
        Assert.That(second.Outcome, Is.EqualTo(CacheOutcome.Memory));
        Assert.That(second.Image, Is.EqualTo(first.Image));
        Assert.That(File.Exists(cache.PathFor(first.Key)), Is.True);

        var other = new KernelCache(_dir); // a new process, in effect
        var third = other.GetOrCompile(Source, CompileTarget.Default);
        Assert.That(third.Outcome, Is.EqualTo(CacheOutcome.Disk));
        Assert.That(third.Image, Is.EqualTo(first.Image));
        Assert.That(other.Statistics, Is.EqualTo(new KernelCacheStatistics(0, 1, 0, 0, null)));
        Assert.That(cache.Statistics, Is.EqualTo(new KernelCacheStatistics(1, 0, 1, 0, null)));
        Assert.That(Directory.GetFiles(_dir, "*.tmp"), Is.Empty, "the atomic write leaves no temporary file");
    }

    [TestCase("flip")]
    [TestCase("truncate")]
    [TestCase("empty")]
    [TestCase("garbage")]
    public void DamagedFileIsRemovedAndRecompiled(string damage)
    {
        Requirements.Nvrtc();
        var good = new KernelCache(_dir).GetOrCompile(Source, CompileTarget.Default);
        var path = new KernelCache(_dir).PathFor(good.Key);
        var bytes = File.ReadAllBytes(path);
        switch (damage)
        {
            case "flip": bytes[^10] ^= 0x20; break;
            case "truncate": bytes = bytes[..(bytes.Length - 17)]; break;
            case "empty": bytes = []; break;
            case "garbage": bytes = System.Text.Encoding.ASCII.GetBytes("not a cache file at all, but long enough to have a header........................."); break;
        }
        File.WriteAllBytes(path, bytes);

        var cache = new KernelCache(_dir);
        var again = cache.GetOrCompile(Source, CompileTarget.Default);
        Assert.That(again.Outcome, Is.EqualTo(CacheOutcome.Compiled), "a damaged file is never loaded");
        Assert.That(again.Image, Is.EqualTo(good.Image));
        Assert.That(cache.Statistics.CorruptFilesRemoved, Is.EqualTo(1));
        Assert.That(KernelCache.Verify(File.ReadAllBytes(path), good.Key, out var image, out _), Is.True, "the file is rewritten whole");
        Assert.That(image, Is.EqualTo(good.Image));
    }

    /// <summary>A crafted entry: the right key in the header, a junk payload with its hash recomputed (by the old rule,
    /// SHA-256 of the payload, and by the file's own rule): never a disk hit; removed, recompiled and written anew.</summary>
    [TestCase("serialized-junk"), TestCase("sha-of-payload-junk"), TestCase("ptx-of-another-kernel-bad-text")]
    public void CraftedEntryWithTheRightKeyIsAMissAndIsReplaced(string craft)
    {
        Requirements.Nvrtc();
        var good = new KernelCache(_dir).GetOrCompile(Source, CompileTarget.Default);
        var path = new KernelCache(_dir).PathFor(good.Key);
        var junk = new byte[4096];
        new Random(7).NextBytes(junk);
        byte[] file = craft switch
        {
            "serialized-junk" => KernelCache.Serialize(good.Key, junk, isCubin: false),
            "sha-of-payload-junk" => OldStyle(good.Key, junk),
            _ => KernelCache.Serialize(good.Key, [.. "//\n.version 7.8\n.target sm_80\n"u8, 0x01, 0x02], isCubin: false),
        };
        File.WriteAllBytes(path, file);

        var cache = new KernelCache(_dir);
        var again = cache.GetOrCompile(Source, CompileTarget.Default);
        Assert.That(again.Outcome, Is.EqualTo(CacheOutcome.Compiled), "a crafted entry is never served");
        Assert.That(again.Image, Is.EqualTo(good.Image));
        Assert.That(cache.Statistics.CorruptFilesRemoved, Is.EqualTo(1));
        Assert.That(KernelCache.Verify(File.ReadAllBytes(path), good.Key, out var image, out _), Is.True, "the entry is replaced by the real one");
        Assert.That(image, Is.EqualTo(good.Image));
    }

    /// <summary>The version-1 layout: magic, version, kind, length, key, SHA-256(payload), payload (made by hand).</summary>
    private static byte[] OldStyle(string key, byte[] payload)
    {
        var data = KernelCache.Serialize(key, payload, isCubin: false);
        System.Security.Cryptography.SHA256.HashData(payload).CopyTo(data, 52);
        return data;
    }

    /// <summary>A FIFO, a link to /dev/zero or a directory where a cache entry should be: no hang, no OOM, a miss; the
    /// entry is replaced by a regular file (the link is removed, never the device).</summary>
    [TestCase("fifo"), TestCase("dev-zero-link"), TestCase("directory")]
    public void SpecialFileAsACacheEntryNeitherHangsNorLoads(string kind)
    {
        Requirements.Nvrtc();
        var good = new KernelCache(_dir).GetOrCompile(Source, CompileTarget.Default);
        var path = new KernelCache(_dir).PathFor(good.Key);
        File.Delete(path);
        switch (kind)
        {
            case "fifo":
                using (var p = System.Diagnostics.Process.Start("mkfifo", path)) p.WaitForExit();
                break;
            case "dev-zero-link": File.CreateSymbolicLink(path, "/dev/zero"); break;
            default: Directory.CreateDirectory(path); break;
        }
        var cache = new KernelCache(_dir);
        var task = Task.Run(() => cache.GetOrCompile(Source, CompileTarget.Default));
        Assert.That(task.Wait(TimeSpan.FromSeconds(60)), Is.True, "reading the entry must not block");
        Assert.That(task.Result.Outcome, Is.EqualTo(CacheOutcome.Compiled));
        Assert.That(task.Result.Image, Is.EqualTo(good.Image));
        if (kind != "directory")
            Assert.That(KernelCache.Verify(File.ReadAllBytes(path), good.Key, out _, out _), Is.True, "replaced by a real entry");
        Assert.That(new FileInfo("/dev/zero").Exists || Directory.Exists("/dev"), Is.True);
    }

    [Test]
    public void UnwritableDirectoryIsSaidOnceAndTheRunGoesOnUncached()
    {
        Requirements.Nvrtc();
        var file = Path.Combine(_dir, "a-file");
        File.WriteAllText(file, "x");
        var warnings = new List<string>();
        var cache = new KernelCache(Path.Combine(file, "sub")) { Warn = warnings.Add };
        var a = cache.GetOrCompile(Source, CompileTarget.Default);
        var b = cache.GetOrCompile(Source, CompileTarget.Parse("compute_86"));
        Assert.That(new[] { a.Outcome, b.Outcome }, Is.All.EqualTo(CacheOutcome.Compiled));
        Assert.That(warnings, Has.Count.EqualTo(1), "said once, not once per kernel");
        Assert.That(warnings[0], Does.Contain("CUDAADAM_CACHE_DIR").And.Contain("without the disk cache"));
    }

    [Test]
    public void VerifyRejectsAFileOfAnotherKey()
    {
        var key1 = new string('a', 64);
        var key2 = new string('b', 64);
        var ptx = "//\n.version 7.8\n.target sm_80\n.address_size 64\n\0"u8.ToArray();
        var data = KernelCache.Serialize(key1, ptx, isCubin: false);
        Assert.That(KernelCache.Verify(data, key1, out var image, out bool cubin), Is.True);
        Assert.That(image, Is.EqualTo(ptx));
        Assert.That(cubin, Is.False);
        Assert.That(KernelCache.Verify(data, key2, out _, out _), Is.False);
        var extended = data.Append((byte)0).ToArray();
        Assert.That(KernelCache.Verify(extended, key1, out _, out _), Is.False, "trailing bytes are damage too");
    }

    [Test]
    public void KeyChangesWithEveryInputAndIgnoresOptionOrder()
    {
        var headers = new Dictionary<string, string> { ["common.cuh"] = "// h" };
        var source = new KernelSource("a.cu", "extern \"C\" __global__ void k() {}", headers);
        string[] options = ["--fmad=false", "-std=c++17", "--gpu-architecture=compute_80"];
        var baseline = KernelCache.Key(source, options, (11, 8), "compute_80");

        Assert.That(baseline, Has.Length.EqualTo(64));
        Assert.That(KernelCache.Key(source, options.Reverse(), (11, 8), "compute_80"), Is.EqualTo(baseline));
        var changed = new[]
        {
            KernelCache.Key(source with { Text = source.Text + " " }, options, (11, 8), "compute_80"),
            KernelCache.Key(source with { FileName = "b.cu" }, options, (11, 8), "compute_80"),
            KernelCache.Key(source with { Headers = new Dictionary<string, string> { ["common.cuh"] = "// h2" } }, options, (11, 8), "compute_80"),
            KernelCache.Key(source with { Headers = new Dictionary<string, string>() }, options, (11, 8), "compute_80"),
            KernelCache.Key(source, [.. options, "-lineinfo"], (11, 8), "compute_80"),
            KernelCache.Key(source, ["--fmad=true", "-std=c++17", "--gpu-architecture=compute_80"], (11, 8), "compute_80"),
            KernelCache.Key(source, options, (12, 0), "compute_80"),
            KernelCache.Key(source, options, (11, 8), "sm_80"),
            KernelCache.Key(source, options, (11, 8), "compute_90"),
        };
        Assert.That(changed, Has.None.EqualTo(baseline));
        Assert.That(changed, Is.Unique);
    }

    [Test]
    public void FieldsAreLengthPrefixedSoBoundariesCannotShift()
    {
        var empty = new Dictionary<string, string>();
        var a = KernelCache.Key(new KernelSource("ab", "c", empty), [], (11, 8), "compute_80");
        var b = KernelCache.Key(new KernelSource("a", "bc", empty), [], (11, 8), "compute_80");
        Assert.That(a, Is.Not.EqualTo(b));
    }

    [Test]
    public void DifferentTargetsAreDifferentFiles()
    {
        Requirements.Nvrtc();
        var cache = new KernelCache(_dir);
        var ptx80 = cache.GetOrCompile(Source, CompileTarget.Default);
        var ptx86 = cache.GetOrCompile(Source, CompileTarget.Parse("compute_86"));
        Assert.That(ptx86.Key, Is.Not.EqualTo(ptx80.Key));
        Assert.That(ptx86.Outcome, Is.EqualTo(CacheOutcome.Compiled));
        Assert.That(System.Text.Encoding.UTF8.GetString(ptx86.Image), Does.Contain(".target sm_86"));
        Assert.That(KernelCache.DiskUsage(_dir).Files, Is.EqualTo(2));
    }

    [Test]
    public void MemoryOnlyCacheWritesNothing()
    {
        Requirements.Nvrtc();
        var cache = new KernelCache(null);
        Assert.That(cache.GetOrCompile(Source, CompileTarget.Default).Outcome, Is.EqualTo(CacheOutcome.Compiled));
        Assert.That(cache.GetOrCompile(Source, CompileTarget.Default).Outcome, Is.EqualTo(CacheOutcome.Memory));
        Assert.That(Directory.GetFiles(_dir), Is.Empty);
    }

    [Test]
    public void UnwritableDirectoryIsReportedNotFatal()
    {
        Requirements.Nvrtc();
        var file = Path.Combine(_dir, "a-file");
        File.WriteAllText(file, "x");
        var cache = new KernelCache(Path.Combine(file, "sub")); // a directory below a file cannot be created
        var image = cache.GetOrCompile(Source, CompileTarget.Default);
        Assert.That(image.Outcome, Is.EqualTo(CacheOutcome.Compiled));
        Assert.That(cache.Statistics.LastWriteError, Does.Contain("CUDAADAM_CACHE_DIR"));
    }

    [Test]
    public void DefaultDirectoryFollowsTheEnvironment()
    {
        var saved = (Environment.GetEnvironmentVariable("CUDAADAM_CACHE_DIR"), Environment.GetEnvironmentVariable("XDG_CACHE_HOME"));
        try
        {
            Environment.SetEnvironmentVariable("CUDAADAM_CACHE_DIR", "/tmp/x-cache");
            Environment.SetEnvironmentVariable("XDG_CACHE_HOME", "/tmp/xdg");
            Assert.That(KernelCache.DefaultDirectory(), Is.EqualTo("/tmp/x-cache"));
            Environment.SetEnvironmentVariable("CUDAADAM_CACHE_DIR", null);
            Assert.That(KernelCache.DefaultDirectory(), Is.EqualTo("/tmp/xdg/cudaadam/kernels"));
            Environment.SetEnvironmentVariable("XDG_CACHE_HOME", null);
            Assert.That(KernelCache.DefaultDirectory(), Does.EndWith("/.cache/cudaadam/kernels"));
        }
        finally
        {
            Environment.SetEnvironmentVariable("CUDAADAM_CACHE_DIR", saved.Item1);
            Environment.SetEnvironmentVariable("XDG_CACHE_HOME", saved.Item2);
        }
    }

    [Test]
    public void DefaultDirectoryIsAbsoluteOrNone()
    {
        Func<string, string?> env(params (string K, string V)[] kv) => k => kv.FirstOrDefault(x => x.K == k).V;
        Assert.That(KernelCache.DefaultDirectoryFrom(env(("CUDAADAM_CACHE_DIR", "rel/cache")), "/home/u"),
            Is.EqualTo(Path.Combine(Environment.CurrentDirectory, "rel", "cache")), "an explicit relative directory is made absolute once");
        Assert.That(KernelCache.DefaultDirectoryFrom(env(("XDG_CACHE_HOME", "relative-xdg")), "/home/u"),
            Is.EqualTo("/home/u/.cache/cudaadam/kernels"), "a relative XDG_CACHE_HOME is ignored (XDG spec)");
        Assert.That(KernelCache.DefaultDirectoryFrom(env(), "/home/u"), Is.EqualTo("/home/u/.cache/cudaadam/kernels"));
        Assert.That(KernelCache.DefaultDirectoryFrom(env(), ""), Is.Null, "no home: memory only, never a relative .cache/");
        Assert.That(KernelCache.DefaultDirectoryFrom(env(), null), Is.Null);
        Assert.That(KernelCache.DefaultDirectoryFrom(env(), "not/rooted"), Is.Null);
    }
}
