namespace CudaAdam.Tests.Training;

/// <summary>Optimizer state written before the state dict's version 3 (8-bit state) and before
/// <see cref="Hyperparameters.StateBits"/> existed still loads, and continues with exactly this build's numbers.</summary>
public class OldCheckpointTests
{
    private static void Grads(Parameter p, Parameter b, int t)
    {
        p.Grad = Enumerable.Range(0, 3000).Select(i => (float)Math.Cos((double)(i * t))).ToArray();
        b.Grad = Enumerable.Range(0, 7).Select(i => (float)(i - t)).ToArray();
    }

    private static (Parameter P, Parameter B) Params() =>
        (new("w", Enumerable.Range(0, 3000).Select(i => (float)Math.Sin(i)).ToArray()), new("b", Enumerable.Range(0, 7).Select(i => i * 0.1f).ToArray()));

    /// <summary><c>Api/fixtures/adam-v1.statedict</c>: the state dict (version 1) of Adam (lr 0.01, weight decay 0.1) after 3
    /// steps on these parameters and gradients, written by the build of commit 32f7f3d (before 8-bit state) through
    /// <c>OptimizerStateDict.Write</c>. Read and loaded here, it equals this build's own state after the same 3 steps, bit for
    /// bit, and the next steps agree.</summary>
    [Test]
    public void AVersion1StateDictFromAnOlderBuild_LoadsAndContinuesBitwise()
    {
        var dict = OptimizerStateDict.Read(File.ReadAllBytes(TestPaths.InRepo("tests", "CudaAdam.Tests", "Api", "fixtures", "adam-v1.statedict")));
        Assert.That(dict.Version, Is.EqualTo(1));
        Assert.That(dict.ParamGroups[0].Hyperparameters.StateBits, Is.EqualTo(32), "a field the old build did not write takes its default");
        var hp = Hyperparameters.Defaults(Algorithm.Adam) with { Lr = 0.01, WeightDecay = 0.1 };
        var (p, b) = Params();
        using var now = new Optimizer(Algorithm.Adam, [p, b], hp, new CpuReferenceBackend());
        for (int t = 1; t <= 3; t++) { Grads(p, b, t); now.Step(); }
        var (p2, b2) = Params();
        p.Data.CopyTo(p2.Data, 0);
        b.Data.CopyTo(b2.Data, 0);
        using var loaded = new Optimizer(Algorithm.Adam, [p2, b2], hp, new CpuReferenceBackend());
        loaded.LoadStateDict(dict);
        Assert.That(loaded.StepCount, Is.EqualTo(3));
        Assert.That(Bits(loaded.State(p2)!.V!), Is.EqualTo(Bits(now.State(p)!.V!)), "exp_avg_sq as this build computes it");
        for (int t = 4; t <= 5; t++)
        {
            Grads(p, b, t); now.Step();
            Grads(p2, b2, t); loaded.Step();
        }
        Assert.That(Bits(p2.Data), Is.EqualTo(Bits(p.Data)));
        Assert.That(Bits(loaded.State(b2)!.M!), Is.EqualTo(Bits(now.State(b)!.M!)));
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
