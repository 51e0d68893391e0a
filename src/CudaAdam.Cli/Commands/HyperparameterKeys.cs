using Microsoft.Extensions.Configuration;

namespace CudaAdam.Cli.Commands;

/// <summary>
/// Reads the flat JSON settings of <c>replay --config</c> against the one key schema (<see cref="HyperparameterSchema"/>:
/// torch.optim's keyword names, snake case or kebab case, plus torch's pairs such as <c>betas</c>).
/// </summary>
internal static class HyperparameterKeys
{
    /// <summary>
    /// Reads a flat JSON object of settings with Microsoft.Extensions.Configuration.Json: keys canonicalized with
    /// <see cref="HyperparameterSchema.Canonical"/>; every key must be in <paramref name="knownKeys"/> (snake case) and
    /// hold a single value, or an array of values for torch's pairs (<see cref="HyperparameterSchema.Tuples"/>).
    /// </summary>
    /// <exception cref="UsageException">Missing or malformed file, an unknown key (named, with the valid ones and the
    /// nearest), a key given twice (as kebab and snake), or a nested value.</exception>
    public static Dictionary<string, IReadOnlyList<string>> ReadConfig(string path, IReadOnlyCollection<string> knownKeys)
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
        var result = new Dictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal);
        foreach (var child in root.GetChildren())
        {
            string key = HyperparameterSchema.Canonical(child.Key);
            if (!knownKeys.Contains(key))
                throw new UsageException($"config file '{path}': {HyperparameterSchema.UnknownKey(child.Key, child.Key, knownKeys)}");
            IReadOnlyList<string> value;
            var items = child.GetChildren().ToArray();
            if (HyperparameterSchema.TupleParts(key) is { } parts && items.Length > 0 &&
                items.Select(i => i.Key).SequenceEqual(Enumerable.Range(0, items.Length).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture))) &&
                items.All(i => i.Value is not null && !i.GetChildren().Any()))
                value = items.Select(i => i.Value!).ToArray();
            else if (items.Length > 0 || child.Value is null)
                throw new UsageException($"config file '{path}': key '{child.Key}' must be a single value (a number, a string, true or false)" +
                                         (HyperparameterSchema.TupleParts(key) is { } p ? $" or [{string.Join(", ", p)}]" : ""));
            else value = [child.Value];
            if (!result.TryAdd(key, value))
                throw new UsageException($"config file '{path}': key '{key}' is given twice (as kebab and snake case)");
        }
        return result;
    }
}
