using Microsoft.Extensions.Configuration;

namespace CudaAdam.Cli.Commands;

/// <summary>
/// The hyperparameter keys of the CLI and of JSON configs: torch.optim's keyword names, snake case in configs
/// (kebab case accepted too) and kebab case as flags (<c>weight_decay</c> ↔ <c>--weight-decay</c>); <c>betas</c> is
/// split into <c>beta1</c>/<c>beta2</c>. Each maps to one field of <see cref="Hyperparameters"/>.
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
        // Schedule-Free (facebookresearch/schedule_free's keywords)
        I("warmup_steps", (h, v) => h with { WarmupSteps = v }),
        D("r", (h, v) => h with { R = v }),
        D("weight_lr_power", (h, v) => h with { WeightLrPower = v }),
    ];

    public static Key? Find(string snake) => All.FirstOrDefault(k => k.Snake == snake);

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
            if (!knownKeys.Contains(key))
                throw new UsageException($"config file '{path}': unknown key '{child.Key}'; known keys: {string.Join(", ", knownKeys)}");
            if (child.GetChildren().Any() || child.Value is null)
                throw new UsageException($"config file '{path}': key '{child.Key}' must be a single value (a number, a string, true or false)");
            if (!result.TryAdd(key, child.Value))
                throw new UsageException($"config file '{path}': key '{key}' is given twice (as kebab and snake case)");
        }
        return result;
    }
}
