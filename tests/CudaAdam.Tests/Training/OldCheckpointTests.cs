using CudaAdam.Training.Jobs;

namespace CudaAdam.Tests.Training;

/// <summary>Checkpoints written before the optimizer state dict's version 2 (8-bit state) and before
/// <see cref="Hyperparameters.StateBits"/> existed still load, and hold exactly what this build computes.</summary>
public class OldCheckpointTests
{
    /// <summary><c>fixtures/v1-checkpoint</c>: the resolved config and the final checkpoints (step 100) of a
    /// <c>cudaadam train</c> run (4-d noisy Rosenbrock, adam and adamw) by the build of commit ec44e74 (main before 8-bit state):
    /// checkpoint format 3, an optimizer state dict of version 1, a hyperparameters fingerprint without StateBits.</summary>
    [TestCase("adam")]
    [TestCase("adamw")]
    public void ACheckpointFromBeforeStateBits_Loads_AndHoldsThisBuildsNumbersBitwise(string id)
    {
        string fixture = TestPaths.InRepo("tests", "CudaAdam.Tests", "Training", "fixtures", "v1-checkpoint");
        using var dir = new TempDirectory();
        var config = TrainConfig.Load(Path.Combine(fixture, "config.json"));
        config.Output = dir.File("runs");
        var straight = TrainJob.Run(config, TextWriter.Null);
        var now = ProblemResumeTests.FinalOf(straight.Folder, id);
        var old = ProblemResumeTests.FinalOf(fixture, id);
        Assert.That(old.Step, Is.EqualTo(100));
        Assert.That(Bits(old.X), Is.EqualTo(Bits(now.X)), "x");
        Assert.That((Bits(old.M), Bits(old.V)), Is.EqualTo((Bits(now.M), Bits(now.V))), "exp_avg, exp_avg_sq");
    }

    [Test]
    public void TheHyperparametersFingerprint_AcceptsAFieldAddedSince_OnlyAtItsDefault()
    {
        var hp = Hyperparameters.Defaults(Algorithm.Adam);
        string current = hp.ToString();
        string older = current.Replace(", StateBits = 32", "");
        Assert.That(older, Is.Not.EqualTo(current), "the test removes a field");
        Assert.That(CudaAdam.Training.Checkpoint.SameHyperparameters(older, current), Is.True);
        Assert.That(CudaAdam.Training.Checkpoint.SameHyperparameters(older, (hp with { StateBits = 8 }).ToString()), Is.False, "not at its default");
        Assert.That(CudaAdam.Training.Checkpoint.SameHyperparameters(older.Replace("Lr = 0.001", "Lr = 0.002"), current), Is.False, "another value");
        Assert.That(CudaAdam.Training.Checkpoint.SameHyperparameters(current + ", X = 1", current), Is.False, "not the record's shape");
        Assert.That(CudaAdam.Training.Checkpoint.SameHyperparameters(current.Replace(" }", ", Gone = 1 }"), current), Is.False, "a field this build lacks");
    }

    private static int[] Bits(float[] a) => a.Select(BitConverter.SingleToInt32Bits).ToArray();
}
