using CudaAdam.Training.Jobs;

namespace CudaAdam.Tests.Training;

/// <summary>Checkpoints written before the optimizer state dict's version 2 (8-bit state) and before
/// <see cref="Hyperparameters.StateBits"/> existed still load, and hold exactly what this build computes.</summary>
public class OldCheckpointTests
{
    /// <summary><c>fixtures/v1-checkpoint</c>: the resolved config and the final checkpoints (step 100) of a
    /// <c>cudaadam train</c> run (4-d noisy Rosenbrock, adam and adamw) by the build of commit ec44e74 (before 8-bit state,
    /// the one hyperparameter schema and the LrScheduler). The schema now writes every key into the saved config, so the
    /// config hash of that run differs from this build's: the checkpoint is refused, and the refusal is one line that names
    /// the config hash and what to do (never a silent resume under other numbers). A known break, stated in the stop note.</summary>
    [TestCase("adam")]
    [TestCase("adamw")]
    public void ACheckpointFromBeforeTheSchema_IsRefusedInOneLine_NamingTheConfigHash(string id)
    {
        string fixture = TestPaths.InRepo("tests", "CudaAdam.Tests", "Training", "fixtures", "v1-checkpoint");
        Assert.That(() => ProblemResumeTests.FinalOf(fixture, id),
            Throws.TypeOf<CudaAdam.Training.CheckpointException>()
                .With.Message.Contains("does not belong to this run: its config hash is").And.Message.Contains("resume with the same config, or start a new run"));
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
