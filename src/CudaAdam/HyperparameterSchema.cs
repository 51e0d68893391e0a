using System.Globalization;
using System.Reflection;

namespace CudaAdam;

/// <summary>One hyperparameter key: its snake-case name (torch.optim's keyword), its type and its field of
/// <see cref="Hyperparameters"/>.</summary>
public sealed class HyperparameterKey
{
    private readonly PropertyInfo _property;

    internal HyperparameterKey(PropertyInfo property)
    {
        _property = property;
        Name = HyperparameterSchema.Snake(property.Name);
        Type = property.PropertyType;
        if (!(Type == typeof(double) || Type == typeof(bool) || Type == typeof(int) || Type == typeof(long) || Type.IsEnum))
            throw new NotSupportedException($"Hyperparameters.{property.Name}: type {Type.Name} has no config/flag syntax (double, bool, int, long or an enum)");
    }

    /// <summary>torch.optim's keyword, snake case: <c>weight_decay</c>. Configs take it (or kebab case); flags are
    /// <c>--</c><see cref="Kebab"/>.</summary>
    public string Name { get; }
    /// <summary><c>weight-decay</c>.</summary>
    public string Kebab => Name.Replace('_', '-');
    /// <summary>The property of <see cref="Hyperparameters"/> it sets.</summary>
    public string Property => _property.Name;
    /// <summary>double, bool, int, long or an enum.</summary>
    public Type Type { get; }
    /// <summary>A boolean: a flag on the command line (<c>--amsgrad</c>, <c>--amsgrad=false</c>).</summary>
    public bool IsFlag => Type == typeof(bool);

    /// <summary>What a value must look like, for messages: "a number", "true or false", ...</summary>
    public string Expected => Type == typeof(double) ? "a number"
        : Type == typeof(bool) ? "true or false"
        : Type.IsEnum ? "one of " + string.Join(", ", Enum.GetNames(Type).Select(HyperparameterSchema.Snake))
        : "an integer";

    /// <summary>Parses <paramref name="raw"/> (invariant culture; booleans any case; enums by snake or member name).</summary>
    /// <exception cref="ArgumentException">"{where}: 'x' is not a number" (or the type's words).</exception>
    public object Parse(string raw, string where)
    {
        string s = raw.Trim();
        if (Type == typeof(double) && double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out double d)) return d;
        if (Type == typeof(bool))
        {
            if (s.Equals("true", StringComparison.OrdinalIgnoreCase)) return true;
            if (s.Equals("false", StringComparison.OrdinalIgnoreCase)) return false;
            throw new ArgumentException($"{where}: '{raw}' is not a boolean (use true or false)");
        }
        if (Type == typeof(int) && int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out int i)) return i;
        if (Type == typeof(long) && long.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out long l)) return l;
        if (Type.IsEnum)
            foreach (var n in Enum.GetNames(Type))
                if (string.Equals(n, s, StringComparison.OrdinalIgnoreCase) || HyperparameterSchema.Snake(n) == HyperparameterSchema.Canonical(s))
                    return Enum.Parse(Type, n);
        throw new ArgumentException(Type == typeof(double) ? $"{where}: '{raw}' is not a number" : $"{where}: '{raw}' is not {Expected}");
    }

    /// <summary>A copy of <paramref name="hp"/> with this key set to <paramref name="value"/> (of <see cref="Type"/>).</summary>
    public Hyperparameters Set(Hyperparameters hp, object value)
    {
        var copy = hp with { };
        _property.SetValue(copy, value);
        return copy;
    }

    /// <summary>This key's value in <paramref name="hp"/>.</summary>
    public object Get(Hyperparameters hp) => _property.GetValue(hp)!;

    /// <summary>The value as configs write it: round-trip numbers, <c>true</c>/<c>false</c>, snake-case enum names.</summary>
    public string Format(Hyperparameters hp) => Get(hp) switch
    {
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        bool b => b ? "true" : "false",
        Enum e => HyperparameterSchema.Snake(e.ToString()),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        var o => o.ToString()!,
    };

    /// <inheritdoc/>
    public override string ToString() => Name;
}

/// <summary>
/// The one schema of the hyperparameter keys that JSON configs (<c>train</c>'s optimizer entries, <c>replay
/// --config</c>) and command-line flags (<c>replay --lr ...</c>) accept, generated from <see cref="Hyperparameters"/>:
/// every public settable property is a key under torch.optim's snake-case keyword (<c>WeightDecay</c> →
/// <c>weight_decay</c>, <c>Beta1</c> → <c>beta1</c>), so a hyperparameter an algorithm's descriptor adds to the record
/// is in every config and flag set with no further code. torch's tuple keywords (<c>betas</c>, <c>etas</c>,
/// <c>step_sizes</c>) are accepted as pairs and mapped onto their parts where those exist; an unknown key gets the
/// valid ones, the nearest, and a hint for torch's names (<see cref="UnknownKey"/>).
/// </summary>
public static class HyperparameterSchema
{
    /// <summary>Every key, in the record's declaration order.</summary>
    public static IReadOnlyList<HyperparameterKey> Keys { get; } = typeof(Hyperparameters)
        .GetProperties(BindingFlags.Public | BindingFlags.Instance)
        .Where(p => p.CanWrite && p.GetCustomAttribute<System.Text.Json.Serialization.JsonIgnoreAttribute>() is null)
        .OrderBy(p => p.MetadataToken)
        .Select(p => new HyperparameterKey(p))
        .ToArray();

    /// <summary>torch's tuple keywords and the keys they split into (those whose parts are all keys here).</summary>
    public static IReadOnlyList<(string Torch, string[] Parts)> Tuples { get; } =
        new (string, string[])[]
            {
                ("betas", ["beta1", "beta2"]),
                ("etas", ["etaminus", "etaplus"]),                     // torch.optim.Rprop
                ("step_sizes", ["step_size_min", "step_size_max"]),    // torch.optim.Rprop
            }
            .Where(t => t.Item2.All(part => Find(part) is not null))
            .ToArray();

    /// <summary>torch.optim keywords with no hyperparameter here, and what to do instead.</summary>
    private static readonly Dictionary<string, string> TorchOnly = new(StringComparer.Ordinal)
    {
        ["foreach"] = "torch's foreach picks an implementation; here that is the backend (cpu, emulator, cuda)",
        ["fused"] = "torch's fused picks an implementation; every CudaAdam device step is fused (backend emulator or cuda)",
        ["capturable"] = "torch's capturable is DeviceBackendOptions.CaptureGraph with Residency.Device here",
        ["differentiable"] = "CudaAdam's steps are not differentiable",
        ["learning_rate"] = "the learning rate is 'lr', as in torch.optim",
        ["betas"] = "torch's betas is written as 'beta1' and 'beta2' here (or betas as a pair)",
        ["etas"] = "torch's etas (Rprop) is 'etaminus' and 'etaplus', which no algorithm of this build reads",
        ["step_sizes"] = "torch's step_sizes (Rprop) is 'step_size_min' and 'step_size_max', which no algorithm of this build reads",
    };

    /// <summary>The key named <paramref name="name"/> (canonical form), or null.</summary>
    public static HyperparameterKey? Find(string name)
    {
        string c = Canonical(name);
        foreach (var k in Keys)
            if (k.Name == c) return k;
        return null;
    }

    /// <summary>The parts of torch's tuple keyword <paramref name="name"/> (<c>betas</c> → beta1, beta2), or null. With
    /// <paramref name="algorithm"/>, that algorithm's own form where its descriptor declares one
    /// (<see cref="AlgorithmInfo.Tuples"/>: Adan's and AdEMAMix's <c>betas</c> are beta1, beta2, beta3).</summary>
    public static string[]? TupleParts(string name, Algorithm? algorithm = null)
    {
        string c = Canonical(name);
        if (algorithm is { } a)
            foreach (var t in a.Info().Tuples)
                if (t.Key == c) return [.. t.Components];
        foreach (var (torch, parts) in Tuples)
            if (torch == c) return parts;
        return null;
    }

    /// <summary>Every name a config accepts: the keys, then torch's tuple keywords.</summary>
    public static IEnumerable<string> Names => Keys.Select(k => k.Name).Concat(Tuples.Select(t => t.Torch));

    /// <summary>A key in canonical (snake, lower-case) form: <c>Weight-Decay</c> → <c>weight_decay</c>.</summary>
    public static string Canonical(string key) => key.Trim().ToLowerInvariant().Replace('-', '_');

    /// <summary>PascalCase to snake case: <c>InitialAccumulatorValue</c> → <c>initial_accumulator_value</c>,
    /// <c>Beta1</c> → <c>beta1</c>, <c>T0</c> → <c>t0</c>.</summary>
    public static string Snake(string pascal)
    {
        var sb = new System.Text.StringBuilder(pascal.Length + 4);
        for (int i = 0; i < pascal.Length; i++)
        {
            char c = pascal[i];
            if (char.IsUpper(c) && i > 0 && (char.IsLower(pascal[i - 1]) || char.IsDigit(pascal[i - 1]) ||
                                             (i + 1 < pascal.Length && char.IsLower(pascal[i + 1]) && char.IsUpper(pascal[i - 1]))))
                sb.Append('_');
            sb.Append(char.ToLowerInvariant(c));
        }
        return sb.ToString();
    }

    /// <summary>Sets <paramref name="name"/> (a key, or a tuple keyword with one value per part) from its raw value(s).</summary>
    /// <param name="hp">The hyperparameters so far.</param>
    /// <param name="name">The key as given.</param>
    /// <param name="raw">One value, or one per part of a tuple keyword (a JSON array, or "0.9,0.99" on a command line).</param>
    /// <param name="where">Names the source in messages: "optimizers[0].lr", "--lr".</param>
    /// <param name="algorithm">The algorithm the hyperparameters are for, when known: its own tuple forms apply
    /// (<see cref="TupleParts"/>).</param>
    /// <exception cref="ArgumentException">An unknown key (<see cref="UnknownKey"/>), a value that does not parse, or
    /// a tuple of the wrong length.</exception>
    public static Hyperparameters Apply(Hyperparameters hp, string name, IReadOnlyList<string> raw, string where, Algorithm? algorithm = null)
    {
        if (TupleParts(name, algorithm) is { } parts)
        {
            if (raw.Count != parts.Length)
                throw new ArgumentException($"{where}: {(algorithm is { } a && TupleParts(name)?.Length != parts.Length ? a.Name() + "'s" : "torch's")} " +
                                            $"{Canonical(name)} is {(parts.Length == 2 ? "a pair" : $"{parts.Length} values")} ({string.Join(", ", parts)}); " +
                                            $"give [{string.Join(", ", parts.Select(_ => "x"))}]");
            for (int i = 0; i < parts.Length; i++)
            {
                var part = Find(parts[i])!;
                hp = part.Set(hp, part.Parse(raw[i], $"{where}[{i}] ({part.Name})"));
            }
            return hp;
        }
        var key = Find(name) ?? throw new ArgumentException(UnknownKey(where, name, Names));
        if (raw.Count != 1) throw new ArgumentException($"{where}: must be a single value ({key.Expected})");
        return key.Set(hp, key.Parse(raw[0], where));
    }

    /// <summary>The one line for an unknown key: its JSON path (or flag), the nearest valid key or a hint when it is one
    /// of torch's names, and the valid keys.</summary>
    /// <param name="path">Where it was, the key included: <c>optimizers[1].learning_rate</c>, <c>--learning-rate</c>.</param>
    /// <param name="key">The key as given.</param>
    /// <param name="valid">The keys valid there.</param>
    /// <param name="hyperparameters">Whether hyperparameters belong there (then torch's names get their hint).</param>
    public static string UnknownKey(string path, string key, IEnumerable<string> valid, bool hyperparameters = true)
    {
        var names = valid.ToArray();
        string c = Canonical(key);
        string hint = (hyperparameters ? TorchHint(c) : null) is { } h ? $"; {h}" : Nearest(c, names) is { } n ? $"; did you mean '{n}'?" : "";
        return $"unknown key '{path}'{hint}; valid keys: {string.Join(", ", names)}";
    }

    /// <summary>What to write instead of torch.optim keyword <paramref name="key"/> that is not a key here, or null.</summary>
    public static string? TorchHint(string key) =>
        TorchOnly.TryGetValue(Canonical(key), out var h) && Find(key) is null && TupleParts(key) is null ? h : null;

    /// <summary>The name in <paramref name="names"/> nearest to <paramref name="key"/> (edit distance at most a third
    /// of its length, at least 2), or null.</summary>
    public static string? Nearest(string key, IEnumerable<string> names)
    {
        string c = Canonical(key);
        string? best = null;
        int bestDistance = int.MaxValue;
        foreach (var n in names)
        {
            int d = Distance(c, Canonical(n));
            if (d < bestDistance) (best, bestDistance) = (n, d);
        }
        return bestDistance <= Math.Max(2, c.Length / 3) ? best : null;
    }

    private static int Distance(string a, string b)
    {
        var row = new int[b.Length + 1];
        for (int j = 0; j <= b.Length; j++) row[j] = j;
        for (int i = 1; i <= a.Length; i++)
        {
            int diagonal = row[0];
            row[0] = i;
            for (int j = 1; j <= b.Length; j++)
            {
                int above = row[j];
                row[j] = Math.Min(Math.Min(row[j] + 1, row[j - 1] + 1), diagonal + (a[i - 1] == b[j - 1] ? 0 : 1));
                diagonal = above;
            }
        }
        return row[b.Length];
    }
}
