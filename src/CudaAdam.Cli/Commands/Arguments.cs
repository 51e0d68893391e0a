using System.Globalization;

namespace CudaAdam.Cli.Commands;

/// <summary>
/// The command-line grammar shared by the commands: <c>--name value</c>, <c>--name=value</c>, and boolean flags
/// that take no value (<c>--amsgrad</c>) or an explicit one (<c>--amsgrad=true</c>, <c>--amsgrad=false</c>).
/// An option given twice, an unknown option, a missing value or a stray argument is a <see cref="UsageException"/>.
/// </summary>
internal sealed class Arguments
{
    private readonly Dictionary<string, string> _values = new(StringComparer.Ordinal);

    /// <summary>Parses <paramref name="args"/> against the known value options and flags (names without the dashes).</summary>
    public static Arguments Parse(IReadOnlyList<string> args, IEnumerable<string> valueOptions, IEnumerable<string> flags)
    {
        var values = valueOptions.ToHashSet(StringComparer.Ordinal);
        var flagSet = flags.ToHashSet(StringComparer.Ordinal);
        var result = new Arguments();
        for (int i = 0; i < args.Count; i++)
        {
            string a = args[i];
            if (!a.StartsWith("--", StringComparison.Ordinal) || a.Length == 2)
            {
                string previous = i > 0 ? args[i - 1] : "";
                if (previous.StartsWith("--", StringComparison.Ordinal) && flagSet.Contains(previous[2..]))
                    throw new UsageException($"unexpected argument '{a}': {previous} is a flag and takes no value " +
                                             $"(write {previous} or {previous}={a.ToLowerInvariant()})");
                throw new UsageException($"unexpected argument '{a}' (options start with --)");
            }
            string name = a[2..];
            string? inline = null;
            int eq = name.IndexOf('=');
            if (eq >= 0)
            {
                inline = name[(eq + 1)..];
                name = name[..eq];
            }
            string value;
            if (flagSet.Contains(name))
            {
                value = inline ?? "true";
                ParseBool(value, "--" + name);
            }
            else if (values.Contains(name))
            {
                if (inline is not null) value = inline;
                else if (i + 1 < args.Count && !args[i + 1].StartsWith("--", StringComparison.Ordinal)) value = args[++i];
                else throw new UsageException($"option --{name} needs a value");
            }
            else
            {
                var known = values.Concat(flagSet).Order(StringComparer.Ordinal).ToArray();
                string hint = HyperparameterSchema.TorchHint(name) is { } h ? $"; {h}"
                    : HyperparameterSchema.Nearest(name, known) is { } n ? $"; did you mean --{n}?" : "";
                throw new UsageException($"unknown option --{name}{hint}; known options: {string.Join(" ", known.Select(k => "--" + k))}");
            }
            if (value.Length == 0)
                throw new UsageException($"option --{name} has an empty value" + (name is "params" or "grads" or "out" or "trajectory" or "config" or "resume" or "output" or "torch" ? "; give a path" : ""));
            if (!result._values.TryAdd(name, value))
                throw new UsageException($"option --{name} is given twice");
        }
        return result;
    }

    /// <summary>The options given, by name (without dashes), in no particular order.</summary>
    public IReadOnlyDictionary<string, string> Values => _values;

    public string? Get(string name) => _values.GetValueOrDefault(name);

    public string Require(string name) => Get(name) ?? throw new UsageException($"missing --{name}");

    /// <summary>Parses "true"/"false" (any case); <paramref name="what"/> names the source in the error.</summary>
    public static bool ParseBool(string value, string what) =>
        value.Equals("true", StringComparison.OrdinalIgnoreCase) ? true
        : value.Equals("false", StringComparison.OrdinalIgnoreCase) ? false
        : throw new UsageException($"{what}: '{value}' is not a boolean (use true or false)");

    /// <summary>Parses a number in invariant culture (1e-3, 0.001, inf, nan).</summary>
    public static double ParseDouble(string value, string what) =>
        double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out double d)
            ? d
            : throw new UsageException($"{what}: '{value}' is not a number");

    /// <summary>Parses a non-negative integer.</summary>
    public static long ParseCount(string value, string what) =>
        long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out long n)
            ? n
            : throw new UsageException($"{what}: '{value}' is not a non-negative integer");
}
