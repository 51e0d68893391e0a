namespace CudaAdam;

/// <summary>Facts about this machine for reports (benchmarks, experiment provenance): Linux /proc, "unknown" elsewhere.</summary>
public static class MachineInfo
{
    /// <summary>The 1-, 5- and 15-minute load averages from /proc/loadavg, e.g. "1.60 1.34 1.72", or "unknown".</summary>
    public static string LoadAverage()
    {
        try { return string.Join(" ", File.ReadAllText("/proc/loadavg").Split(' ').Take(3)); }
        catch (IOException) { return "unknown"; }
        catch (UnauthorizedAccessException) { return "unknown"; }
    }

    /// <summary>The CPU's model name from /proc/cpuinfo, or "cpu unknown".</summary>
    public static string CpuModel()
    {
        try
        {
            var line = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal));
            return line is null ? "cpu unknown" : line[(line.IndexOf(':') + 1)..].Trim();
        }
        catch (IOException) { return "cpu unknown"; }
        catch (UnauthorizedAccessException) { return "cpu unknown"; }
    }
}
