namespace CudaAdam.Tests.Cli;

public class BackendsTests
{
    private sealed class FakeBackend : IStepBackend
    {
        public string Name => "fake";
        public BackendStepOutcome Step(Algorithm algorithm, IReadOnlyList<StepItem> items, StepContract contract) => BackendStepOutcome.Taken;
        public void Dispose() { }
    }

    [Test]
    public void CpuIsTheFastPathAndReferenceTheOracle()
    {
        using var b = Backends.Create("cpu");
        Assert.That(b, Is.InstanceOf<CudaAdam.Cpu.CpuSimdBackend>());
        Assert.That(Backends.Create("CPU"), Is.InstanceOf<CudaAdam.Cpu.CpuSimdBackend>(), "names are case-insensitive");
        Assert.That(Backends.Create("reference"), Is.InstanceOf<CpuReferenceBackend>());
    }

    [Test]
    public void UnknownNameListsTheKnownOnes()
    {
        var ex = Assert.Throws<ArgumentException>(() => Backends.Create("tpu"));
        Assert.That(ex!.Message, Does.Contain("unknown backend 'tpu'").And.Contain("known backends: ").And.Contain("cpu"));
    }

    [Test]
    public void UnavailableBackendSaysWhyAndListsTheKnownOnes()
    {
        Backends.Register("test-broken", "always fails", () => throw new DllNotFoundException("libcuda.so.1 not found"));
        try
        {
            var ex = Assert.Throws<BackendUnavailableException>(() => Backends.Create("test-broken"));
            Assert.That(ex!.Message, Does.Contain("backend 'test-broken' is not available here: libcuda.so.1 not found")
                .And.Contain("cpu"));
            Assert.That(ex.InnerException, Is.InstanceOf<DllNotFoundException>());
        }
        finally
        {
            Backends.Unregister("test-broken");
        }
    }

    [Test]
    public void RegisteredBackendIsCreatedAndDuplicatesAreRefused()
    {
        Backends.Register("test-fake", "a fake", () => new FakeBackend());
        try
        {
            Assert.That(Backends.Create("test-fake"), Is.InstanceOf<FakeBackend>());
            Assert.That(Backends.Names, Does.Contain("test-fake"));
            Assert.Throws<ArgumentException>(() => Backends.Register("TEST-FAKE", "again", () => new FakeBackend()));
        }
        finally
        {
            Backends.Unregister("test-fake");
        }
        Assert.That(Backends.Names, Does.Not.Contain("test-fake"));
    }
}
