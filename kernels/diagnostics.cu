// diagnostics.cu — statistics of Adam's sign decomposition x -= lr * u ∘ sign(m), u = |m| / (sqrt(v) + eps)
// (arXiv 2507.05966), measured from one step's state by a SEPARATE pass after the step (it reads p_prev, p, g, m, v
// again). The diagnostics-enabled fused steps (adam_step_diag, signadam_step_diag, ...) accumulate the same record
// during the step instead; both share diagnostics.cuh. The C# reference is src/CudaAdam/Diagnostics/SignDiagnostics.cs
// (plain loops, double accumulation); src/CudaAdam/Diagnostics/DeviceSignDiagnostics.cs launches this kernel.
//
// Per element and per tensor: the record described in diagnostics.cuh (g' = maximize ? -g : g here, as given).
#include "diagnostics.cuh"   // the record's layout (CA_DIAG_*), the binning, the block reductions

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

static __device__ __forceinline__ float ca_diag_u(float m, float v, float eps) {
    return fabsf(m) / (sqrtf(v) + eps);
}

// One block per chunk (src/CudaAdam/Device/KernelTables.cs ChunkTable); blockDim.x a multiple of 32, <= 1024.
// stats must be zeroed before the launch; every block adds its chunk's share.
extern "C" __global__ void sign_diagnostics(const CaDiagTensor* __restrict__ tensors, const CaChunk* __restrict__ chunks,
                                            const float* __restrict__ edges, unsigned long long* __restrict__ stats)
{
    __shared__ float s_edges[CA_DIAG_EDGES];
    __shared__ unsigned int s_hist[CA_DIAG_BINS];
    __shared__ double s_double[CA_DIAG_MAX_WARPS];
    __shared__ unsigned long long s_ull[CA_DIAG_MAX_WARPS];

    const CaChunk c = chunks[blockIdx.x];
    const CaDiagTensor t = tensors[c.tensor];
    for (unsigned k = threadIdx.x; k < CA_DIAG_EDGES; k += blockDim.x) s_edges[k] = edges[k];
    for (unsigned k = threadIdx.x; k < CA_DIAG_BINS; k += blockDim.x) s_hist[k] = 0u;
    __syncthreads();

    double sum_u = 0.0, sum_abs_g = 0.0, sum_g2 = 0.0;
    unsigned long long agree = 0ull, max_u = 0ull, max_update = 0ull;
    const bool maximize = (t.flags & CA_DIAG_MAXIMIZE) != 0u;
    for (long long i = c.start + threadIdx.x; i < c.start + c.length; i += blockDim.x) {
        const float g = maximize ? -t.g[i] : t.g[i];
        const float m = t.m[i];
        const float u = ca_diag_u(m, t.v[i], t.eps);
        const float du = fabsf(t.p_prev[i] - t.p[i]);
        sum_u += (double)u;
        sum_abs_g += (double)fabsf(g);
        sum_g2 += (double)g * (double)g;
        if (ca_diag_sign(m) == ca_diag_sign(g)) agree++;
        const unsigned long long ub = (unsigned long long)__float_as_uint(u);
        const unsigned long long db = (unsigned long long)__float_as_uint(du);
        if (ub > max_u) max_u = ub;
        if (db > max_update) max_update = db;
        atomicAdd(&s_hist[ca_diag_bin(u, s_edges)], 1u);
    }

    sum_u = ca_diag_block_reduce(sum_u, s_double, CaDiagAdd());
    sum_abs_g = ca_diag_block_reduce(sum_abs_g, s_double, CaDiagAdd());
    sum_g2 = ca_diag_block_reduce(sum_g2, s_double, CaDiagAdd());
    agree = ca_diag_block_reduce(agree, s_ull, CaDiagAdd());
    max_u = ca_diag_block_reduce(max_u, s_ull, CaDiagMax());
    max_update = ca_diag_block_reduce(max_update, s_ull, CaDiagMax());

    unsigned long long* out = stats + (long long)c.tensor * CA_DIAG_STRIDE;
    if (threadIdx.x == 0) {
        atomicAdd(reinterpret_cast<double*>(out + CA_DIAG_SUM_U), sum_u);
        atomicAdd(reinterpret_cast<double*>(out + CA_DIAG_SUM_ABS_G), sum_abs_g);
        atomicAdd(reinterpret_cast<double*>(out + CA_DIAG_SUM_G2), sum_g2);
        atomicMax(out + CA_DIAG_MAX_U, max_u);
        atomicMax(out + CA_DIAG_MAX_UPDATE, max_update);
        atomicAdd(out + CA_DIAG_AGREE, agree);
        atomicAdd(out + CA_DIAG_COUNT, (unsigned long long)c.length);
    }
    for (unsigned k = threadIdx.x; k < CA_DIAG_BINS; k += blockDim.x)
        if (s_hist[k] != 0u) atomicAdd(out + CA_DIAG_HIST + k, (unsigned long long)s_hist[k]);
}

/// Test hook: bins[i] = ca_diag_bin(u[i], edges) for i < n (grid-stride), so that the binning that both the separate pass
/// and the fused steps use can be checked value by value against SignHistogram.Bin (edges, their neighbours, NaN, ...).
extern "C" __global__ void sign_diagnostics_bin(const float* __restrict__ u, long long n, const float* __restrict__ edges,
                                                int* __restrict__ bins)
{
    for (long long i = cudaadam_global_index(); i < n; i += cudaadam_grid_stride()) bins[i] = ca_diag_bin(u[i], edges);
}
