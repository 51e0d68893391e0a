using CudaAdam.Cuda;
using CudaAdam.Device;

namespace CudaAdam.Tests.Kernels;

/// <summary>
/// Every case of the conformance registry (<see cref="Conformance"/>) on every engine that applies (host-resident,
/// device-resident, graph-captured; <see cref="ConformanceEngine"/>): the fused kernels against the CPU reference,
/// bitwise, after every step, on the host emulator; and the same on the GPU under [Category("Gpu")].
/// </summary>
public class ConformanceTests
{
    public static IEnumerable<string> CaseNames() => Conformance.Runs().Select(r => Conformance.RunName(r.Case, r.Engine));

    private static IDevice? _emulator;
    private static IDevice? _gpu;

    [OneTimeTearDown]
    public void CloseDevices()
    {
        _emulator?.Dispose();
        _gpu?.Dispose();
        _emulator = _gpu = null;
    }

    [TestCaseSource(nameof(CaseNames))]
    public void Emulator(string name)
    {
        _emulator ??= KernelDevices.OpenOrIgnore("emulator");
        var device = _emulator;
        var (c, engine) = Conformance.FindRun(name);
        var r = Conformance.Run(c, device, engine);
        Assert.That(r.Passed, r.Describe());
        Assert.That(r.Compared, Is.GreaterThan(0), "values were compared");
    }

    [TestCaseSource(nameof(CaseNames)), Category("Gpu")]
    public void Gpu(string name)
    {
        _gpu ??= KernelDevices.OpenOrIgnore("cuda");
        var device = _gpu;
        var (c, engine) = Conformance.FindRun(name);
        var r = Conformance.Run(c, device, engine);
        Assert.That(r.Passed, r.Describe());
    }

    [Test]
    public void EveryEngineRunsMostCases()
    {
        // The 8-bit state cases (state_bits = 8) run host-resident only, by design: they do not count here.
        var runs = Conformance.Runs().Where(r => r.Case.Hyperparameters.StateBits == 32).ToList();
        var full = Conformance.Cases.Where(c => c.Hyperparameters.StateBits == 32).ToList();
        int cases = full.Count;
        // The device-resident engines run the algorithms with a device clock (not NAdam, ASGD, Adan; not AdEMAMix's warmups).
        int clocked = full.Count(c => c.Algorithm.Info().Clock != 0 && c.Algorithm.Info().ClockRefusal?.Invoke(c.Hyperparameters) is null);
        Assert.That(clocked, Is.GreaterThan(cases * 3 / 4), "most cases have a device clock");
        foreach (var e in Enum.GetValues<ConformanceEngine>())
            Assert.That(runs.Count(r => r.Engine == e), Is.GreaterThan((e == ConformanceEngine.Host ? cases : clocked) * 3 / 4), $"{e}: most cases apply");
        Assert.That(Conformance.NotApplicable(Conformance.Find("ademamix/warmups/single-odd"), ConformanceEngine.Graph), Does.Contain("warmups need log and pow"));
        Assert.That(Conformance.NotApplicable(Conformance.Find("adamw/state8/quant-blocks"), ConformanceEngine.Resident), Does.Contain("host-resident only"));
        Assert.That(Conformance.NotApplicable(Conformance.Find("adamw/state8/quant-blocks"), ConformanceEngine.Host), Is.Null);
        Assert.That(Conformance.NotApplicable(Conformance.Find("nadam/default/single-odd"), ConformanceEngine.Resident), Does.Contain("no device clock"));
        Assert.That(Conformance.NotApplicable(Conformance.Find("adam/default/skipped-grad"), ConformanceEngine.Graph), Does.Contain("steps every tensor"));
    }

    /// <summary>The suite can fail: a backend that does not skip non-finite steps is caught.</summary>
    [Test]
    public void ABackendThatIgnoresNonFiniteGradientsFails()
    {
        _emulator ??= KernelDevices.OpenOrIgnore("emulator");
        var device = _emulator;
        var r = Conformance.Run(Conformance.Find("adam/default/non-finite"), o => new IgnoresNonFinite(new DeviceBackend(device, o)));
        Assert.That(r.Passed, Is.False);
        Assert.That(r.SkippedDevice, Is.EqualTo(0));
        Assert.That(r.SkippedReference, Is.EqualTo(3));
        Assert.That(r.Mismatches, Is.GreaterThan(0));
        Assert.That(r.FirstMismatch, Does.StartWith("step 2,"), "the first poisoned step is where they part");
    }

    /// <summary>A broken backend: it steps every step as if the policy were propagate, whatever it was told.</summary>
    private sealed class IgnoresNonFinite(DeviceBackend inner) : IStepBackend
    {
        public DeviceBackend Inner => inner;
        public string Name => inner.Name;
        public BackendStepOutcome Step(Algorithm algorithm, IReadOnlyList<StepItem> items, StepContract contract) =>
            inner.Step(algorithm, items, contract with { NonFinite = NonFinitePolicy.Propagate });
        public void Dispose() => inner.Dispose();
    }
}
