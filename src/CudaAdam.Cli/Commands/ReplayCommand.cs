using CudaAdam.IO;

namespace CudaAdam.Cli.Commands;

/// <summary>
/// <c>cudaadam replay</c>: runs an optimizer on a recorded gradient sequence. Given x_0 (init.npy, float32 [n]) and
/// g_1..g_T (grads.npy, float32 [T, n]), takes T steps x_t = step(x_{t−1}, g_t) and writes x_T (and optionally the
/// trajectory x_0..x_T as [T+1, n]). The same flags as torch.optim's keywords, so that
/// <c>tests/oracle/replay_torch.py</c> replays the same thing in PyTorch.
/// </summary>
public sealed class ReplayCommand : ICommand
{
    public string Name => "replay";
    public string Summary => "run an optimizer on recorded gradients (init.npy, grads.npy) and write the result as .npy";

    private static readonly string[] FileOptions = ["params", "grads", "out", "trajectory", "config"];
    private static readonly string[] SettingOptions = ["optimizer", "backend", "nonfinite"];
    private static readonly string[] ClipOptions = ["max_grad_norm"];

    public string Usage =>
        "usage: cudaadam replay --optimizer NAME --params init.npy --grads grads.npy --out final.npy\n" +
        "                       [--trajectory traj.npy] [--backend NAME] [--config hp.json] [--max-grad-norm X]\n" +
        "                       [--nonfinite skip|propagate|error]\n" +
        "                       [hyperparameters]\n\n" +
        "Takes T optimizer steps from x0 = init.npy (float32 [n]) with the gradients grads.npy (float32 [T, n],\n" +
        "row t is the gradient of step t+1) and writes x_T to --out (float32 [n]); --trajectory writes x_0..x_T\n" +
        "(float32 [T+1, n]). Outputs are written atomically: complete or not at all.\n\n" +
        $"  --optimizer NAME   {string.Join(" ", AlgorithmNames.All.Select(a => a.Name()))}\n" +
        $"  --backend NAME     {string.Join(" ", Backends.Names)} (default cpu)\n" +
        "  --max-grad-norm X  clip each step's gradient by its global 2-norm first (torch.nn.utils.clip_grad_norm_:\n" +
        "                     coefficient min(1, X / (norm + 1e-6)), fused into the step; norm accumulated in double)\n" +
        "  --nonfinite P      what a step with a NaN or inf gradient does: skip (default: nothing changes, the step is\n" +
        "                     counted and reported), propagate (torch.optim: the values go through), error (exit 2)\n" +
        "  --config FILE      a JSON object with the same keys (snake or kebab case) plus \"optimizer\" and \"backend\";\n" +
        "                     flags override it; an unknown key is an error\n\n" +
        "hyperparameters (torch.optim's keywords in kebab case; defaults are torch's for the optimizer; the schema of\n" +
        "every config and flag, from the Hyperparameters record):\n" +
        "  " + string.Join(" ", HyperparameterSchema.Keys.Where(k => !k.IsFlag).Select(k => $"--{k.Kebab} X")) + "\n" +
        "  " + string.Join(" ", HyperparameterSchema.Keys.Where(k => k.IsFlag).Select(k => $"--{k.Kebab}")) +
        "   (flags; also --flag=true/false)\n" +
        "  " + string.Join(" ", HyperparameterSchema.Tuples.Select(t => $"--{t.Torch.Replace('_', '-')} {string.Join(",", t.Parts.Select(_ => "X"))}")) +
        "   (torch's pairs; in JSON [x, y])\n\n" +
        "Bad input prints one line 'cudaadam replay: ...' on stderr and exits 2.\n";

    public int Run(IReadOnlyList<string> args, TextWriter stdout, TextWriter stderr)
    {
        if (args.Count == 0) throw new UsageException("no arguments; see cudaadam help replay");
        var valueFlags = HyperparameterSchema.Keys.Where(k => !k.IsFlag).Select(k => k.Kebab)
            .Concat(HyperparameterSchema.Tuples.Select(t => t.Torch.Replace('_', '-')));
        var parsed = Arguments.Parse(args,
            FileOptions.Concat(SettingOptions).Concat(ClipOptions.Select(o => o.Replace('_', '-'))).Concat(valueFlags),
            HyperparameterSchema.Keys.Where(k => k.IsFlag).Select(k => k.Kebab));

        // Settings: the config file first, then the flags over it. Keys in snake case; a tuple keyword's values
        // (betas: [0.9, 0.99], --betas 0.9,0.99) are one setting with one value per part.
        var settings = new Dictionary<string, (IReadOnlyList<string> Value, string Source)>(StringComparer.Ordinal);
        if (parsed.Get("config") is { } configPath)
        {
            var known = SettingOptions.Concat(HyperparameterSchema.Names).Concat(ClipOptions).ToArray();
            foreach (var (k, v) in HyperparameterKeys.ReadConfig(configPath, known))
                settings[k] = (v, $"config '{configPath}' key '{k}'");
        }
        foreach (var (k, v) in parsed.Values)
            if (!FileOptions.Contains(k))
            {
                string key = HyperparameterSchema.Canonical(k);
                settings[key] = (HyperparameterSchema.TupleParts(key) is null ? [v] : v.Split(','), "--" + k);
            }
        string? Setting(string key) => settings.TryGetValue(key, out var x) ? x.Value[0] : null;

        if (Setting("optimizer") is not { } optimizerName)
            throw new UsageException($"missing --optimizer (one of {string.Join(", ", AlgorithmNames.All.Select(a => a.Name()))})");
        Algorithm algorithm;
        try { algorithm = AlgorithmNames.Parse(optimizerName); }
        catch (ArgumentException e) { throw new UsageException(e.Message, e); }
        string backendName = Setting("backend") ?? "cpu";
        var nonFinite = NonFinitePolicy.Skip;
        if (settings.TryGetValue("nonfinite", out var nf))
        {
            try { nonFinite = NonFinitePolicies.Parse(nf.Value[0]); }
            catch (ArgumentException e) { throw new UsageException($"{nf.Source}: {e.Message}", e); }
        }

        var hp = Hyperparameters.Defaults(algorithm);
        foreach (var torch in HyperparameterSchema.Tuples.Select(t => t.Torch))
            if (settings.ContainsKey(torch) && HyperparameterSchema.TupleParts(torch, algorithm)!.FirstOrDefault(settings.ContainsKey) is { } both)
                throw new UsageException($"{settings[torch].Source} and {settings[both].Source} both set {both}; give one");
        try
        {
            foreach (var (key, (value, source)) in settings)
                if (HyperparameterSchema.Find(key) is not null || HyperparameterSchema.TupleParts(key) is not null)
                    hp = HyperparameterSchema.Apply(hp, key, value, source, algorithm);
        }
        catch (ArgumentException e) { throw new UsageException(e.Message, e); }
        double? maxGradNorm = null;
        if (settings.TryGetValue("max_grad_norm", out var clipSetting))
        {
            maxGradNorm = Arguments.ParseDouble(clipSetting.Value[0], clipSetting.Source);
            try { GradClipping.Validate(maxGradNorm); }
            catch (ArgumentException e) { throw new UsageException($"{clipSetting.Source}: {e.Message}", e); }
        }
        IReadOnlyList<string> warnings;
        try { warnings = hp.Validate(algorithm); }
        catch (ArgumentException e) { throw new UsageException(e.Message, e); }

        string paramsPath = parsed.Require("params"), gradsPath = parsed.Require("grads"), outPath = parsed.Require("out");
        string? trajectoryPath = parsed.Get("trajectory");
        // Outputs first, before any work: a refused output (a device, a FIFO, a read-only file, one of the inputs) is
        // said at once and nothing is touched.
        CheckOutput(outPath, "--out");
        if (trajectoryPath is not null) CheckOutput(trajectoryPath, "--trajectory");
        try
        {
            SafeFile.RefuseOverlap(
                [("--params", paramsPath), ("--grads", gradsPath), ("--config", parsed.Get("config") ?? "")],
                [("--out", outPath), ("--trajectory", trajectoryPath ?? "")]);
        }
        catch (IOException e) { throw new UsageException(e.Message, e); }
        float[] x0 = ReadInput(paramsPath, 1, "--params").Data;
        var grads = ReadInput(gradsPath, 2, "--grads");
        int steps = grads.Shape[0], n = grads.Shape[1];
        if (n != x0.Length)
            throw new UsageException($"--params '{paramsPath}' has n = {x0.Length} elements but --grads '{gradsPath}' has rows of " +
                                     $"{n} (shape {Npy.FormatShape(grads.Shape)}); grads must be [T, {x0.Length}]");
        if (trajectoryPath is not null)
        {
            long elements = MemoryBudget.Product(steps + 1L, n);
            try
            {
                MemoryBudget.RequireArray(elements, $"--trajectory [{steps + 1}, {n}]");
                MemoryBudget.Require(MemoryBudget.Product(elements, 4), $"--trajectory [{steps + 1}, {n}]");
            }
            catch (InsufficientMemoryException e) { throw new UsageException(e.Message + "; write fewer steps or omit --trajectory", e); }
        }

        IStepBackend backend;
        try { backend = Backends.Create(backendName); }
        catch (Exception e) when (e is ArgumentException or BackendUnavailableException) { throw new UsageException(e.Message, e); }

        foreach (var w in warnings) stderr.WriteLine($"cudaadam replay: warning: {w}");
        var x = new Parameter("x", (float[])x0.Clone());
        float[]? trajectory = trajectoryPath is null ? null : new float[(steps + 1L) * n];
        if (trajectory is not null) x0.CopyTo(trajectory.AsSpan());
        long skipped = 0;
        string? firstSkip = null;
        using (var opt = new Optimizer(algorithm, [x], hp, backend) { MaxGradNorm = maxGradNorm, NonFinite = nonFinite })
        {
            // n = 0: every step is the identity on an empty vector; a (2^30, 0) grads file must not loop 2^30 times.
            for (int t = 0; t < steps && n > 0; t++)
            {
                x.Grad = grads.Row(t).ToArray();
                StepResult r;
                try { r = opt.Step(); }
                catch (NonFiniteGradientException e)
                {
                    throw new UsageException($"gradient row {t} (step {t + 1}) of --grads '{gradsPath}': {e.Message}; no output written", e);
                }
                catch (NotImplementedException e)
                {
                    stderr.WriteLine($"cudaadam replay: {algorithm.Name()} is not implemented on backend '{backend.Name}' yet ({e.Message})");
                    return ExitCodes.Failure;
                }
                if (r.Skipped && skipped++ == 0) firstSkip = $"step {t + 1}: {r.Reason}";
                if (trajectory is not null) x.Data.CopyTo(trajectory.AsSpan(checked((t + 1) * n)));
            }
        }
        if (skipped > 0)
            stderr.WriteLine($"cudaadam replay: warning: {skipped} of {steps} steps skipped (non-finite gradients; first at {firstSkip}); " +
                             "--nonfinite propagate lets the values through as torch.optim does, --nonfinite error stops at the first");

        try
        {
            if (trajectory is not null) Npy.Write(trajectoryPath!, trajectory, steps + 1, n);
            Npy.Write(outPath, x.Data, n);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A full disk, a read-only file system, a folder made unwritable meanwhile: one line, nothing replaced.
            stderr.WriteLine($"cudaadam replay: {e.Message}");
            return ExitCodes.Usage;
        }
        string also = trajectoryPath is null ? "" : $" and trajectory {trajectoryPath} [{steps + 1}, {n}]";
        string skips = skipped == 0 ? "" : $", {skipped} skipped (non-finite gradient; first at {firstSkip})";
        stdout.WriteLine($"replay: {algorithm.Name()}, T = {steps} steps{skips}, n = {n}, backend {backend.Name} -> wrote {outPath}{also}");
        return ExitCodes.Ok;
    }

    private static NpyArray ReadInput(string path, int rank, string option)
    {
        if (path.Length == 0) throw new UsageException($"{option}: the path is empty; give a file");
        try { return Npy.Read(path, rank); }
        catch (FileNotFoundException) { throw new UsageException($"{option} '{path}': no such file"); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InsufficientMemoryException)
        {
            // NpyFormatException, PathRefusedException (a FIFO, a device), permission denied, too big: all name the path.
            throw new UsageException($"{option} {e.Message}", e);
        }
    }

    private static void CheckOutput(string path, string option)
    {
        if (path.Length == 0) throw new UsageException($"{option}: the path is empty; give a file name");
        try { AtomicFile.CheckTarget(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw new UsageException($"{option}: {e.Message}", e); }
    }
}
