namespace CudaAdam.Tests.Api;

/// <summary><see cref="Parameter.Shape"/>: flat by default, checked against the data, carried by the state dict (its
/// binary form included), and a state dict made for another shape refused naming the parameter.</summary>
public class ParameterShapeTests
{
    [Test]
    public void AParameterIsFlatUnlessGivenAShape()
    {
        var p = new Parameter("b", new float[7]);
        Assert.That(p.Shape, Is.EqualTo(new[] { 7 }));
        Assert.That(p.Rank, Is.EqualTo(1));
        Assert.That(p.Matrix, Is.EqualTo((1, 7)));
        var w = new Parameter("w", new float[12], [3, 4]);
        Assert.That((w.Rank, w.Matrix, w.ToString()), Is.EqualTo((2, (3, 4), "w[3, 4]")));
        var conv = new Parameter("k", new float[2 * 3 * 5], [2, 3, 5]);
        Assert.That(conv.Matrix, Is.EqualTo((6, 5)), "rank >= 3: the leading dimensions are the rows");
        Assert.That(new Parameter("s", new float[1], []).Matrix, Is.EqualTo((1, 1)), "a scalar");
        Assert.That(new Parameter("e", [], [0, 4]).Matrix, Is.EqualTo((0, 4)));
    }

    [TestCase(new[] { 3, 5 }, "shape [3, 5] does not hold its 12 elements")]
    [TestCase(new[] { -3, -4 }, "shape [-3, -4] has a negative dimension")]
    [TestCase(new[] { 65536, 65536, 0, 3 }, "shape [65536, 65536, 0, 3] does not hold its 12 elements")]
    [TestCase(new[] { 2147483647, 2147483647, 2147483647 }, "does not hold its 12 elements")]
    public void AShapeThatDoesNotHoldTheDataIsRefused(int[] shape, string message) =>
        Assert.That(() => new Parameter("w", new float[12], shape), Throws.ArgumentException.With.Message.Contains(message));

    [Test]
    public void TheStateDictCarriesShapesAndRefusesAnother()
    {
        var w = new Parameter("w", EmulatorData(12), [3, 4]);
        using var opt = new Optimizer(Algorithm.Adam, [w]);
        w.Grad = EmulatorData(12);
        opt.Step();
        using var ms = new MemoryStream();
        using (var bw = new BinaryWriter(ms, System.Text.Encoding.UTF8, leaveOpen: true)) opt.StateDict().Write(bw);
        var dict = OptimizerStateDict.Read(ms.ToArray());
        Assert.That(dict.Version, Is.GreaterThanOrEqualTo(2), "shapes are recorded from version 2 on");
        Assert.That(dict.ParamGroups[0].Shapes![0], Is.EqualTo(new[] { 3, 4 }));

        using var same = new Optimizer(Algorithm.Adam, [new Parameter("w", new float[12], [3, 4])]);
        Assert.That(() => same.LoadStateDict(dict), Throws.Nothing);
        using var transposed = new Optimizer(Algorithm.Adam, [new Parameter("w", new float[12], [4, 3])]);
        Assert.That(() => transposed.LoadStateDict(dict),
            Throws.ArgumentException.With.Message.EqualTo("state dict: parameter 0 ('w') has shape [3, 4], this optimizer's 'w' [4, 3]; nothing was loaded"));
        using var flat = new Optimizer(Algorithm.Adam, [new Parameter("w", new float[12])]);
        Assert.That(() => flat.LoadStateDict(dict), Throws.ArgumentException.With.Message.Contains("has shape [3, 4], this optimizer's 'w' [12]"));
    }

    /// <summary>A version-1 dict (before shapes and the Schedule-Free counters) still reads: shapes not recorded (so
    /// not checked: it loads into a [5, 1] parameter), zero counters, train mode.</summary>
    [Test]
    public void AVersionOneDictStillReads()
    {
        var w = new Parameter("w", EmulatorData(5));
        using var opt = new Optimizer(Algorithm.Adam, [w]);
        w.Grad = EmulatorData(5);
        opt.Step();
        var d = opt.StateDict();
        // The version-1 layout, written out by hand: magic, version, algorithm, counts, one group, one state entry.
        using var ms = new MemoryStream();
        using (var bw = new BinaryWriter(ms, System.Text.Encoding.UTF8, leaveOpen: true))
        {
            bw.Write("CAOPTSD\0"u8.ToArray());
            bw.Write(1);
            bw.Write(d.Algorithm);
            bw.Write(d.StepCount);
            bw.Write(d.SkippedSteps);
            bw.Write(1);
            bw.Write(System.Text.Json.JsonSerializer.Serialize(d.ParamGroups[0].Hyperparameters));
            bw.Write(1);
            bw.Write(0); bw.Write("w"); bw.Write(5);
            bw.Write(1);
            var s = d.State[0];
            bw.Write(0); bw.Write(s.Step); bw.Write(s.Beta1Power); bw.Write(s.Beta2Power); bw.Write(s.MuProduct);
            bw.Write(s.Buffers.Count);
            foreach (var (name, values) in s.Buffers.OrderBy(kv => kv.Key, StringComparer.Ordinal))
            {
                bw.Write(name);
                bw.Write(values.Length);
                foreach (float v in values) bw.Write(v);
            }
        }
        var read = OptimizerStateDict.Read(ms.ToArray());
        Assert.That((read.Version, read.EvalMode, read.State[0].LrMax, read.ParamGroups[0].Shapes), Is.EqualTo((1, false, 0.0, (IReadOnlyList<IReadOnlyList<int>>?)null)));
        using var other = new Optimizer(Algorithm.Adam, [new Parameter("w", new float[5], [5, 1])]);
        other.LoadStateDict(read);
        Assert.That(other.State(other.Groups[0].Params[0])!.V, Is.EqualTo(opt.State(w)!.V));
    }

    private static float[] EmulatorData(int n) => CudaAdam.Tests.Emulator.EmulatorTestSupport.RandomFloats(n, n);
}
