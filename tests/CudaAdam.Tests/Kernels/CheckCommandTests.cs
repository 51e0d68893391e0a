using CudaAdam.Cli;

namespace CudaAdam.Tests.Kernels;

/// <summary><c>cudaadam check</c> end to end, in process.</summary>
public class CheckCommandTests
{
    private static (int Code, string Out, string Err) Cli(params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        int code = Program.Run(args, o, e);
        return (code, o.ToString(), e.ToString());
    }

    [Test]
    public void PrintsATableAndPassesOnTheEmulator()
    {
        KernelDevices.OpenOrIgnore("emulator").Dispose();
        var (code, output, err) = Cli("check", "--backend", "emulator", "--filter", "adamax/");
        Assert.That(code, Is.EqualTo(0), output + err);
        Assert.That(output, Does.Contain("max ulp"));
        Assert.That(output, Does.Contain("adamax/default/misaligned"));
        Assert.That(output, Does.Contain("adamax/wd-maximize/non-finite"));
        Assert.That(output, Does.Match(@"\d+ of \d+ cases passed, 0 failed"));
    }

    [Test]
    public void ListsCases()
    {
        var (code, output, _) = Cli("check", "--list", "--filter", "/many-tensors");
        Assert.That(code, Is.EqualTo(0));
        Assert.That(output.Split('\n', StringSplitOptions.RemoveEmptyEntries), Has.Length.EqualTo(AlgorithmNames.All.Count));
    }

    [Test]
    public void CommaSeparatedFilterSelectsEitherPartInRegistryOrder()
    {
        // run-on-gpu.sh's sanitizer subsets: one run over several kinds of case.
        var (code, output, err) = Cli("check", "--list", "--filter", "lion/default/clip,adam/default/misaligned");
        Assert.That(code, Is.EqualTo(0), err);
        var (_, all, _) = Cli("check", "--list");
        var expected = all.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Where(n => n.Contains("lion/default/clip") || n.Contains("adam/default/misaligned")).ToArray();
        Assert.That(expected, Does.Contain("adam/default/misaligned").And.Contain("signadam/default/misaligned").And.Contain("lion/default/clip"));
        Assert.That(output.Split('\n', StringSplitOptions.RemoveEmptyEntries), Is.EqualTo(expected));
        (code, _, err) = Cli("check", "--list", "--filter", "adam/default/misaligned,no-such-case");
        Assert.That(code, Is.EqualTo(0), "a part that matches nothing adds nothing: " + err);
    }

    [Test]
    public void BadUsageExitsWithTwo()
    {
        var (code, _, err) = Cli("check", "--backend", "cpu");
        Assert.That(code, Is.EqualTo(2));
        Assert.That(err, Does.StartWith("cudaadam check: --backend: 'cpu' is not a device backend"));
        (code, _, err) = Cli("check", "--filter", "no-such-case");
        Assert.That(code, Is.EqualTo(2));
        Assert.That(err, Does.Contain("no case name contains 'no-such-case'"));
    }

    [Test]
    public void AnUnavailableGpuIsAUsageErrorSayingWhy()
    {
        if (CudaAdam.Device.DeviceBackends.Unavailable("cuda") is null) Assert.Ignore("a CUDA device is present");
        var (code, _, err) = Cli("check", "--backend", "cuda", "--filter", "lion/default/zero-size");
        Assert.That(code, Is.EqualTo(2));
        Assert.That(err, Does.StartWith("cudaadam check: no CUDA device"));
    }
}

/// <summary>The kernel-only benchmark runs and reports what it measured (no timing assertions).</summary>
public class FusedStepBenchmarkTests
{
    [Test]
    public void RunsOnTheEmulatorAndReportsBandwidth()
    {
        using var device = KernelDevices.OpenOrIgnore("emulator");
        var r = CudaAdam.Device.FusedStepBenchmark.Run(device, 10_001, tensors: 3, reps: 2);
        Assert.That(r.Parameters, Is.EqualTo(9_999), "split evenly over the tensors");
        Assert.That(r.StepMs, Is.GreaterThan(0));
        Assert.That(r.CopyMs, Is.Null, "no device copy baseline off the GPU");
        Assert.That(r.BackendStepMs, Is.GreaterThan(0), "the whole backend step was timed too");
        Assert.That(r.Describe(), Does.Contain("GB/s at 28 B/param"));
        Assert.That(r.DiagStepMs, Is.GreaterThan(0), "the diagnostics-enabled kernel was timed in the same run");
        Assert.That(r.Describe(), Does.Contain("over the plain kernel (target <= 15% on a GPU)"));
    }
}
