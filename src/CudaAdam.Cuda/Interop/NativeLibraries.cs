#pragma warning disable CS1591 // CS1591 backlog (issue 13): 5 public members here have no XML doc yet; document them, then delete this line
using System.Reflection;
using System.Runtime.InteropServices;

namespace CudaAdam.Cuda.Interop;

/// <summary>
/// What to look for when loading one of the CUDA libraries: the name the <c>[LibraryImport]</c> declarations use,
/// the versioned sonames to probe (newest first), the environment variable that may name a full path, and what to
/// install when nothing is found.
/// </summary>
public sealed record NativeLibrarySpec(string ImportName, string[] Sonames, string EnvironmentVariable, string InstallHint)
{
    /// <summary>Directories tried after the system loader, for toolkits installed without ldconfig (never for libcuda,
    /// whose only copy under a toolkit is the stub).</summary>
    public string[] FallbackDirectories { get; init; } = [];

    /// <summary>Also look in the library folders of NVIDIA's pip wheels (<c>site-packages/nvidia/*/lib</c>, which
    /// PyTorch installs: <c>nvidia/cuda_nvrtc/lib</c>, <c>nvidia/cublas/lib</c>, <c>nvidia/cu13/lib</c>), last.</summary>
    public bool ProbePythonWheels { get; init; }
}

/// <summary>Where a CUDA library was loaded from.</summary>
public sealed record LoadedLibrary(string ImportName, string Path, nint Handle);

/// <summary>None of the candidate files of a CUDA library could be loaded.</summary>
public sealed class NativeLibraryNotFoundException : DllNotFoundException
{
    public NativeLibraryNotFoundException(NativeLibrarySpec spec, IReadOnlyList<string> tried)
        : base($"could not load the {spec.ImportName} library. Tried, in order:\n  " + string.Join("\n  ", tried) +
               $"\n{spec.InstallHint}\nOr set {spec.EnvironmentVariable} to the full path of the library.")
    {
        Spec = spec;
        Tried = tried;
    }

    public NativeLibrarySpec Spec { get; }
    /// <summary>Every path or soname that was tried, each with why it failed.</summary>
    public IReadOnlyList<string> Tried { get; }
}

/// <summary>
/// The one <see cref="NativeLibrary.SetDllImportResolver"/> of this assembly. It maps the import names
/// <c>cuda</c>, <c>nvrtc</c> and <c>cublas</c> to versioned sonames:
/// <list type="number">
/// <item>if the environment variable (<c>CUDAADAM_LIBCUDA</c>, <c>CUDAADAM_NVRTC</c>, <c>CUDAADAM_CUBLAS</c>) is set,
///   exactly the file it names, and nothing else (an explicit choice is never silently replaced);</item>
/// <item>otherwise each soname under <c>$CUDA_PATH/lib64</c>, <c>$CUDA_PATH/targets/x86_64-linux/lib</c>, the same two
///   under <c>$CUDA_HOME</c>, then by the system loader (ld.so.cache, <c>LD_LIBRARY_PATH</c>), then (NVRTC and cuBLAS
///   only) under <c>/usr/local/cuda/lib64</c> and <c>/usr/local/cuda/targets/x86_64-linux/lib</c>, and last in the
///   pip wheels' folders <c>site-packages/nvidia/*/lib</c> of the usual Python prefixes (<see cref="PythonSitePackages"/>).</item>
/// </list>
/// A path inside a <c>stubs/</c> directory is never loaded: the stub libcuda links but fails every call with
/// CUDA_ERROR_STUB_LIBRARY. On failure the exception lists every candidate tried and what to install.
/// </summary>
public static class NativeLibraries
{
    public static readonly NativeLibrarySpec Cuda = new("cuda", ["libcuda.so.1"], "CUDAADAM_LIBCUDA",
        "libcuda.so.1 is installed by the NVIDIA driver (Debian: apt-get install libcuda1 from non-free); a machine without a GPU has none.");

    public static readonly NativeLibrarySpec Nvrtc = new("nvrtc",
        ["libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so.11.2", "libnvrtc.so"], "CUDAADAM_NVRTC",
        "Install NVRTC: Debian 12: enable 'non-free' and apt-get install libnvrtc11.2 (./build.sh setup does it); or the CUDA toolkit (cuda-nvrtc-13-0).")
    {
        FallbackDirectories = ["/usr/local/cuda/lib64", "/usr/local/cuda/targets/x86_64-linux/lib"],
        ProbePythonWheels = true,
    };

    public static readonly NativeLibrarySpec Cublas = new("cublas",
        ["libcublas.so.13", "libcublas.so.12", "libcublas.so.11"], "CUDAADAM_CUBLAS",
        "Install cuBLAS: the CUDA toolkit (libcublas-13-0) or Debian non-free libcublas11.")
    {
        FallbackDirectories = ["/usr/local/cuda/lib64", "/usr/local/cuda/targets/x86_64-linux/lib"],
        ProbePythonWheels = true,
    };

    private static readonly NativeLibrarySpec[] Specs = [Cuda, Nvrtc, Cublas];
    private static readonly Dictionary<string, LoadedLibrary> Loaded = new();
    private static readonly object Gate = new();
    private static int _registered;

    /// <summary>Installs the resolver for this assembly (idempotent). Every raw import class calls it from its
    /// static constructor, so it is in place before the first P/Invoke.</summary>
    public static void Register()
    {
        if (Interlocked.Exchange(ref _registered, 1) == 1) return;
        NativeLibrary.SetDllImportResolver(typeof(NativeLibraries).Assembly, Resolve);
    }

    private static nint Resolve(string name, Assembly assembly, DllImportSearchPath? searchPath)
    {
        var spec = Array.Find(Specs, s => s.ImportName == name);
        return spec is null ? 0 : Load(spec).Handle; // 0: let the runtime's default probing handle other names
    }

    /// <summary>Loads (once per process) the library described by <paramref name="spec"/>.</summary>
    /// <exception cref="NativeLibraryNotFoundException">No candidate could be loaded.</exception>
    public static LoadedLibrary Load(NativeLibrarySpec spec)
    {
        lock (Gate)
        {
            if (Loaded.TryGetValue(spec.ImportName, out var known)) return known;
            var loaded = Probe(spec, Environment.GetEnvironmentVariable);
            Loaded[spec.ImportName] = loaded;
            return loaded;
        }
    }

    /// <summary>The library if it loads, else null and <paramref name="error"/> says why.</summary>
    public static LoadedLibrary? TryLoad(NativeLibrarySpec spec, out string? error)
    {
        try
        {
            error = null;
            return Load(spec);
        }
        catch (NativeLibraryNotFoundException e)
        {
            error = e.Message;
            return null;
        }
    }

    /// <summary>The candidates, in probing order, given the environment.</summary>
    public static IReadOnlyList<string> Candidates(NativeLibrarySpec spec, Func<string, string?> environment) =>
        Candidates(spec, environment, spec.ProbePythonWheels ? WheelLibraryDirectories(PythonSitePackages(environment)) : []);

    /// <summary>The candidates, with <paramref name="wheelDirectories"/> as the pip wheels' library folders.</summary>
    public static IReadOnlyList<string> Candidates(NativeLibrarySpec spec, Func<string, string?> environment, IReadOnlyList<string> wheelDirectories)
    {
        var explicitPath = environment(spec.EnvironmentVariable);
        if (!string.IsNullOrEmpty(explicitPath)) return [explicitPath];
        var list = new List<string>();
        foreach (var soname in spec.Sonames)
        {
            foreach (var root in new[] { environment("CUDA_PATH"), environment("CUDA_HOME") })
                if (!string.IsNullOrEmpty(root))
                {
                    list.Add(Path.Combine(root, "lib64", soname));
                    list.Add(Path.Combine(root, "targets", "x86_64-linux", "lib", soname));
                }
            list.Add(soname);
            foreach (var dir in spec.FallbackDirectories) list.Add(Path.Combine(dir, soname));
            if (spec.ProbePythonWheels)
                foreach (var dir in wheelDirectories) list.Add(Path.Combine(dir, soname));
        }
        return list.Distinct().ToList();
    }

    /// <summary>Python's package folders that exist here: <c>$VIRTUAL_ENV</c> and <c>$CONDA_PREFIX</c>
    /// (<c>lib/python3.*/site-packages</c>), the user's <c>~/.local/lib/python3.*/site-packages</c>,
    /// <c>/usr/local/lib/python3.*/{dist,site}-packages</c>, <c>/usr/lib/python3/dist-packages</c>.</summary>
    public static IReadOnlyList<string> PythonSitePackages(Func<string, string?> environment)
    {
        var prefixes = new List<(string Lib, string[] Kinds)>();
        foreach (var variable in new[] { "VIRTUAL_ENV", "CONDA_PREFIX" })
            if (environment(variable) is { Length: > 0 } prefix) prefixes.Add((Path.Combine(prefix, "lib"), ["site-packages"]));
        if (environment("HOME") is { Length: > 0 } home) prefixes.Add((Path.Combine(home, ".local", "lib"), ["site-packages"]));
        prefixes.Add(("/usr/local/lib", ["dist-packages", "site-packages"]));
        var list = new List<string>();
        foreach (var (lib, kinds) in prefixes)
        {
            try
            {
                if (!Directory.Exists(lib)) continue;
                foreach (var python in Directory.GetDirectories(lib, "python3*").Order(StringComparer.Ordinal))
                    foreach (var kind in kinds)
                        if (Directory.Exists(Path.Combine(python, kind))) list.Add(Path.Combine(python, kind));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
            }
        }
        if (Directory.Exists("/usr/lib/python3/dist-packages")) list.Add("/usr/lib/python3/dist-packages");
        return list.Distinct().ToList();
    }

    /// <summary>The <c>nvidia/*/lib</c> folders (sorted) under each of <paramref name="sitePackages"/>.</summary>
    public static IReadOnlyList<string> WheelLibraryDirectories(IEnumerable<string> sitePackages)
    {
        var list = new List<string>();
        foreach (var site in sitePackages)
        {
            try
            {
                var nvidia = Path.Combine(site, "nvidia");
                if (!Directory.Exists(nvidia)) continue;
                foreach (var package in Directory.GetDirectories(nvidia).Order(StringComparer.Ordinal))
                    if (Directory.Exists(Path.Combine(package, "lib"))) list.Add(Path.Combine(package, "lib"));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
            }
        }
        return list;
    }

    /// <summary>Tries every candidate; the first that loads wins. Does not remember the result.</summary>
    public static LoadedLibrary Probe(NativeLibrarySpec spec, Func<string, string?> environment)
    {
        var tried = new List<string>();
        foreach (var candidate in Candidates(spec, environment))
        {
            if (IsStub(candidate))
            {
                tried.Add($"{candidate} (skipped: a stubs/ library fails every call)");
                continue;
            }
            bool isPath = candidate.Contains('/');
            if (isPath && !File.Exists(candidate))
            {
                tried.Add($"{candidate} (no such file)");
                continue;
            }
            try
            {
                var handle = NativeLibrary.Load(candidate);
                return new LoadedLibrary(spec.ImportName, isPath ? Path.GetFullPath(candidate) : LoadedPath(candidate, handle), handle);
            }
            catch (Exception e) when (e is DllNotFoundException or BadImageFormatException)
            {
                tried.Add($"{candidate} ({LoaderReason(e.Message)})");
            }
        }
        throw new NativeLibraryNotFoundException(spec, tried);
    }

    /// <summary>Where the loaded libraries came from, by import name.</summary>
    public static IReadOnlyDictionary<string, LoadedLibrary> LoadedLibraries
    {
        get { lock (Gate) return new Dictionary<string, LoadedLibrary>(Loaded); }
    }

    private static bool IsStub(string path) =>
        path.Replace('\\', '/').Split('/').Any(part => part == "stubs");

    /// <summary>The loader's own reason (dlerror's line, e.g. "cannot open shared object file: No such file or
    /// directory"), which .NET puts after a generic paragraph about LD_DEBUG.</summary>
    private static string LoaderReason(string message)
    {
        var lines = message.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return lines.Length == 0 ? message : lines[^1];
    }

    /// <summary>The file a soname resolved to, read from /proc/self/maps (Linux); the soname itself elsewhere.</summary>
    private static string LoadedPath(string soname, nint handle)
    {
        try
        {
            if (File.Exists("/proc/self/maps"))
                foreach (var line in File.ReadLines("/proc/self/maps"))
                {
                    int slash = line.IndexOf('/');
                    if (slash < 0) continue;
                    var path = line[slash..];
                    var file = Path.GetFileName(path);
                    var stem = soname.Split(".so")[0] + ".so";
                    if (file.StartsWith(stem, StringComparison.Ordinal)) return path;
                }
        }
        catch (IOException)
        {
        }
        return soname;
    }
}
