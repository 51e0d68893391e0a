// common.cuh: helpers shared by every kernels/*.cu file. Included by name: NVRTC receives it from the embedded
// resources (nvrtcCreateProgram's headers), the host emulator from this directory. Keep it free of host-only code.
#pragma once

// 64-bit element indexing: tensors may exceed 2^31 elements.
typedef long long cudaadam_index;

// The global index of this thread in a 1-D launch, in 64 bits.
__device__ __forceinline__ cudaadam_index cudaadam_global_index() {
    return (cudaadam_index)blockIdx.x * (cudaadam_index)blockDim.x + (cudaadam_index)threadIdx.x;
}

// The total number of threads of a 1-D launch (the stride of a grid-stride loop).
__device__ __forceinline__ cudaadam_index cudaadam_grid_stride() {
    return (cudaadam_index)gridDim.x * (cudaadam_index)blockDim.x;
}

// Threads per block. The kernels launched with the backends' BlockSize (every *_step and *_step_diag, the gradient
// checks, the separate diagnostics pass) are declared __launch_bounds__(CA_MAX_BLOCK): the compiler then keeps them
// within 64K registers / 1024 threads = 64 registers per thread, so every BlockSize the validators accept (a multiple
// of 32 up to CA_MAX_BLOCK; KernelLimits.MaxBlockSize in src/CudaAdam.Cuda/KernelLimits.cs) launches. Without it the
// *_step_diag kernels used 73-107 registers and could not launch above 512-768 threads. The emulator ignores it.
#define CA_MAX_BLOCK 1024

// Dynamic shared memory: `CA_DYNAMIC_SHARED(float, s);` declares `float* s` over the launch's sharedBytes
// (16-byte aligned on the GPU, 256 on the emulator). Use it instead of `extern __shared__ T s[];`, which the
// emulator cannot express (cuda_emu.h defines its own CA_DYNAMIC_SHARED; it also defines CUDAADAM_EMU).
#ifndef CA_DYNAMIC_SHARED
#define CA_DYNAMIC_SHARED(type, name)                                    \
    extern __shared__ __align__(16) unsigned char ca_dynamic_shared_[]; \
    type* name = reinterpret_cast<type*>(ca_dynamic_shared_)
#endif

// =========================================================================================================
// common.cuh — shared definitions of the CudaAdam kernels (kernels/*.cu).
//
// Compiled two ways, from the same text:
//   * NVRTC (CUDA): --fmad=false --prec-div=true --prec-sqrt=true, no standard headers available;
//   * g++ for the host emulator: -ffp-contract=off, with native/emu/cuda_emu.h force-included.
// Both give IEEE float32 add/mul/div/sqrt, correctly rounded, never fused, so the kernels reproduce the C#
// reference (src/CudaAdam/Reference/*.cs) bit for bit. Never call fmaf, __fmaf_*, __fdividef, rsqrtf or any
// fast intrinsic in optimizer math.

// ---------------------------------------------------------------------------------------------------------
// Fused multi-tensor optimizer step: the tables (layout mirrored by src/CudaAdam/Device/KernelTables.cs; the
// static_asserts below and KernelTablesTests on the C# side pin sizes, offsets and flag values).
// ---------------------------------------------------------------------------------------------------------

/// CA_SCALARS, the number of per-tensor float scalars, and every CA_S_* slot index: generated from the algorithm
/// descriptors (src/CudaAdam/Algorithms.cs), which name each slot once for C# and CUDA. The host packs them in
/// src/CudaAdam/Device/KernelScalars.cs, rounding to float exactly where the C# reference writes (float).
#include "scalars.gen.cuh"

// Per-tensor flags (CaTensor::flags).
#define CA_ACTIVE      1u   // the tensor has a gradient this step; inactive tensors are not touched at all
#define CA_MAXIMIZE    2u   // g = -g first
#define CA_AMSGRAD     4u   // Adam family: keep the running maximum of v in vmax
#define CA_DECOUPLED   8u   // weight decay applied to x (AdamW / decoupled_weight_decay), not added to g
#define CA_WEIGHT_DECAY 16u // weight_decay != 0 (coupled L2 only happens when this is set, as in the reference)
#define CA_NESTEROV    32u  // SGD
#define CA_CENTERED    64u  // RMSProp
#define CA_MOMENTUM    128u // SGD / RMSProp: momentum != 0 (a momentum buffer exists)
#define CA_FIRST_STEP  256u // SGD: the momentum buffer does not exist yet; this step initializes it with d_p
#define CA_RECTIFIED   512u // RAdam: rho_t > 5 this step
#define CA_PARAM_BF16  1024u // parameters stored as bfloat16 in lp (fp32 state); see "16-bit parameters" below
#define CA_PARAM_FP16  2048u // parameters stored as IEEE half in lp
#define CA_STOCHASTIC  4096u // round the new parameter to bf16 stochastically (key, element index), else to nearest even

/// One parameter tensor of a fused step: where its data and state live, its length and its scalars.
/// 128 bytes. Pointers that the algorithm does not use are null.
struct CaTensor {
    float* p;           // fp32 parameter; with 16-bit parameters: the fp32 master weights, or null (no master)
    const float* g;     // gradient (scaled: multiplied by inv_scale in the kernel)
    float* m;           // first moment / momentum buffer
    float* v;           // second moment / accumulator
    float* vmax;        // AMSGrad's running maximum of v
    float* aux;         // RMSProp grad_avg (centered) / AdaDelta acc_delta
    unsigned short* lp; // 16-bit parameter (CA_PARAM_BF16 / CA_PARAM_FP16), else null
    long long n;        // elements
    unsigned int flags; // CA_* flags
    unsigned int key;   // stochastic rounding stream of this tensor and step (host: LowPrecision.Key)
    float s[CA_SCALARS]; // this step's float32 scalars of this tensor (hyperparameters and step-dependent terms)
};

/// A contiguous piece [start, start + length) of tensor `tensor`; one thread block per chunk.
/// Built once per parameter set on the host (src/CudaAdam/Device/ChunkTable.cs). 24 bytes.
struct CaChunk {
    long long start;
    long long length;
    int tensor;
    int reserved;
};

#if defined(__CUDACC__) || defined(__CUDACC_RTC__)
static_assert(sizeof(CaTensor) == 128, "CaTensor must be 128 bytes (mirrored in C#)");
static_assert(sizeof(CaChunk) == 24, "CaChunk must be 24 bytes (mirrored in C#)");
#endif

// ---------------------------------------------------------------------------------------------------------
// Scalar helpers with the exact semantics of the C# reference.
// ---------------------------------------------------------------------------------------------------------

/// Reference.Sign: +1, -1, or x itself for ±0 (keeps the sign of zero) and NaN.
static __device__ __forceinline__ float ca_sign(float x) {
    return x > 0.0f ? 1.0f : (x < 0.0f ? -1.0f : x);
}

/// .NET's MathF.Max (IEEE 754-2019 maximum): NaN if either is NaN, and +0 is larger than -0.
/// (CUDA's fmaxf returns the non-NaN operand and may return either zero: not the same.)
static __device__ __forceinline__ float ca_max(float a, float b) {
    if (a != b) {
        if (a != a) return a;      // a is NaN
        return b < a ? a : b;      // b NaN -> b
    }
    return copysignf(1.0f, b) < 0.0f ? a : b;
}

/// Whether x is neither infinite nor NaN, written with IEEE arithmetic only so that it means the same on the
/// GPU and in the emulator: x - x is 0 for every finite x and NaN for ±inf and NaN.
static __device__ __forceinline__ bool ca_isfinite(float x) {
    return (x - x) == 0.0f;
}

/// Whether all pointers of a chunk's tensor are 16-byte aligned at element `start` (null pointers do not count),
/// so that the chunk can be read and written with 128-bit (float4) accesses.
static __device__ __forceinline__ bool ca_aligned16(const CaTensor& t, long long start) {
    unsigned long long bits = 0;
    if (t.lp) return false;   // 16-bit parameters take the scalar path
    bits |= (unsigned long long)(t.p + start);
    bits |= (unsigned long long)(t.g + start);
    if (t.m) bits |= (unsigned long long)(t.m + start);
    if (t.v) bits |= (unsigned long long)(t.v + start);
    if (t.vmax) bits |= (unsigned long long)(t.vmax + start);
    if (t.aux) bits |= (unsigned long long)(t.aux + start);
    return (bits & 15ull) == 0ull;
}

/// One element's values, in registers. Slots the algorithm does not have read as 0 and are never stored.
struct CaElem {
    float p, g, m, v, vmax, aux;
};

// ---------------------------------------------------------------------------------------------------------
// 16-bit parameters (bf16 or fp16) with fp32 state, optional fp32 master weights, optional stochastic rounding.
//
// The element math is always fp32. The parameter is read from the fp32 master weights when there are some, else
// widened (exactly) from its 16-bit storage; the new value is written to the master weights (if any) and rounded
// to 16 bits: to nearest even, or, for bf16 with CA_STOCHASTIC, stochastically: the 16 bits below bf16's
// mantissa get a uniform random 16-bit integer added before truncation, so E[round(x)] = x. The random bits are
// a counter-based hash of (t.key, element index): no state, reproducible, the same on the GPU, the emulator and
// in C# (src/CudaAdam/Device/LowPrecision.cs is the line-by-line twin of everything in this section).
// Conversions use integer bit operations only (no cuda_fp16.h / cuda_bf16.h: NVRTC has no include path).
// ---------------------------------------------------------------------------------------------------------

/// 32 random bits for element i of the stream `key` (SplitMix64's finalizer over key and index).
static __device__ __forceinline__ unsigned int ca_random(unsigned int key, long long i) {
    unsigned long long z = ((unsigned long long)key << 32) ^ (unsigned long long)i;
    z += 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return (unsigned int)(z >> 32);
}

/// float -> bfloat16, round to nearest even; NaN stays a (quiet) NaN.
static __device__ __forceinline__ unsigned short ca_f32_to_bf16_rn(float x) {
    unsigned int u = __float_as_uint(x);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (unsigned short)((u >> 16) | 0x0040u);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (unsigned short)(u >> 16);
}

/// float -> bfloat16, stochastic rounding with the random bits r; ±inf and NaN as round to nearest.
static __device__ __forceinline__ unsigned short ca_f32_to_bf16_sr(float x, unsigned int r) {
    unsigned int u = __float_as_uint(x);
    if ((u & 0x7f800000u) == 0x7f800000u) return ca_f32_to_bf16_rn(x);
    u += r & 0xffffu;
    return (unsigned short)(u >> 16);
}

/// float -> IEEE half, round to nearest even (overflow to ±inf, gradual underflow, NaN quiet).
static __device__ __forceinline__ unsigned short ca_f32_to_f16_rn(float x) {
    unsigned int u = __float_as_uint(x);
    unsigned int sign = (u >> 16) & 0x8000u;
    unsigned int a = u & 0x7fffffffu;
    if (a > 0x7f800000u) return (unsigned short)(sign | 0x7e00u);      // NaN
    if (a >= 0x477ff000u) return (unsigned short)(sign | 0x7c00u);     // >= 65520: rounds to inf
    if (a >= 0x38800000u) {                                             // >= 2^-14: a normal half
        unsigned int r = a + 0xfffu + ((a >> 13) & 1u);
        return (unsigned short)(sign | ((r >> 13) - (112u << 10)));
    }
    if (a < 0x33000000u) return (unsigned short)sign;                  // < 2^-25: rounds to zero
    unsigned int e = a >> 23;                                           // 102 ... 112: a subnormal half
    unsigned int m = (a & 0x7fffffu) | 0x800000u;
    unsigned int shift = 126u - e;
    unsigned int k = m >> shift;
    unsigned int rem = m & ((1u << shift) - 1u), half = 1u << (shift - 1u);
    if (rem > half || (rem == half && (k & 1u))) k++;
    return (unsigned short)(sign | k);
}

/// IEEE half -> float (exact).
static __device__ __forceinline__ float ca_f16_to_f32(unsigned short h) {
    unsigned int sign = ((unsigned int)h & 0x8000u) << 16;
    unsigned int e = ((unsigned int)h >> 10) & 0x1fu, m = (unsigned int)h & 0x3ffu;
    if (e == 0x1fu) return __uint_as_float(sign | 0x7f800000u | (m << 13));
    if (e == 0u) {
        float v = (float)m * 5.9604644775390625e-8f;                    // m * 2^-24, exact
        return sign ? -v : v;
    }
    return __uint_as_float(sign | ((e + 112u) << 23) | (m << 13));
}

/// The 16-bit parameter as a float (exact), per CA_PARAM_BF16 / CA_PARAM_FP16.
static __device__ __forceinline__ float ca_widen(unsigned short h, unsigned int flags) {
    return (flags & CA_PARAM_FP16) ? ca_f16_to_f32(h) : __uint_as_float((unsigned int)h << 16);
}

/// The new parameter rounded to its 16-bit storage, per the flags (stochastic rounding: bf16 only).
static __device__ __forceinline__ unsigned short ca_narrow(float x, unsigned int flags, unsigned int key, long long i) {
    if (flags & CA_PARAM_FP16) return ca_f32_to_f16_rn(x);
    if (flags & CA_STOCHASTIC) return ca_f32_to_bf16_sr(x, ca_random(key, i));
    return ca_f32_to_bf16_rn(x);
}

// ---------------------------------------------------------------------------------------------------------
// The fused multi-tensor loop shared by every optimizer kernel.
//
//   ca_foreach(tensors, chunks, inv_scale, skip_flag, epoch, clip, op)
//
// One thread block per chunk. If skip_flag is non-null and *skip_flag == epoch, the non-finite check of this
// step (ca_check_nonfinite, launched just before on the same stream) found a non-finite gradient: every block
// returns before touching anything, so params and state stay bit-for-bit unchanged. Otherwise each element is
// loaded once (p, g and the state slots that exist), g is unscaled (g * inv_scale; 1.0 is exact), negated when
// CA_MAXIMIZE, handed to op(e, t), and p and the state are stored once. With a clip coefficient (clip non-null:
// *clip, written by grad_clip_finalize just before), g is (g * inv_scale) * *clip: two float32 multiplies, the
// order of torch's GradScaler.unscale_ then clip_grad_norm_'s in-place mul_; the gradient in memory is not
// rewritten. 128-bit loads/stores when every pointer of the chunk is 16-byte aligned (vector body + scalar tail),
// plain scalar accesses otherwise.
// 64-bit indexing throughout.
// ---------------------------------------------------------------------------------------------------------

static __device__ __forceinline__ void ca_load(const CaTensor& t, long long i, float inv_scale, const float* clip,
                                               float coef, CaElem& e) {
    e.p = t.p ? t.p[i] : ca_widen(t.lp[i], t.flags);
    e.g = t.g[i] * inv_scale;
    if (clip) e.g = e.g * coef;
    if (t.flags & CA_MAXIMIZE) e.g = -e.g;
    e.m = t.m ? t.m[i] : 0.0f;
    e.v = t.v ? t.v[i] : 0.0f;
    e.vmax = t.vmax ? t.vmax[i] : 0.0f;
    e.aux = t.aux ? t.aux[i] : 0.0f;
}

static __device__ __forceinline__ void ca_store(const CaTensor& t, long long i, const CaElem& e) {
    if (t.p) t.p[i] = e.p;
    if (t.lp) t.lp[i] = ca_narrow(e.p, t.flags, t.key, i);
    if (t.m) t.m[i] = e.m;
    if (t.v) t.v[i] = e.v;
    if (t.vmax) t.vmax[i] = e.vmax;
    if (t.aux) t.aux[i] = e.aux;
}

static __device__ __forceinline__ float4 ca_load4(const float* base, long long i) {
    return *reinterpret_cast<const float4*>(base + i);
}

static __device__ __forceinline__ void ca_store4(float* base, long long i, float4 x) {
    *reinterpret_cast<float4*>(base + i) = x;
}

static __device__ __forceinline__ float ca_lane(const float4& x, int k) {
    return k == 0 ? x.x : (k == 1 ? x.y : (k == 2 ? x.z : x.w));
}

static __device__ __forceinline__ void ca_set_lane(float4& x, int k, float value) {
    if (k == 0) x.x = value; else if (k == 1) x.y = value; else if (k == 2) x.z = value; else x.w = value;
}

/// One aligned group of four elements starting at i: loads p, g (unscaled, clipped, negated for maximize, exactly
/// as ca_load does) and the state slots the tensor has as float4, runs op on each lane in order, hands each lane to
/// lane_done(k, e, p_before) (the fused diagnostics' hook; a no-op in the plain step), and stores what op wrote.
/// The one place the vector path's loads, element order and stores are written down.
template <class Op, class LaneDone>
static __device__ __forceinline__ void ca_step4(const CaTensor& t, long long i, float inv_scale, const float* clip,
                                                float coef, Op& op, LaneDone lane_done) {
    const float4 zero4 = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
    float4 p4 = ca_load4(t.p, i);
    const float4 g4 = ca_load4(t.g, i);
    float4 m4 = t.m ? ca_load4(t.m, i) : zero4;
    float4 v4 = t.v ? ca_load4(t.v, i) : zero4;
    float4 x4 = t.vmax ? ca_load4(t.vmax, i) : zero4;
    float4 a4 = t.aux ? ca_load4(t.aux, i) : zero4;
    for (int k = 0; k < 4; k++) {
        CaElem e;
        e.p = ca_lane(p4, k);
        e.g = ca_lane(g4, k) * inv_scale;
        if (clip) e.g = e.g * coef;
        if (t.flags & CA_MAXIMIZE) e.g = -e.g;
        e.m = ca_lane(m4, k);
        e.v = ca_lane(v4, k);
        e.vmax = ca_lane(x4, k);
        e.aux = ca_lane(a4, k);
        const float p_before = e.p;
        op(e, t);
        lane_done(k, e, p_before);
        ca_set_lane(p4, k, e.p);
        ca_set_lane(m4, k, e.m);
        ca_set_lane(v4, k, e.v);
        ca_set_lane(x4, k, e.vmax);
        ca_set_lane(a4, k, e.aux);
    }
    ca_store4(t.p, i, p4);
    if (t.m) ca_store4(t.m, i, m4);
    if (t.v) ca_store4(t.v, i, v4);
    if (t.vmax) ca_store4(t.vmax, i, x4);
    if (t.aux) ca_store4(t.aux, i, a4);
}

template <class Op>
static __device__ __forceinline__ void ca_foreach(const CaTensor* tensors, const CaChunk* chunks, float inv_scale,
                                                  const int* skip_flag, int epoch, const float* clip, Op op) {
    if (skip_flag != nullptr && *(const volatile int*)skip_flag == epoch) return;
    const float coef = clip ? *clip : 1.0f;
    const CaChunk c = chunks[blockIdx.x];
    const CaTensor t = tensors[c.tensor];
    if (!(t.flags & CA_ACTIVE) || c.length <= 0) return;
    const long long start = c.start, end = c.start + c.length;
    long long scalar_from = start;
    if (ca_aligned16(t, start)) {
        const long long nvec = c.length / 4;
        for (long long j = threadIdx.x; j < nvec; j += blockDim.x)
            ca_step4(t, start + 4 * j, inv_scale, clip, coef, op, [](int, const CaElem&, float) {});
        scalar_from = start + 4 * nvec;
    }
    for (long long i = scalar_from + threadIdx.x; i < end; i += blockDim.x) {
        CaElem e;
        ca_load(t, i, inv_scale, clip, coef, e);
        op(e, t);
        ca_store(t, i, e);
    }
}

/// Phase one of a checked step: scans every active chunk's gradient, unscaled exactly as the step will see it
/// (g * inv_scale, which can overflow to inf), and writes `epoch` into *flag when it meets a non-finite value.
/// The step kernel then compares *flag with the same epoch and returns early. Every writer writes the same value,
/// so the unordered stores are benign; no atomics are needed, and the host never has to clear the flag
/// (a new epoch per step). One block per chunk, like the step.
static __device__ __forceinline__ void ca_check_nonfinite(const CaTensor* tensors, const CaChunk* chunks,
                                                          float inv_scale, int* flag, int epoch) {
    const CaChunk c = chunks[blockIdx.x];
    const CaTensor t = tensors[c.tensor];
    if (!(t.flags & CA_ACTIVE) || c.length <= 0) return;
    bool bad = false;
    for (long long i = c.start + threadIdx.x; i < c.start + c.length; i += blockDim.x)
        if (!ca_isfinite(t.g[i] * inv_scale)) bad = true;
    if (bad) *(volatile int*)flag = epoch;
}

// ---------------------------------------------------------------------------------------------------------
// Global-norm gradient clipping (torch.nn.utils.clip_grad_norm_ semantics), two deterministic passes, no float
// atomics, so the norm is the same bits run to run:
//   1. ca_grad_norm_partial (one block per chunk, the step's grid): each thread sums (double)x*(double)x over its
//      elements of x = g * inv_scale (the unscaled gradient, as the step sees it), in index order; the block folds
//      its threads' sums with a fixed tree (ca_block_sum) into partials[blockIdx.x]. Inactive chunks write 0. It
//      also does the non-finite check of ca_check_nonfinite (same flag, same epoch), so it REPLACES that launch.
//   2. grad_clip_finalize (one block of CA_FINAL_THREADS): thread k sums partials k, k+256, ... in order, the tree
//      folds them; norm = sqrt(sum) in double; coef = min(1, max_norm / (norm + 1e-6)) in double, rounded to float.
//      A non-finite norm flags the step as skipped (like a non-finite gradient), coef = 1.
// The result depends on the chunk table and block size (the summation order), not on scheduling.
// ---------------------------------------------------------------------------------------------------------

#define CA_FINAL_THREADS 256

/// Sum of v over the block's threads by a fixed binary tree over thread indices (any blockDim up to 1024):
/// s must hold blockDim doubles. Every thread must call it; the result is returned to thread 0 (others: garbage).
static __device__ __forceinline__ double ca_block_sum(double* s, double v) {
    const int tid = (int)threadIdx.x, n = (int)blockDim.x;
    s[tid] = v;
    __syncthreads();
    int p = 1;
    while (p < n) p <<= 1;
    for (int stride = p >> 1; stride > 0; stride >>= 1) {
        if (tid < stride && tid + stride < n) s[tid] = s[tid] + s[tid + stride];
        __syncthreads();
    }
    return s[0];
}

static __device__ __forceinline__ void ca_grad_norm_partial(const CaTensor* tensors, const CaChunk* chunks,
                                                            float inv_scale, int* flag, int epoch, double* partials) {
    __shared__ double s[1024];
    const CaChunk c = chunks[blockIdx.x];
    const CaTensor t = tensors[c.tensor];
    double acc = 0.0;
    bool bad = false;
    if ((t.flags & CA_ACTIVE) && c.length > 0) {
        for (long long i = c.start + threadIdx.x; i < c.start + c.length; i += blockDim.x) {
            const float x = t.g[i] * inv_scale;
            if (!ca_isfinite(x)) bad = true;
            acc = acc + (double)x * (double)x;
        }
    }
    if (bad) *(volatile int*)flag = epoch;
    const double total = ca_block_sum(s, acc);
    if (threadIdx.x == 0) partials[blockIdx.x] = total;
}

static __device__ __forceinline__ void ca_grad_clip_finalize(const double* partials, int count, double max_norm,
                                                             double* norm_out, float* coef_out, int* flag, int epoch) {
    __shared__ double s[1024];
    double acc = 0.0;
    for (int i = (int)threadIdx.x; i < count; i += (int)blockDim.x) acc = acc + partials[i];
    const double sum = ca_block_sum(s, acc);
    if (threadIdx.x == 0) {
        const double norm = sqrt(sum);
        float coef = 1.0f;
        if (!((norm - norm) == 0.0)) {
            *(volatile int*)flag = epoch;   // non-finite norm: skip the step like a non-finite gradient
        } else {
            const double c = max_norm / (norm + 1e-6);
            coef = c < 1.0 ? (float)c : 1.0f;
        }
        *norm_out = norm;
        *coef_out = coef;
    }
}

// ---------------------------------------------------------------------------------------------------------
// Per-tensor norms in a CANONICAL order (AlgorithmInfo.TensorNorms: LAMB's and LARS' trust ratios; the primitive for
// any per-tensor reduction). Reference.CanonicalSumSquares (src/CudaAdam/Reference/Reference.cs) is the line-by-line
// twin, so the sums are the same bits in C#, on the emulator and on the GPU, whatever BlockSize, ChunkSize or grid:
//   pieces: each tensor is cut into pieces of CA_NORM_PIECE elements from its start (the piece table:
//           ChunkTable.Build(lengths, CA_NORM_PIECE), never the step's chunk table); one block of CA_NORM_LANES threads
//           per piece (the host launches exactly that: the loop strides by the constant, not by blockDim);
//   lanes:  lane l sums (double)a*(double)a over the piece's elements l, l + 256, ... in index order;
//   piece:  the lanes fold by ca_block_sum's fixed tree (256 = 2^8: stride 128, 64, ..., 1) into partials[piece * 2 + q];
//   tensor: ca_norm_tree folds a tensor's pieces by a fixed pairwise tree (width 1, 2, 4, ...: a[i] += a[i + w]).
// Two quantities per element (q = 0, 1: e.g. the parameter and the update direction), chosen by the algorithm's
// value functor value(e, t, a, b), which sees the element exactly as the step will (ca_load: unscaled, clipped,
// negated when maximizing; the state as stored) and must not store anything. A piece of an inactive tensor, and
// every piece of a skipped step, sums to 0. Phase two is tensor_norms_finalize (kernels/norms.cu), which writes
// the per-tensor sums and the scalar the step reads (a trust ratio) into the tensor table, as step_clock writes its.
// ---------------------------------------------------------------------------------------------------------

#define CA_NORM_PIECE 4096
#define CA_NORM_LANES 256
#define CA_NORMS 2   // quantities per tensor (partials[piece * CA_NORMS + q], sums[tensor * CA_NORMS + q])

template <class Value>
static __device__ __forceinline__ void ca_norm_pieces(const CaTensor* tensors, const CaChunk* pieces, float inv_scale,
                                                      const float* clip, const int* skip_flag, int epoch,
                                                      double* partials, Value value) {
    __shared__ double s[CA_NORM_LANES];
    const CaChunk c = pieces[blockIdx.x];
    const CaTensor t = tensors[c.tensor];
    double acc0 = 0.0, acc1 = 0.0;
    const bool skipped = skip_flag != nullptr && *(const volatile int*)skip_flag == epoch;
    if (!skipped && (t.flags & CA_ACTIVE) && c.length > 0) {
        const float coef = clip ? *clip : 1.0f;
        for (long long i = c.start + threadIdx.x; i < c.start + c.length; i += CA_NORM_LANES) {
            CaElem e;
            ca_load(t, i, inv_scale, clip, coef, e);
            float a = 0.0f, b = 0.0f;
            value(e, t, a, b);
            acc0 = acc0 + (double)a * (double)a;
            acc1 = acc1 + (double)b * (double)b;
        }
    }
    const double s0 = ca_block_sum(s, acc0);
    __syncthreads();   // thread 0 has read s[0] before the second fold overwrites it
    const double s1 = ca_block_sum(s, acc1);
    if (threadIdx.x == 0) {
        partials[(long long)blockIdx.x * CA_NORMS] = s0;
        partials[(long long)blockIdx.x * CA_NORMS + 1] = s1;
    }
}

/// The pieces' fold of one tensor: a fixed pairwise tree over partials[(first + i) * CA_NORMS + q], i < count
/// (overwritten), 0 when count is 0. Reference.CanonicalTree.
static __device__ __forceinline__ double ca_norm_tree(double* partials, int first, int count, int q) {
    if (count <= 0) return 0.0;
    double* a = partials + (long long)first * CA_NORMS + q;
    for (int w = 1; w < count; w <<= 1)
        for (int i = 0; i + w < count; i += 2 * w)
            a[(long long)i * CA_NORMS] = a[(long long)i * CA_NORMS] + a[(long long)(i + w) * CA_NORMS];
    return a[0];
}

/// What tensor_norms_finalize does with one tensor's two sums (CaNormTensor::kind).
#define CA_NORMS_SUMS 0    // only write the sums (a reduction another kernel reads)
#define CA_NORMS_TRUST 1   // the trust ratio of TensorNorms.Trust (LAMB, LARS): see kernels/norms.cu

/// One tensor's entry of the norms table (64 bytes, mirrored by CaNormTensor in src/CudaAdam/Device/KernelTables.cs):
/// where its pieces are, and what the finalize writes into its CaTensor entry. Hyperparameters in double.
struct CaNormTensor {
    int first;              // its first piece (index into the piece table and partials)
    int pieces;             // its number of pieces, ceil(n / CA_NORM_PIECE) (0: a zero-size tensor)
    int group;              // the index of its lr in the finalize's lrs[]
    int kind;               // CA_NORMS_*
    int trust_slot;         // CaTensor::s index of (float)trust (-1: none)
    int decay_slot;         // CaTensor::s index of (float)(1 - lr * trust * weight_decay) (-1: none)
    double coefficient;     // η: trust = η‖a‖ / (‖b‖ + λ_b‖a‖ + ε)
    double denominator_wd;  // λ_b
    double eps;             // ε
    double weight_decay;    // λ of decay_slot
    double reserved;
};

#if defined(__CUDACC__) || defined(__CUDACC_RTC__)
static_assert(sizeof(CaNormTensor) == 64, "CaNormTensor must be 64 bytes (mirrored in C#)");
#endif

// ---- The Adam family's shared slots and moment update: adam.cu (adam_step, adamax_step, nadam_step, radam_step) and
// sign.cu (signadam_step). Slots are packed by src/CudaAdam/Device/KernelScalars.cs; the lines below are
// Reference/Adam.cs (AdamReference.Update), NAdam.cs and RAdam.cs, in the same float32 order.
// Adam / AdamW / AMSGrad / SignAdam / AdaMax:

/// Weight decay, then the two moments:  x ← x(1−γλ) (decoupled) or g ← g + λx (coupled);
///   m ← β1 m + (1−β1) g;  v ← β2 v + (1−β2) g².  Returns g after weight decay; x is updated in place.
static __device__ __forceinline__ float ca_adam_moments(CaElem& e, const CaTensor& t, float& x) {
    const float* s = t.s;
    float g = e.g;
    if (t.flags & CA_DECOUPLED) x = x * s[CA_S_DECAY];
    else if (t.flags & CA_WEIGHT_DECAY) g = g + s[CA_S_WD] * x;
    e.m = e.m * s[CA_S_BETA1] + s[CA_S_ONE_MINUS_BETA1] * g;
    e.v = e.v * s[CA_S_BETA2] + s[CA_S_ONE_MINUS_BETA2] * g * g;
    return g;
}

/// Adam's denominator after ca_adam_moments:  v̄ ← max(v̄, v) (amsgrad; else v̄ = v);  sqrt(v̄)/sqrt(1−β2^t) + ε.
static __device__ __forceinline__ float ca_adam_denom(CaElem& e, const CaTensor& t) {
    const float* s = t.s;
    float vHat = e.v;
    if (t.flags & CA_AMSGRAD) {
        e.vmax = ca_max(e.vmax, e.v);
        vHat = e.vmax;
    }
    return sqrtf(vHat) / s[CA_S_BC2_SQRT] + s[CA_S_EPS];
}

/// Adam's / AdamW's whole element update (adam.cu: adam_step, adam_step_diag; state8.cu: adam8_step):
///   x ← x − (γ/(1−β1^t)) · m / (sqrt(v̄)/sqrt(1−β2^t) + ε), after ca_adam_moments. Reference: AdamReference.Update.
static __device__ __forceinline__ void ca_adam_op(CaElem& e, const CaTensor& t) {
    float x = e.p;
    ca_adam_moments(e, t, x);
    float denom = ca_adam_denom(e, t);
    e.p = x + -t.s[CA_S_STEP_SIZE] * (e.m / denom);
}
