using CudaAdam.Device;
using CudaAdam.Tests.Emulator;
using CudaAdam.Tests.Kernels;

namespace CudaAdam.Tests.Api;

/// <summary><see cref="Optimizer.StateDict"/> / <see cref="Optimizer.LoadStateDict"/>: torch's shape, a bitwise resume
/// through the binary form on every kind of backend, and every malformed dict refused naming the parameter and slot,
/// with nothing changed.</summary>
public class StateDictTests
{
    private static Parameter[] Params() => [new("w", EmulatorTestSupport.RandomFloats(1, 40)), new("b", EmulatorTestSupport.RandomFloats(2, 7)), new("e", [])];

    private static void Grads(Parameter[] ps, int step)
    {
        for (int i = 0; i < ps.Length; i++) ps[i].Grad = EmulatorTestSupport.RandomFloats(100 * step + i, ps[i].Data.Length);
    }

    private static IStepBackend Backend(string kind) => kind switch
    {
        "cpu" => new CudaAdam.Cpu.CpuSimdBackend(),
        "reference" => new CpuReferenceBackend(),
        "emulator" => new DeviceBackend(KernelDevices.OpenOrIgnore("emulator"), ownsDevice: true),
        _ => new DeviceBackend(KernelDevices.OpenOrIgnore("emulator"), new DeviceBackendOptions { Residency = Residency.Device }, ownsDevice: true),
    };

    private static ParamGroup[] Groups(Parameter[] ps, Algorithm a) =>
        [new(ps[..1], Hyperparameters.Defaults(a) with { Lr = 0.01 }), new(ps[1..], Hyperparameters.Defaults(a) with { WeightDecay = 0.1 })];

    [TestCase("cpu", Algorithm.AdamW)]
    [TestCase("reference", Algorithm.Sgd)]
    [TestCase("emulator", Algorithm.RmsProp)]
    [TestCase("resident", Algorithm.Adam)]
    [TestCase("resident", Algorithm.Yogi)]
    [TestCase("cpu", Algorithm.SignSgd)]
    [TestCase("emulator", Algorithm.AdamWScheduleFree)]
    [TestCase("cpu", Algorithm.SgdScheduleFree)]
    public void ASavedAndLoadedOptimizerContinuesBitwise(string backend, Algorithm a)
    {
        var (pa, pb) = (Params(), Params());
        using var first = new Optimizer(a, Groups(pa, a), Backend(backend));
        if (a == Algorithm.Sgd) foreach (var g in first.Groups) g.Hyperparameters = g.Hyperparameters with { Momentum = 0.9 };
        for (int t = 1; t <= 3; t++) { Grads(pa, t); first.Step(); }
        first.DownloadParameters();

        var dict = first.StateDict();
        Assert.That(dict.ParamGroups.Select(g => g.Params), Is.EqualTo(new[] { new[] { 0 }, new[] { 1, 2 } }), "torch's shape: indices in group order");
        string[] slots = a.Info().StateWith(first.Groups[0].Hyperparameters).Select(s => s.TorchName).ToArray();
        Assert.That(dict.State[0].Buffers.Keys, Is.EquivalentTo(slots), "torch's slot names");
        using var ms = new MemoryStream();
        using (var w = new BinaryWriter(ms, System.Text.Encoding.UTF8, leaveOpen: true)) dict.Write(w);
        var read = OptimizerStateDict.Read(ms.ToArray());

        for (int i = 0; i < pa.Length; i++) pa[i].Data.CopyTo(pb[i].Data, 0);
        using var second = new Optimizer(a, Groups(pb, a), Backend(backend));
        second.UploadParameters();
        second.LoadStateDict(read);
        Assert.That(second.Groups[0].Hyperparameters, Is.EqualTo(first.Groups[0].Hyperparameters), "the groups' hyperparameters come back");
        Assert.That(second.StepCount, Is.EqualTo(3));
        for (int t = 4; t <= 6; t++)
        {
            Grads(pa, t); first.Step();
            Grads(pb, t); second.Step();
        }
        first.DownloadParameters();
        second.DownloadParameters();
        for (int i = 0; i < pa.Length; i++)
        {
            EmulatorTestSupport.AssertBitwiseEqual(pa[i].Data, pb[i].Data, $"{pa[i].Name} after 6 steps");
            Assert.That(second.State(pb[i])!.Step, Is.EqualTo(6));
        }
    }

    private static OptimizerStateDict Saved(out Optimizer opt, out Parameter[] ps)
    {
        ps = Params();
        opt = new Optimizer(Algorithm.Adam, Groups(ps, Algorithm.Adam), new CpuReferenceBackend());
        for (int t = 1; t <= 3; t++) { Grads(ps, t); opt.Step(); }
        return opt.StateDict();
    }

    private static OptimizerStateDict WithEntry(OptimizerStateDict d, int index, Func<ParamStateEntry, ParamStateEntry> change)
    {
        var state = d.State.ToDictionary(kv => kv.Key, kv => kv.Value);
        state[index] = change(state[index]);
        return d with { State = state };
    }

    private static Dictionary<string, float[]> Buffers(ParamStateEntry e, Action<Dictionary<string, float[]>> change)
    {
        var b = e.Buffers.ToDictionary(kv => kv.Key, kv => kv.Value);
        change(b);
        return b;
    }

    public static IEnumerable<TestCaseData> Malformed()
    {
        TestCaseData Case(string name, Func<OptimizerStateDict, OptimizerStateDict> bad, string message) =>
            new TestCaseData(bad, message).SetArgDisplayNames(name);
        yield return Case("missing slot", d => WithEntry(d, 1, e => e with { Buffers = Buffers(e, b => b.Remove("exp_avg_sq")) }), "parameter 1 ('b'): slot 'exp_avg_sq' is missing");
        yield return Case("wrong length", d => WithEntry(d, 0, e => e with { Buffers = Buffers(e, b => b["exp_avg"] = new float[39]) }), "parameter 0 ('w'): slot 'exp_avg' has 39 elements, the parameter 40");
        yield return Case("unknown slot", d => WithEntry(d, 0, e => e with { Buffers = Buffers(e, b => b["momentum_buffer"] = new float[40]) }), "slot 'momentum_buffer' is not kept by adam");
        yield return Case("negative step", d => WithEntry(d, 0, e => e with { Step = -7 }), "parameter 0 ('w') is at step -7");
        yield return Case("product above 1", d => WithEntry(d, 0, e => e with { Beta1Power = 2 }), "β1^t is 2, outside [0, 1]");
        yield return Case("product missing", d => WithEntry(d, 1, e => e with { Beta2Power = 1 }), "β2^t is 1 at step 3 (missing or not this run's)");
        yield return Case("product zero", d => WithEntry(d, 1, e => e with { Beta1Power = 0 }), "β1^t is 0 at step 3");
        yield return Case("other algorithm", d => d with { Algorithm = "lion" }, "it is of lion, this optimizer is adam");
        yield return Case("other version", d => d with { Version = 4 }, "version 4, this build reads 1 … 3");
        yield return Case("group count", d => d with { ParamGroups = d.ParamGroups.Take(1).ToArray() }, "1 parameter groups, this optimizer has 2");
        yield return Case("parameter length", d => d with { ParamGroups = [d.ParamGroups[0] with { Lengths = [41] }, d.ParamGroups[1]] }, "parameter 0 ('w') has 41 elements");
        yield return Case("index out of range", d => WithEntry(d, 0, e => e) with { State = new Dictionary<int, ParamStateEntry>(d.State) { [9] = d.State[0] } }, "parameter index 9, which no group holds");
        yield return Case("invalid hyperparameters", d => d with { ParamGroups = [d.ParamGroups[0] with { Hyperparameters = d.ParamGroups[0].Hyperparameters with { Beta2 = 1.5 } }, d.ParamGroups[1]] }, "group 0: Invalid beta parameter at index 1");
    }

    [TestCaseSource(nameof(Malformed))]
    public void AMalformedDictIsRefusedNamingWhatAndNothingChanges(Func<OptimizerStateDict, OptimizerStateDict> bad, string message)
    {
        var dict = Saved(out var opt, out var ps);
        using (opt)
        {
            var before = opt.StateDict();
            var e = Assert.Throws<ArgumentException>(() => opt.LoadStateDict(bad(dict)))!;
            Assert.That(e.Message, Does.Contain(message).And.EndWith("nothing was loaded"));
            var after = opt.StateDict();
            Assert.That(after.StepCount, Is.EqualTo(before.StepCount));
            foreach (var (i, s) in before.State)
            {
                Assert.That(after.State[i].Step, Is.EqualTo(s.Step));
                foreach (var (name, values) in s.Buffers) Assert.That(after.State[i].Buffers[name], Is.EqualTo(values), $"{i}.{name}");
            }
            Assert.That(opt.Groups[0].Hyperparameters.Beta2, Is.EqualTo(0.999));
        }
    }

    [Test]
    public void ATruncatedOrCorruptBinaryDictIsRefused()
    {
        var dict = Saved(out var opt, out _);
        opt.Dispose();
        using var ms = new MemoryStream();
        using (var w = new BinaryWriter(ms, System.Text.Encoding.UTF8, leaveOpen: true)) dict.Write(w);
        var bytes = ms.ToArray();
        Assert.That(() => OptimizerStateDict.Read(bytes.AsSpan(0, bytes.Length - 3)), Throws.InstanceOf<InvalidDataException>());
        Assert.That(() => OptimizerStateDict.Read(bytes.AsSpan(1)), Throws.InstanceOf<InvalidDataException>().With.Message.Contains("bad magic"));
        var huge = (byte[])bytes.Clone();
        BitConverter.GetBytes(int.MaxValue).CopyTo(huge, 8 + 4 + 1 + "adam".Length + 16);   // the group count
        Assert.That(() => OptimizerStateDict.Read(huge), Throws.InstanceOf<InvalidDataException>().With.Message.Contains("cannot fit"));
        Assert.That(OptimizerStateDict.Read(bytes), Is.Not.Null);
    }
}
