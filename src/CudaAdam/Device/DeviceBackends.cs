using CudaAdam.Cuda;
using CudaAdam.Cuda.Driver;
using CudaAdam.Cuda.Emulator;

namespace CudaAdam.Device;

/// <summary>Opens the devices behind the <c>emulator</c> and <c>cuda</c> backends (the entries of
/// <see cref="Backends"/>, the conformance runner and <c>cudaadam check</c>).</summary>
public static class DeviceBackends
{
    /// <summary>The device backend names.</summary>
    public static IReadOnlyList<string> Names { get; } = ["emulator", "cuda"];

    /// <summary>Why the device behind <paramref name="name"/> cannot be used here, or null when it can.</summary>
    public static string? Unavailable(string name) => name switch
    {
        "emulator" => EmulatedDevice.IsAvailable(out var reason) ? null : reason,
        "cuda" => CudaDriver.Unavailable(),
        _ => $"'{name}' is not a device backend (those are: {string.Join(", ", Names)})",
    };

    /// <summary>Opens the device behind <paramref name="name"/> ("emulator" or "cuda").</summary>
    /// <exception cref="BackendUnavailableException">It cannot run here; the message says why and what to do.</exception>
    public static IDevice OpenDevice(string name)
    {
        if (Unavailable(name) is { } reason)
            throw new BackendUnavailableException(name switch
            {
                "emulator" => $"the host emulator is not available: {reason}",
                "cuda" => $"no CUDA device: {reason} (the cuda backend needs an NVIDIA GPU with its driver, and NVRTC)",
                _ => reason,
            });
        return name == "emulator" ? new EmulatedDevice() : CudaDevice.Open();
    }

    /// <summary>A <see cref="DeviceBackend"/> that owns a freshly opened device <paramref name="name"/>.</summary>
    public static DeviceBackend Create(string name, DeviceBackendOptions? options = null) =>
        new(OpenDevice(name), options, ownsDevice: true);
}
