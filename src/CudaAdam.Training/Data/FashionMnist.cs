#pragma warning disable CS1591 // CS1591 backlog (issue 13): 6 public members here have no XML doc yet; document them, then delete this line
using System.Reflection;

namespace CudaAdam.Training.Data;

/// <summary>
/// Fashion-MNIST (Xiao, Rasul &amp; Vollgraf, 2017): 28×28 grey images of 10 clothing classes, 60,000 training and
/// 10,000 test images, the drop-in replacement for MNIST. Pixels are scaled to [0, 1] (x/255), no other
/// normalization.
/// </summary>
/// <remarks>Sources: <see cref="SystemDirectory"/> from Debian's <c>dataset-fashion-mnist</c>, or the subset embedded
/// in this assembly (the first 1,000 training and 500 test images, cut by Data/make-subset.py).</remarks>
public static class FashionMnist
{
    public const string SystemDirectory = "/usr/share/datasets/fashion-mnist";
    public const string DebianPackage = "dataset-fashion-mnist";
    public const int Features = 28 * 28, Classes = 10;
    public const int EmbeddedTrainCount = 1000, EmbeddedTestCount = 500;

    /// <summary>The class names, by label.</summary>
    public static readonly IReadOnlyList<string> ClassNames =
        ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];

    private static readonly string[] FileNames =
        ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"];

    /// <summary>Whether the full data set is installed at <see cref="SystemDirectory"/>.</summary>
    public static bool SystemInstalled => FileNames.All(f => File.Exists(Path.Combine(SystemDirectory, f)));

    /// <summary>
    /// Loads train and test sets from <paramref name="source"/>: <c>embedded</c> (the subset in this assembly),
    /// <c>system</c> (<see cref="SystemDirectory"/>), <c>auto</c> (system when installed, else embedded), or a directory
    /// holding the four gzip IDX files.
    /// </summary>
    /// <exception cref="FileNotFoundException">A file is missing; the message names the package that installs it.</exception>
    public static (Dataset Train, Dataset Test) Load(string source)
    {
        ArgumentNullException.ThrowIfNull(source);
        return source switch
        {
            "embedded" => LoadEmbedded(),
            "auto" => SystemInstalled ? LoadDirectory(SystemDirectory) : LoadEmbedded(),
            "system" => LoadDirectory(SystemDirectory),
            _ => LoadDirectory(source),
        };
    }

    /// <summary>The embedded subset: 1,000 training and 500 test images.</summary>
    public static (Dataset Train, Dataset Test) LoadEmbedded()
    {
        var asm = typeof(FashionMnist).Assembly;
        return (Make("fashion-mnist train (embedded subset)", Open(asm, FileNames[0]), Open(asm, FileNames[1])),
                Make("fashion-mnist test (embedded subset)", Open(asm, FileNames[2]), Open(asm, FileNames[3])));

        static (int[], byte[]) Open(Assembly asm, string file)
        {
            string name = $"CudaAdam.Training.Data.{file}";
            using var s = asm.GetManifestResourceStream(name)
                          ?? throw new InvalidOperationException($"embedded resource '{name}' is missing from {asm.GetName().Name} (a build problem)");
            return Idx.Read(s, $"embedded {file}");
        }
    }

    /// <summary>Loads the four gzip IDX files from <paramref name="directory"/>.</summary>
    public static (Dataset Train, Dataset Test) LoadDirectory(string directory)
    {
        foreach (var f in FileNames)
        {
            string path = Path.Combine(directory, f);
            if (File.Exists(path)) continue;
            string hint = Path.GetFullPath(directory) == SystemDirectory
                ? $"install Debian's {DebianPackage} (apt-get install {DebianPackage}, or ./build.sh setup), or use data source \"embedded\" (a 1,000/500 subset)"
                : $"point the data source at a folder with {string.Join(", ", FileNames)}, or use \"system\" ({DebianPackage}) or \"embedded\"";
            throw new FileNotFoundException($"Fashion-MNIST file '{path}' not found: {hint}", path);
        }
        return (Make($"fashion-mnist train ({directory})", Idx.ReadFile(Path.Combine(directory, FileNames[0])), Idx.ReadFile(Path.Combine(directory, FileNames[1]))),
                Make($"fashion-mnist test ({directory})", Idx.ReadFile(Path.Combine(directory, FileNames[2])), Idx.ReadFile(Path.Combine(directory, FileNames[3]))));
    }

    private static Dataset Make(string name, (int[] Dims, byte[] Data) images, (int[] Dims, byte[] Data) labels)
    {
        if (images.Dims is not [var n, 28, 28])
            throw new InvalidDataException($"{name}: images must be [n, 28, 28], got [{string.Join(", ", images.Dims)}]");
        if (labels.Dims is not [var m] || m != n)
            throw new InvalidDataException($"{name}: {n} images but labels of shape [{string.Join(", ", labels.Dims)}]");
        var x = new float[images.Data.Length];
        for (int i = 0; i < x.Length; i++) x[i] = images.Data[i] / 255f;
        return new Dataset(name, x, labels.Data, Features, Classes);
    }
}
