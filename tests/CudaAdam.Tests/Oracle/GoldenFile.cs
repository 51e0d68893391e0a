using System.Globalization;
using System.Reflection;
using System.Text.Json;

namespace CudaAdam.Tests.Oracle;

/// <summary>torch.optim's state of one tensor after the last step of a golden case, under torch's names.</summary>
/// <param name="Step">torch's <c>state['step']</c>, or null for an algorithm without one (SGD).</param>
/// <param name="Buffers">exp_avg, exp_avg_sq, ... ; a null value is a buffer torch keeps as None (SGD without momentum).</param>
/// <param name="Scalars">scalar state other than the step (NAdam's mu_product).</param>
public sealed record GoldenState(long? Step, IReadOnlyDictionary<string, float[]?> Buffers, IReadOnlyDictionary<string, double> Scalars);

/// <summary>Params after an intermediate step.</summary>
public sealed record GoldenSnapshot(int AfterStep, float[][] Params);

/// <summary>
/// One case of <c>tests/oracle/golden/&lt;algorithm&gt;.json</c>, written by <c>tests/oracle/make_golden.py</c> from
/// torch.optim: initial params, each step's gradients (null: p.grad = None), and what torch computed.
/// <see cref="ParamMaxAbs"/> and <see cref="StateMaxAbs"/> hold the largest magnitude each coordinate had over torch's
/// trajectory (2 significant digits), the scale of the tolerance (<see cref="GoldenTolerance"/>).
/// </summary>
public sealed record GoldenCase(
    string File,
    Algorithm Algorithm,
    string Name,
    Hyperparameters Hyperparameters,
    int Steps,
    string[] ParamNames,
    float[][] Init,
    float[]?[][] Grads,
    GoldenSnapshot[] Snapshots,
    float[][] FinalParams,
    GoldenState?[] FinalState,
    double[][] ParamMaxAbs,
    IReadOnlyDictionary<string, double[]>?[] StateMaxAbs)
{
    public override string ToString() => Name;
}

/// <summary>Reads the golden files. Every float32 is a decimal string parsed with <see cref="float.Parse(string, IFormatProvider)"/>,
/// which rounds correctly, so the bits are exactly torch's.</summary>
public static class GoldenFile
{
    /// <summary>The folder of the golden files.</summary>
    public static string Folder => TestPaths.InRepo("tests", "oracle", "golden");

    /// <summary>The generator, to be run with /usr/bin/python3.</summary>
    public static string Generator => TestPaths.InRepo("tests", "oracle", "make_golden.py");

    /// <summary>The format version this reader understands (make_golden.py's FORMAT_VERSION).</summary>
    public const int FormatVersion = 1;

    /// <summary>All cases of all files, file by file in name order.</summary>
    /// <exception cref="FileNotFoundException">The folder holds no golden file.</exception>
    public static IReadOnlyList<GoldenCase> LoadAll()
    {
        var files = Directory.Exists(Folder) ? Directory.GetFiles(Folder, "*.json").OrderBy(f => f, StringComparer.Ordinal).ToArray() : [];
        if (files.Length == 0)
            throw new FileNotFoundException($"no golden files in {Folder}: generate them with /usr/bin/python3 tests/oracle/make_golden.py");
        return files.SelectMany(Load).ToArray();
    }

    /// <summary>The cases of one file.</summary>
    public static IReadOnlyList<GoldenCase> Load(string path)
    {
        using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
        var root = doc.RootElement;
        string file = Path.GetFileName(path);
        int format = root.GetProperty("format").GetInt32();
        if (format != FormatVersion)
            throw new InvalidDataException($"{file}: golden format {format}, this reader understands {FormatVersion}; update GoldenFile.cs or regenerate");
        var algorithm = AlgorithmNames.Parse(root.GetProperty("algorithm").GetString()!);
        var cases = new List<GoldenCase>();
        foreach (var c in root.GetProperty("cases").EnumerateArray())
        {
            string name = c.GetProperty("name").GetString()!;
            try
            {
                cases.Add(ReadCase(file, algorithm, name, c));
            }
            catch (Exception e) when (e is not InvalidDataException)
            {
                throw new InvalidDataException($"{file}: case {name}: {e.Message}", e);
            }
        }
        return cases;
    }

    private static GoldenCase ReadCase(string file, Algorithm algorithm, string name, JsonElement c)
    {
        var parameters = c.GetProperty("params").EnumerateArray().ToArray();
        var snapshots = c.GetProperty("snapshots").EnumerateArray()
            .Select(s => new GoldenSnapshot(s.GetProperty("after_step").GetInt32(), Tensors(s.GetProperty("params"))))
            .ToArray();
        var final = c.GetProperty("final");
        var maxAbs = c.GetProperty("max_abs");
        return new GoldenCase(
            file, algorithm, name,
            ReadHyperparameters(algorithm, c.GetProperty("hyperparameters")),
            c.GetProperty("steps").GetInt32(),
            parameters.Select(p => p.GetProperty("name").GetString()!).ToArray(),
            parameters.Select(p => Floats(p.GetProperty("init"))).ToArray(),
            c.GetProperty("grads").EnumerateArray()
                .Select(step => step.EnumerateArray().Select(g => g.ValueKind == JsonValueKind.Null ? null : Floats(g)).ToArray())
                .ToArray(),
            snapshots,
            Tensors(final.GetProperty("params")),
            final.GetProperty("state").EnumerateArray().Select(ReadState).ToArray(),
            maxAbs.GetProperty("params").EnumerateArray().Select(Doubles).ToArray(),
            maxAbs.GetProperty("state").EnumerateArray()
                .Select(s => s.ValueKind == JsonValueKind.Null
                    ? null
                    : (IReadOnlyDictionary<string, double[]>)s.EnumerateObject().ToDictionary(f => f.Name, f => Doubles(f.Value)))
                .ToArray());
    }

    /// <summary>
    /// <see cref="Hyperparameters.Defaults"/> of the algorithm with every property the file names set to the file's
    /// value (the file names them all, torch defaults included). An unknown name is an error, not something to skip.
    /// </summary>
    private static Hyperparameters ReadHyperparameters(Algorithm algorithm, JsonElement hp)
    {
        var result = Hyperparameters.Defaults(algorithm) with { };
        foreach (var field in hp.EnumerateObject())
        {
            var prop = typeof(Hyperparameters).GetProperty(field.Name, BindingFlags.Public | BindingFlags.Instance)
                       ?? throw new InvalidDataException(
                           $"hyperparameter '{field.Name}' is not a property of CudaAdam.Hyperparameters; " +
                           "fix KWARG_TO_PROPERTY in tests/oracle/make_golden.py or add the property");
            object value = prop.PropertyType == typeof(bool) ? field.Value.GetBoolean() : field.Value.GetDouble();
            prop.SetValue(result, value); // init-only setter on a fresh copy, before anyone else sees it
        }
        return result;
    }

    private static GoldenState? ReadState(JsonElement s)
    {
        if (s.ValueKind == JsonValueKind.Null) return null;
        long? step = null;
        var buffers = new Dictionary<string, float[]?>();
        var scalars = new Dictionary<string, double>();
        foreach (var field in s.EnumerateObject())
        {
            if (field.Name == "step") step = field.Value.GetInt64();
            else if (field.Value.ValueKind == JsonValueKind.Null) buffers[field.Name] = null;
            else if (field.Value.ValueKind == JsonValueKind.Array) buffers[field.Name] = Floats(field.Value);
            else scalars[field.Name] = field.Value.GetDouble();
        }
        return new GoldenState(step, buffers, scalars);
    }

    private static float[][] Tensors(JsonElement a) => a.EnumerateArray().Select(Floats).ToArray();

    private static double[] Doubles(JsonElement a) => a.EnumerateArray().Select(e => e.GetDouble()).ToArray();

    private static float[] Floats(JsonElement a) =>
        a.EnumerateArray().Select(e => float.Parse(e.GetString()!, NumberStyles.Float, CultureInfo.InvariantCulture)).ToArray();
}
