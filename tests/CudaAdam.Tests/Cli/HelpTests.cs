namespace CudaAdam.Tests.Cli;

public class HelpTests
{
    [Test]
    public void HelpListsEveryCommandWithItsSummary()
    {
        var r = CliRunner.Invoke("help");
        Assert.That(r.Code, Is.EqualTo(0), r.ToString());
        foreach (var c in CudaAdam.Cli.Program.Commands)
            Assert.That(r.Out, Does.Contain(c.Name).And.Contain(c.Summary));
    }

    [Test]
    public void HelpOptimizersListsEveryDescriptorWithItsSource()
    {
        var r = CliRunner.Invoke("help", "optimizers");
        Assert.That(r.Code, Is.EqualTo(0), r.ToString());
        foreach (var i in Algorithms.All) Assert.That(r.Out, Does.Contain($"  {i.Name}").And.Contain(i.Source));
    }

    [TestCase("yogi", "v ← v − (1−β2)·sign(v − g²)·g²", "exp_avg, exp_avg_sq", "kernels/adam.cu yogi_step")]
    [TestCase("AdamW", "DECOUPLED", "max_exp_avg_sq", "(diagnostics: adam_step_diag)")]
    [TestCase("sgd", "dampening", "momentum_buffer", "kernels/baselines.cu sgd_step")]
    [TestCase("rprop", "etaminus 0.5, etaplus 1.2, step_size_min 1E-06, step_size_max 50", "tuple      etas = (etaminus, etaplus)", "kernels/sign.cu rprop_step")]
    [TestCase("asgd", "lambd 0.0001, alpha 0.75, t0 1000000", "ax; scalars eta, mu", "kernels/baselines.cu asgd_step")]
    [TestCase("ademamix", "beta3 0.9999, alpha 2, alpha_warmup 0", "exp_avg_fast, exp_avg_sq, exp_avg_slow", "kernels/adam.cu ademamix_step")]
    public void HelpForAnOptimizerPrintsItsDescriptor(string name, string equation, string state, string kernel)
    {
        var r = CliRunner.Invoke("help", name);
        Assert.That(r.Code, Is.EqualTo(0), r.ToString());
        Assert.That(r.Out, Does.Contain(equation).And.Contain(state).And.Contain(kernel));
    }

    [Test]
    public void HelpForAnUnknownNameIsOneLineNamingBoth()
    {
        var r = CliRunner.Invoke("help", "adamx");
        Assert.That(r.Code, Is.EqualTo(2));
        Assert.That(r.Err.TrimEnd('\n'), Does.Not.Contain('\n'));
        Assert.That(r.Err, Does.Contain("unknown command or optimizer 'adamx'").And.Contain("help optimizers"));
    }

    [TestCase("replay", "--weight-decay")]
    [TestCase("reddi", "--steps")]
    [TestCase("run", "the same as `cudaadam train`")]
    [TestCase("help", "usage: cudaadam help")]
    public void HelpForACommandPrintsItsUsage(string command, string expected)
    {
        var r = CliRunner.Invoke("help", command);
        Assert.That(r.Code, Is.EqualTo(0), r.ToString());
        Assert.That(r.Out, Does.Contain($"usage: cudaadam {command}").And.Contain(expected));
        Assert.That(CliRunner.Invoke(command, "--help").Out, Is.EqualTo(r.Out), "--help prints the same usage");
    }

    [Test]
    public void UnknownCommandExits2WithTheList()
    {
        var r = CliRunner.Invoke("trian");
        Assert.That(r.Code, Is.EqualTo(2));
        Assert.That(r.Err, Does.Contain("unknown command 'trian'").And.Contain("replay").And.Contain("run").And.Contain("help"));
    }

    [Test]
    public void NoCommandExits2WithTheOverview()
    {
        var r = CliRunner.Invoke();
        Assert.That(r.Code, Is.EqualTo(2));
        Assert.That(r.Err, Does.Contain("no command given").And.Contain("commands:"));
    }

    [Test]
    public void HelpForUnknownCommandExits2()
    {
        var r = CliRunner.Invoke("help", "nope");
        Assert.That(r.Code, Is.EqualTo(2));
        Assert.That(r.Err, Does.StartWith("cudaadam help: unknown command or optimizer 'nope'"));
    }

    [Test]
    public void CommandNamesAreUnique()
    {
        var names = CudaAdam.Cli.Program.Commands.Select(c => c.Name).ToArray();
        Assert.That(names, Is.Unique);
    }
}
