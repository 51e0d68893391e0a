using CudaAdam.Cli;
using CudaAdam.Cli.Commands;

namespace CudaAdam.Tests.Cli;

/// <summary>The CLI's one error boundary (<see cref="Program.Invoke"/>): a user-caused failure is one line and exit 2,
/// a bug is one line that says so with the path of a log of the stack trace (exit 70), --verbose prints the trace.</summary>
[TestFixture]
public class ErrorBoundaryTests
{
    private sealed class Throwing(Exception e) : ICommand
    {
        public string Name => "boom";
        public string Summary => "";
        public string Usage => "";
        public int Run(IReadOnlyList<string> args, TextWriter stdout, TextWriter stderr) => throw e;
    }

    private static (int Code, string[] Lines) Invoke(Exception e, bool verbose = false)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = Program.Invoke(new Throwing(e), ["--x", "1"], stdout, stderr, verbose);
        return (code, stderr.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    public static IEnumerable<TestCaseData> UserFailures() =>
    [
        new TestCaseData(new UsageException("bad\nvalue")).SetName("Usage"),
        new TestCaseData(new IOException("cannot write 'o.npy': no space left")).SetName("DiskFull"),
        new TestCaseData(new UnauthorizedAccessException("'x': permission denied")).SetName("Permission"),
        new TestCaseData(new FileNotFoundException("'x': no such file")).SetName("Missing"),
        new TestCaseData(new PathTooLongException("'x': too long")).SetName("TooLong"),
        new TestCaseData(new InsufficientMemoryException("--bench needs 1.4 PiB")).SetName("TooBig"),
        new TestCaseData(new CudaAdam.IO.PathRefusedException("'x' is a FIFO")).SetName("Refused"),
        new TestCaseData(new CudaAdam.Training.CheckpointException("checkpoint 'c' is corrupt")).SetName("Checkpoint"),
        new TestCaseData(new CudaAdam.Training.Jobs.ConfigException("model.hidden: too big")).SetName("Config"),
    ];

    [TestCaseSource(nameof(UserFailures))]
    public void UserFailureIsOneLineAndExit2(Exception e)
    {
        var (code, lines) = Invoke(e);
        Assert.That(code, Is.EqualTo(ExitCodes.Usage));
        Assert.That(lines, Has.Length.EqualTo(1));
        Assert.That(lines[0], Does.StartWith("cudaadam boom: ").And.Not.Contain("internal error"));
    }

    [Test]
    public void BugIsOneLineNamingItAndALogWithTheStackTrace()
    {
        var (code, lines) = Invoke(new NullReferenceException("x was null"));
        Assert.That(code, Is.EqualTo(ExitCodes.Internal));
        Assert.That(lines, Has.Length.EqualTo(1));
        Assert.That(lines[0], Does.Contain("internal error").And.Contain("NullReferenceException").And.Contain("x was null"));
        var log = System.Text.RegularExpressions.Regex.Match(lines[0], @"in (\S+\.log)").Groups[1].Value;
        Assert.That(File.Exists(log), Is.True, lines[0]);
        try { Assert.That(File.ReadAllText(log), Does.Contain("at CudaAdam.Cli.Program.Invoke").And.Contain("Throwing.Run").And.Contain("cudaadam boom --x 1")); }
        finally { File.Delete(log); }
    }

    [Test]
    public void VerbosePrintsTheStackTrace()
    {
        var (code, lines) = Invoke(new InvalidOperationException("broken invariant"), verbose: true);
        Assert.That(code, Is.EqualTo(ExitCodes.Internal));
        Assert.That(lines.Length, Is.GreaterThan(1));
        Assert.That(string.Join("\n", lines), Does.Contain("System.InvalidOperationException: broken invariant"));
        var log = System.Text.RegularExpressions.Regex.Match(lines[0], @"in (\S+\.log)").Groups[1].Value;
        if (File.Exists(log)) File.Delete(log);
    }

    [Test]
    public void VerboseIsAcceptedByEveryCommandLine()
    {
        var r = CliRunner.Invoke("replay", "--verbose", "--optimizer", "adam", "--params", "", "--grads", "g", "--out", "o");
        Assert.That(r.Code, Is.EqualTo(ExitCodes.Usage), r.ToString());
        Assert.That(r.Err, Does.Contain("empty"));
    }
}
