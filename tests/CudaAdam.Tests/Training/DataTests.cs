using System.IO.Compression;
using CudaAdam.Training;
using CudaAdam.Training.Data;

namespace CudaAdam.Tests.Training;

public class DataTests
{
    [Test]
    public void EmbeddedSubset_Has1000Train500Test_WithPixelsInUnitRange_AndAllClasses()
    {
        var (train, test) = FashionMnist.LoadEmbedded();
        Assert.That(train.Count, Is.EqualTo(1000));
        Assert.That(test.Count, Is.EqualTo(500));
        Assert.That(train.Features, Is.EqualTo(784));
        Assert.That(train.Inputs.Min(), Is.EqualTo(0f));
        Assert.That(train.Inputs.Max(), Is.EqualTo(1f));
        Assert.That(train.Labels.Distinct().Order(), Is.EqualTo(Enumerable.Range(0, 10).Select(i => (byte)i)));
    }

    [Test]
    public void EmbeddedSubset_IsThePrefixOfTheSystemDataSet()
    {
        if (!FashionMnist.SystemInstalled)
            Prerequisite.Missing($"{FashionMnist.SystemDirectory} is absent: apt-get install {FashionMnist.DebianPackage} (./build.sh setup)");
        var (sysTrain, sysTest) = FashionMnist.Load("system");
        Assert.That(sysTrain.Count, Is.EqualTo(60_000));
        Assert.That(sysTest.Count, Is.EqualTo(10_000));
        var (train, test) = FashionMnist.LoadEmbedded();
        Assert.That(train.Inputs, Is.EqualTo(sysTrain.Take(1000).Inputs));
        Assert.That(train.Labels, Is.EqualTo(sysTrain.Take(1000).Labels));
        Assert.That(test.Labels, Is.EqualTo(sysTest.Take(500).Labels));
    }

    [Test]
    public void MissingDirectory_NamesTheFileAndWhatToDo()
    {
        using var dir = new TempDirectory();
        var e = Assert.Throws<FileNotFoundException>(() => FashionMnist.Load(dir.Path));
        Assert.That(e!.Message, Does.Contain("train-images-idx3-ubyte.gz").And.Contain("dataset-fashion-mnist"));
    }

    [Test]
    public void Idx_RejectsTruncatedAndForeignFiles()
    {
        var good = new byte[] { 0, 0, 8, 1, 0, 0, 0, 3, 7, 8, 9 };
        var (dims, data) = Idx.Read(new MemoryStream(good), "good");
        Assert.That(dims, Is.EqualTo(new[] { 3 }));
        Assert.That(data, Is.EqualTo(new byte[] { 7, 8, 9 }));

        var gz = new MemoryStream();
        using (var z = new GZipStream(gz, CompressionLevel.Fastest, leaveOpen: true)) z.Write(good);
        gz.Position = 0;
        Assert.That(Idx.Read(gz, "gz").Data, Is.EqualTo(new byte[] { 7, 8, 9 }));
        gz.Position = 0;
        Assert.That(Idx.Read(new ForwardOnly(gz), "gz, not seekable").Data, Is.EqualTo(new byte[] { 7, 8, 9 }));

        var e = Assert.Throws<InvalidDataException>(() => Idx.Read(new MemoryStream(good[..10]), "short"));
        Assert.That(e!.Message, Does.Contain("short: truncated IDX data: the header promises 3 bytes, the file has 2"));
        e = Assert.Throws<InvalidDataException>(() => Idx.Read(new MemoryStream([1, 2, 3, 4]), "png"));
        Assert.That(e!.Message, Does.Contain("not an IDX file"));
        e = Assert.Throws<InvalidDataException>(() => Idx.Read(new MemoryStream([0, 0, 0x0d, 1, 0, 0, 0, 0]), "floats"));
        Assert.That(e!.Message, Does.Contain("0x0d is not supported"));
    }

    [Test]
    public void Sampler_ServesEachExampleOncePerEpoch_InASeededOrder()
    {
        var a = new MinibatchSampler(10, 4, new Rng(5));
        var sizes = new List<int>();
        var seen = new List<int>();
        for (int b = 0; b < 3; b++)
        {
            var batch = a.NextBatch();
            sizes.Add(batch.Length);
            seen.AddRange(batch.ToArray());
        }
        Assert.That(sizes, Is.EqualTo(new[] { 4, 4, 2 }));
        Assert.That(seen.Order(), Is.EqualTo(Enumerable.Range(0, 10)));
        Assert.That(seen, Is.Not.EqualTo(Enumerable.Range(0, 10)), "shuffled");
        var epoch2 = a.NextBatch().ToArray();

        var b2 = new MinibatchSampler(10, 4, new Rng(5));
        var again = new List<int>();
        for (int b = 0; b < 3; b++) again.AddRange(b2.NextBatch().ToArray());
        Assert.That(again, Is.EqualTo(seen), "same seed, same order");
        Assert.That(b2.NextBatch().ToArray(), Is.EqualTo(epoch2));
        Assert.That(epoch2, Is.Not.EqualTo(seen.Take(4)), "a new permutation each epoch");
    }

    [Test]
    public void Sampler_Restore_RejectsAStateThatIsNotAPermutation()
    {
        var s = new MinibatchSampler(4, 2, new Rng(1));
        Assert.Throws<ArgumentException>(() => s.Restore([0, 1, 1, 3], 0));
        Assert.Throws<ArgumentException>(() => s.Restore([0, 1, 2], 0));
        Assert.Throws<ArgumentException>(() => s.Restore([0, 1, 2, 3], 5));
    }

    /// <summary>A read-only, non-seekable view (a network or pipe stream).</summary>
    private sealed class ForwardOnly(Stream inner) : Stream
    {
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, count);
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
