using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace CudaAdam.Experiments.Recording;

/// <summary>
/// Where and how a run (or one shard of it) was made: commit and dirty flag, command, seeds, sizes, backend, machine
/// (cores, CPU model, GPU if any), load average before and after, wall and CPU time. Every report carries it in its
/// last section (the only part of a report that differs between a run and the merge of its shards).
/// </summary>
public sealed record Provenance
{
    public string Shard { get; init; } = "all";
    public string Commit { get; init; } = "";
    public bool Dirty { get; init; }
    public string Command { get; init; } = "";
    public string StartedUtc { get; init; } = "";
    public string Host { get; init; } = "";
    public int Cores { get; init; }
    public string Cpu { get; init; } = "";
    public string Gpu { get; init; } = "";
    public string Os { get; init; } = "";
    public string Runtime { get; init; } = "";
    public string LoadAverageStart { get; init; } = "";
    public string LoadAverageEnd { get; init; } = "";
    public int ParallelJobs { get; init; }
    public int JobsRun { get; init; }
    public double WallSeconds { get; init; }
    public double CpuSeconds { get; init; }

    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    /// <summary>What is known when a run starts (the end fields are filled by <see cref="Finished"/>).</summary>
    public static Provenance Start(string repoRoot, string command, string shard, int parallelJobs) => new()
    {
        Shard = shard,
        Commit = Git(repoRoot, "rev-parse HEAD") ?? "unknown (not a git checkout)",
        Dirty = !string.IsNullOrWhiteSpace(Git(repoRoot, "status --porcelain") ?? ""),
        Command = command,
        StartedUtc = DateTime.UtcNow.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture),
        Host = Environment.MachineName,
        Cores = Environment.ProcessorCount,
        Cpu = CpuModel(),
        Gpu = GpuNames(),
        Os = System.Runtime.InteropServices.RuntimeInformation.OSDescription,
        Runtime = System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription,
        LoadAverageStart = LoadAverage(),
        ParallelJobs = parallelJobs,
    };

    /// <summary>This record with the end fields set.</summary>
    public Provenance Finished(TimeSpan wall, int jobsRun) => this with
    {
        LoadAverageEnd = LoadAverage(),
        WallSeconds = Math.Round(wall.TotalSeconds, 1),
        CpuSeconds = Math.Round(Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds, 1),
        JobsRun = jobsRun,
    };

    public string ToJson() => JsonSerializer.Serialize(this, Json);
    public static Provenance FromJson(string json) => JsonSerializer.Deserialize<Provenance>(json, Json)
        ?? throw new InvalidDataException("empty provenance record");

    /// <summary>The 1-, 5- and 15-minute load averages ("unknown" where /proc/loadavg is missing).</summary>
    public static string LoadAverage() => CudaAdam.MachineInfo.LoadAverage();

    private static string CpuModel() => CudaAdam.MachineInfo.CpuModel();

    private static string GpuNames()
    {
        var out_ = Run("nvidia-smi", "--query-gpu=name,memory.total --format=csv,noheader");
        return string.IsNullOrWhiteSpace(out_) ? "none" : string.Join("; ", out_.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
    }

    private static string? Git(string root, string args) => Run("git", $"-C \"{root}\" {args}")?.Trim();

    private static string? Run(string file, string args)
    {
        try
        {
            var psi = new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            using var p = Process.Start(psi);
            if (p is null) return null;
            var text = p.StandardOutput.ReadToEnd();
            p.StandardError.ReadToEnd();
            if (!p.WaitForExit(10_000)) { p.Kill(); return null; }
            return p.ExitCode == 0 ? text : null;
        }
        catch (System.ComponentModel.Win32Exception) { return null; }
    }
}
