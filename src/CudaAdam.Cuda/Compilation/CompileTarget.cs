#pragma warning disable CS1591 // CS1591 backlog (issue 13): 3 public members here have no XML doc yet; document them, then delete this line
using System.Globalization;
using CudaAdam.Cuda.Driver;

namespace CudaAdam.Cuda.Compilation;

/// <summary>
/// What NVRTC compiles for: <c>sm_XX</c> gives a cubin for exactly that GPU; <c>compute_XX</c> gives PTX that the
/// driver JIT-compiles for any GPU of compute capability XX or newer.
/// </summary>
public sealed record CompileTarget
{
    /// <summary>Without a device: PTX for compute capability 8.0 (Ampere and newer run it; NVRTC 13 still accepts it).</summary>
    public static readonly CompileTarget Default = new("compute_80");

    private CompileTarget(string arch)
    {
        Arch = arch;
        Number = int.Parse(arch[(arch.IndexOf('_') + 1)..], CultureInfo.InvariantCulture);
    }

    /// <summary>"sm_90" or "compute_80".</summary>
    public string Arch { get; }
    /// <summary>The compute capability as a number, 90 for sm_90.</summary>
    public int Number { get; }
    /// <summary>True for sm_XX (cubin), false for compute_XX (PTX).</summary>
    public bool IsCubin => Arch.StartsWith("sm_", StringComparison.Ordinal);
    public string Option => $"--gpu-architecture={Arch}";
    public string ImageKind => IsCubin ? "cubin" : "PTX";

    /// <summary>Parses "sm_90", "compute_80", "sm_90a" is not supported (arch-specific features are not used).</summary>
    public static CompileTarget Parse(string arch)
    {
        var s = arch.Trim().ToLowerInvariant();
        foreach (var prefix in new[] { "sm_", "compute_" })
            if (s.StartsWith(prefix, StringComparison.Ordinal) && s.Length > prefix.Length &&
                s[prefix.Length..].All(char.IsAsciiDigit) && s.Length - prefix.Length is 2 or 3)
                return new CompileTarget(s);
        throw new ArgumentException($"'{arch}' is not an arch: write sm_XX (cubin for one GPU, e.g. sm_90) or compute_XX (PTX, e.g. compute_80)", nameof(arch));
    }

    /// <summary>
    /// The target for a device: <c>sm_XX</c> (cubin) when NVRTC supports the device's arch, else PTX for the newest
    /// supported arch not above it (the driver JIT-compiles it).
    /// </summary>
    public static CompileTarget ForDevice(DeviceProperties device, IReadOnlyList<int> supportedArchs)
    {
        int cc = device.ComputeCapability;
        if (supportedArchs.Contains(cc)) return new CompileTarget($"sm_{cc}");
        var below = supportedArchs.Where(a => a <= cc).ToList();
        if (below.Count == 0)
            throw new NotSupportedException(
                $"{device.Name} is {device.Arch}, but this NVRTC supports only {string.Join(", ", supportedArchs.Select(a => "sm_" + a))}: use an NVRTC that supports the device (CUDAADAM_NVRTC)");
        return new CompileTarget($"compute_{below.Max()}");
    }

    /// <summary>Throws when NVRTC cannot compile for this target (NVRTC 13 dropped archs below 75).</summary>
    public void CheckSupported(IReadOnlyList<int> supportedArchs)
    {
        if (supportedArchs.Count > 0 && !supportedArchs.Contains(Number))
            throw new NotSupportedException(
                $"NVRTC {NvrtcCompiler.Version.Major}.{NvrtcCompiler.Version.Minor} cannot compile for {Arch}; it supports {string.Join(", ", supportedArchs)}. Pick one of those with --arch.");
    }

    public override string ToString() => Arch;
}
