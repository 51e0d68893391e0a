#pragma warning disable CS1591 // CS1591 backlog (issue 13): 2 public members here have no XML doc yet; document them, then delete this line
using System.Reflection;
using System.Runtime.InteropServices;
using System.Runtime.Loader;

namespace CudaAdam.Cuda.Emulator;

/// <summary>The host emulator library is missing or does not load.</summary>
public sealed class EmulatorNotAvailableException : Exception
{
    public EmulatorNotAvailableException(string message) : base(message) { }
}

/// <summary>A call into the host emulator failed (unknown kernel, bad launch, deadlock in a kernel, ...).</summary>
public sealed class EmulatorException : Exception
{
    public EmulatorException(string call, string message) : base($"{call}: {message}") => Call = call;

    /// <summary>The C# call that failed, with its arguments.</summary>
    public string Call { get; }
}

/// <summary>
/// Finds and loads <c>libcudaadam_emu.so</c>, in this order:
/// <list type="number">
/// <item>the file named by the environment variable <c>CUDAADAM_EMU_LIB</c>, and nothing else if it is set;</item>
/// <item>next to the assemblies (the CudaAdam.Cuda project copies it there when it exists at build time, so a
///   published CLI carries it, and so does an app published for linux-x64 from the package);</item>
/// <item><c>runtimes/linux-x64/native/</c> under <see cref="AppContext.BaseDirectory"/>: where an app built (not published)
///   against the CudaAdam.Cuda package gets the package's native asset;</item>
/// <item><c>.build/native/</c> in <see cref="AppContext.BaseDirectory"/> or one of its parents (a checkout).</item>
/// </list>
/// </summary>
public static class EmulatorLibrary
{
    /// <summary>The library's file name, <c>libcudaadam_emu.so</c>.</summary>
    public const string FileName = "libcudaadam_emu.so";
    /// <summary>The environment variable that names the library's full path (then nothing else is probed).</summary>
    public const string EnvironmentVariable = "CUDAADAM_EMU_LIB";
    /// <summary>The package's runtime folder of the library, relative to the app (NuGet's <c>runtimes/RID/native</c>).</summary>
    public const string PackageAssetFolder = "runtimes/linux-x64/native";

    private static readonly object Gate = new();
    private static nint _handle;
    private static string? _path;
    private static string? _failure;
    private static int _registered;

    /// <summary>The loaded library's path, or null before a successful load.</summary>
    public static string? LoadedPath => _path;

    /// <summary>The candidate paths in probing order, with the environment given.</summary>
    public static IReadOnlyList<string> Candidates(Func<string, string?> environment, string baseDirectory)
    {
        var explicitPath = environment(EnvironmentVariable);
        if (!string.IsNullOrEmpty(explicitPath)) return [explicitPath];
        var list = new List<string> { Path.Combine(baseDirectory, FileName), Path.Combine(baseDirectory, PackageAssetFolder, FileName) };
        for (var dir = new DirectoryInfo(baseDirectory); dir != null; dir = dir.Parent)
            list.Add(Path.Combine(dir.FullName, ".build", "native", FileName));
        return list;
    }

    /// <summary>Loads the library once per process.</summary>
    /// <exception cref="EmulatorNotAvailableException">No candidate exists or loads; the message lists them.</exception>
    public static nint Load()
    {
        lock (Gate)
        {
            if (_handle != 0) return _handle;
            if (_failure != null) throw new EmulatorNotAvailableException(_failure);
            var tried = new List<string>();
            foreach (var candidate in Candidates(Environment.GetEnvironmentVariable, AppContext.BaseDirectory))
            {
                if (!File.Exists(candidate))
                {
                    tried.Add($"{candidate} (no such file)");
                    continue;
                }
                try
                {
                    _handle = NativeLibrary.Load(candidate);
                    _path = Path.GetFullPath(candidate);
                    return _handle;
                }
                catch (Exception e) when (e is DllNotFoundException or BadImageFormatException)
                {
                    tried.Add($"{candidate} ({e.Message.Split('\n')[0]})");
                }
            }
            _failure = $"the host emulator library {FileName} is not available: {MissingHint(AppContext.BaseDirectory)}; " +
                       "Tried:\n  " + string.Join("\n  ", tried);
            throw new EmulatorNotAvailableException(_failure);
        }
    }

    /// <summary>
    /// What to do when the library is missing, for who is asking: in a CudaAdam checkout (a parent of
    /// <paramref name="baseDirectory"/> holds <c>native/emu/Makefile</c>) build it with <c>./build.sh setup</c>; in an app
    /// that references the NuGet package, the package's linux-x64 asset did not arrive, or the platform is another.
    /// </summary>
    public static string MissingHint(string baseDirectory)
    {
        for (var dir = new DirectoryInfo(baseDirectory); dir != null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "native", "emu", "Makefile")))
                return $"in this checkout ({dir.FullName}) run ./build.sh setup (needs g++ and make), which builds " +
                       $".build/native/{FileName} from native/emu and kernels/*.cu; or set {EnvironmentVariable} to its full path";
        return OperatingSystem.IsLinux() && RuntimeInformation.OSArchitecture == Architecture.X64
            ? $"the CudaAdam.Cuda package carries it as {PackageAssetFolder}/{FileName}: reference the package from the " +
              "project that builds this app (a PackageReference, not a copied CudaAdam.Cuda.dll), and publish with the " +
              $"app's other files; or set {EnvironmentVariable} to the library's full path"
            : $"the CudaAdam.Cuda package carries it for linux-x64 only, and this is {RuntimeInformation.RuntimeIdentifier}: " +
              "build it from CudaAdam's sources (make -C native/emu, needs g++) and set " +
              $"{EnvironmentVariable} to its full path; the cpu and reference backends need no native library";
    }

    /// <summary>True when the library loads; otherwise false and <paramref name="reason"/> says why and what to do.</summary>
    public static bool TryLoad(out string reason)
    {
        try
        {
            Load();
            reason = "";
            return true;
        }
        catch (EmulatorNotAvailableException e)
        {
            reason = e.Message;
            return false;
        }
    }

    /// <summary>Maps <see cref="EmulatorNative.Lib"/> to the loaded library. A handler of the default load
    /// context's ResolvingUnmanagedDll event (called after any DllImportResolver of this assembly and the default
    /// probing found nothing), so it coexists with the CUDA libraries' resolver.</summary>
    internal static void RegisterResolver()
    {
        if (Interlocked.Exchange(ref _registered, 1) == 1) return;
        AssemblyLoadContext.Default.ResolvingUnmanagedDll += Resolve;
    }

    private static nint Resolve(Assembly assembly, string name) =>
        name == EmulatorNative.Lib && assembly == typeof(EmulatorLibrary).Assembly && TryLoad(out _) ? _handle : 0;
}
