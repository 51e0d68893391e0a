// diagnostics.cu — statistics of Adam's sign decomposition x -= lr * u ∘ sign(m), u = |m| / (sqrt(v) + eps)
// (arXiv 2507.05966), measured from one step's state by a SEPARATE pass after the step (it reads p_prev, p, g, m, v
// again). The diagnostics-enabled fused steps (adam_step_diag, signadam_step_diag, ...) accumulate the same record
// during the step instead; both share diagnostics.cuh. The C# reference is src/CudaAdam/Diagnostics/SignDiagnostics.cs
// (plain loops, double accumulation); src/CudaAdam/Diagnostics/DeviceSignDiagnostics.cs launches this kernel.
//
// Per element and per tensor: the record described in diagnostics.cuh (g' = maximize ? -g : g here, as given).
#include "diagnostics.cuh"   // the record's layout (CA_DIAG_*), the binning, the per-warp histograms, the block flush

#define CA_DIAG_MAXIMIZE 1u

/// One tensor: its arrays after the step and its parameters before it (56 bytes; mirrored by
/// src/CudaAdam/Diagnostics/DeviceSignDiagnostics.cs CaDiagTensor).
struct CaDiagTensor {
    const float* p_prev; // x before the step
    const float* p;      // x after the step
    const float* g;      // the gradient of the step
    const float* m;      // first moment after the step
    const float* v;      // second moment after the step
    long long n;
    float eps;
    unsigned int flags;  // CA_DIAG_MAXIMIZE
};

#if defined(__CUDACC__) || defined(__CUDACC_RTC__)
static_assert(sizeof(CaDiagTensor) == 56, "CaDiagTensor must be 56 bytes (mirrored in C#)");
#endif

// One block per chunk (src/CudaAdam/Device/KernelTables.cs ChunkTable); blockDim.x a multiple of 32, <= 1024.
// stats must be zeroed before the launch; every block adds its chunk's share. The same per-element observation,
// per-warp histograms and block flush as the fused steps (diagnostics.cuh), over arrays read back from memory.
extern "C" __global__ __launch_bounds__(CA_MAX_BLOCK) void sign_diagnostics(const CaDiagTensor* __restrict__ tensors, const CaChunk* __restrict__ chunks,
                                            const float* __restrict__ edges, unsigned long long* __restrict__ stats)
{
    __shared__ CaDiagShared s;
    const CaChunk c = chunks[blockIdx.x];
    const CaDiagTensor t = tensors[c.tensor];
    ca_diag_block_begin(s, edges);
    unsigned int* warp_hist = s.hist + (threadIdx.x >> 5) * CA_DIAG_BINS;
    const long long lane = (long long)(threadIdx.x & 31u);
    const long long warp_first = (long long)threadIdx.x - lane;
    const long long end = c.start + c.length;
    const bool maximize = (t.flags & CA_DIAG_MAXIMIZE) != 0u;
    CaDiagThread a;
    ca_diag_init(a);
    for (long long iw = c.start + warp_first; iw < end; iw += blockDim.x) {   // whole warps: ca_diag_hist_add
        const long long i = iw + lane;
        int bin = -1;
        if (i < end) {
            const float g = maximize ? -t.g[i] : t.g[i];
            bin = ca_diag_observe(a, g, t.m[i], t.v[i], t.eps, t.p_prev[i], t.p[i], s.edges);
        }
        ca_diag_hist_add(warp_hist, bin);
    }
    ca_diag_block_flush(s, a, c.length, stats + (long long)c.tensor * CA_DIAG_STRIDE);
}

/// Test hook: bins[i] = ca_diag_bin(u[i], edges) for i < n (grid-stride), so that the binning that both the separate pass
/// and the fused steps use can be checked value by value against SignHistogram.Bin (edges, their neighbours, NaN, ...).
extern "C" __global__ void sign_diagnostics_bin(const float* __restrict__ u, long long n, const float* __restrict__ edges,
                                                int* __restrict__ bins)
{
    for (long long i = cudaadam_global_index(); i < n; i += cudaadam_grid_stride()) bins[i] = ca_diag_bin(u[i], edges);
}
