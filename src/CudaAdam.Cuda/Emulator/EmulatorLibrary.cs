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
///   published CLI carries it);</item>
/// <item><c>.build/native/</c> in <see cref="AppContext.BaseDirectory"/> or one of its parents (a checkout).</item>
/// </list>
/// </summary>
public static class EmulatorLibrary
{
    public const string FileName = "libcudaadam_emu.so";
    public const string EnvironmentVariable = "CUDAADAM_EMU_LIB";
    private const string BuildHint = "run ./build.sh setup (needs g++), which builds .build/native/libcudaadam_emu.so from native/emu and kernels/*.cu";

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
        var list = new List<string> { Path.Combine(baseDirectory, FileName) };
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
            _failure = $"the host emulator library {FileName} is not available: {BuildHint}; or set {EnvironmentVariable} " +
                       "to its full path. Tried:\n  " + string.Join("\n  ", tried);
            throw new EmulatorNotAvailableException(_failure);
        }
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
