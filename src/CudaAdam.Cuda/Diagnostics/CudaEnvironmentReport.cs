#pragma warning disable CS1591 // CS1591 backlog (issue 13): 16 public members here have no XML doc yet; document them, then delete this line
using System.Globalization;
using CudaAdam.Cuda.Compilation;
using CudaAdam.Cuda.Driver;
using CudaAdam.Cuda.Interop;

namespace CudaAdam.Cuda.Diagnostics;

/// <summary>
/// What this machine offers the CUDA layer: each CUDA library (where it loaded from, its version, or why not), the
/// devices and their properties, the kernel cache directory and size, whether the host emulator library exists,
/// and for everything missing, how to get it. <c>cudaadam info</c> prints it.
/// </summary>
public sealed class CudaEnvironmentReport
{
    public sealed record LibraryStatus(string Name, string? Path, string? Version, string? Error);

    public required IReadOnlyList<LibraryStatus> Libraries { get; init; }
    public required IReadOnlyList<DeviceProperties> Devices { get; init; }
    public string? DeviceError { get; init; }
    public required IReadOnlyList<int> NvrtcArchs { get; init; }
    /// <summary>The disk cache's directory, or null when the cache is memory only (no absolute home directory).</summary>
    public required string? CacheDirectory { get; init; }
    public required (int Files, long Bytes) CacheUsage { get; init; }
    public string? EmulatorLibrary { get; init; }
    public required IReadOnlyList<string> EmulatorProbed { get; init; }
    public required IReadOnlyList<string> KernelFiles { get; init; }
    public required IReadOnlyList<string> Missing { get; init; }

    /// <summary>Probes everything; never throws for a missing piece (it is listed in <see cref="Missing"/>).</summary>
    public static CudaEnvironmentReport Collect()
    {
        var missing = new List<string>();
        var libs = new List<LibraryStatus>();
        var devices = new List<DeviceProperties>();
        string? deviceError = null;
        IReadOnlyList<int> archs = [];

        // libcuda and the devices
        var cuda = NativeLibraries.TryLoad(NativeLibraries.Cuda, out var cudaError);
        if (cuda is null)
        {
            libs.Add(new("libcuda (driver)", null, null, cudaError));
            missing.Add("CUDA driver (libcuda.so.1): GPU devices unavailable; " + NativeLibraries.Cuda.InstallHint +
                        " Kernels still compile to PTX (NVRTC) and run on the host emulator.");
        }
        else
        {
            string? version = null;
            try
            {
                var (major, minor) = CudaDriver.Version;
                version = $"CUDA {major}.{minor} driver API";
                devices.AddRange(CudaDriver.Devices());
                if (devices.Count == 0) deviceError = "the driver reports no device";
            }
            catch (CudaException e)
            {
                deviceError = e.Message;
            }
            libs.Add(new("libcuda (driver)", cuda.Path, version, null));
            if (deviceError is not null) missing.Add("a usable GPU: " + deviceError);
        }

        // NVRTC
        var nvrtc = NativeLibraries.TryLoad(NativeLibraries.Nvrtc, out var nvrtcError);
        if (nvrtc is null)
        {
            libs.Add(new("NVRTC", null, null, nvrtcError));
            missing.Add("NVRTC: kernels cannot be compiled for a GPU; " + NativeLibraries.Nvrtc.InstallHint);
        }
        else
        {
            var (major, minor) = NvrtcCompiler.Version;
            archs = NvrtcCompiler.SupportedArchs;
            libs.Add(new("NVRTC", nvrtc.Path, $"{major}.{minor}", null));
        }

        // cuBLAS
        var cublas = NativeLibraries.TryLoad(NativeLibraries.Cublas, out var cublasError);
        if (cublas is null)
        {
            libs.Add(new("cuBLAS", null, null, cublasError));
            missing.Add("cuBLAS: SGEMM/GemmEx (training stack) unavailable; " + NativeLibraries.Cublas.InstallHint);
        }
        else
        {
            string? version = null;
            try
            {
                CublasCheck.Check(CublasNative.cublasGetProperty(0, out int ma));
                CublasCheck.Check(CublasNative.cublasGetProperty(1, out int mi));
                CublasCheck.Check(CublasNative.cublasGetProperty(2, out int pa));
                version = $"{ma}.{mi}.{pa}";
            }
            catch (Exception e) when (e is CublasException or EntryPointNotFoundException)
            {
                version = "(version unknown: " + e.Message + ")";
            }
            libs.Add(new("cuBLAS", cublas.Path, version, null));
        }

        // host emulator
        var probed = EmulatorCandidates();
        var emu = probed.FirstOrDefault(File.Exists);
        if (emu is null)
            missing.Add($"host emulator ({Emulator.EmulatorLibrary.FileName}): {Emulator.EmulatorLibrary.MissingHint(AppContext.BaseDirectory)}; looked at " +
                        string.Join(", ", probed));

        var cacheDir = KernelCache.DefaultDirectory();
        return new CudaEnvironmentReport
        {
            Libraries = libs, Devices = devices, DeviceError = deviceError, NvrtcArchs = archs,
            CacheDirectory = cacheDir, CacheUsage = cacheDir is null ? (0, 0) : KernelCache.DiskUsage(cacheDir),
            EmulatorLibrary = emu, EmulatorProbed = probed, KernelFiles = KernelSources.KernelFiles, Missing = missing,
        };
    }

    /// <summary>Where the host emulator library is looked for, in <see cref="EmulatorLibrary"/>'s order.</summary>
    public static IReadOnlyList<string> EmulatorCandidates() =>
        Emulator.EmulatorLibrary.Candidates(Environment.GetEnvironmentVariable, AppContext.BaseDirectory);

    public void Write(TextWriter w)
    {
        var inv = CultureInfo.InvariantCulture;
        w.WriteLine("libraries:");
        foreach (var l in Libraries)
        {
            if (l.Path is not null)
            {
                w.WriteLine($"  {l.Name,-17} {l.Path}  ({l.Version})");
                continue;
            }
            // The resolver's message lists every file it tried, one per line: show them all.
            var lines = (l.Error ?? "unknown error").Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            w.WriteLine($"  {l.Name,-17} not found: {lines[0]}");
            foreach (var line in lines.Skip(1)) w.WriteLine($"                      {line}");
        }
        if (NvrtcArchs.Count > 0)
            w.WriteLine($"  NVRTC archs       {string.Join(" ", NvrtcArchs.Select(a => a.ToString(inv)))}");
        w.WriteLine("devices:");
        if (Devices.Count == 0) w.WriteLine($"  none ({FirstLine(DeviceError ?? "no CUDA driver")})");
        foreach (var d in Devices)
        {
            w.WriteLine($"  #{d.Ordinal} {d.Name}");
            w.WriteLine(string.Create(inv, $"     compute capability {d.ComputeMajor}.{d.ComputeMinor} ({d.Arch}), {d.TotalMemoryBytes / 1073741824.0:F1} GiB, {d.MultiprocessorCount} SMs"));
            w.WriteLine(string.Create(inv, $"     max {d.MaxThreadsPerBlock} threads/block, {d.MaxSharedMemoryPerBlock / 1024} KiB shared/block, L2 {d.L2CacheBytes / 1048576.0:F0} MiB, bus {d.MemoryBusWidthBits} bits"));
            if (NvrtcArchs.Count > 0)
            {
                try
                {
                    w.WriteLine($"     kernels compile for {CompileTarget.ForDevice(d, NvrtcArchs)}");
                }
                catch (NotSupportedException e)
                {
                    w.WriteLine("     " + e.Message);
                }
            }
        }
        w.WriteLine("kernels:");
        w.WriteLine($"  embedded          {(KernelFiles.Count == 0 ? "(none)" : string.Join(" ", KernelFiles))}");
        w.WriteLine(CacheDirectory is null
            ? "  cache             memory only: no absolute home directory (set CUDAADAM_CACHE_DIR to keep compiled kernels)"
            : string.Create(inv, $"  cache             {CacheDirectory}  ({CacheUsage.Files} files, {CacheUsage.Bytes / 1024.0:F0} KiB)"));
        w.WriteLine("host emulator:");
        w.WriteLine(EmulatorLibrary is not null ? $"  {EmulatorLibrary}" : $"  not built (looked at {string.Join(", ", EmulatorProbed)})");
        if (Missing.Count > 0)
        {
            w.WriteLine("missing:");
            foreach (var m in Missing) w.WriteLine("  - " + m.Replace("\n", " "));
        }
    }

    private static string FirstLine(string? s)
    {
        if (s is null) return "";
        int i = s.IndexOf('\n');
        return i < 0 ? s : s[..i];
    }
}
