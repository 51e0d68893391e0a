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
