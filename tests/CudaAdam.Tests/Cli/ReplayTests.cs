using CudaAdam.IO;

namespace CudaAdam.Tests.Cli;

/// <summary><c>cudaadam replay</c> end to end, in-process through <see cref="CudaAdam.Cli.Program.Main"/>.</summary>
public class ReplayTests
{
    private TempDirectory _dir = null!;
    private string _init = null!, _grads = null!, _out = null!;
    private float[] _x0 = null!, _g = null!;
    private const int N = 9, T = 6;

    [SetUp]
    public void SetUp()
    {
        _dir = new TempDirectory();
        var rng = new Random(42);
        _x0 = Enumerable.Range(0, N).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        _g = Enumerable.Range(0, T * N).Select(i => i % 7 == 0 ? 0f : (float)(rng.NextDouble() * 4 - 2)).ToArray();
        _init = _dir.File("init.npy");
        _grads = _dir.File("grads.npy");
        _out = _dir.File("final.npy");
        Npy.Write(_init, _x0);
        Npy.Write(_grads, _g, T, N);
    }

    [TearDown] public void TearDown() => _dir.Dispose();

    private string[] Base(string optimizer = "adam") =>
        ["replay", "--optimizer", optimizer, "--params", _init, "--grads", _grads, "--out", _out];

    private static void AssertOneErrorLine(CliRunner.Result r, string expected)
    {
        Assert.That(r.Code, Is.EqualTo(2), r.ToString());
        Assert.That(r.Err, Does.StartWith("cudaadam replay: "), r.ToString());
        Assert.That(r.Err.TrimEnd('\n'), Does.Not.Contain('\n'), "exactly one line on stderr");
        Assert.That(r.Err, Does.Contain(expected));
        Assert.That(r.Out, Is.Empty);
    }

    /// <summary>The same replay through the Optimizer API, in memory.</summary>
    private float[] Direct(Algorithm a, Hyperparameters hp, int steps = T)
    {
        var x = new Parameter("x", (float[])_x0.Clone());
        using var opt = new Optimizer(a, [x], hp);
        for (int t = 0; t < steps; t++)
        {
            x.Grad = _g.AsSpan(t * N, N).ToArray();
            opt.Step();
        }
        return x.Data;
    }

    /// <summary>A NaN in row 3 (step 4): skip (default) says so in the summary and on stderr; propagate lets it through;
    /// error writes nothing and exits 2 naming the row. cpu and emulator say the same words.</summary>
    [TestCase("cpu")]
    [TestCase("emulator")]
    public void ANonFiniteGradientIsNeverHidden(string backend)
    {
        if (backend == "emulator") Kernels.KernelDevices.OpenOrIgnore("emulator").Dispose();
        _g[3 * N + 2] = float.NaN;
        Npy.Write(_grads, _g, T, N);
        var skip = CliRunner.Invoke([.. Base(), "--backend", backend]);
        Assert.That(skip.Code, Is.EqualTo(0), skip.ToString());
        Assert.That(skip.Out, Does.Contain($"T = {T} steps, 1 skipped (non-finite gradient; first at step 4: non-finite gradient: x[2] = NaN)"));
        Assert.That(skip.Err, Does.Contain("warning: 1 of 6 steps skipped"));
        Assert.That(Npy.Read1D(_out).All(float.IsFinite), Is.True);

        var propagate = CliRunner.Invoke([.. Base(), "--backend", backend, "--nonfinite", "propagate"]);
        Assert.That(propagate.Code, Is.EqualTo(0), propagate.ToString());
        Assert.That(propagate.Out, Does.Contain($"T = {T} steps, n = {N}"));
        Assert.That(float.IsNaN(Npy.Read1D(_out)[2]), Is.True, "torch.optim's behaviour: the NaN went through");

        File.Delete(_out);
        var error = CliRunner.Invoke([.. Base(), "--backend", backend, "--nonfinite", "error"]);
        AssertOneErrorLine(error, "gradient row 3 (step 4)");
        Assert.That(error.Err, Does.Contain("non-finite gradient: x[2] = NaN").And.Contain("no output written"));
        Assert.That(File.Exists(_out), Is.False);
    }

    [Test]
    public void AnUnknownNonFinitePolicyIsOneLine() =>
        AssertOneErrorLine(CliRunner.Invoke([.. Base(), "--nonfinite", "ignore"]), "--nonfinite: unknown non-finite policy 'ignore'; use skip (default), propagate or error");

    [Test]
    public void OneAdamStepIsTheClosedForm()
    {
        Npy.Write(_grads, _g[..N], 1, N);
        var r = CliRunner.Invoke([.. Base(), "--lr", "0.01"]);
        Assert.That(r.Code, Is.EqualTo(0), r.ToString());
        float[] x1 = Npy.Read1D(_out);
        for (int i = 0; i < N; i++)
        {
            // t = 1: m̂ = g, v̂ = g² ⇒ x1 = x0 − lr·g/(|g| + eps). Tolerance: a few float32 ulps of |x0| + |Δ|.
            double delta = -0.01 * _g[i] / (Math.Abs(_g[i]) + 1e-8);
            Assert.That(x1[i], Is.EqualTo(_x0[i] + delta).Within(2e-6 * (Math.Abs(_x0[i]) + Math.Abs(delta))), $"coordinate {i}");
        }
        Assert.That(r.Out, Does.Contain("adam").And.Contain("T = 1").And.Contain($"n = {N}").And.Contain("backend cpu").And.Contain(_out));
        Assert.That(r.Err, Is.Empty);
    }

    [Test]
    public void ReplayIsBitwiseTheOptimizerApiAndWritesTheTrajectory()
    {
        string traj = _dir.File("traj.npy");
        var r = CliRunner.Invoke([.. Base("adamw"), "--lr", "0.05", "--weight-decay", "0.1", "--amsgrad", "--trajectory", traj]);
        Assert.That(r.Code, Is.EqualTo(0), r.ToString());
        var hp = Hyperparameters.Defaults(Algorithm.AdamW) with { Lr = 0.05, WeightDecay = 0.1, Amsgrad = true };
        float[] expected = Direct(Algorithm.AdamW, hp);
        float[] got = Npy.Read1D(_out);
        Assert.That(got.Select(BitConverter.SingleToInt32Bits), Is.EqualTo(expected.Select(BitConverter.SingleToInt32Bits)));
        var tr = Npy.Read(traj);
        Assert.That(tr.Shape, Is.EqualTo(new[] { T + 1, N }));
        Assert.That(tr.Row(0).ToArray(), Is.EqualTo(_x0));
        Assert.That(tr.Row(T).ToArray(), Is.EqualTo(got));
        Assert.That(tr.Row(3).ToArray(), Is.EqualTo(Direct(Algorithm.AdamW, hp, steps: 3)));
        Assert.That(r.Out, Does.Contain(traj));
    }

    [Test]
    public void ZeroStepsWritesTheInitialParameters()
    {
        Npy.Write(_grads, [], 0, N);
        var r = CliRunner.Invoke(Base());
        Assert.That(r.Code, Is.EqualTo(0), r.ToString());
        Assert.That(Npy.Read1D(_out), Is.EqualTo(_x0));
    }

    [Test]
    public void BooleanFlagsTakeNoValueOrAnExplicitOne()
    {
        Assert.That(CliRunner.Invoke([.. Base(), "--maximize"]).Code, Is.EqualTo(0));
        float[] maximized = Npy.Read1D(_out);
        Assert.That(maximized, Is.EqualTo(Direct(Algorithm.Adam, Hyperparameters.Defaults(Algorithm.Adam) with { Maximize = true })));
        Assert.That(CliRunner.Invoke([.. Base(), "--maximize=false"]).Code, Is.EqualTo(0));
        Assert.That(Npy.Read1D(_out), Is.EqualTo(Direct(Algorithm.Adam, Hyperparameters.Defaults(Algorithm.Adam))));
        Assert.That(Npy.Read1D(_out), Is.Not.EqualTo(maximized));
    }

    [Test]
    public void BiasCorrectionFalse_IsBitwiseTheApi_AndRefusedForAlgorithmsWithoutIt()
    {
        var r = CliRunner.Invoke([.. Base("signadam"), "--lr", "0.01", "--bias-correction=false"]);
        Assert.That(r.Code, Is.EqualTo(0), r.ToString());
        var hp = Hyperparameters.Defaults(Algorithm.SignAdam) with { Lr = 0.01, BiasCorrection = false };
        Assert.That(Npy.Read1D(_out).Select(BitConverter.SingleToInt32Bits), Is.EqualTo(Direct(Algorithm.SignAdam, hp).Select(BitConverter.SingleToInt32Bits)));
        Assert.That(Npy.Read1D(_out), Is.Not.EqualTo(Direct(Algorithm.SignAdam, hp with { BiasCorrection = true })));
        AssertOneErrorLine(CliRunner.Invoke([.. Base("rmsprop"), "--bias-correction=false"]), "bias_correction = false is an option of adam");
    }

    [Test]
    public void WarningBeta1AboveSqrtBeta2GoesToStderrAndSucceeds()
    {
        var r = CliRunner.Invoke([.. Base(), "--beta1", "0.99", "--beta2", "0.9"]);
        Assert.That(r.Code, Is.EqualTo(0), r.ToString());
        Assert.That(r.Err, Does.StartWith("cudaadam replay: warning: beta1 = 0.99 >= sqrt(beta2)"));
        Assert.That(File.Exists(_out));
    }

    public static IEnumerable<TestCaseData> BadInputs()
    {
        // (description, how to break the command, expected text in the message)
        yield return new TestCaseData("unknown optimizer", new Func<ReplayTests, string[]>(s => s.Base("adamm")), "unknown optimizer 'adamm'; known optimizers: adam, adamw");
        yield return new TestCaseData("unknown flag", new Func<ReplayTests, string[]>(s => [.. s.Base(), "--learning-rate", "1"]), "unknown option --learning-rate; known options:");
        yield return new TestCaseData("missing value", new Func<ReplayTests, string[]>(s => [.. s.Base(), "--lr"]), "option --lr needs a value");
        yield return new TestCaseData("not a number", new Func<ReplayTests, string[]>(s => [.. s.Base(), "--eps", "tiny"]), "--eps: 'tiny' is not a number");
        yield return new TestCaseData("bad boolean", new Func<ReplayTests, string[]>(s => [.. s.Base(), "--amsgrad=yes"]), "--amsgrad: 'yes' is not a boolean");
        yield return new TestCaseData("invalid lr", new Func<ReplayTests, string[]>(s => [.. s.Base(), "--lr", "-1"]), "Invalid learning rate: -1");
        yield return new TestCaseData("invalid beta", new Func<ReplayTests, string[]>(s => [.. s.Base(), "--beta2", "1"]), "Invalid beta parameter at index 1");
        yield return new TestCaseData("amsgrad on sgd", new Func<ReplayTests, string[]>(s => [.. s.Base("sgd"), "--amsgrad"]), "amsgrad is defined for adam");
        yield return new TestCaseData("option twice", new Func<ReplayTests, string[]>(s => [.. s.Base(), "--lr", "1", "--lr", "2"]), "option --lr is given twice");
        yield return new TestCaseData("flag with a separate value", new Func<ReplayTests, string[]>(s => [.. s.Base(), "--amsgrad", "true"]), "--amsgrad is a flag and takes no value (write --amsgrad or --amsgrad=true)");
        yield return new TestCaseData("stray argument", new Func<ReplayTests, string[]>(s => [.. s.Base(), "extra"]), "unexpected argument 'extra'");
        yield return new TestCaseData("missing --optimizer", new Func<ReplayTests, string[]>(s => ["replay", "--params", s._init, "--grads", s._grads, "--out", s._out]), "missing --optimizer");
        yield return new TestCaseData("missing --grads", new Func<ReplayTests, string[]>(s => ["replay", "--optimizer", "adam", "--params", s._init, "--out", s._out]), "missing --grads");
        yield return new TestCaseData("unknown backend", new Func<ReplayTests, string[]>(s => [.. s.Base(), "--backend", "tpu"]), "unknown backend 'tpu'; known backends: cpu");
        yield return new TestCaseData("params missing", new Func<ReplayTests, string[]>(s => ["replay", "--optimizer", "adam", "--params", s._dir.File("nope.npy"), "--grads", s._grads, "--out", s._out]), "--params '" );
        yield return new TestCaseData("output directory missing", new Func<ReplayTests, string[]>(s => ["replay", "--optimizer", "adam", "--params", s._init, "--grads", s._grads, "--out", s._dir.File("no/such/out.npy")]), "does not exist (create it first)");
    }

    [TestCaseSource(nameof(BadInputs))]
    public void BadInputExits2WithOneLineAndWritesNothing(string what, Func<ReplayTests, string[]> args, string expected)
    {
        File.WriteAllBytes(_out, [1, 2, 3]);
        var r = CliRunner.Invoke(args(this));
        AssertOneErrorLine(r, expected);
        Assert.That(File.ReadAllBytes(_out), Is.EqualTo(new byte[] { 1, 2, 3 }), "an existing output is untouched");
        Assert.That(_dir.FileNames(), Is.EqualTo(new[] { "final.npy", "grads.npy", "init.npy" }), "no temp files");
    }

    [Test]
    public void ParamsNotAnNpyFile()
    {
        File.WriteAllText(_init, "1,2,3\n");
        AssertOneErrorLine(CliRunner.Invoke(Base()), "is not an .npy file");
        Assert.That(File.Exists(_out), Is.False);
    }

    [Test]
    public void GradsOfWrongDtype()
    {
        // A float64 header over the same bytes.
        byte[] b = File.ReadAllBytes(_grads);
        int at = System.Text.Encoding.ASCII.GetString(b).IndexOf("<f4", StringComparison.Ordinal);
        b[at + 2] = (byte)'8';
        File.WriteAllBytes(_grads, b);
        AssertOneErrorLine(CliRunner.Invoke(Base()), "dtype '<f8' is float64");
    }

    [Test]
    public void GradsTruncated()
    {
        byte[] b = File.ReadAllBytes(_grads);
        File.WriteAllBytes(_grads, b[..^10]);
        AssertOneErrorLine(CliRunner.Invoke(Base()), $"needs {T * N * 4} bytes, the file has {T * N * 4 - 10}");
    }

    [Test]
    public void ParamsAndGradsOfDifferentN()
    {
        Npy.Write(_grads, new float[T * (N + 1)], T, N + 1);
        AssertOneErrorLine(CliRunner.Invoke(Base()), $"has n = {N} elements but --grads");
    }

    [Test]
    public void GradsMustBe2D()
    {
        Npy.Write(_grads, new float[N]);
        AssertOneErrorLine(CliRunner.Invoke(Base()), "expected a 2-D array, got shape (9,)");
    }

    [Test]
    public void ParamsMustBe1D()
    {
        Npy.Write(_init, new float[N], 1, N);
        AssertOneErrorLine(CliRunner.Invoke(Base()), "expected a 1-D array, got shape (1, 9)");
    }

    [Test]
    public void NoArgumentsExits2()
    {
        var r = CliRunner.Invoke("replay");
        Assert.That(r.Code, Is.EqualTo(2));
        Assert.That(r.Err, Does.StartWith("cudaadam replay: no arguments"));
    }

    [Test]
    public void ConfigFileWithFlagOverride()
    {
        string config = _dir.File("hp.json");
        File.WriteAllText(config, """{ "optimizer": "adamw", "lr": 0.02, "weight_decay": 0.5, "beta2": 0.99, "amsgrad": true }""");
        var r = CliRunner.Invoke("replay", "--config", config, "--params", _init, "--grads", _grads, "--out", _out, "--lr", "0.03");
        Assert.That(r.Code, Is.EqualTo(0), r.ToString());
        var hp = Hyperparameters.Defaults(Algorithm.AdamW) with { Lr = 0.03, WeightDecay = 0.5, Beta2 = 0.99, Amsgrad = true };
        Assert.That(Npy.Read1D(_out), Is.EqualTo(Direct(Algorithm.AdamW, hp)));
        Assert.That(r.Out, Does.Contain("adamw"));
    }

    [Test]
    public void ConfigKebabKeysAndFlagOverridesBoolean()
    {
        string config = _dir.File("hp.json");
        File.WriteAllText(config, """{ "optimizer": "adam", "weight-decay": 0.25, "amsgrad": true, "backend": "cpu" }""");
        var r = CliRunner.Invoke("replay", "--config", config, "--params", _init, "--grads", _grads, "--out", _out, "--amsgrad=false");
        Assert.That(r.Code, Is.EqualTo(0), r.ToString());
        var hp = Hyperparameters.Defaults(Algorithm.Adam) with { WeightDecay = 0.25, Amsgrad = false };
        Assert.That(Npy.Read1D(_out), Is.EqualTo(Direct(Algorithm.Adam, hp)));
    }

    [Test]
    public void ConfigUnknownKeyIsNamedWithTheKnownOnes()
    {
        string config = _dir.File("hp.json");
        File.WriteAllText(config, """{ "optimizer": "adam", "learning_rate": 0.1 }""");
        AssertOneErrorLine(CliRunner.Invoke("replay", "--config", config, "--params", _init, "--grads", _grads, "--out", _out),
            "unknown key 'learning_rate'; known keys: optimizer, backend, nonfinite, lr,");
    }

    [TestCase("""{ "optimizer": "adam", "lr": }""", "is not a valid JSON object")]
    [TestCase("""{ "optimizer": "adam", "betas": [0.9] }""", "key 'betas' must be a list of 2 numbers [beta1, beta2] or 3 numbers")]
    [TestCase("""{ "optimizer": "adam", "lr": "fast" }""", "key 'lr': 'fast' is not a number")]
    [TestCase("""{ "optimizer": "adam", "lr": 0.1, "LR": 0.2 }""", "duplicate key 'LR'")]
    [TestCase("""{ "optimizer": "adam", "lr": 0.1, "nested": { "a": 1 } }""", "unknown key 'nested'")]
    [TestCase("""{ "optimizer": "adam", "momentum": { "a": 1 } }""", "key 'momentum' must be a single value")]
    public void ConfigErrors(string json, string expected)
    {
        string config = _dir.File("hp.json");
        File.WriteAllText(config, json);
        var r = CliRunner.Invoke("replay", "--config", config, "--params", _init, "--grads", _grads, "--out", _out);
        AssertOneErrorLine(r, expected);
    }

    [Test]
    public void ConfigFileMissing() =>
        AssertOneErrorLine(CliRunner.Invoke([.. Base(), "--config", _dir.File("nope.json")]), "config file '");

    [Test]
    public void MaxGradNormClipsLikeTheOptimizerApi()
    {
        var r = CliRunner.Invoke([.. Base("adamw"), "--max-grad-norm", "0.5"]);
        Assert.That(r.Code, Is.EqualTo(0), r.ToString());
        var x = new Parameter("x", (float[])_x0.Clone());
        using (var opt = new Optimizer(Algorithm.AdamW, [x], null) { MaxGradNorm = 0.5 })
            for (int t = 0; t < T; t++)
            {
                x.Grad = _g.AsSpan(t * N, N).ToArray();
                opt.Step();
            }
        Assert.That(Npy.Read1D(_out), Is.EqualTo(x.Data));
        Assert.That(x.Data, Is.Not.EqualTo(Direct(Algorithm.AdamW, Hyperparameters.Defaults(Algorithm.AdamW))), "clipping changed the result");
    }

    [Test]
    public void MaxGradNormOnTheEmulatorIsTheCpuResult()
    {
        if (CudaAdam.Device.DeviceBackends.Unavailable("emulator") is { } reason) Prerequisite.Missing(reason + " (./build.sh setup builds it with g++)");
        var cpu = CliRunner.Invoke([.. Base("adam"), "--max-grad-norm", "0.3"]);
        Assert.That(cpu.Code, Is.EqualTo(0), cpu.ToString());
        var expected = Npy.Read1D(_out);
        var emu = CliRunner.Invoke([.. Base("adam"), "--max-grad-norm", "0.3", "--backend", "emulator"]);
        Assert.That(emu.Code, Is.EqualTo(0), emu.ToString());
        Assert.That(Npy.Read1D(_out), Is.EqualTo(expected), "n = 9: one chunk, the coefficients agree");
    }

    [TestCase("-1")]
    [TestCase("0")]
    [TestCase("1e400")]
    public void MaxGradNormMustBePositive(string value) =>
        AssertOneErrorLine(CliRunner.Invoke([.. Base(), "--max-grad-norm", value]), "Invalid max_grad_norm");
}
