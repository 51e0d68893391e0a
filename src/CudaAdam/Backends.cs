namespace CudaAdam;

/// <summary>A backend that exists but cannot run here (no GPU, emulator library not built, ...).</summary>
public sealed class BackendUnavailableException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// The registry of step backends by name: <c>cpu</c> (the fast CPU step), <c>reference</c> (the scalar oracle), and whatever the other parts register.
/// To add a backend, add ONE line to <see cref="Table"/>: <c>new("name", "one-line summary", () =&gt; new MyBackend()),</c>.
/// A factory that cannot work here throws (any exception, ideally <see cref="BackendUnavailableException"/>
/// with what to do); <see cref="Create"/> turns that into an error that lists the known backends.
/// </summary>
public static class Backends
{
    /// <summary>A registered backend: its name (CLI <c>--backend</c>, configs), a summary, and its factory.</summary>
    public sealed record Entry(string Name, string Summary, Func<IStepBackend> Factory);

    private static readonly List<Entry> Table =
    [
        new("cpu", "the fast CPU step (SIMD, multi-threaded, bitwise the reference)", () => new Cpu.CpuSimdBackend()),
        new("reference", "the CPU reference (plain scalar C#, the oracle)", () => new CpuReferenceBackend()),
        new("emulator", "the fused kernels on the host emulator (kernels/*.cu built by g++)", () => Device.DeviceBackends.Create("emulator")),
        new("cuda", "the fused kernels on the GPU (NVRTC, CUDA driver)", () => Device.DeviceBackends.Create("cuda")),
        // new("name", "...", () => new MyBackend()),   <- one line per backend
    ];

    private static readonly Lock Gate = new();

    /// <summary>The registered backends, in registration order.</summary>
    public static IReadOnlyList<Entry> All
    {
        get { lock (Gate) return Table.ToArray(); }
    }

    /// <summary>The registered names, e.g. for usage text.</summary>
    public static IReadOnlyList<string> Names => All.Select(e => e.Name).ToArray();

    /// <summary>Registers a backend at run time (plug-ins, tests). Names are case-insensitive and unique.</summary>
    /// <exception cref="ArgumentException">The name is empty or already registered.</exception>
    public static void Register(string name, string summary, Func<IStepBackend> factory)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(factory);
        lock (Gate)
        {
            if (Table.Any(e => string.Equals(e.Name, name, StringComparison.OrdinalIgnoreCase)))
                throw new ArgumentException($"a backend named '{name}' is already registered");
            Table.Add(new Entry(name, summary ?? "", factory));
        }
    }

    /// <summary>Removes a backend registered with <see cref="Register"/> (tests); returns whether it was there.</summary>
    public static bool Unregister(string name)
    {
        lock (Gate) return Table.RemoveAll(e => string.Equals(e.Name, name, StringComparison.OrdinalIgnoreCase)) > 0;
    }

    /// <summary>Creates the backend called <paramref name="name"/> (case-insensitive).</summary>
    /// <exception cref="ArgumentException">No backend has that name; the message lists the known ones.</exception>
    /// <exception cref="BackendUnavailableException">The backend cannot run here; the message says why and lists the known ones.</exception>
    public static IStepBackend Create(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        var entry = All.FirstOrDefault(e => string.Equals(e.Name, name, StringComparison.OrdinalIgnoreCase))
                    ?? throw new ArgumentException($"unknown backend '{name}'; known backends: {KnownList()}");
        try
        {
            return entry.Factory();
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new BackendUnavailableException(
                $"backend '{entry.Name}' is not available here: {e.Message} (known backends: {KnownList()})", e);
        }
    }

    private static string KnownList() => string.Join(", ", All.Select(e => e.Name));
}
