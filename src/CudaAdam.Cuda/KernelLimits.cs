using CudaAdam.Cuda.Driver;

namespace CudaAdam.Cuda;

/// <summary>
/// Launch limits known before a launch: the largest block the step kernels are built for, and the checks of a launch
/// against a device's limits and a kernel's own maximum (<c>CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK</c>, which the
/// driver derives from the kernel's registers, shared memory and <c>__launch_bounds__</c>). Shared by
/// <see cref="CudaDevice"/> and the host emulator, so a launch the GPU would refuse is refused on the CPU too, with a
/// message that names the kernel and the limit instead of <c>CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES</c>.
/// </summary>
public static class KernelLimits
{
    /// <summary>
    /// The largest <c>BlockSize</c> of the optimizer backends (<c>DeviceBackendOptions</c>, host- and device-resident):
    /// <c>CA_MAX_BLOCK</c> of <c>kernels/common.cuh</c>, the <c>__launch_bounds__</c> of every kernel launched with
    /// that block size, so each of them fits 64K registers at this many threads (tested on sm_80 and sm_90 cubins).
    /// </summary>
    public const int MaxBlockSize = 1024;

    /// <summary>Block sizes are whole warps.</summary>
    public const int BlockSizeMultiple = 32;

    /// <summary>Per-axis limits of compute capability 5.0 and newer (CUDA C Programming Guide, table of technical
    /// specifications): the driver reports the same through <c>cuDeviceGetAttribute</c>.</summary>
    public static readonly LaunchLimits Standard = new(MaxThreadsPerBlock: 1024, MaxBlockX: 1024, MaxBlockY: 1024, MaxBlockZ: 64,
        MaxGridX: int.MaxValue, MaxGridY: 65535, MaxGridZ: 65535);

    /// <summary>Whether <paramref name="kernel"/> is launched with the backends' <c>BlockSize</c> (DeviceBackend,
    /// DeviceSignDiagnostics, FusedStepBenchmark), so it must launch at <see cref="MaxBlockSize"/>:
    /// every optimizer step (<c>*_step</c>, <c>*_step_diag</c>), the gradient checks and the separate diagnostics pass.</summary>
    public static bool IsLaunchedWithBlockSize(string kernel) =>
        kernel.EndsWith("_step", StringComparison.Ordinal) || kernel.EndsWith("_step_diag", StringComparison.Ordinal) ||
        kernel is "grad_nonfinite_check" or "grad_norm_partial" or "sign_diagnostics";

    /// <summary>Throws unless <paramref name="blockSize"/> is a multiple of 32 in [32, <see cref="MaxBlockSize"/>].</summary>
    public static void ValidateBlockSize(int blockSize)
    {
        if (blockSize is < BlockSizeMultiple or > MaxBlockSize || blockSize % BlockSizeMultiple != 0)
            throw new ArgumentException(
                $"BlockSize {blockSize} must be a multiple of {BlockSizeMultiple} in [{BlockSizeMultiple}, {MaxBlockSize}] " +
                $"(the step kernels are compiled with __launch_bounds__({MaxBlockSize}))");
    }

    /// <summary>
    /// Checks one launch: non-empty grid and block, each axis within the device's limits, the block's threads within
    /// the device's and the kernel's own maximum (<paramref name="kernelMaxThreads"/>, 0 when unknown).
    /// </summary>
    /// <exception cref="ArgumentException">A limit is exceeded; the message names the kernel, the value and the limit.</exception>
    public static void CheckLaunch(string kernel, Dim3 grid, Dim3 block, LaunchLimits limits, int kernelMaxThreads)
    {
        if (grid.Count == 0 || block.Count == 0)
            throw new ArgumentException($"launch of {kernel} with an empty grid {grid} or block {block}: skip the launch when there is no work");
        Axis(kernel, "block", 'x', block.X, limits.MaxBlockX);
        Axis(kernel, "block", 'y', block.Y, limits.MaxBlockY);
        Axis(kernel, "block", 'z', block.Z, limits.MaxBlockZ);
        Axis(kernel, "grid", 'x', grid.X, limits.MaxGridX);
        Axis(kernel, "grid", 'y', grid.Y, limits.MaxGridY);
        Axis(kernel, "grid", 'z', grid.Z, limits.MaxGridZ);
        if (block.Count > (ulong)limits.MaxThreadsPerBlock)
            throw new ArgumentException($"launch of {kernel}: block {block} has {block.Count} threads, the device allows {limits.MaxThreadsPerBlock}");
        if (kernelMaxThreads > 0 && block.Count > (ulong)kernelMaxThreads)
            throw new ArgumentException(
                $"launch of {kernel}: block {block} has {block.Count} threads, but this kernel allows at most {kernelMaxThreads} " +
                "(CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK: its registers per thread or __launch_bounds__ limit the block)");
    }

    private static void Axis(string kernel, string what, char axis, uint value, int limit)
    {
        if (value > (uint)limit)
            throw new ArgumentException($"launch of {kernel}: {what} {axis} = {value} exceeds the device's limit of {limit} on that axis");
    }
}

/// <summary>A device's launch limits (<c>cuDeviceGetAttribute</c>: MAX_THREADS_PER_BLOCK, MAX_BLOCK_DIM_X/Y/Z,
/// MAX_GRID_DIM_X/Y/Z).</summary>
public sealed record LaunchLimits(int MaxThreadsPerBlock, int MaxBlockX, int MaxBlockY, int MaxBlockZ, int MaxGridX, int MaxGridY, int MaxGridZ);
