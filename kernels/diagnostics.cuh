// diagnostics.cuh — the sign-decomposition statistics (arXiv 2507.05966: x -= lr * u ∘ sign(m), u = |m| / (sqrt(v) + eps)),
// shared by the separate pass (diagnostics.cu: sign_diagnostics) and the diagnostics-enabled fused steps
// (adam.cu: adam_step_diag, nadam_step_diag, radam_step_diag; sign.cu: signadam_step_diag), which accumulate the same
// per-tensor record while they do the step, from the values already in registers (no extra global read).
// The C# reference is src/CudaAdam/Diagnostics/SignDiagnostics.cs (SignAccumulator.Add); the record is decoded by
// src/CudaAdam/Diagnostics/DeviceSignDiagnostics.cs (Decode).
//
// Per element (float32, IEEE ops only, as the reference):
//   g' = the gradient as the moments saw it (maximize: -g; the fused steps: also unscaled and clipped)
//   u  = fabsf(m) / (sqrtf(v) + eps)           on the stored (uncorrected) moments after the step; AMSGrad's max unused
//   agree = sign(m) == sign(g')               (sign(0) = 0; NaN counts as 0)
//   du = fabsf(p_prev - p)                    |the step's change of x| (fp32; 16-bit params: before rounding)
// Per tensor, stats[tensor * CA_DIAG_STRIDE + ...] (unsigned long long slots, zeroed before the launch):
//   SUM_U, SUM_ABS_G, SUM_G2: double sums (bits stored in the slot), one atomicAdd per block: order-dependent,
//                             compared with |ref - x| <= atol + rtol |ref|
//   MAX_U, MAX_UPDATE:        max of the float bits (non-negative floats order like their bits): exact
//   AGREE, COUNT:             integer counts: exact
//   HIST + b:                 counts of u in bin b = #{ j : edges[j] <= u } (NaN: the last bin): exact
#pragma once
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
#define CA_DIAG_MAX_WARPS 32  // blockDim.x <= 1024, a multiple of 32

static __device__ __forceinline__ int ca_diag_sign(float x) {
    return x > 0.0f ? 1 : (x < 0.0f ? -1 : 0);
}

/// #{ j : edges[j] <= u } for the sorted edges; NaN goes to the last bin (SignHistogram.Bin in C#).
/// A guess from the float's exponent and mantissa (log2 u to within 0.09, i.e. within one bin), then exact compares
/// with the edges walk it to the answer: the result depends only on the compares, never on the guess's rounding.
static __device__ __forceinline__ int ca_diag_bin(float u, const float* edges) {
    if (!(u >= edges[0])) return u != u ? CA_DIAG_BINS - 1 : 0;   // NaN, or below 1e-8 (zero included)
    if (u >= edges[CA_DIAG_EDGES - 1]) return CA_DIAG_BINS - 1;      // >= 1e2, +inf
    const unsigned int bits = __float_as_uint(u);                    // u is a positive normal float here
    const float log2u = (float)((int)(bits >> 23) - 127) + (float)(bits & 0x7fffffu) * (1.0f / 8388608.0f);
    int b = 1 + (int)((log2u + 26.5754247591f) * 2.40823996531f);   // 1 + 8 log10(u / 1e-8)
    b = b < 1 ? 1 : (b > CA_DIAG_EDGES - 1 ? CA_DIAG_EDGES - 1 : b);
    while (edges[b - 1] > u) b--;                                   // stops at b = 1: edges[0] <= u
    while (b < CA_DIAG_EDGES && edges[b] <= u) b++;
    return b;
}

/// One thread's share of a tensor's record (everything but the histogram), in registers.
struct CaDiagThread {
    double sum_u, sum_abs_g, sum_g2;
    unsigned long long agree;
    unsigned int max_u, max_update;   // float bits
};

static __device__ __forceinline__ void ca_diag_init(CaDiagThread& a) {
    a.sum_u = 0.0; a.sum_abs_g = 0.0; a.sum_g2 = 0.0; a.agree = 0ull; a.max_u = 0u; a.max_update = 0u;
}

/// Adds one element (g as the moments saw it, m and v after the step, x before and after); returns u's bin.
static __device__ __forceinline__ int ca_diag_observe(CaDiagThread& a, float g, float m, float v, float eps, float p_prev,
                                                      float p, const float* edges) {
    const float u = fabsf(m) / (sqrtf(v) + eps);
    const float du = fabsf(p_prev - p);
    a.sum_u += (double)u;
    a.sum_abs_g += (double)fabsf(g);
    a.sum_g2 += (double)g * (double)g;
    if (ca_diag_sign(m) == ca_diag_sign(g)) a.agree++;
    const unsigned int ub = __float_as_uint(u), db = __float_as_uint(du);
    if (ub > a.max_u) a.max_u = ub;
    if (db > a.max_update) a.max_update = db;
    return ca_diag_bin(u, edges);
}

/// Warp-aggregated histogram increment into this warp's private histogram: the lanes holding the same bin elect one
/// leader, which adds their count (one shared atomic per distinct bin, never two on one address). bin < 0: this lane
/// has no element. ALL 32 lanes of the warp must call it together.
static __device__ __forceinline__ void ca_diag_hist_add(unsigned int* warp_hist, int bin) {
    const unsigned peers = __match_any_sync(0xffffffffu, bin);
    if (bin >= 0 && (int)(threadIdx.x & 31u) == __ffs(peers) - 1) atomicAdd(&warp_hist[bin], (unsigned)__popc(peers));
}

/// Per-block shared memory of the record: the edges, one histogram per warp, each warp's reduced share.
struct CaDiagShared {
    float edges[CA_DIAG_EDGES];
    unsigned int hist[CA_DIAG_MAX_WARPS * CA_DIAG_BINS];
    double warp_sums[CA_DIAG_MAX_WARPS * 3];                  // sum_u, sum_abs_g, sum_g2 per warp
    unsigned long long warp_counts[CA_DIAG_MAX_WARPS * 3];    // agree, max_u, max_update per warp
};

/// Loads the edges and zeroes the warps' histograms. Every thread must call it (it ends with a barrier).
static __device__ __forceinline__ void ca_diag_block_begin(CaDiagShared& s, const float* edges) {
    for (unsigned k = threadIdx.x; k < CA_DIAG_EDGES; k += blockDim.x) s.edges[k] = edges[k];
    const unsigned used = (blockDim.x >> 5) * CA_DIAG_BINS;
    for (unsigned k = threadIdx.x; k < used; k += blockDim.x) s.hist[k] = 0u;
    __syncthreads();
}

/// Folds the six shares of a warp's lanes into lane 0 by shuffles (a fixed tree: sums add, maxima of float bits max).
/// All 32 lanes must call it together.
static __device__ __forceinline__ void ca_diag_warp_fold(double& su, double& sg1, double& sg2, unsigned long long& ag,
                                                         unsigned long long& mu, unsigned long long& md) {
    for (int k = 16; k > 0; k >>= 1) {
        su += __shfl_down_sync(0xffffffffu, su, k);
        sg1 += __shfl_down_sync(0xffffffffu, sg1, k);
        sg2 += __shfl_down_sync(0xffffffffu, sg2, k);
        ag += __shfl_down_sync(0xffffffffu, ag, k);
        const unsigned long long mu2 = __shfl_down_sync(0xffffffffu, mu, k), md2 = __shfl_down_sync(0xffffffffu, md, k);
        mu = mu2 > mu ? mu2 : mu;
        md = md2 > md ? md2 : md;
    }
}

/// Adds a block's share to the tensor's record with one barrier: each warp folds its lanes' shares by shuffles (fixed
/// tree) into shared memory; after the barrier warp 0 folds the warps' and thread 0 issues one set of global atomics,
/// while the threads k < CA_DIAG_BINS add up bin k over the warps' histograms and issue one atomic per non-empty bin.
/// Every thread must call it.
static __device__ __forceinline__ void ca_diag_block_flush(CaDiagShared& s, CaDiagThread a, long long count,
                                                           unsigned long long* out) {
    double su = a.sum_u, sg1 = a.sum_abs_g, sg2 = a.sum_g2;
    unsigned long long ag = a.agree, mu = a.max_u, md = a.max_update;
    ca_diag_warp_fold(su, sg1, sg2, ag, mu, md);
    const unsigned lane = threadIdx.x & 31u, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    if (lane == 0) {
        s.warp_sums[3 * warp] = su; s.warp_sums[3 * warp + 1] = sg1; s.warp_sums[3 * warp + 2] = sg2;
        s.warp_counts[3 * warp] = ag; s.warp_counts[3 * warp + 1] = mu; s.warp_counts[3 * warp + 2] = md;
    }
    __syncthreads();   // the warps' shares and histograms are complete
    if (warp == 0) {
        su = 0.0; sg1 = 0.0; sg2 = 0.0; ag = 0ull; mu = 0ull; md = 0ull;
        if (lane < warps) {
            su = s.warp_sums[3 * lane]; sg1 = s.warp_sums[3 * lane + 1]; sg2 = s.warp_sums[3 * lane + 2];
            ag = s.warp_counts[3 * lane]; mu = s.warp_counts[3 * lane + 1]; md = s.warp_counts[3 * lane + 2];
        }
        ca_diag_warp_fold(su, sg1, sg2, ag, mu, md);
        if (lane == 0) {
            atomicAdd(reinterpret_cast<double*>(out + CA_DIAG_SUM_U), su);
            atomicAdd(reinterpret_cast<double*>(out + CA_DIAG_SUM_ABS_G), sg1);
            atomicAdd(reinterpret_cast<double*>(out + CA_DIAG_SUM_G2), sg2);
            atomicMax(out + CA_DIAG_MAX_U, mu);
            atomicMax(out + CA_DIAG_MAX_UPDATE, md);
            atomicAdd(out + CA_DIAG_AGREE, ag);
            atomicAdd(out + CA_DIAG_COUNT, (unsigned long long)count);
        }
    }
    for (unsigned k = threadIdx.x; k < CA_DIAG_BINS; k += blockDim.x) {
        unsigned long long total = 0ull;
        for (unsigned w = 0; w < warps; w++) total += s.hist[w * CA_DIAG_BINS + k];
        if (total != 0ull) atomicAdd(out + CA_DIAG_HIST + k, total);
    }
}

// ---------------------------------------------------------------------------------------------------------
// ca_foreach_diag: ca_foreach (common.cuh) plus the record above, for the Adam family (ops that leave e.g as the
// gradient the moments saw and keep m, v in e.m, e.v). The element loads, the op and the stores are ca_foreach's,
// in the same order, so the step's results are bitwise those of the plain kernel; the diagnostics only read
// registers. Differences from ca_foreach, all outside the element math:
//   * the loops are warp-uniform (every lane of a warp iterates while any lane has an element; lanes past the end
//     do nothing but vote), so that the warp-aggregated histogram increments can use the full warp mask;
//   * blockDim.x must be a multiple of 32 (the backends' BlockSize is);
//   * a skipped step (skip flag) and an inactive tensor return before anything, so their records stay zero.
// Per-warp counts are 32-bit: chunks must have fewer than 2^32 elements.
// ---------------------------------------------------------------------------------------------------------
template <class Op>
static __device__ __forceinline__ void ca_foreach_diag(const CaTensor* tensors, const CaChunk* chunks, float inv_scale,
                                                       const int* skip_flag, int epoch, const float* clip,
                                                       const float* edges, unsigned long long* stats, Op op) {
    __shared__ CaDiagShared s;
    if (skip_flag != nullptr && *(const volatile int*)skip_flag == epoch) return;
    const float coef = clip ? *clip : 1.0f;
    const CaChunk c = chunks[blockIdx.x];
    const CaTensor t = tensors[c.tensor];
    if (!(t.flags & CA_ACTIVE) || c.length <= 0) return;
    ca_diag_block_begin(s, edges);
    const float eps = t.s[CA_S_EPS];
    unsigned int* warp_hist = s.hist + (threadIdx.x >> 5) * CA_DIAG_BINS;
    const long long lane = (long long)(threadIdx.x & 31u);
    const long long warp_first = (long long)threadIdx.x - lane;
    CaDiagThread a;
    ca_diag_init(a);
    const long long start = c.start, end = c.start + c.length;
    long long scalar_from = start;
    if (ca_aligned16(t, start)) {
        const long long nvec = c.length / 4;
        for (long long jw = warp_first; jw < nvec; jw += blockDim.x) {
            const long long j = jw + lane;
            int bins[4] = {-1, -1, -1, -1};
            if (j < nvec)
                ca_step4(t, start + 4 * j, inv_scale, clip, coef, op, [&](int k, const CaElem& e, float p_before) {
                    bins[k] = ca_diag_observe(a, e.g, e.m, e.v, eps, p_before, e.p, s.edges);
                });
            for (int k = 0; k < 4; k++) ca_diag_hist_add(warp_hist, bins[k]);
        }
        scalar_from = start + 4 * nvec;
    }
    for (long long iw = scalar_from + warp_first; iw < end; iw += blockDim.x) {
        const long long i = iw + lane;
        int bin = -1;
        if (i < end) {
            CaElem e;
            ca_load(t, i, inv_scale, clip, coef, e);
            const float p_prev = e.p;
            op(e, t);
            bin = ca_diag_observe(a, e.g, e.m, e.v, eps, p_prev, e.p, s.edges);
            ca_store(t, i, e);
        }
        ca_diag_hist_add(warp_hist, bin);
    }
    ca_diag_block_flush(s, a, c.length, stats + (long long)c.tensor * CA_DIAG_STRIDE);
}
