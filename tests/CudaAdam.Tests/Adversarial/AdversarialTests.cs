using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using CudaAdam.IO;

namespace CudaAdam.Tests.Adversarial;

/// <summary>
/// The adversarial suite of issue 11: the CLI run as a child process on hostile inputs and outputs. Every case
/// asserts the promise: exit 2 with one line on stderr (no stack trace), the files involved untouched (same inode,
/// same bytes, same mode), no temporary file left, no hang (each run has a timeout and is killed past it).
/// Seeded; about half a minute on the 2-core CI machine. Devices are made with mknod where root (CI is), else skipped.
/// </summary>
[TestFixture, Category("Adversarial"), NonParallelizable, System.Runtime.Versioning.SupportedOSPlatform("linux")]
public class AdversarialTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(20);
    private TempDirectory _dir = null!;
    private string D => _dir.Path;

    [SetUp]
    public void SetUp()
    {
        _dir = new TempDirectory();
        Npy.Write(_dir.File("x0.npy"), [0.5f, -1f, 2f, 0f]);
        Npy.Write(_dir.File("g.npy"), Enumerable.Range(0, 12).Select(i => (float)Math.Sin(i)).ToArray(), 3, 4);
        Npy.Write(_dir.File("old.npy"), [9f, 9f, 9f, 9f]);
    }

    [TearDown]
    public void TearDown()
    {
        foreach (var s in _sockets) s.Dispose();
        _sockets.Clear();
        _dir.Dispose();
    }

    // ---------------------------------------------------------------- helpers

    private CliProcess.Result Cli(params string[] args) => CliProcess.Run(D, Limit, null, args);

    private static string[] Replay(string @params, string grads, string @out, params string[] more) =>
        ["replay", "--optimizer", "adam", "--params", @params, "--grads", grads, "--out", @out, .. more];

    /// <summary>What identifies a file's state: kind, inode, mode, size and (regular files) the bytes.</summary>
    private sealed record Snapshot(FileFacts Facts, string? Hash);

    private static Snapshot Take(string path)
    {
        var f = FileProbe.Stat(path, followLinks: false);
        string? hash = f.Kind == FileKind.Regular ? Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(path))) : null;
        return new Snapshot(f, hash);
    }

    private void AssertRefused(CliProcess.Result r, string mention, params (string Path, Snapshot Before)[] untouched)
    {
        Assert.That(r.TimedOut, Is.False, "no hang: " + r);
        Assert.That(r.Code, Is.EqualTo(2), r.ToString());
        Assert.That(r.ErrLines, Has.Length.EqualTo(1), "one line on stderr: " + r);
        Assert.That(r.Err, Does.StartWith("cudaadam ").And.Not.Contain("   at ").And.Not.Contain("internal error"), r.ToString());
        Assert.That(r.Err, Does.Contain(mention).IgnoreCase, r.ToString());
        foreach (var (path, before) in untouched)
            Assert.That(Take(path), Is.EqualTo(before), $"'{path}' must be untouched");
        AssertNoTemp(D);
    }

    private static void AssertNoTemp(string dir) =>
        Assert.That(Directory.GetFiles(dir, "*", SearchOption.AllDirectories).Select(Path.GetFileName).Where(n => AtomicFile.IsTempFileName(n!)),
            Is.Empty, "no temporary file left");

    private static void Sh(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        string err = p.StandardError.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0) Prerequisite.Missing($"{file} {string.Join(" ", args)} failed: {err.Trim()}");
    }

    private static bool IsRoot => Environment.UserName == "root";

    private string Fifo(string name) { string p = _dir.File(name); Sh("mkfifo", p); return p; }

    private string Device(string name, int major = 1, int minor = 3)
    {
        if (!IsRoot) Prerequisite.Missing("mknod needs root (CI runs as root); the device cases are skipped here");
        string p = _dir.File(name);
        Sh("mknod", p, "c", major.ToString(), minor.ToString());
        return p;
    }

    private readonly List<Socket> _sockets = [];

    private string Socket(string name)
    {
        string p = _dir.File(name);
        var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        s.Bind(new UnixDomainSocketEndPoint(p));   // kept open: .NET removes the node when the socket is disposed
        _sockets.Add(s);
        return p;
    }

    // ---------------------------------------------------------------- outputs

    public static IEnumerable<TestCaseData> SpecialOutputs()
    {
        yield return new TestCaseData("fifo", "FIFO").SetName("Output_Fifo_IsRefused");
        yield return new TestCaseData("device", "character device").SetName("Output_CharDevice_IsRefused");
        yield return new TestCaseData("socket", "socket").SetName("Output_Socket_IsRefused");
        yield return new TestCaseData("directory", "directory").SetName("Output_Directory_IsRefused");
        yield return new TestCaseData("readonly", "read-only").SetName("Output_ReadOnlyFile_IsRefused");
    }

    [TestCaseSource(nameof(SpecialOutputs))]
    public void SpecialOutputIsNeverReplaced(string kind, string mention)
    {
        string target = kind switch
        {
            "fifo" => Fifo("out"),
            "device" => Device("out"),
            "socket" => Socket("out"),
            "directory" => Directory.CreateDirectory(_dir.File("out")).FullName,
            _ => _dir.File("old.npy"),
        };
        if (kind == "readonly") File.SetUnixFileMode(target, UnixFileMode.UserRead | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        var before = Take(target);
        AssertRefused(Cli(Replay("x0.npy", "g.npy", target)), mention, (target, before));
        AssertRefused(Cli(Replay("x0.npy", "g.npy", "new.npy", "--trajectory", target)), mention, (target, before));
        Assert.That(File.Exists(_dir.File("new.npy")), Is.False, "a refused trajectory stops the run before --out is written");
    }

    [TestCase("params"), TestCase("grads"), TestCase("symlink"), TestCase("hardlink"), TestCase("config")]
    public void OutputThatIsAnInputIsRefused(string how)
    {
        File.WriteAllText(_dir.File("hp.json"), """{ "lr": 0.01 }""");
        string[] args = how switch
        {
            "params" => Replay("x0.npy", "g.npy", "x0.npy"),
            "grads" => Replay("x0.npy", "g.npy", "new.npy", "--trajectory", "g.npy"),
            "symlink" => Replay("x0.npy", "g.npy", Link("g.npy", symbolic: true)),
            "hardlink" => Replay("x0.npy", "g.npy", Link("g.npy", symbolic: false)),
            _ => Replay("x0.npy", "g.npy", "hp.json", "--config", "hp.json"),
        };
        var inputs = new[] { "x0.npy", "g.npy", "hp.json" }.Select(f => (_dir.File(f), Take(_dir.File(f)))).ToArray();
        AssertRefused(Cli(args), "same file", inputs);
    }

    private string Link(string to, bool symbolic)
    {
        string p = _dir.File(symbolic ? "sym.npy" : "hard.npy");
        if (symbolic) File.CreateSymbolicLink(p, to);
        else Sh("ln", _dir.File(to), p);
        return p;
    }

    [Test]
    public void TrajectoryAndOutTheSameFileIsRefused()
    {
        var before = Take(_dir.File("old.npy"));
        AssertRefused(Cli(Replay("x0.npy", "g.npy", "old.npy", "--trajectory", "old.npy")), "same file", (_dir.File("old.npy"), before));
    }

    [Test]
    public void SymlinkOutputIsWrittenThroughAtomically()
    {
        Directory.CreateDirectory(_dir.File("elsewhere"));
        File.Copy(_dir.File("old.npy"), _dir.File("elsewhere/target.npy"));
        File.CreateSymbolicLink(_dir.File("link.npy"), "elsewhere/target.npy");
        var r = Cli(Replay("x0.npy", "g.npy", "link.npy"));
        Assert.That(r.Code, Is.EqualTo(0), r.ToString());
        Assert.That(FileProbe.Stat(_dir.File("link.npy"), followLinks: false).Kind, Is.EqualTo(FileKind.Symlink), "the link stays a link");
        Assert.That(Npy.Read1D(_dir.File("elsewhere/target.npy")), Has.Length.EqualTo(4).And.Not.EqualTo(new[] { 9f, 9f, 9f, 9f }), "its target holds the result");
        AssertNoTemp(D);
    }

    [Test]
    public void EmptyMissingAndOverlongOutputPathsAreOneLine()
    {
        AssertRefused(Cli(Replay("x0.npy", "g.npy", "")), "empty");
        AssertRefused(Cli(Replay("x0.npy", "g.npy", "no/such/dir/o.npy")), "does not exist");
        AssertRefused(Cli(Replay("x0.npy", "g.npy", new string('a', 300) + ".npy")), "too long");
        // A name that fits (250 bytes) is written although the temporary name beside it would not fit whole.
        var r = Cli(Replay("x0.npy", "g.npy", new string('b', 246) + ".npy"));
        Assert.That(r.Code, Is.EqualTo(0), r.ToString());
        AssertNoTemp(D);
    }

    /// <summary>A full disk (a 64 KiB tmpfs) and a read-only file system: one line, the old file intact, no temp.</summary>
    [TestCase("size=64k", "no space"), TestCase("ro", "read-only")]
    public void FullOrReadOnlyFileSystemIsOneLine(string options, string mention)
    {
        if (!IsRoot) Prerequisite.Missing("mounting a tmpfs needs root (CI runs as root)");
        string mnt = _dir.File("mnt");
        Directory.CreateDirectory(mnt);
        Sh("mount", "-t", "tmpfs", "-o", options == "ro" ? "size=64k" : options, "tmpfs", mnt);
        try
        {
            File.Copy(_dir.File("old.npy"), Path.Combine(mnt, "old.npy"));
            if (options == "ro") Sh("mount", "-o", "remount,ro", mnt);
            var before = Take(Path.Combine(mnt, "old.npy"));
            // 1000 steps x 64 floats: a 256 KB trajectory does not fit in 64 KiB.
            Npy.Write(_dir.File("g1000.npy"), new float[1000 * 64], 1000, 64);
            Npy.Write(_dir.File("x64.npy"), new float[64]);
            var r = Cli(Replay("x64.npy", "g1000.npy", Path.Combine(mnt, "o.npy"), "--trajectory", Path.Combine(mnt, "old.npy")));
            AssertRefused(r, mention, (Path.Combine(mnt, "old.npy"), before));
            Assert.That(Directory.GetFiles(mnt).Select(Path.GetFileName), Is.EquivalentTo(new[] { "old.npy" }), "nothing else on the full disk");
        }
        finally { Sh("umount", "-l", mnt); }
    }

    // ---------------------------------------------------------------- inputs

    public static IEnumerable<TestCaseData> SpecialInputs()
    {
        foreach (var option in new[] { "params", "grads", "config" })
        {
            yield return new TestCaseData(option, "fifo", "FIFO").SetName($"Input_{option}_Fifo_RefusedAtOnce");
            yield return new TestCaseData(option, "zero", "character device").SetName($"Input_{option}_DevZero_Refused");
            yield return new TestCaseData(option, "directory", "directory").SetName($"Input_{option}_Directory_Refused");
        }
        yield return new TestCaseData("params", "empty", "empty").SetName("Input_params_EmptyPath_Refused");
        yield return new TestCaseData("grads", "missing", "no such file").SetName("Input_grads_Missing_Refused");
        yield return new TestCaseData("params", "socket", "socket").SetName("Input_params_Socket_Refused");
    }

    [TestCaseSource(nameof(SpecialInputs))]
    public void SpecialInputIsRefusedWithoutBlocking(string option, string kind, string mention)
    {
        string path = kind switch
        {
            "fifo" => Fifo("in"),
            "zero" => Device("in", 1, 5),
            "socket" => Socket("in"),
            "directory" => Directory.CreateDirectory(_dir.File("in")).FullName,
            "empty" => "",
            _ => _dir.File("missing.npy"),
        };
        string[] args = option switch
        {
            "params" => Replay(path, "g.npy", "old.npy"),
            "grads" => Replay("x0.npy", path, "old.npy"),
            _ => Replay("x0.npy", "g.npy", "old.npy", "--config", path),
        };
        var before = Take(_dir.File("old.npy"));
        var r = Cli(args);
        AssertRefused(r, mention, (_dir.File("old.npy"), before));
        Assert.That(r.Elapsed, Is.LessThan(TimeSpan.FromSeconds(15)), "refused at once");
    }

    [Test]
    public void ReadOnlyInputIsReadAndLeftAlone()
    {
        File.SetUnixFileMode(_dir.File("x0.npy"), UnixFileMode.UserRead);
        var before = Take(_dir.File("x0.npy"));
        var r = Cli(Replay("x0.npy", "g.npy", "o.npy"));
        Assert.That(r.Code, Is.EqualTo(0), r.ToString());
        Assert.That(Take(_dir.File("x0.npy")), Is.EqualTo(before));
    }

    /// <summary>Malformed .npy files given as --params and as --grads: each a precise one-line refusal, no
    /// allocation of what a header merely claims (a 128-byte file that says 4 GB is refused in milliseconds).</summary>
    public static IEnumerable<TestCaseData> MalformedNpy()
    {
        static byte[] V1(string dict, byte[]? data = null)
        {
            int total = 10 + dict.Length + 1, padded = (total + 63) / 64 * 64;
            var header = Encoding.ASCII.GetBytes(dict + new string(' ', padded - total) + "\n");
            return [0x93, .. "NUMPY"u8, 1, 0, (byte)header.Length, (byte)(header.Length >> 8), .. header, .. data ?? []];
        }
        static string Dict(string shape, string descr = "'<f4'", string fortran = "False") =>
            $"{{'descr': {descr}, 'fortran_order': {fortran}, 'shape': {shape}, }}";
        var cases = new (string Option, string Name, byte[] Bytes, string Mention)[]
        {
            ("params", "empty", [], "not an .npy"),
            ("params", "magic-only", [0x93, .. "NUMPY"u8], "truncated"),
            ("params", "zip", "PK\u0003\u0004 not numpy at all"u8.ToArray(), "not an .npy"),
            ("params", "version-9", [0x93, .. "NUMPY"u8, 9, 0, 10, 0], "version"),
            ("params", "v2-header-length-4GiB", [0x93, .. "NUMPY"u8, 2, 0, 0xFF, 0xFF, 0xFF, 0xFF], "absurd"),
            ("grads", "v2-header-length-4GiB", [0x93, .. "NUMPY"u8, 2, 0, 0xFF, 0xFF, 0xFF, 0xFF], "absurd"),
            ("params", "header-truncated", [0x93, .. "NUMPY"u8, 1, 0, 100, 0, .. "{'descr'"u8], "truncated"),
            ("params", "not-a-dict", V1("[1, 2, 3]"), "malformed"),
            ("params", "negative-dim", V1(Dict("(-1,)")), "malformed"),
            ("params", "dim-2^31", V1(Dict("(2147483648,)")), "malformed"),
            ("grads", "2^32-elements", V1(Dict("(65536, 65536)")), "more than one .NET array"),
            ("grads", "2^31-elements", V1(Dict("(1073741824, 2)")), "more than one .NET array"),
            ("params", "claims-4GB-has-0", V1(Dict("(1000000000,)")), "truncated"),
            ("params", "claims-2^29+1-floats", V1(Dict("(536870913,)")), "2,147,483,652 bytes"),
            ("grads", "claims-2^29+1-floats", V1(Dict("(536870913, 1)")), "2,147,483,652 bytes"),
            ("grads", "claims-2^30x1", V1(Dict("(1073741824, 1)")), "truncated"),
            ("params", "trailing-bytes", V1(Dict("(4,)"), new byte[20]), "longer"),
            ("params", "short-data", V1(Dict("(4,)"), new byte[15]), "truncated"),
            ("params", "float64", V1(Dict("(4,)", "'<f8'"), new byte[32]), "float64"),
            ("params", "big-endian", V1(Dict("(4,)", "'>f4'"), new byte[16]), "big-endian"),
            ("grads", "fortran", V1(Dict("(2, 2)", fortran: "True"), new byte[16]), "fortran"),
            ("params", "structured", V1(Dict("(4,)", "[('a', '<f4')]"), new byte[16]), "structured"),
            ("grads", "rank-3", V1(Dict("(1, 2, 2)"), new byte[16]), "rank 3"),
            ("params", "unterminated", V1("{'descr: '<f4', "), "malformed"),
            ("params", "no-shape", V1("{'descr': '<f4', 'fortran_order': False, }"), "missing key"),
            ("grads", "rows-mismatch", V1(Dict("(3, 5)"), new byte[60]), "rows of 5"),
        };
        foreach (var (option, name, bytes, mention) in cases)
            yield return new TestCaseData(option, bytes, mention).SetName($"Npy_{option}_{name}");
    }

    [TestCaseSource(nameof(MalformedNpy))]
    public void MalformedNpyIsOneLine(string option, byte[] bytes, string mention)
    {
        File.WriteAllBytes(_dir.File("bad.npy"), bytes);
        var before = Take(_dir.File("bad.npy"));
        var old = Take(_dir.File("old.npy"));
        var r = Cli(option == "params" ? Replay("bad.npy", "g.npy", "old.npy") : Replay("x0.npy", "bad.npy", "old.npy"));
        AssertRefused(r, mention, (_dir.File("bad.npy"), before), (_dir.File("old.npy"), old));
    }

    /// <summary>Seeded random damage to a valid .npy header: exit 0 (harmless damage) or a one-line exit 2, never a
    /// crash, never a hang.</summary>
    [Test]
    public void RandomlyDamagedNpyHeadersNeverCrash([Values(1, 2, 3, 4, 5, 6)] int seed)
    {
        var rng = new Random(seed);
        var bytes = File.ReadAllBytes(_dir.File("g.npy"));
        for (int k = 0; k < 3; k++) bytes[rng.Next(0, 128)] = (byte)rng.Next(256);
        File.WriteAllBytes(_dir.File("bad.npy"), bytes);
        var old = Take(_dir.File("old.npy"));
        var r = Cli(Replay("x0.npy", "bad.npy", "old.npy"));
        Assert.That(r.TimedOut, Is.False, r.ToString());
        Assert.That(r.Code, Is.EqualTo(0).Or.EqualTo(2), r.ToString());
        if (r.Code == 2)
        {
            Assert.That(r.ErrLines, Has.Length.EqualTo(1), r.ToString());
            Assert.That(Take(_dir.File("old.npy")), Is.EqualTo(old));
        }
        AssertNoTemp(D);
    }

    [Test]
    public void EmptyRowsOfAHugeStepCountDoNotLoop()
    {
        // shape (2^30, 0): 128 bytes; 2^30 empty steps would take minutes.
        File.WriteAllBytes(_dir.File("g0.npy"), [0x93, .. "NUMPY"u8, 1, 0, 118, 0,
            .. Encoding.ASCII.GetBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (1073741824, 0), }".PadRight(117) + "\n")]);
        Npy.Write(_dir.File("x00.npy"), []);
        var r = Cli(Replay("x00.npy", "g0.npy", "o.npy"));
        Assert.That(r.TimedOut, Is.False, r.ToString());
        Assert.That(r.Code, Is.EqualTo(0), r.ToString());
        Assert.That(r.Elapsed, Is.LessThan(TimeSpan.FromSeconds(15)));
        Assert.That(Npy.Read1D(_dir.File("o.npy")), Is.Empty);
    }

    // ---------------------------------------------------------------- configs and sizes

    public static IEnumerable<TestCaseData> BadReplayConfigs()
    {
        (string, string, string)[] cases =
        [
            ("truncated", "{ \"lr\": ", "not a valid JSON"),
            ("array", "[1, 2]", "not a valid JSON"),
            ("nested", "{ \"lr\": { \"a\": 1 } }", "single value"),
            ("unknown", "{ \"learning_rate\": 0.1 }", "unknown key"),
            ("not-a-number", "{ \"lr\": \"fast\" }", "not a number"),
            ("binary", "\u0000\u0001\u0002\u00ff", "not a valid JSON"),
            ("empty", "", "not a valid JSON"),
        ];
        foreach (var (name, text, mention) in cases) yield return new TestCaseData(text, mention).SetName($"ReplayConfig_{name}");
    }

    [TestCaseSource(nameof(BadReplayConfigs))]
    public void BadReplayConfigIsOneLine(string text, string mention)
    {
        File.WriteAllText(_dir.File("hp.json"), text);
        var before = Take(_dir.File("hp.json"));
        var old = Take(_dir.File("old.npy"));
        AssertRefused(Cli(Replay("x0.npy", "g.npy", "old.npy", "--config", "hp.json")), mention, (_dir.File("hp.json"), before), (_dir.File("old.npy"), old));
    }

    public static IEnumerable<TestCaseData> BadTrainConfigs()
    {
        const string Opt = "\"optimizers\": [{ \"name\": \"adam\" }], \"backend\": \"cpu\", \"data\": { \"source\": \"embedded\" }";
        (string, string, string)[] cases =
        [
            ("truncated", "{ \"model\": ", "not valid JSON"),
            ("deep", new string('[', 5000) + new string(']', 5000), "JSON"),
            ("hidden-2e9", $"{{ \"model\": {{ \"kind\": \"mlp\", \"hidden\": [2000000000] }}, {Opt} }}", "more than one array holds"),
            ("hidden-3e6", $"{{ \"model\": {{ \"kind\": \"mlp\", \"hidden\": [3000000] }}, {Opt} }}", "784->3000000"),
            ("hidden-memory", $"{{ \"model\": {{ \"kind\": \"mlp\", \"hidden\": [{string.Join(", ", Enumerable.Repeat(46000, 10))}] }}, {Opt} }}", "of memory"),
            ("batch-overflow", $"{{ \"training\": {{ \"batch_size\": 99999999999 }}, {Opt} }}", "batch_size"),
            ("dimension-2e9", $"{{ \"model\": {{ \"kind\": \"rosenbrock\" }}, \"problem\": {{ \"dimension\": 2000000000 }}, {Opt} }}", "needs"),
            ("negative-epochs", $"{{ \"training\": {{ \"epochs\": -1 }}, {Opt} }}", "epochs"),
        ];
        foreach (var (name, text, mention) in cases) yield return new TestCaseData(text, mention).SetName($"TrainConfig_{name}");
    }

    [TestCaseSource(nameof(BadTrainConfigs))]
    public void BadTrainConfigIsOneLine(string text, string mention)
    {
        File.WriteAllText(_dir.File("c.json"), text);
        var before = Take(_dir.File("c.json"));
        AssertRefused(Cli("train", "c.json", "--output", "runs"), mention, (_dir.File("c.json"), before));
    }

    [TestCase("check", "--bench", "99999999999999", TestName = "Size_CheckBench_1e14")]
    [TestCase("check", "--bench", "99999999999999999999", TestName = "Size_CheckBench_OverLong")]
    [TestCase("train", "--resume", "", TestName = "EmptyPath_Resume")]
    [TestCase("train", "--output", "", TestName = "EmptyPath_Output")]
    [TestCase("bench", "--torch", "", TestName = "EmptyPath_Torch")]
    public void UserGivenSizesAndPathsAreOneLine(string command, string option, string value)
    {
        AssertRefused(Cli(command, option, value), option);
    }

    [TestCase("file", "regular file"), TestCase("fifo", "FIFO"), TestCase("device", "character device")]
    public void TrainOutputThatIsNotADirectoryIsOneLine(string kind, string mention)
    {
        File.WriteAllText(_dir.File("c.json"), """{ "optimizers": [{ "name": "adam" }], "backend": "cpu", "data": { "source": "embedded" } }""");
        string target = kind switch { "file" => _dir.File("old.npy"), "fifo" => Fifo("o"), _ => Device("o") };
        var before = Take(target);
        AssertRefused(Cli("train", "c.json", "--output", target), mention, (target, before));
    }

    /// <summary>As the user 'nobody' (root cannot be refused a permission): an unreadable input, an unwritable
    /// folder, a file it may not write although the folder is writable (the rename would replace it: refused).</summary>
    [TestCase("unreadable-params", "permission denied")]
    [TestCase("unreadable-config", "permission denied")]
    [TestCase("unwritable-folder", "not writable")]
    [TestCase("not-writable-by-you", "not writable by you")]
    [TestCase("unreadable-train-config", "permission denied")]
    [TestCase("unwritable-train-output", "denied")]
    public void PermissionsAreOneLine(string kind, string mention)
    {
        if (!IsRoot) Assert.Ignore("switching to the user nobody needs root (CI runs as root)");
        File.SetUnixFileMode(D, (UnixFileMode)0x1ED);   // 0755: nobody may read, not write
        File.WriteAllText(_dir.File("hp.json"), """{ "lr": 0.01 }""");
        File.WriteAllText(_dir.File("c.json"), """{ "optimizers": [{ "name": "adam" }], "backend": "cpu", "data": { "source": "embedded" } }""");
        string[] args;
        string watched = _dir.File("old.npy");
        switch (kind)
        {
            case "unreadable-params": File.SetUnixFileMode(_dir.File("x0.npy"), UnixFileMode.None); watched = _dir.File("x0.npy"); args = Replay("x0.npy", "g.npy", "/tmp/never.npy"); break;
            case "unreadable-config": File.SetUnixFileMode(_dir.File("hp.json"), UnixFileMode.None); watched = _dir.File("hp.json"); args = Replay("x0.npy", "g.npy", "/tmp/never.npy", "--config", "hp.json"); break;
            case "unwritable-folder": args = Replay("x0.npy", "g.npy", "new.npy"); break;
            case "not-writable-by-you":
                // The folder is writable by everyone (sticky off), the file only by root: a rename would replace it.
                File.SetUnixFileMode(D, (UnixFileMode)0x1FF);
                args = Replay("x0.npy", "g.npy", "old.npy");
                break;
            case "unreadable-train-config": File.SetUnixFileMode(_dir.File("c.json"), UnixFileMode.None); watched = _dir.File("c.json"); args = ["train", "c.json", "--output", "/tmp"]; break;
            default: args = ["train", "c.json", "--output", D]; watched = _dir.File("c.json"); break;
        }
        var before = Take(watched);
        CliProcess.AsNobody = true;
        try { AssertRefused(Cli(args), mention, (watched, before)); }
        finally { CliProcess.AsNobody = false; }
        Assert.That(File.Exists("/tmp/never.npy"), Is.False);
    }

    // ---------------------------------------------------------------- checkpoints

    private string TinyRun()
    {
        File.WriteAllText(_dir.File("tiny.json"), """
            { "name": "tiny", "model": { "kind": "rosenbrock" }, "problem": { "dimension": 4, "steps_per_epoch": 20 },
              "training": { "epochs": 2, "batch_size": 2, "seed": 4 }, "optimizers": [ { "name": "adam" } ], "backend": "cpu" }
            """);
        var r = Cli("train", "tiny.json", "--output", "runs");
        Assert.That(r.Code, Is.EqualTo(0), r.ToString());
        return Directory.GetDirectories(_dir.File("runs")).Single();
    }

    [Test]
    public void DamagedCheckpointsAreRefusedAndKept()
    {
        string folder = TinyRun();
        string ckpt = Path.Combine(folder, "checkpoints", "adam.ckpt");
        var good = File.ReadAllBytes(ckpt);
        var rng = new Random(11);
        var damages = new List<(string Name, Action Make, string Mention)>
        {
            ("truncated-half", () => File.WriteAllBytes(ckpt, good[..(good.Length / 2)]), "truncated"),
            ("truncated-hash", () => File.WriteAllBytes(ckpt, good[..^1]), "truncated"),
            ("empty", () => File.WriteAllBytes(ckpt, []), "not a CudaAdam checkpoint"),
            ("fifo", () => { File.Delete(ckpt); Sh("mkfifo", ckpt); }, "FIFO"),
            ("dev-zero-link", () => { File.Delete(ckpt); File.CreateSymbolicLink(ckpt, "/dev/zero"); }, "character device"),
            ("directory", () => { File.Delete(ckpt); Directory.CreateDirectory(ckpt); }, "directory"),
        };
        for (int k = 0; k < 5; k++)
        {
            int at = rng.Next(0, good.Length), bit = rng.Next(8);
            damages.Add(($"bit-flip-{at}.{bit}", () => { var b = (byte[])good.Clone(); b[at] ^= (byte)(1 << bit); File.WriteAllBytes(ckpt, b); }, "checkpoint"));
        }
        foreach (var (name, make, mention) in damages)
        {
            if (Directory.Exists(ckpt)) Directory.Delete(ckpt);
            else if (FileProbe.Stat(ckpt, followLinks: false).Kind != FileKind.Missing) File.Delete(ckpt);
            make();
            var before = Take(ckpt);
            var r = Cli("train", "--resume", folder);
            Assert.Multiple(() =>
            {
                Assert.That(r.TimedOut, Is.False, $"{name}: {r}");
                Assert.That(r.Code, Is.EqualTo(2), $"{name}: {r}");
                Assert.That(r.ErrLines, Has.Length.EqualTo(1), $"{name}: {r}");
                Assert.That(r.Err, Does.Contain(mention), $"{name}: {r}");
                Assert.That(Take(ckpt), Is.EqualTo(before), $"{name}: the checkpoint is kept as it was");
            });
        }
        AssertNoTemp(D);
    }

    // ---------------------------------------------------------------- signals and kill -9

    private static void Signal(int pid, string signal) => Sh("kill", "-" + signal, pid.ToString());

    /// <summary>kill -9 at seeded random moments while a 16 MB trajectory is being written: the target holds either
    /// the old or the complete new content, never a torn file; the next run sweeps the dead writers' temporary files.</summary>
    [Test]
    public void KillNineLoopNeverTearsAndTheLitterIsSwept()
    {
        const int T = 400, N = 10_000;
        var rng = new Random(9);
        Npy.Write(_dir.File("gbig.npy"), Enumerable.Range(0, T * N).Select(i => (float)rng.NextDouble()).ToArray(), T, N);
        Npy.Write(_dir.File("xbig.npy"), new float[N]);
        Npy.Write(_dir.File("traj.npy"), [1f, 2f, 3f]);
        var old = File.ReadAllBytes(_dir.File("traj.npy"));
        string[] args = Replay("xbig.npy", "gbig.npy", "final.npy", "--trajectory", "traj.npy");
        for (int k = 0; k < 6; k++)
        {
            using var p = CliProcess.Start(D, null, args);
            Thread.Sleep(rng.Next(150, 900));
            try { p.Kill(); } catch (InvalidOperationException) { }
            p.WaitForExit();
            var now = File.ReadAllBytes(_dir.File("traj.npy"));
            if (!now.SequenceEqual(old))
                Assert.That(Npy.Read(_dir.File("traj.npy")).Shape, Is.EqualTo(new[] { T + 1, N }), "the new content is complete");
        }
        var r = CliProcess.Run(D, TimeSpan.FromSeconds(60), null, args);
        Assert.That(r.Code, Is.EqualTo(0), r.ToString());
        Assert.That(Npy.Read(_dir.File("traj.npy")).Shape, Is.EqualTo(new[] { T + 1, N }));
        AssertNoTemp(D);
    }

    [Test]
    public void StaleTempOfADeadProcessIsSweptAndALiveOneKept()
    {
        string dead = _dir.File($".o.npy.{int.MaxValue - 7}.0123456789ab.tmp");
        string live = _dir.File($".o.npy.{Environment.ProcessId}.0123456789ab.tmp");
        File.WriteAllText(dead, "litter");
        File.WriteAllText(live, "in use");
        var r = Cli(Replay("x0.npy", "g.npy", "o.npy"));
        Assert.That(r.Code, Is.EqualTo(0), r.ToString());
        Assert.That(File.Exists(dead), Is.False, "a dead owner's temporary file is swept");
        Assert.That(File.Exists(live), Is.True, "a live owner's temporary file is left alone");
    }

    /// <summary>SIGTERM and SIGINT during a replay write: the process ends, its temporary file is removed, the
    /// target is the old or the complete new content.</summary>
    [TestCase("TERM"), TestCase("INT")]
    public void SignalDuringAWriteRemovesTheTemporaryFile(string signal)
    {
        const int T = 400, N = 10_000;
        Npy.Write(_dir.File("gbig.npy"), new float[T * N], T, N);
        Npy.Write(_dir.File("xbig.npy"), new float[N]);
        var old = File.ReadAllBytes(_dir.File("old.npy"));
        using var p = CliProcess.Start(D, null, Replay("xbig.npy", "gbig.npy", "final.npy", "--trajectory", "old.npy"));
        // Wait for the temporary file to appear (the write has begun), then signal.
        var clock = Stopwatch.StartNew();
        while (!Directory.GetFiles(D, ".old.npy.*.tmp").Any() && !p.HasExited && clock.Elapsed < Limit) Thread.Sleep(5);
        Assume.That(p.HasExited, Is.False, "the write finished before the signal could be sent");
        Signal(p.Id, signal);
        Assert.That(p.WaitForExit(Limit), Is.True, "the signal ends the process");
        var now = File.ReadAllBytes(_dir.File("old.npy"));
        if (!now.SequenceEqual(old)) Assert.That(Npy.Read(_dir.File("old.npy")).Shape, Is.EqualTo(new[] { T + 1, N }));
        AssertNoTemp(D);
    }

    /// <summary>SIGTERM stops a training run like Ctrl+C: checkpoint, the resume hint, exit 1; the resume finishes it.</summary>
    [Test]
    public void SigtermCheckpointsATrainingRun()
    {
        File.WriteAllText(_dir.File("long.json"), """
            { "name": "long", "model": { "kind": "rosenbrock" }, "problem": { "dimension": 4, "steps_per_epoch": 2000 },
              "training": { "epochs": 500, "batch_size": 2, "seed": 4 }, "optimizers": [ { "name": "adam" } ], "backend": "cpu" }
            """);
        using var p = CliProcess.Start(D, null, "train", "long.json", "--output", "runs");
        var stdout = new StringBuilder();
        p.OutputDataReceived += (_, e) => { lock (stdout) stdout.AppendLine(e.Data); };
        p.BeginOutputReadLine();
        var stderr = p.StandardError.ReadToEndAsync();
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < Limit && !p.HasExited)
        {
            lock (stdout) if (stdout.ToString().Contains("epoch")) break;
            Thread.Sleep(20);
        }
        Assume.That(p.HasExited, Is.False, "the run ended before SIGTERM");
        Signal(p.Id, "TERM");
        Assert.That(p.WaitForExit(Limit), Is.True, "SIGTERM stops the run");
        p.WaitForExit();
        string text;
        lock (stdout) text = stdout.ToString();
        Assert.That(p.ExitCode, Is.EqualTo(1), text + stderr.Result);
        Assert.That(text, Does.Contain("checkpoints saved; continue with: cudaadam train --resume"));
        string folder = Directory.GetDirectories(_dir.File("runs")).Single();
        Assert.That(File.Exists(Path.Combine(folder, "checkpoints", "adam.ckpt")), Is.True);
        AssertNoTemp(D);
    }
}
