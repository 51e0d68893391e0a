#pragma warning disable CS1591 // CS1591 backlog (issue 13): 2 public members here have no XML doc yet; document them, then delete this line
using CudaAdam.Cuda.Compilation;

namespace CudaAdam.Cuda;

/// <summary>
/// A tiny kernel file used to check a device end to end (compile, load, launch, graph capture) without depending on
/// the optimizer kernels: <c>probe_add_scalar</c> adds a scalar to every element, <c>probe_axpy</c> computes
/// <c>y = a*x + y</c> as a separate multiply and add (no FMA: compiled with --fmad=false),
/// <c>probe_reverse_shared</c> reverses an array through dynamic shared memory.
/// </summary>
public static class ProbeKernels
{
    public const string FileName = "probe.cu";

    public const string Text = """
        #include "common.cuh"

        extern "C" __global__ void probe_add_scalar(float* x, float a, long long n) {
            for (cudaadam_index i = cudaadam_global_index(); i < n; i += cudaadam_grid_stride()) x[i] = x[i] + a;
        }

        extern "C" __global__ void probe_axpy(float a, const float* x, float* y, long long n) {
            for (cudaadam_index i = cudaadam_global_index(); i < n; i += cudaadam_grid_stride()) y[i] = a * x[i] + y[i];
        }

        // One block reverses x[0..n) into y through n floats of dynamic shared memory (tests launches above 48 KiB).
        extern "C" __global__ void probe_reverse_shared(const float* x, float* y, int n) {
            extern __shared__ float probe_shared[];
            for (int i = threadIdx.x; i < n; i += blockDim.x) probe_shared[i] = x[i];
            __syncthreads();
            for (int i = threadIdx.x; i < n; i += blockDim.x) y[i] = probe_shared[n - 1 - i];
        }
        """;

    /// <summary>The probe source with the embedded headers.</summary>
    public static KernelSource Source => KernelSource.WithEmbeddedHeaders(FileName, Text);
}
