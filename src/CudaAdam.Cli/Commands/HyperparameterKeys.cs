using Microsoft.Extensions.Configuration;

namespace CudaAdam.Cli.Commands;

/// <summary>
/// The hyperparameter keys of the CLI and of JSON configs: torch.optim's keyword names, snake case in configs
/// (kebab case accepted too) and kebab case as flags (<c>weight_decay</c> ↔ <c>--weight-decay</c>); <c>betas</c> is
/// split into <c>beta1</c>/<c>beta2</c> (a config may also give torch's tuple, <c>"betas": [0.9, 0.999]</c>, and so
/// Rprop's <c>etas</c> and <c>step_sizes</c>: <see cref="Tuples"/>). Each maps to one field of <see cref="Hyperparameters"/>.
/// </summary>
internal static class HyperparameterKeys
{
    /// <summary>One key: its snake-case name, whether it is boolean, and how it sets its field.</summary>
    internal sealed record Key(string Snake, bool IsFlag, Func<Hyperparameters, string, string, Hyperparameters> Apply)
    {
        public string Kebab => Snake.Replace('_', '-');
    }

    private static Key D(string snake, Func<Hyperparameters, double, Hyperparameters> set) =>
        new(snake, false, (h, raw, what) => set(h, Arguments.ParseDouble(raw, what)));

    private static Key B(string snake, Func<Hyperparameters, bool, Hyperparameters> set) =>
        new(snake, true, (h, raw, what) => set(h, Arguments.ParseBool(raw, what)));

    private static Key I(string snake, Func<Hyperparameters, int, Hyperparameters> set) =>
        new(snake, false, (h, raw, what) =>
        {
            double v = Arguments.ParseDouble(raw, what);
            if (v != Math.Floor(v) || v < 0 || v > int.MaxValue)
                throw new UsageException($"{what}: '{raw}' is not a whole number >= 0");
            return set(h, (int)v);
        });

    public static readonly IReadOnlyList<Key> All =
    [
        D("lr", (h, v) => h with { Lr = v }),
        D("beta1", (h, v) => h with { Beta1 = v }),
        D("beta2", (h, v) => h with { Beta2 = v }),
        D("eps", (h, v) => h with { Eps = v }),
        D("weight_decay", (h, v) => h with { WeightDecay = v }),
        B("amsgrad", (h, v) => h with { Amsgrad = v }),
        B("maximize", (h, v) => h with { Maximize = v }),
        D("momentum", (h, v) => h with { Momentum = v }),
        D("dampening", (h, v) => h with { Dampening = v }),
        B("nesterov", (h, v) => h with { Nesterov = v }),
        D("alpha", (h, v) => h with { Alpha = v }),
        B("centered", (h, v) => h with { Centered = v }),
        D("rho", (h, v) => h with { Rho = v }),
        D("lr_decay", (h, v) => h with { LrDecay = v }),
        D("initial_accumulator_value", (h, v) => h with { InitialAccumulatorValue = v }),
        D("momentum_decay", (h, v) => h with { MomentumDecay = v }),
        B("decoupled_weight_decay", (h, v) => h with { DecoupledWeightDecay = v }),
        B("bias_correction", (h, v) => h with { BiasCorrection = v }),   // default true; --bias-correction=false
        // issue 12 (h12a): appended in this block
        D("etaminus", (h, v) => h with { Etaminus = v }),
        D("etaplus", (h, v) => h with { Etaplus = v }),
        D("step_size_min", (h, v) => h with { StepSizeMin = v }),
        D("step_size_max", (h, v) => h with { StepSizeMax = v }),
        D("lambd", (h, v) => h with { Lambd = v }),
        D("t0", (h, v) => h with { T0 = v }),
        D("beta3", (h, v) => h with { Beta3 = v }),
        I("alpha_warmup", (h, v) => h with { AlphaWarmup = v }),
        I("beta3_warmup", (h, v) => h with { Beta3Warmup = v }),
        // Schedule-Free (facebookresearch/schedule_free's keywords)
        I("warmup_steps", (h, v) => h with { WarmupSteps = v }),
        D("r", (h, v) => h with { R = v }),
        D("weight_lr_power", (h, v) => h with { WeightLrPower = v }),
    ];

    public static Key? Find(string snake) => All.FirstOrDefault(k => k.Snake == snake);

    /// <summary>torch's tuple-valued keywords a config may give instead of their components: <c>betas</c> = [beta1, beta2]
    /// and every descriptor's <see cref="AlgorithmInfo.Tuples"/> (Rprop's <c>etas</c>, <c>step_sizes</c>). A key with
    /// several spellings (betas of 2 or 3) takes any of their lengths.</summary>
    public static readonly IReadOnlyList<HyperparameterTuple> Tuples =
        [.. new[] { new HyperparameterTuple("betas", ["beta1", "beta2"]) }.Concat(Algorithms.All.SelectMany(i => i.Tuples))
            .DistinctBy(t => (t.Key, string.Join(",", t.Components)))];

    /// <summary>A config key in canonical (snake, lower-case) form: <c>Weight-Decay</c> → <c>weight_decay</c>.</summary>
    public static string Canonical(string key) => key.Trim().ToLowerInvariant().Replace('-', '_');

    /// <summary>
    /// Reads a flat JSON object of settings with Microsoft.Extensions.Configuration.Json: keys canonicalized with
    /// <see cref="Canonical"/>; every key must be in <paramref name="knownKeys"/> (snake case) and hold a single value.
    /// </summary>
    /// <exception cref="UsageException">Missing or malformed file, an unknown key (named, with the known ones), a key
    /// given twice (as kebab and snake), or a nested value.</exception>
    public static Dictionary<string, string> ReadConfig(string path, IReadOnlyCollection<string> knownKeys)
    {
        if (path.Length == 0) throw new UsageException("--config: the path is empty; give a file");
        byte[] bytes;
        try { bytes = CudaAdam.IO.SafeFile.ReadAllBytes(path, 16L << 20); }   // a regular file, never a FIFO or a device
        catch (FileNotFoundException) { throw new UsageException($"config file '{path}' not found"); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InsufficientMemoryException)
        {
            throw new UsageException($"config file {e.Message}", e);
        }
        IConfigurationRoot root;
        try
        {
            root = new ConfigurationBuilder()
                .AddJsonStream(new MemoryStream(bytes))
                .Build();
        }
        catch (Exception e) when (e is InvalidDataException or FormatException or IOException or System.Text.Json.JsonException)
        {
            string detail = e.InnerException?.Message ?? e.Message;
            throw new UsageException($"config file '{path}' is not a valid JSON object: {detail}", e);
        }
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var child in root.GetChildren())
        {
            string key = Canonical(child.Key);
            var spellings = Tuples.Where(t => t.Key == key).ToArray();
            if (spellings.Length > 0)
            {
                // A tuple (torch's "etas": [0.5, 1.2]): its components, in order, as if given one by one.
                var values = child.GetChildren().OrderBy(c => int.TryParse(c.Key, out int i) ? i : int.MaxValue).ToArray();
                var tuple = spellings.FirstOrDefault(t => t.Components.Count == values.Length);
                if (tuple is null || values.Any(v => v.Value is null || v.GetChildren().Any() || !int.TryParse(v.Key, out _)))
                    throw new UsageException($"config file '{path}': key '{child.Key}' must be a list of " +
                                             $"{string.Join(" or ", spellings.Select(t => $"{t.Components.Count} numbers [{string.Join(", ", t.Components)}]"))}");
                for (int i = 0; i < values.Length; i++)
                    if (!result.TryAdd(tuple.Components[i], values[i].Value!))
                        throw new UsageException($"config file '{path}': '{tuple.Components[i]}' is given twice (in '{child.Key}' and on its own)");
                continue;
            }
            if (!knownKeys.Contains(key))
                throw new UsageException($"config file '{path}': unknown key '{child.Key}'; known keys: {string.Join(", ", knownKeys)}");
            if (child.GetChildren().Any() || child.Value is null)
                throw new UsageException($"config file '{path}': key '{child.Key}' must be a single value (a number, a string, true or false)");
            if (!result.TryAdd(key, child.Value))
                throw new UsageException($"config file '{path}': key '{key}' is given twice (as kebab and snake case, or also in a tuple)");
        }
        return result;
    }
}
