// diagnostics.cu — statistics of Adam's sign decomposition x -= lr * u ∘ sign(m), u = |m| / (sqrt(v) + eps)
// (arXiv 2507.05966), measured from one step's state. The C# reference is src/CudaAdam/Diagnostics/SignDiagnostics.cs
// (plain loops, double accumulation); src/CudaAdam/Diagnostics/DeviceSignDiagnostics.cs launches this kernel.
//
// Per element (float32, IEEE ops only, as the reference):
//   g' = maximize ? -g : g                     the gradient the moments saw
//   u  = fabsf(m) / (sqrtf(v) + eps)           the magnitude, on the stored (uncorrected) moments
//   agree = sign(m) == sign(g')               (sign(0) = 0; NaN counts as 0)
//   du = fabsf(p_prev - p)                    |the step's change of x|
// Per tensor, accumulated into stats[tensor * CA_DIAG_STRIDE + ...] (unsigned long long slots):
//   SUM_U, SUM_ABS_G, SUM_G2: double sums (bits stored in the slot), one atomicAdd per block: order-dependent,
//                             compared with |ref - x| <= atol + rtol |ref|
//   MAX_U, MAX_UPDATE:        max of the float bits (non-negative floats order like their bits): exact
//   AGREE, COUNT:             integer counts: exact
//   HIST + b:                 counts of u in bin b = #{ j : edges[j] <= u } (NaN: the last bin): exact
#include "common.cuh"

#define CA_DIAG_EDGES 81      // edges[j] = float(1e-8 * 10^(j/8)), j = 0..80 (1e-8 .. 1e2), from the host
#define CA_DIAG_BINS 82       // bin 0: u < 1e-8 (zeros too); bin 81: u >= 1e2 or NaN
#define CA_DIAG_STRIDE 96     // slots per tensor
#define CA_DIAG_SUM_U 0
#define CA_DIAG_SUM_ABS_G 1
#define CA_DIAG_SUM_G2 2
#define CA_DIAG_MAX_U 3
#define CA_DIAG_MAX_UPDATE 4
#define CA_DIAG_AGREE 5
#define CA_DIAG_COUNT 6
#define CA_DIAG_HIST 8
#define CA_DIAG_MAXIMIZE 1u
#define CA_DIAG_MAX_WARPS 32  // blockDim.x <= 1024, a multiple of 32

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

static __device__ __forceinline__ int ca_diag_sign(float x) {
    return x > 0.0f ? 1 : (x < 0.0f ? -1 : 0);
}

/// #{ j : edges[j] <= u } by binary search over the sorted edges; NaN goes to the last bin.
static __device__ __forceinline__ int ca_diag_bin(float u, const float* edges) {
    if (u != u) return CA_DIAG_BINS - 1;
    int lo = 0, hi = CA_DIAG_EDGES;
    while (lo < hi) {
        const int mid = (lo + hi) >> 1;
        if (edges[mid] <= u) lo = mid + 1; else hi = mid;
    }
    return lo;
}

/// Block-wide sum (Op = add) or max (Op = max) of x: shuffles within each warp, the warps' results through shared
/// memory, shuffles again in warp 0. The result is valid in thread 0. Every thread of the block must call it.
template <class T, class Op>
static __device__ __forceinline__ T ca_diag_block_reduce(T x, T* scratch, Op op) {
    for (int k = 16; k > 0; k >>= 1) x = op(x, __shfl_down_sync(0xffffffffu, x, k));
    const unsigned lane = threadIdx.x & 31u, warp = threadIdx.x >> 5;
    if (lane == 0) scratch[warp] = x;
    __syncthreads();
    if (warp == 0) {
        const unsigned warps = blockDim.x >> 5;
        x = lane < warps ? scratch[lane] : T(0);
        for (int k = 16; k > 0; k >>= 1) x = op(x, __shfl_down_sync(0xffffffffu, x, k));
    }
    __syncthreads(); // scratch may be reused by the next reduction
    return x;
}

struct CaDiagAdd {
    template <class T> __device__ __forceinline__ T operator()(T a, T b) const { return a + b; }
};
struct CaDiagMax {
    template <class T> __device__ __forceinline__ T operator()(T a, T b) const { return a > b ? a : b; }
};

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
