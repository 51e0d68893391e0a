using System.Reflection;
using System.Runtime.InteropServices;

namespace CudaAdam.Experiments.Plotting;

/// <summary>
/// Lets SkiaSharp and HarfBuzzSharp find their native libraries when the host is not our own application.
/// </summary>
/// <remarks>
/// A normal .NET application resolves <c>libSkiaSharp.so</c> through its own <c>deps.json</c>. Under <c>dotnet fsi</c>
/// the host is F# Interactive, whose <c>deps.json</c> knows nothing of SkiaSharp, so the runtime would not look in
/// <c>runtimes/&lt;rid&gt;/native/</c> beside our assembly and the first plot would fail with a
/// <see cref="DllNotFoundException"/>. This resolver looks there (and beside the assembly) before the default probing.
/// </remarks>
internal static class NativeLibraries
{
    private static int _installed;

    /// <summary>Installs the resolver once per process; safe to call from every plotting entry point.</summary>
    public static void Install()
    {
        if (Interlocked.Exchange(ref _installed, 1) == 1) return;
        foreach (var name in new[] { "SkiaSharp", "HarfBuzzSharp" })
        {
            Assembly asm;
            try { asm = Assembly.Load(name); }
            catch (FileNotFoundException) { continue; }
            try { NativeLibrary.SetDllImportResolver(asm, Resolve); }
            catch (InvalidOperationException) { /* the host already set one: keep it */ }
        }
    }

    private static IntPtr Resolve(string libraryName, Assembly assembly, DllImportSearchPath? searchPath)
    {
        var dir = Path.GetDirectoryName(typeof(NativeLibraries).Assembly.Location);
        if (string.IsNullOrEmpty(dir)) return IntPtr.Zero;
        var file = libraryName;
        if (OperatingSystem.IsLinux() && !file.EndsWith(".so", StringComparison.Ordinal)) file = file + ".so";
        else if (OperatingSystem.IsWindows() && !file.EndsWith(".dll", StringComparison.Ordinal)) file = file + ".dll";
        else if (OperatingSystem.IsMacOS() && !file.EndsWith(".dylib", StringComparison.Ordinal)) file = file + ".dylib";
        foreach (var candidate in new[]
                 {
                     Path.Combine(dir, "runtimes", RuntimeInformation.RuntimeIdentifier, "native", file),
                     Path.Combine(dir, "runtimes", PortableRid(), "native", file),
                     Path.Combine(dir, file),
                 })
        {
            if (File.Exists(candidate) && NativeLibrary.TryLoad(candidate, out var handle)) return handle;
        }
        return IntPtr.Zero; // fall back to the default probing
    }

    private static string PortableRid()
    {
        var os = OperatingSystem.IsWindows() ? "win" : OperatingSystem.IsMacOS() ? "osx" : "linux";
        var arch = RuntimeInformation.ProcessArchitecture.ToString().ToLowerInvariant();
        return $"{os}-{arch}";
    }
}
