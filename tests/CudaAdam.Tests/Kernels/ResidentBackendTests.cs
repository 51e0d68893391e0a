using CudaAdam.Cuda;
using CudaAdam.Device;
using CudaAdam.Tests.Emulator;

namespace CudaAdam.Tests.Kernels;

/// <summary>
/// The device-resident engine (<see cref="Residency.Device"/>: device step clock, device lr, optionally graph-captured)
/// against the host-resident one (host <see cref="StepScalars.Advance"/>), both through <see cref="Optimizer"/>,
/// bitwise, over many steps with learning-rate changes, skipped steps, clipping and bf16 parameters. On the emulator
/// the captured step's launches run uncaptured; on a GPU (<see cref="CapturedReplaysAreBitwiseUncapturedStepsOnTheGpu"/>)
/// graph replays are compared with uncaptured steps.
/// </summary>
public class ResidentBackendTests
{
    private static readonly int[] Lengths = [1000, 33, 0, 4099, 1];

    private static Parameter[] Params(int seed, int[] lengths) =>
        lengths.Select((n, i) => new Parameter($"p{i}", EmulatorTestSupport.RandomFloats(seed + i, n))).ToArray();

    private static void Grads(Parameter[] ps, int step, float scale = 1f)
    {
        for (int i = 0; i < ps.Length; i++)
            ps[i].Grad = EmulatorTestSupport.RandomFloats(100 * step + i, ps[i].Data.Length, -scale, scale);
    }

    public static IEnumerable<Algorithm> Clocked() => GraphCheck.Algorithms;

    private static Hyperparameters Hp(Algorithm a, int group) => Hyperparameters.Defaults(a) with
    {
        WeightDecay = group == 0 && a.Info().UsesWeightDecay ? 0.01 : 0,
        Momentum = a is Algorithm.Sgd or Algorithm.RmsProp ? 0.9 : Hyperparameters.Defaults(a).Momentum,
        LrDecay = a == Algorithm.AdaGrad ? 0.01 : 0,
        InitialAccumulatorValue = a == Algorithm.AdaGrad ? 0.1 : 0,
        Amsgrad = a == Algorithm.Adam,
    };

    /// <summary>Runs both paths for <paramref name="steps"/> steps; lr changes at steps 8 and 16, a non-finite gradient
    /// at <paramref name="badStep"/> (0: none); compares params and state after every step.</summary>
    private static void RunBoth(IDevice device, Algorithm a, int steps, int badStep, DeviceBackendOptions options,
        double? maxGradNorm = null, Func<Hyperparameters, Hyperparameters>? tweak = null)
    {
        var dev = Params(3, Lengths);
        var host = Params(3, Lengths);
        tweak ??= h => h;
        ParamGroup[] Groups(Parameter[] ps) => [new(ps[..2], tweak(Hp(a, 0))), new(ps[2..], tweak(Hp(a, 1)))];
        var hostGroups = Groups(host);
        var devGroups = Groups(dev);
        var residentBackend = new DeviceBackend(device, options with { Residency = Residency.Device });
        using var resident = new Optimizer(a, devGroups, residentBackend) { MaxGradNorm = maxGradNorm };
        using var opt = new Optimizer(a, hostGroups, new DeviceBackend(device, options with { CaptureGraph = false })) { MaxGradNorm = maxGradNorm };
        for (int step = 1; step <= steps; step++)
        {
            if (step is 8 or 16)
                for (int gi = 0; gi < 2; gi++)
                {
                    double lr = hostGroups[gi].Hyperparameters.Lr * (step == 8 ? 0.37 : 2.5);
                    hostGroups[gi].Hyperparameters = hostGroups[gi].Hyperparameters with { Lr = lr };
                    devGroups[gi].Hyperparameters = devGroups[gi].Hyperparameters with { Lr = lr };
                }
            Grads(dev, step, step % 3 == 0 ? 5f : 0.5f);
            Grads(host, step, step % 3 == 0 ? 5f : 0.5f);
            if (step == badStep)
            {
                dev[3].Grad![7] = float.NaN;
                host[3].Grad![7] = float.NaN;
            }
            var dr = resident.Step();
            var result = opt.Step();
            Assert.That(dr, Is.EqualTo(result).Using<StepResult>((x, y) => x.Skipped == y.Skipped && x.Reason == y.Reason && x.Step == y.Step
                && BitConverter.DoubleToInt64Bits(x.GradNorm) == BitConverter.DoubleToInt64Bits(y.GradNorm) && x.ClipCoefficient == y.ClipCoefficient),
                $"step {step}: the same step result (same chunk table, same summation order: the same norm bits)");
            resident.DownloadParameters();
            for (int i = 0; i < dev.Length; i++)
            {
                string what = $"{a.Name()} step {step} {dev[i].Name}";
                EmulatorTestSupport.AssertBitwiseEqual(host[i].Data, dev[i].Data, what);
                var (r, s) = (opt.State(host[i]), resident.State(dev[i])!);
                Assert.That(s.Step, Is.EqualTo(r?.Step ?? 0), what + " step count");
                if (r is null) continue;
                Assert.That(s.Beta1Power, Is.EqualTo(r.Beta1Power), what + " beta1^t");
                Assert.That(s.Beta2Power, Is.EqualTo(r.Beta2Power), what + " beta2^t");
                if (r.M is not null) EmulatorTestSupport.AssertBitwiseEqual(r.M, s.M!, what + " M");
                if (r.V is not null) EmulatorTestSupport.AssertBitwiseEqual(r.V, s.V!, what + " V");
                if (r.VMax is not null) EmulatorTestSupport.AssertBitwiseEqual(r.VMax, s.VMax!, what + " VMax");
                if (r.Aux is not null) EmulatorTestSupport.AssertBitwiseEqual(r.Aux, s.Aux!, what + " Aux");
            }
        }
        var (taken, skipped) = residentBackend.DeviceCounters();
        Assert.That(skipped, Is.EqualTo(opt.SkippedSteps));
        Assert.That(taken, Is.EqualTo(steps - opt.SkippedSteps));
    }

    [TestCaseSource(nameof(Clocked))]
    public void DeviceClockIsBitwiseTheHostPathOverManyStepsWithLrChanges(Algorithm a)
    {
        using var device = KernelDevices.OpenOrIgnore("emulator");
        RunBoth(device, a, steps: 24, badStep: 11, new DeviceBackendOptions { CaptureGraph = true, ChunkSize = 1024 });
    }

    [TestCase(Algorithm.Adam)]
    [TestCase(Algorithm.AdamW)]
    [TestCase(Algorithm.SignAdam)]
    [TestCase(Algorithm.AdaMax)]
    public void DeviceClockWithoutBiasCorrectionIsBitwiseTheHostPath(Algorithm a)
    {
        // CA_CLOCK_NO_BIAS_CORRECTION (kernels/clock.cu): the clock writes 1 for both corrections, as StepScalars.Advance.
        using var device = KernelDevices.OpenOrIgnore("emulator");
        RunBoth(device, a, steps: 16, badStep: 5, new DeviceBackendOptions { CaptureGraph = true, ChunkSize = 1024 },
            tweak: h => h with { BiasCorrection = false, Beta2 = 0.99 });
    }

    [TestCase(Algorithm.AdamW)]
    [TestCase(Algorithm.Lion)]
    public void WithClippingTheNormAndTheStepAreBitwiseTheBackends(Algorithm a)
    {
        using var device = KernelDevices.OpenOrIgnore("emulator");
        RunBoth(device, a, steps: 12, badStep: 5, new DeviceBackendOptions { ChunkSize = 512 }, maxGradNorm: 2.0);
    }

    [TestCase(false)]
    [TestCase(true)]
    public void Bf16ParametersAreBitwiseTheBackends(bool master)
    {
        using var device = KernelDevices.OpenOrIgnore("emulator");
        var precision = new PrecisionOptions { Format = ParamFormat.Bf16, MasterWeights = master };
        RunBoth(device, Algorithm.AdamW, steps: 10, badStep: 0, new DeviceBackendOptions { Precision = precision });
    }

    private static DeviceBackend Resident(IDevice device, DeviceBackendOptions? o = null) =>
        new(device, (o ?? new DeviceBackendOptions()) with { Residency = Residency.Device });

    [Test]
    public void NAdamAndStochasticRoundingAreRefusedWithTheReason()
    {
        using var device = KernelDevices.OpenOrIgnore("emulator");
        var e = Assert.Throws<NotSupportedException>(() => new Optimizer(Algorithm.NAdam, Params(1, [4]), null, Resident(device)));
        Assert.That(e!.Message, Does.Contain("pow").And.Contain("Residency.Host"));
        var sr = new PrecisionOptions { Format = ParamFormat.Bf16, StochasticRounding = true };
        Assert.Throws<NotSupportedException>(() => new Optimizer(Algorithm.Adam, Params(1, [4]), null, Resident(device, new() { Precision = sr })));
        Assert.Throws<ArgumentException>(() => new DeviceBackend(device, new DeviceBackendOptions { CaptureGraph = true }),
            "a graph needs the device-resident mode");
    }

    [Test]
    public void EveryParameterStepsAndOnlyLrMayChange()
    {
        using var device = KernelDevices.OpenOrIgnore("emulator");
        var ps = Params(1, [10, 20]);
        var group = new ParamGroup(ps, Hyperparameters.Defaults(Algorithm.Adam));
        var backend = Resident(device);
        using var opt = new Optimizer(Algorithm.Adam, [group], backend);
        Assert.That(opt.Resident, Is.True);
        Assert.That(backend.UsesGraph, Is.False, "no graphs on the emulator");
        Grads(ps[..1], 1);   // p1 has no host gradient: its device gradient (zeros) is used
        var r = opt.Step();
        Assert.That(r.Parameters, Is.EqualTo(2), "every parameter steps");
        Assert.That(backend.LaunchesLastStep, Is.EqualTo(3), "check + clock + step");
        Assert.That(opt.State(ps[1])!.Step, Is.EqualTo(1));
        group.Hyperparameters = group.Hyperparameters with { Lr = 0.5 };
        Assert.That(opt.Step().Skipped, Is.False, "lr is a device write");
        group.Hyperparameters = group.Hyperparameters with { Beta1 = 0.5 };
        var e = Assert.Throws<NotSupportedException>(() => opt.Step());
        Assert.That(e!.Message, Does.Contain("only lr may change"));
        Assert.That(opt.State(ps[0])!.Step, Is.EqualTo(2), "the refused step changed nothing");
    }

    [Test]
    public void GraphCheckPassesOnTheEmulator()
    {
        using var device = KernelDevices.OpenOrIgnore("emulator");
        foreach (var a in new[] { Algorithm.AdamW, Algorithm.RAdam, Algorithm.Lion })
        {
            var r = GraphCheck.Run(device, a, steps: 12);
            Assert.That(r.Passed, Is.True, r.Describe());
            Assert.That(r.Skipped, Is.EqualTo(1));
            Assert.That(r.UsedGraph, Is.False);
            Assert.That(r.Diagnostics, Is.EqualTo(a != Algorithm.Lion), "the Adam family runs with the sign diagnostics fused in");
        }
    }

    [Test]
    public void CheckGraphCommandRunsEveryClockedAlgorithm()
    {
        using (KernelDevices.OpenOrIgnore("emulator")) { }
        var r = CudaAdam.Tests.Cli.CliRunner.Invoke("check", "--graph");
        Assert.That(r.Code, Is.EqualTo(0), r.ToString());
        Assert.That(r.Out, Does.Contain($"{GraphCheck.Algorithms.Count} of {GraphCheck.Algorithms.Count} algorithms passed"));
        Assert.That(r.Out, Does.Not.Match("(?m)^nadam "), "NAdam has no device clock");
    }

    [Test, Category("Gpu")]
    public void CapturedReplaysAreBitwiseUncapturedStepsOnTheGpu()
    {
        using var device = KernelDevices.OpenOrIgnore("cuda");
        foreach (var a in GraphCheck.Algorithms)
        {
            var r = GraphCheck.Run(device, a);
            Assert.That(r.Passed, Is.True, r.Describe());
            Assert.That(r.UsedGraph, Is.True);
            Assert.That(r.Captures, Is.EqualTo(2), "captured once, and again when inv_scale changed");
            Assert.That(r.Skipped, Is.EqualTo(1));
        }
    }
}
