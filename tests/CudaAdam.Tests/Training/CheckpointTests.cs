using CudaAdam.Training;
using static CudaAdam.Tests.Training.TrainingFixtures;

namespace CudaAdam.Tests.Training;

public class CheckpointTests
{
    /// <summary>Train 2 epochs straight, and 1 epoch + 2 steps, checkpoint, a fresh trainer (other initial weights
    /// even) loads it and finishes: parameters, optimizer state, step records and epoch records are bitwise equal.</summary>
    [TestCaseSource(typeof(TrainingFixtures), nameof(Optimizers))]
    public void ResumedRun_IsBitwiseIdenticalToAnUninterruptedOne(Algorithm algorithm, Hyperparameters hp)
    {
        using var dir = new TempDirectory();
        var straight = Mlp(algorithm, hp);
        var stepsA = new List<StepRecord>();
        var epochsA = new List<EpochRecord>();
        straight.Run(stepsA.Add, epochsA.Add);
        Assert.That(straight.Step, Is.EqualTo(8), "120 examples in batches of 32: 4 steps per epoch, 2 epochs");

        var first = Mlp(algorithm, hp);
        var stepsB = new List<StepRecord>();
        var epochsB = new List<EpochRecord>();
        first.Run(stepsB.Add, epochsB.Add, stopAfterStep: 6);
        string path = dir.File("ckpt.bin");
        Checkpoint.Save(path, first);

        var resumed = Mlp(algorithm, hp, seed: 8); // different initial weights and generators: all must come from the file
        Checkpoint.Load(path, resumed);
        Assert.That(resumed.Step, Is.EqualTo(6));
        resumed.Run(stepsB.Add, epochsB.Add);

        Assert.That(Bits(resumed), Is.EqualTo(Bits(straight)), "parameters");
        Assert.That(StateBits(resumed), Is.EqualTo(StateBits(straight)), "optimizer state");
        Assert.That(stepsB.Select(s => (s.Step, s.Lr, s.Loss)), Is.EqualTo(stepsA.Select(s => (s.Step, s.Lr, s.Loss))));
        Assert.That(epochsB.Select(e => (e.Epoch, e.TrainLoss, e.TrainAccuracy, e.TestLoss, e.TestAccuracy)),
            Is.EqualTo(epochsA.Select(e => (e.Epoch, e.TrainLoss, e.TrainAccuracy, e.TestLoss, e.TestAccuracy))));
        Assert.That(resumed.Sampler!.Rng.GetState(), Is.EqualTo(straight.Sampler!.Rng.GetState()));
        Assert.That(Of(resumed).DropoutRng!.GetState(), Is.EqualTo(Of(straight).DropoutRng!.GetState()));
    }

    [Test]
    public void FlippedByte_IsRejectedAsCorrupt_AndTheTrainerIsUnchanged()
    {
        using var dir = new TempDirectory();
        var hp = Hyperparameters.Defaults(Algorithm.Adam);
        var t = Mlp(Algorithm.Adam, hp);
        t.Run(stopAfterStep: 3);
        string path = dir.File("c.bin");
        Checkpoint.Save(path, t);
        var bytes = File.ReadAllBytes(path);
        bytes[bytes.Length / 2] ^= 0x10;
        File.WriteAllBytes(path, bytes);

        var other = Mlp(Algorithm.Adam, hp, seed: 9);
        other.Run(stopAfterStep: 1);
        var before = (Bits(other), StateBits(other), other.Step, other.Sampler!.Rng.GetState());
        var e = Assert.Throws<CheckpointException>(() => Checkpoint.Load(path, other));
        Assert.That(e!.Message, Does.Contain("corrupt").And.Contain("SHA-256"));
        Assert.That((Bits(other), StateBits(other), other.Step, other.Sampler!.Rng.GetState()), Is.EqualTo(before));
    }

    [Test]
    public void TruncatedFile_IsRejected()
    {
        using var dir = new TempDirectory();
        var t = Mlp(Algorithm.Adam, Hyperparameters.Defaults(Algorithm.Adam));
        string path = dir.File("c.bin");
        Checkpoint.Save(path, t);
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..(bytes.Length - 100)]);
        var e = Assert.Throws<CheckpointException>(() => Checkpoint.Load(path, t));
        Assert.That(e!.Message, Does.Contain("truncated"));
        File.WriteAllBytes(path, bytes[..20]);
        e = Assert.Throws<CheckpointException>(() => Checkpoint.Load(path, t));
        Assert.That(e!.Message, Does.Contain("truncated"));
        File.WriteAllBytes(path, "not a checkpoint at all, just text"u8.ToArray());
        e = Assert.Throws<CheckpointException>(() => Checkpoint.Load(path, t));
        Assert.That(e!.Message, Does.Contain("not a CudaAdam checkpoint"));
    }

    [Test]
    public void OtherModelOrOptimizer_IsRejectedAsMismatched_NamingWhatDiffers()
    {
        using var dir = new TempDirectory();
        var hp = Hyperparameters.Defaults(Algorithm.Adam);
        var t = Mlp(Algorithm.Adam, hp);
        t.Run(stopAfterStep: 2);
        string path = dir.File("c.bin");
        Checkpoint.Save(path, t);

        var wider = Mlp(Algorithm.Adam, hp, hidden: 13);
        var e = Assert.Throws<CheckpointException>(() => Checkpoint.Load(path, wider));
        Assert.That(e!.Message, Does.Contain("does not belong to this run").And.Contain("model").And.Contain("784->12").And.Contain("784->13"));

        var lion = Mlp(Algorithm.Lion, Hyperparameters.Defaults(Algorithm.Lion));
        e = Assert.Throws<CheckpointException>(() => Checkpoint.Load(path, lion));
        Assert.That(e!.Message, Does.Contain("optimizer is 'adam', this run's is 'lion'"));

        var amsgrad = Mlp(Algorithm.Adam, hp with { Amsgrad = true });
        e = Assert.Throws<CheckpointException>(() => Checkpoint.Load(path, amsgrad));
        Assert.That(e!.Message, Does.Contain("hyperparameters"));

        var otherData = Mlp(Algorithm.Adam, hp, trainCount: 100);
        e = Assert.Throws<CheckpointException>(() => Checkpoint.Load(path, otherData));
        Assert.That(e!.Message, Does.Contain("training set size is '120', this run's is '100'"));
    }

    [Test]
    public void FailedSave_LeavesThePreviousCheckpointIntact()
    {
        using var dir = new TempDirectory();
        var t = Mlp(Algorithm.AdamW, Hyperparameters.Defaults(Algorithm.AdamW));
        t.Run(stopAfterStep: 2);
        string path = dir.File("c.bin");
        Checkpoint.Save(path, t);
        var good = File.ReadAllBytes(path);

        t.Run(stopAfterStep: 4);
        var e = Assert.Throws<IOException>(() => Checkpoint.Save(path, t, s => new FailingStream(s, failAfter: 1000)));
        Assert.That(e!.Message, Does.Contain("disk full (simulated)"));
        Assert.That(File.ReadAllBytes(path), Is.EqualTo(good));
        Assert.That(dir.FileNames(), Is.EqualTo(new[] { "c.bin" }), "no temporary file left behind");

        var fresh = Mlp(Algorithm.AdamW, Hyperparameters.Defaults(Algorithm.AdamW));
        Checkpoint.Load(path, fresh);
        Assert.That(fresh.Step, Is.EqualTo(2));
    }

    /// <summary>Throws like a full disk after <c>failAfter</c> bytes.</summary>
    private sealed class FailingStream(Stream inner, int failAfter) : Stream
    {
        private long _written;
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => _written;
        public override long Position { get => _written; set => throw new NotSupportedException(); }
        public override void Flush() => inner.Flush();
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            int room = (int)Math.Max(0, failAfter - _written);
            inner.Write(buffer[..Math.Min(room, buffer.Length)]);
            _written += buffer.Length;
            if (_written > failAfter) throw new IOException("disk full (simulated)");
        }
    }
}
