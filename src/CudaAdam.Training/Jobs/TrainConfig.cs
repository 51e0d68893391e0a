#pragma warning disable CS1591 // CS1591 backlog (issue 13): 35 public members here have no XML doc yet; document them, then delete this line
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using CudaAdam.IO;
using CudaAdam.Problems;
using CudaAdam.Training.Data;
using Microsoft.Extensions.Configuration;

namespace CudaAdam.Training.Jobs;

/// <summary>A config file that cannot be used: its message names the file and the key or value at fault.</summary>
public sealed class ConfigException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// The <c>cudaadam train</c> job's config: JSON, snake_case keys, bound with Microsoft.Extensions.Configuration;
/// an unknown key is an error that names it. Missing keys take the defaults below; <see cref="Resolve"/> fills
/// and checks everything, and the resolved config is written to the run folder (it loads back to the same run).
/// </summary>
/// <example><code>
/// { "name": "mlp-fmnist",
///   "model": { "kind": "mlp", "hidden": [256, 256], "dropout": 0.5, "input_dropout": 0.2 },
///   "data": { "source": "auto", "train_limit": 10000, "test_limit": 2000 },
///   "training": { "epochs": 3, "batch_size": 128, "seed": 1 },
///   "schedule": { "kind": "constant" },
///   "optimizers": [ { "name": "adam", "lr": 0.001 }, { "name": "sgd", "label": "sgd-nesterov", "lr": 0.05, "momentum": 0.9, "nesterov": true } ] }
/// </code></example>
public sealed class TrainConfig
{
    /// <summary>The run's name (summary title, run folder suffix).</summary>
    public string Name { get; set; } = "train";
    public ModelConfig Model { get; set; } = new();
    /// <summary>The parameters of a problem (<see cref="ModelConfig.IsProblem"/>); absent for the Fashion-MNIST models.</summary>
    public ProblemConfig? Problem { get; set; }
    public DataConfig Data { get; set; } = new();
    public TrainingConfig Training { get; set; } = new();
    public ScheduleConfig Schedule { get; set; } = new();
    /// <summary>The optimizers to compare, each from the same initialization and on the same minibatches.</summary>
    public OptimizerConfig[]? Optimizers { get; set; }
    /// <summary>The folder under which <c>&lt;time&gt;-&lt;name&gt;/</c> is created (relative to the working directory).</summary>
    public string Output { get; set; } = "runs";
    /// <summary>Where the job trains (<see cref="TrainJob.OpenDevice"/>): <c>cpu</c> (CPU layers and the CPU reference
    /// step), <c>emulator</c> or <c>cuda</c> (layers and the fused step on that device: the device path), <c>auto</c>
    /// (cuda when a GPU opens, else cpu; the embedded default). The mlp and logreg models only on a device.</summary>
    public string Backend { get; set; } = "cpu";

    /// <summary>The values of <see cref="Backend"/>.</summary>
    public static IReadOnlyList<string> BackendNames { get; } = ["cpu", "emulator", "cuda", "auto"];

    /// <summary>Reads <paramref name="path"/>.</summary>
    /// <exception cref="ConfigException">Missing file, bad JSON, unknown key, bad value.</exception>
    public static TrainConfig Load(string path)
    {
        if (path.Length == 0) throw new ConfigException("the config path is empty; give a file");
        try
        {
            // A regular file only, opened without blocking (a FIFO or a device is refused at once), at most 16 MiB.
            using var s = new MemoryStream(SafeFile.ReadAllBytes(path, 16L << 20));
            return Load(s, $"config file '{path}'");
        }
        catch (FileNotFoundException) { throw new ConfigException($"config file '{path}' not found"); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InsufficientMemoryException)
        {
            throw new ConfigException($"config file {e.Message}", e);
        }
    }

    /// <summary>The embedded default config (the job <c>cudaadam train</c> runs without an argument).</summary>
    public static TrainConfig Default()
    {
        using var s = typeof(TrainConfig).Assembly.GetManifestResourceStream("CudaAdam.Training.Jobs.default-train.json")
                      ?? throw new InvalidOperationException("the embedded default-train.json is missing (a build problem)");
        return Load(s, "the embedded default config");
    }

    /// <summary>Reads JSON from <paramref name="json"/>; <paramref name="what"/> names it in errors. Every key is
    /// checked first against the config's schema (the properties of these classes under their snake-case names, and
    /// for each optimizer entry the hyperparameter schema): an unknown key is refused with its JSON path, the keys valid
    /// there and the nearest one. Then the sections are bound with Microsoft.Extensions.Configuration.</summary>
    public static TrainConfig Load(Stream json, string what)
    {
        using var buffer = new MemoryStream();
        json.CopyTo(buffer);
        JsonNode root;
        try
        {
            root = JsonNode.Parse(buffer.ToArray(), documentOptions: new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true })
                   ?? throw new ConfigException($"{what} is not a JSON object (it is null)");
        }
        catch (Exception e) when (e is JsonException or ArgumentException or InvalidOperationException)
        {
            throw new ConfigException($"{what} is not valid JSON: {e.Message}", e);
        }
        if (root is not JsonObject top) throw new ConfigException($"{what} is not a JSON object");
        // Keys first, with their paths; then the optimizers' hyperparameters are taken out (the schema reads them) and the
        // rest is bound.
        var settings = new List<List<(string, IReadOnlyList<string>)>>();
        try
        {
            CheckKeys(top, typeof(TrainConfig), "", what);
            if (Child(top, "optimizers") is JsonArray optimizers)
                foreach (var (entry, i) in optimizers.Select((e, i) => (e, i)))
                {
                    var mine = new List<(string, IReadOnlyList<string>)>();
                    settings.Add(mine);
                    if (entry is not JsonObject o) continue;
                    foreach (var (key, value) in o.ToArray())
                    {
                        if (Canonical(key) is "name" or "label") continue;
                        mine.Add((HyperparameterSchema.Canonical(key), Values(value, $"optimizers[{i}].{key}", what)));
                        o.Remove(key);
                    }
                }
        }
        catch (ArgumentException e) when (e.ParamName == "key")
        {
            // System.Text.Json.Nodes builds an object's dictionary when it is first read, and refuses a repeated name then.
            string key = System.Text.RegularExpressions.Regex.Match(e.Message, @"Key: (.*?) \(Parameter").Groups[1].Value;
            throw new ConfigException($"{what}: duplicate key '{key}' (give each key once)", e);
        }
        IConfigurationRoot bound;
        try { bound = new ConfigurationBuilder().AddJsonStream(new MemoryStream(System.Text.Encoding.UTF8.GetBytes(top.ToJsonString()))).Build(); }
        catch (Exception e) when (e is InvalidDataException or FormatException or JsonException)
        {
            throw new ConfigException($"{what} is not valid JSON: {e.InnerException?.Message ?? e.Message}", e);
        }
        var config = new TrainConfig();
        try { bound.Bind(config, o => o.ErrorOnUnknownConfiguration = true); }
        catch (InvalidOperationException e)
        {
            throw new ConfigException($"{what}: {BinderMessage(e)}", e);
        }
        for (int i = 0; i < (config.Optimizers?.Length ?? 0); i++)
        {
            config.Optimizers![i].Path = $"optimizers[{i}]";
            config.Optimizers[i].Settings.AddRange(settings[i]);
        }
        return config;
    }

    private static string Canonical(string key) => key.Trim().ToLowerInvariant();

    private static JsonNode? Child(JsonObject o, string key) =>
        o.FirstOrDefault(p => Canonical(p.Key) == key).Value;

    /// <summary>The config keys of <paramref name="type"/>: its bindable properties under their
    /// <see cref="ConfigurationKeyNameAttribute"/> or lower-case name, with the property.</summary>
    private static Dictionary<string, System.Reflection.PropertyInfo> KeysOf(Type type) =>
        type.GetProperties(System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Instance)
            .Where(p => p.CanWrite && p.SetMethod!.IsPublic && p.GetCustomAttributes(typeof(JsonIgnoreAttribute), false).Length == 0)
            .ToDictionary(p => (p.GetCustomAttributes(typeof(ConfigurationKeyNameAttribute), false).FirstOrDefault() as ConfigurationKeyNameAttribute)?.Name
                               ?? p.Name.ToLowerInvariant(), p => p);

    /// <summary>Refuses an unknown or repeated key anywhere below <paramref name="o"/> (of config type <paramref name="type"/>).</summary>
    private static void CheckKeys(JsonObject o, Type type, string path, string what)
    {
        bool optimizer = type == typeof(OptimizerConfig);
        var keys = KeysOf(type);
        var valid = optimizer ? keys.Keys.Concat(HyperparameterSchema.Names).ToArray() : keys.Keys.ToArray();
        var seen = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in o)
        {
            string at = path.Length == 0 ? key : $"{path}.{key}";
            string c = optimizer && !keys.ContainsKey(Canonical(key)) ? HyperparameterSchema.Canonical(key) : Canonical(key);
            if (!valid.Contains(c)) throw new ConfigException($"{what}: {HyperparameterSchema.UnknownKey(at, key, valid, hyperparameters: optimizer)}");
            if (!seen.TryAdd(c, key)) throw new ConfigException($"{what}: key '{at}' is given twice (as '{seen[c]}' and '{key}')");
            if (!keys.TryGetValue(c, out var property)) continue;   // a hyperparameter: the schema reads it
            var t = Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType;
            if (value is JsonObject child && t.IsClass && t != typeof(string)) CheckKeys(child, t, at, what);
            else if (value is JsonArray items && t.IsArray && t.GetElementType()!.IsClass && t.GetElementType() != typeof(string))
                for (int i = 0; i < items.Count; i++)
                    if (items[i] is JsonObject item) CheckKeys(item, t.GetElementType()!, $"{at}[{i}]", what);
        }
    }

    /// <summary>A hyperparameter's value(s) as text: one for a number, string or boolean; one per item of an array.</summary>
    private static IReadOnlyList<string> Values(JsonNode? value, string at, string what)
    {
        static string? Scalar(JsonNode? v) => v is JsonValue x
            ? x.GetValueKind() switch
            {
                JsonValueKind.String => x.GetValue<string>(),
                JsonValueKind.Number => x.ToJsonString(),
                JsonValueKind.True => "true",
                JsonValueKind.False => "false",
                _ => null,
            }
            : null;
        if (Scalar(value) is { } one) return [one];
        if (value is JsonArray items && items.Count > 0 && items.All(i => Scalar(i) is not null)) return items.Select(i => Scalar(i)!).ToArray();
        throw new ConfigException($"{what}: {at} must be a single value (a number, a string, true or false), or [x, y] for torch's pairs " +
                                  $"({string.Join(", ", HyperparameterSchema.Tuples.Select(t => t.Torch))})");
    }

    /// <summary>The binder's message about a value that does not convert, in the config's words: its path in dots and
    /// what it must be ("training.epochs: 'two' is not an integer").</summary>
    private static string BinderMessage(InvalidOperationException e)
    {
        var m = System.Text.RegularExpressions.Regex.Match(e.Message, @"Failed to convert configuration value '(.*)' at '([^']*)' to type '([^']*)'");
        if (!m.Success) return e.Message + (e.InnerException is { } i ? " (" + i.Message + ")" : "");
        string path = string.Join('.', m.Groups[2].Value.Split(':').Select(p => int.TryParse(p, out _) ? $"[{p}]" : System.Text.RegularExpressions.Regex.Replace(p, "(?<=[a-z])([A-Z])", "_$1").ToLowerInvariant())).Replace(".[", "[");
        string type = m.Groups[3].Value;
        string expected = type.Contains("Int") ? "an integer" : type.Contains("Double") || type.Contains("Single") ? "a number"
            : type.Contains("Boolean") ? "true or false" : "a " + type.Split('.').Last().TrimEnd(']');
        return $"{path}: '{m.Groups[1].Value}' is not {expected}";
    }

    /// <summary>
    /// Refuses, up front and with the number needed, a model or problem this machine cannot hold: a layer with more
    /// weights than one array holds, or an estimate of the memory a run needs (parameters, gradients and up to four
    /// state buffers in float32, plus the activations of one batch) above the memory available.
    /// </summary>
    private void CheckSizes()
    {
        const long Floats = 6 * 4L;   // parameter, gradient, m, v, vmax/aux, the shared initialization
        if (Model.IsProblem)
        {
            if (Problem!.Dimension is int d)
            {
                // float32 x and its state, and the problem's own double vectors (curvatures, noise).
                long needed = MemoryBudget.Product(d, Floats + 2 * 8L);
                try { MemoryBudget.Require(needed, $"problem.dimension {d:N0}"); }
                catch (InsufficientMemoryException e) { throw new ConfigException(e.Message, e); }
            }
            return;
        }
        int[] widths = Model.Kind switch
        {
            "mlp" => [784, .. Model.Hidden!, 10],
            "vae" => [784, Model.Hidden![0], 2 * Model.Latent!.Value, Model.Latent.Value, Model.Hidden[0], 784],
            _ => [],
        };
        if (widths.Length == 0) return;
        long parameters = 0, units = 0;
        for (int i = 1; i < widths.Length; i++)
        {
            long weights = MemoryBudget.Product(widths[i - 1], widths[i]);
            if (weights > Array.MaxLength)
                throw new ConfigException($"model.hidden [{string.Join(", ", Model.Hidden!)}]: the {Model.Kind}'s layer {widths[i - 1]}->{widths[i]} has " +
                                          $"{weights:N0} weights, more than one array holds ({Array.MaxLength:N0}); use smaller widths");
            parameters += weights + widths[i];
            units += widths[i];
        }
        long batch = Math.Min(Training.BatchSize, 70_000);   // a batch never exceeds the data set
        long activations = MemoryBudget.Product(MemoryBudget.Product(batch, units + 784), 3 * 4L);
        if (MemoryBudget.Product(batch, widths.Max()) > Array.MaxLength)
            throw new ConfigException($"training.batch_size {Training.BatchSize:N0} with model.hidden [{string.Join(", ", Model.Hidden!)}]: one batch of " +
                                      $"activations has more elements than one array holds ({Array.MaxLength:N0}); use a smaller batch or smaller widths");
        long need = MemoryBudget.Product(parameters, Floats);
        need = need > long.MaxValue - activations ? long.MaxValue : need + activations;
        try { MemoryBudget.Require(need, $"model.hidden [{string.Join(", ", Model.Hidden!)}] ({parameters:N0} parameters, batch {batch:N0})"); }
        catch (InsufficientMemoryException e) { throw new ConfigException(e.Message + "; use smaller widths", e); }
    }

    /// <summary>The config that gives nothing but a model kind and one optimizer, each section resolved on its own (its
    /// defaults filled; no check across sections, which the defaults of two sections may fail together, e.g. the default
    /// batch size over a 10-sample problem): what <see cref="TrainJob.ConfigFingerprint"/> compares with.</summary>
    internal static TrainConfig Defaults(string modelKind, string optimizerName)
    {
        var c = new TrainConfig { Model = new ModelConfig { Kind = modelKind }, Optimizers = [new OptimizerConfig { Name = optimizerName }] };
        c.Model.Resolve();
        if (c.Model.IsProblem) (c.Problem = new ProblemConfig()).Resolve(modelKind);
        c.Data.Resolve();
        c.Training.Resolve();
        c.Optimizers[0].Resolve();
        return c;
    }

    /// <summary>Fills defaults and checks every value; returns this.</summary>
    /// <exception cref="ConfigException">Names the setting and what it must be.</exception>
    public TrainConfig Resolve()
    {
        Model.Resolve();
        if (Model.IsProblem)
        {
            Problem ??= new ProblemConfig();
            Problem.Resolve(Model.Kind);
        }
        else if (Problem is not null)
            throw new ConfigException($"problem: model.kind '{Model.Kind}' is a Fashion-MNIST model; the \"problem\" section belongs to the problem kinds ({string.Join(", ", ProblemConfig.Kinds)})");
        Data.Resolve();
        Training.Resolve();
        CheckSizes();   // before anything of that size is allocated (Problem.Create below builds the problem)
        if (Model.IsProblem && Problem!.Create(Model.Kind).DataSize is int n && Training.BatchSize > n)
            throw new ConfigException($"training.batch_size: {Training.BatchSize} exceeds the {n} samples of {Model.Kind} (B = 1 is the paper's setting)");
        try { Schedule.ToScheduler(); }
        catch (ArgumentException e) { throw new ConfigException($"schedule: {e.Message}", e); }
        if (Optimizers is null || Optimizers.Length == 0)
            throw new ConfigException("optimizers: list at least one optimizer, e.g. [{ \"name\": \"adam\" }]");
        foreach (var o in Optimizers) o.Resolve();
        var dup = Optimizers.GroupBy(o => o.Id).FirstOrDefault(g => g.Count() > 1);
        if (dup is not null) throw new ConfigException($"optimizers: two entries are labelled '{dup.Key}'; give each a distinct \"label\"");
        if (!BackendNames.Contains(Backend, StringComparer.OrdinalIgnoreCase))
            throw new ConfigException($"backend: unknown backend '{Backend}'; known backends: {string.Join(", ", BackendNames)}");
        if (string.IsNullOrWhiteSpace(Name) || Name.IndexOfAny(Path.GetInvalidFileNameChars()) >= 0 || Name.Contains(' '))
            throw new ConfigException($"name: '{Name}' must be a non-empty file-name-safe word (it names the run folder)");
        return this;
    }

    /// <summary>The config as JSON with snake_case keys (what <see cref="Load(string)"/> reads). A problem's config
    /// leaves out what a problem does not use: the <c>data</c> section and the model's dropout keys.</summary>
    public string ToJson()
    {
        var json = JsonSerializer.SerializeToNode(this, JsonOptions)!.AsObject();
        // Each optimizer's hyperparameters, flat beside its name (after Resolve: every key of the schema).
        if (json["optimizers"] is JsonArray entries)
            for (int i = 0; i < entries.Count; i++)
                foreach (var (key, values) in Optimizers![i].Settings)
                    entries[i]![key] = values.Count == 1 ? Node(key, values[0]) : new JsonArray(values.Select(v => Node(key, v)).ToArray());
        if (Model.IsProblem)
        {
            json.Remove("data");
            var model = json["model"]!.AsObject();
            model.Remove("dropout");
            model.Remove("input_dropout");
        }
        return json.ToJsonString(JsonOptions);

        // A finite number or a boolean as JSON's own; anything else (an enum's name, inf) as a string.
        static JsonNode? Node(string key, string raw) =>
            raw is "true" or "false" ? JsonValue.Create(raw == "true")
            : double.TryParse(raw, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out double d) && double.IsFinite(d)
                ? JsonValue.Create(d)
                : JsonValue.Create(raw);
    }

    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };
}

public sealed class ModelConfig
{
    /// <summary><c>mlp</c> (Kingma &amp; Ba Fig. 2), <c>logreg</c> (Fig. 1), <c>cnn</c> (DeepOBS fmnist_2c2d,
    /// <see cref="Models.ModelZoo.Cnn"/>: fixed architecture, no dropout) or <c>vae</c> (Fig. 4, <see cref="Models.Vae"/>:
    /// loss the negative ELBO, no accuracy; dropout keys ignored) on Fashion-MNIST; or one of the stochastic
    /// problems of <see cref="ProblemConfig.Kinds"/> (<c>quadratic_deep</c>, <c>rosenbrock</c>, ...), whose settings
    /// are in the <c>problem</c> section and which use neither <c>data</c> nor the dropout keys.</summary>
    public string Kind { get; set; } = "mlp";
    /// <summary>Whether <see cref="Kind"/> names a problem (<see cref="ProblemConfig.Kinds"/>) rather than a model.</summary>
    [System.Text.Json.Serialization.JsonIgnore] public bool IsProblem => ProblemConfig.Kinds.Contains(Kind);
    /// <summary>Hidden widths of the MLP (default [256, 256]; the paper's is [1000, 1000]); for the VAE one width, that
    /// of the encoder's and the decoder's hidden layer (default [500], the paper's). Not for logreg or cnn.</summary>
    public int[]? Hidden { get; set; }
    /// <summary>The VAE's latent dimensions (default 50, the paper's). Only for kind <c>vae</c>.</summary>
    public int? Latent { get; set; }
    /// <summary>Dropout after each hidden layer (MLP).</summary>
    public double Dropout { get; set; } = 0.5;
    /// <summary>Dropout on the input pixels (MLP).</summary>
    [ConfigurationKeyName("input_dropout")]
    public double InputDropout { get; set; } = 0.2;

    internal void Resolve()
    {
        switch (Kind)
        {
            case "mlp":
                Hidden ??= [256, 256];
                if (Hidden.Length == 0 || Hidden.Any(h => h < 1))
                    throw new ConfigException($"model.hidden: [{string.Join(", ", Hidden)}] must list at least one positive width");
                break;
            case "logreg":
                if (Hidden is { Length: > 0 }) throw new ConfigException("model.hidden: logistic regression has no hidden layers; remove the key or use kind \"mlp\"");
                Hidden = null;
                break;
            case "cnn":
                if (Hidden is { Length: > 0 }) throw new ConfigException("model.hidden: the cnn (DeepOBS fmnist_2c2d) has a fixed architecture; remove the key or use kind \"mlp\"");
                Hidden = null;
                break;
            case "vae":
                Hidden ??= [500];
                if (Hidden.Length != 1 || Hidden[0] < 1)
                    throw new ConfigException($"model.hidden: [{string.Join(", ", Hidden)}]: the vae has one hidden width (encoder and decoder), e.g. [500]");
                Latent ??= 50;
                if (Latent < 1) throw new ConfigException($"model.latent: {Latent} must be >= 1 (the paper's is 50)");
                break;
            case var k when ProblemConfig.Kinds.Contains(k):
                if (Hidden is { Length: > 0 }) throw new ConfigException($"model.hidden: '{Kind}' is a problem, not a network; remove the key");
                Hidden = null;
                break;
            default:
                throw new ConfigException($"model.kind: unknown model '{Kind}'; known models: mlp, logreg, cnn, vae; problems: {string.Join(", ", ProblemConfig.Kinds)}");
        }
        if (Kind != "vae" && Latent is not null)
            throw new ConfigException($"model.latent: only the vae has a latent space; remove the key for kind \"{Kind}\"");
        if (!(Dropout >= 0 && Dropout < 1)) throw new ConfigException($"model.dropout: {Dropout} must be in [0, 1)");
        if (!(InputDropout >= 0 && InputDropout < 1)) throw new ConfigException($"model.input_dropout: {InputDropout} must be in [0, 1)");
    }
}

public sealed class DataConfig
{
    /// <summary><c>auto</c> (the system data set when installed, else the embedded subset), <c>system</c>
    /// (Debian's dataset-fashion-mnist), <c>embedded</c> (1,000/500 images), or a folder with the four gzip IDX files.</summary>
    public string Source { get; set; } = "auto";
    /// <summary>Use only the first N training images (null: all).</summary>
    [ConfigurationKeyName("train_limit")]
    public int? TrainLimit { get; set; }
    /// <summary>Use only the first N test images (null: all).</summary>
    [ConfigurationKeyName("test_limit")]
    public int? TestLimit { get; set; }

    internal void Resolve()
    {
        if (TrainLimit is < 1) throw new ConfigException($"data.train_limit: {TrainLimit} must be >= 1 (or absent for all)");
        if (TestLimit is < 1) throw new ConfigException($"data.test_limit: {TestLimit} must be >= 1 (or absent for all)");
        if (string.IsNullOrWhiteSpace(Source)) throw new ConfigException("data.source: empty; use auto, system, embedded or a folder");
    }

    /// <summary>Loads the data sets this config names.</summary>
    public (Dataset Train, Dataset Test) Load()
    {
        var (train, test) = FashionMnist.Load(Source);
        return (train.Take(TrainLimit), test.Take(TestLimit));
    }
}

public sealed class TrainingConfig
{
    public int Epochs { get; set; } = 3;
    [ConfigurationKeyName("batch_size")]
    public int BatchSize { get; set; } = 128;
    /// <summary>One seed for the initial weights, the minibatch order and the dropout masks (separate streams);
    /// every optimizer starts from the same weights and sees the same batches.</summary>
    public ulong Seed { get; set; } = 1;
    /// <summary>Write a checkpoint of each optimizer's run at the end of every epoch (run folder, checkpoints/).</summary>
    public bool Checkpoints { get; set; } = true;
    /// <summary>Clip the gradients to this global L2 norm before every step (torch's <c>clip_grad_norm_</c>,
    /// <see cref="GradClipping"/>), or null (default) for no clipping.</summary>
    [ConfigurationKeyName("max_grad_norm")]
    public double? MaxGradNorm { get; set; }

    internal void Resolve()
    {
        if (Epochs < 1) throw new ConfigException($"training.epochs: {Epochs} must be >= 1");
        if (BatchSize < 1) throw new ConfigException($"training.batch_size: {BatchSize} must be >= 1");
        try { GradClipping.Validate(MaxGradNorm); }
        catch (ArgumentException e) { throw new ConfigException($"training.max_grad_norm: {e.Message}", e); }
    }
}

public sealed class ScheduleConfig
{
    /// <summary>One of <see cref="LrScheduler.Kinds"/> (<see cref="LrScheduler.ForKind"/>).</summary>
    public string Kind { get; set; } = "constant";
    public long Warmup { get; set; }
    public double Final { get; set; }
    [ConfigurationKeyName("step_size")]
    public long StepSize { get; set; } = 1000;
    public double Gamma { get; set; } = 0.1;

    /// <summary>The trainer's scheduler (<see cref="TrainerOptions.Scheduler"/>).</summary>
    /// <exception cref="ArgumentException">A bad setting, named.</exception>
    public Func<Optimizer, long, LrScheduler> ToScheduler() => LrScheduler.ForKind(Kind, Warmup, Final, StepSize, Gamma);
}

/// <summary>One optimizer of the comparison: its name (<see cref="AlgorithmNames"/>), a label, and torch.optim's
/// hyperparameters, every key of the one schema (<see cref="HyperparameterSchema"/>: each property of
/// <see cref="CudaAdam.Hyperparameters"/> under its snake-case torch keyword, kebab case accepted, and torch's pairs
/// <c>"betas": [0.9, 0.999]</c>); keys left out take torch.optim's defaults (<see cref="CudaAdam.Hyperparameters.Defaults"/>).
/// <c>amsgrad</c> is Adam with <c>"amsgrad": true</c>; sgd-nesterov is SGD with momentum and <c>"nesterov": true</c>.</summary>
public sealed class OptimizerConfig
{
    public string Name { get; set; } = "";
    /// <summary>The name in tables, plots and files (default: the optimizer's name).</summary>
    public string? Label { get; set; }

    /// <summary>The hyperparameter keys given, in order, canonical (snake case), each with its value(s) as written (one,
    /// or one per part of a torch pair); <see cref="TrainConfig.Load(Stream, string)"/> fills it from the entry's keys
    /// other than name and label, and <see cref="TrainConfig.ToJson"/> writes every key back, resolved.</summary>
    [JsonIgnore] public List<(string Key, IReadOnlyList<string> Values)> Settings { get; init; } = [];

    /// <summary>Where the entry is in the config, for messages: <c>optimizers[1]</c>.</summary>
    [JsonIgnore] public string Path { get; internal set; } = "optimizers[?]";

    /// <summary>Whether this optimizer is Schedule-Free (it has train/eval modes and ignores the job's schedule).</summary>
    [JsonIgnore] public bool ScheduleFree => Algorithm.Info().EvalInterpolation is not null;

    /// <summary>The keys only the Schedule-Free optimizers take (the other algorithms refuse them).</summary>
    public static IReadOnlyList<string> ScheduleFreeKeys { get; } = ["warmup_steps", "r", "weight_lr_power"];

    [JsonIgnore] public Algorithm Algorithm { get; private set; }
    /// <summary>The label, or the name when there is none.</summary>
    [JsonIgnore] public string Id => Label ?? Name;

    /// <summary>The hyperparameters: torch.optim's defaults for the algorithm with the given keys over them.</summary>
    /// <exception cref="ArgumentException">A key or value the schema refuses, named by its JSON path.</exception>
    public Hyperparameters Hyperparameters()
    {
        var h = CudaAdam.Hyperparameters.Defaults(Algorithm);
        foreach (var (key, values) in Settings)
            h = HyperparameterSchema.Apply(h, key, values, $"{Path}.{key}", Algorithm);
        return h;
    }

    internal void Resolve()
    {
        try { Algorithm = AlgorithmNames.Parse(Name); }
        catch (ArgumentException e) { throw new ConfigException($"{Path}.name: {e.Message}", e); }
        Label ??= Name;
        if (Label.Length == 0 || Label.IndexOfAny(System.IO.Path.GetInvalidFileNameChars()) >= 0 || Label.Contains(' ') || Label.Contains(','))
            throw new ConfigException($"{Path}.label: '{Label}' must be a non-empty word without spaces, commas or '/' (it names files)");
        var seen = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, _) in Settings)
            foreach (var part in HyperparameterSchema.TupleParts(key, Algorithm) ?? [key])
                if (!seen.TryAdd(part, key))
                    throw new ConfigException($"{Path}: '{part}' is given twice ({(seen[part] == key ? key : $"{seen[part]} and {key}")}); give it once");
        if (!ScheduleFree && Settings.Select(x => x.Key).Intersect(ScheduleFreeKeys).FirstOrDefault() is { } sf)
            throw new ConfigException($"{Path}.{sf}: warmup_steps, r and weight_lr_power are keys of the Schedule-Free optimizers " +
                                      $"(adamwschedulefree, sgdschedulefree), not {Name}; use the job's \"schedule\" for a warmup");
        Hyperparameters h;
        try { h = Hyperparameters(); }
        catch (ArgumentException e) { throw new ConfigException(e.Message, e); }
        try { h.Validate(Algorithm); }
        catch (ArgumentException e) { throw new ConfigException($"optimizers.{Label}: {e.Message}", e); }
        // The saved config states every number the run used: every key of the schema, resolved (the Schedule-Free keys
        // only for those optimizers, which alone may give them).
        Settings.Clear();
        foreach (var k in HyperparameterSchema.Keys)
            if (ScheduleFree || !ScheduleFreeKeys.Contains(k.Name)) Settings.Add((k.Name, [k.Format(h)]));
    }
}

/// <summary>
/// The settings of a problem kind (<see cref="Kinds"/>); a key that the kind does not use is an error, a key left out
/// takes the default below, and <see cref="Resolve"/> writes every value the run uses back (the saved config.json
/// states them). <c>training.batch_size</c> is B, the number of samples averaged per stochastic gradient (1 is the
/// papers' setting for every problem but quadratic_deep, where DeepOBS uses 128).
/// <code>
/// quadratic_deep     DeepOBS's 100-d noisy quadratic (<see cref="QuadraticDeep"/>); no keys; an epoch is ⌊1000/B⌋ steps
/// reddi-cycle3       Reddi et al. §3 (<see cref="ReddiOnline"/>): c (10)
/// reddi-online       Reddi et al. §5, 1010 every 101st round, else −10: no keys
/// reddi-stochastic   Reddi et al. §5, 1010 with probability 0.01, else −10: no keys
/// zhang              Zhang et al. 2022 (<see cref="ZhangFiniteSum"/>): n (10), a (1); an epoch is ⌊n/B⌋ steps
/// rosenbrock         <see cref="NoisyRosenbrock"/>: dimension (10), sigma (1)
/// paffine-quadratic  <see cref="PAffineQuadratic"/>: dimension (100), condition (100), sigma0 (0.1), sigma1 (1), p (2)
/// streams (reddi-*, rosenbrock, paffine-quadratic): steps_per_epoch (100), the steps between evaluations
/// </code>
/// </summary>
public sealed class ProblemConfig
{
    /// <summary>The problem kinds, as <c>model.kind</c>.</summary>
    public static readonly IReadOnlyList<string> Kinds =
        ["quadratic_deep", "reddi-cycle3", "reddi-online", "reddi-stochastic", "zhang", "rosenbrock", "paffine-quadratic"];

    public int? Dimension { get; set; }
    public double? Sigma { get; set; }
    public double? Sigma0 { get; set; }
    public double? Sigma1 { get; set; }
    public double? P { get; set; }
    public double? Condition { get; set; }
    public int? N { get; set; }
    public double? C { get; set; }
    public double? A { get; set; }
    [ConfigurationKeyName("steps_per_epoch")]
    public int? StepsPerEpoch { get; set; }

    private static readonly Dictionary<string, string[]> KeysOf = new()
    {
        ["quadratic_deep"] = [],
        ["reddi-cycle3"] = ["c", "steps_per_epoch"],
        ["reddi-online"] = ["steps_per_epoch"],
        ["reddi-stochastic"] = ["steps_per_epoch"],
        ["zhang"] = ["n", "a"],
        ["rosenbrock"] = ["dimension", "sigma", "steps_per_epoch"],
        ["paffine-quadratic"] = ["dimension", "condition", "sigma0", "sigma1", "p", "steps_per_epoch"],
    };

    private IEnumerable<(string Key, bool Given)> Given() =>
    [
        ("dimension", Dimension is not null), ("sigma", Sigma is not null), ("sigma0", Sigma0 is not null),
        ("sigma1", Sigma1 is not null), ("p", P is not null), ("condition", Condition is not null), ("n", N is not null),
        ("c", C is not null), ("a", A is not null), ("steps_per_epoch", StepsPerEpoch is not null),
    ];

    /// <summary>Checks that only the kind's keys are given, fills the defaults, and builds the problem once to check
    /// the values.</summary>
    /// <exception cref="ConfigException">A key the kind does not use, or a bad value; names it.</exception>
    internal void Resolve(string kind)
    {
        var allowed = KeysOf[kind];
        foreach (var (key, given) in Given())
            if (given && !allowed.Contains(key))
                throw new ConfigException($"problem.{key}: '{kind}' does not use it; its keys: {(allowed.Length == 0 ? "none" : string.Join(", ", allowed))}");
        switch (kind)
        {
            case "reddi-cycle3": C ??= 10; break;
            case "zhang": N ??= 10; A ??= 1; break;
            case "rosenbrock": Dimension ??= 10; Sigma ??= 1; break;
            case "paffine-quadratic": Dimension ??= 100; Condition ??= 100; Sigma0 ??= 0.1; Sigma1 ??= 1; P ??= 2; break;
        }
        if (allowed.Contains("steps_per_epoch"))
        {
            StepsPerEpoch ??= 100;
            if (StepsPerEpoch < 1) throw new ConfigException($"problem.steps_per_epoch: {StepsPerEpoch} must be >= 1");
        }
        try { Create(kind); }
        catch (ArgumentException e) { throw new ConfigException($"problem ({kind}): {e.Message}", e); }
    }

    /// <summary>The problem this (resolved) section describes.</summary>
    public IStochasticProblem Create(string kind) => kind switch
    {
        "quadratic_deep" => new QuadraticDeep(),
        "reddi-cycle3" => ReddiOnline.Cycle3(C ?? 10),
        "reddi-online" => ReddiOnline.Online(),
        "reddi-stochastic" => ReddiOnline.Stochastic(),
        "zhang" => new ZhangFiniteSum(N ?? 10, A ?? 1),
        "rosenbrock" => new NoisyRosenbrock(Dimension ?? 10, Sigma ?? 1),
        "paffine-quadratic" => new PAffineQuadratic(Dimension ?? 100, Condition ?? 100, Sigma0 ?? 0.1, Sigma1 ?? 1, P ?? 2),
        _ => throw new ConfigException($"model.kind: '{kind}' is not a problem; problems: {string.Join(", ", Kinds)}"),
    };
}
