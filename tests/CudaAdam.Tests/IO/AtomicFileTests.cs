using CudaAdam.IO;

namespace CudaAdam.Tests.IO;

public class AtomicFileTests
{
    private TempDirectory _dir = null!;

    [SetUp] public void SetUp() => _dir = new TempDirectory();
    [TearDown] public void TearDown() => _dir.Dispose();

    [Test]
    public void WritesNewFileAndLeavesNoTempFile()
    {
        string path = _dir.File("new.bin");
        AtomicFile.WriteAllBytes(path, [1, 2, 3]);
        Assert.That(File.ReadAllBytes(path), Is.EqualTo(new byte[] { 1, 2, 3 }));
        Assert.That(_dir.FileNames(), Is.EqualTo(new[] { "new.bin" }));
    }

    [Test]
    public void ReplacesExistingFile()
    {
        string path = _dir.File("t.txt");
        File.WriteAllText(path, "old content that is longer");
        AtomicFile.WriteAllText(path, "new");
        Assert.That(File.ReadAllText(path), Is.EqualTo("new"));
        Assert.That(_dir.FileNames(), Is.EqualTo(new[] { "t.txt" }));
    }

    [Test]
    public void FailureMidWriteLeavesTargetIntactAndNoTempFile()
    {
        string path = _dir.File("target.bin");
        File.WriteAllBytes(path, [9, 9, 9]);
        var ex = Assert.Throws<InvalidOperationException>(() => AtomicFile.Write(path, s =>
        {
            s.Write(new byte[100_000]); // more than the stream's buffer: some bytes reach the temp file
            throw new InvalidOperationException("simulated failure");
        }));
        Assert.That(ex!.Message, Is.EqualTo("simulated failure"), "the writer's exception propagates unchanged");
        Assert.That(File.ReadAllBytes(path), Is.EqualTo(new byte[] { 9, 9, 9 }));
        Assert.That(_dir.FileNames(), Is.EqualTo(new[] { "target.bin" }));
    }

    [Test]
    public void FailureMidWriteWithNoTargetCreatesNothing()
    {
        string path = _dir.File("absent.bin");
        Assert.Throws<IOException>(() => AtomicFile.Write(path, s => { s.WriteByte(1); throw new IOException("disk full (simulated)"); }));
        Assert.That(_dir.FileNames(), Is.Empty);
    }

    [Test]
    public void MissingDirectoryIsAClearError()
    {
        string path = Path.Combine(_dir.Path, "no", "such", "dir", "f.bin");
        var ex = Assert.Throws<DirectoryNotFoundException>(() => AtomicFile.WriteAllBytes(path, [1]));
        Assert.That(ex!.Message, Does.Contain("does not exist").And.Contain("create it first"));
    }

    [Test]
    public void TargetThatIsADirectoryIsRefusedAndLeftAlone()
    {
        string path = _dir.File("sub");
        Directory.CreateDirectory(path);
        Assert.Throws<PathRefusedException>(() => AtomicFile.WriteAllBytes(path, [1]));
        Assert.That(Directory.Exists(path), Is.True);
        Assert.That(_dir.FileNames(), Is.Empty);
    }
}

/// <summary>What <see cref="AtomicFile"/> refuses and how it treats links, modes, temporary names and interrupts.</summary>
[TestFixture, System.Runtime.Versioning.SupportedOSPlatform("linux")]
public class AtomicFileSafetyTests
{
    private TempDirectory _dir = null!;

    [SetUp] public void SetUp() => _dir = new TempDirectory();
    [TearDown] public void TearDown() => _dir.Dispose();

    [Test]
    public void ReadOnlyFileIsRefusedAndKept()
    {
        string path = _dir.File("ro.bin");
        File.WriteAllBytes(path, [7]);
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.GroupRead);
        var ex = Assert.Throws<PathRefusedException>(() => AtomicFile.WriteAllBytes(path, [1, 2]));
        Assert.That(ex!.Message, Does.Contain("read-only").And.Contain("0440"));
        Assert.That(File.ReadAllBytes(path), Is.EqualTo(new byte[] { 7 }));
        Assert.That(_dir.FileNames(), Is.EqualTo(new[] { "ro.bin" }));
    }

    [Test]
    public void ChainOfLinksIsWrittenThroughAndTheModeKept()
    {
        Directory.CreateDirectory(_dir.File("d"));
        string target = _dir.File("d/t.bin");
        File.WriteAllBytes(target, [1]);
        File.SetUnixFileMode(target, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        File.CreateSymbolicLink(_dir.File("b"), "d/t.bin");
        File.CreateSymbolicLink(_dir.File("a"), "b");
        AtomicFile.WriteAllBytes(_dir.File("a"), [4, 5]);
        Assert.That(File.ReadAllBytes(target), Is.EqualTo(new byte[] { 4, 5 }));
        Assert.That(FileProbe.Stat(_dir.File("a"), followLinks: false).Kind, Is.EqualTo(FileKind.Symlink));
        Assert.That(FileProbe.Stat(_dir.File("b"), followLinks: false).Kind, Is.EqualTo(FileKind.Symlink));
        Assert.That(File.GetUnixFileMode(target), Is.EqualTo(UnixFileMode.UserRead | UnixFileMode.UserWrite), "the mode is kept");
        Assert.That(Directory.GetFiles(_dir.File("d")).Select(Path.GetFileName), Is.EqualTo(new[] { "t.bin" }), "the temp was in the target's directory");
    }

    [Test]
    public void DanglingLinkCreatesItsTarget()
    {
        File.CreateSymbolicLink(_dir.File("l"), "new.bin");
        AtomicFile.WriteAllText(_dir.File("l"), "x");
        Assert.That(File.ReadAllText(_dir.File("new.bin")), Is.EqualTo("x"));
        Assert.That(FileProbe.Stat(_dir.File("l"), followLinks: false).Kind, Is.EqualTo(FileKind.Symlink));
    }

    [Test]
    public void TemporaryNameCarriesThePidAndFitsInAFileName()
    {
        string name = new string('n', 250);
        string? seen = null;
        AtomicFile.Write(_dir.File(name), s =>
        {
            seen = Directory.GetFiles(_dir.Path).Select(Path.GetFileName).Single(f => AtomicFile.IsTempFileName(f!));
            s.WriteByte(1);
        });
        Assert.That(seen, Does.Contain($".{Environment.ProcessId}."));
        Assert.That(System.Text.Encoding.UTF8.GetByteCount(seen!), Is.LessThanOrEqualTo(255));
        Assert.That(_dir.FileNames(), Is.EqualTo(new[] { name }));
    }

    [Test]
    public void OutputThatIsAnInputIsRefusedThroughALink()
    {
        File.WriteAllText(_dir.File("in"), "data");
        File.CreateSymbolicLink(_dir.File("sym"), "in");
        Assert.Throws<PathRefusedException>(() => SafeFile.RefuseOverlap([("--in", _dir.File("in"))], [("--out", _dir.File("sym"))]));
        Assert.DoesNotThrow(() => SafeFile.RefuseOverlap([("--in", _dir.File("in"))], [("--out", _dir.File("other"))]));
    }

    [Test]
    public void ReadingAFifoIsRefusedAtOnce()
    {
        string fifo = _dir.File("f");
        using (var p = System.Diagnostics.Process.Start("mkfifo", fifo)) p.WaitForExit();
        var task = Task.Run(() => Assert.Throws<PathRefusedException>(() => SafeFile.ReadAllBytes(fifo)));
        Assert.That(task.Wait(TimeSpan.FromSeconds(20)), Is.True, "no blocking open");
        Assert.That(task.Result!.Message, Does.Contain("FIFO"));
    }
}
