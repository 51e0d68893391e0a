// state8.cu — the 8-bit optimizer state of Dettmers et al., "8-bit Optimizers via Block-wise Quantization" (ICLR 2022):
// Adam and AdamW with m and v kept block-wise in 8 bits (state_bits = 8; src/CudaAdam/Hyperparameters.cs StateBits).
//
// One launch per step for all tensors, ONE THREAD BLOCK PER QUANTIZATION BLOCK of CA_Q8_BLOCK = 2,048 elements (the
// device backend builds the chunk table with that chunk size, so a chunk is a quantization block), in three phases:
//   1. dequantize:  m = Map_signed[c_m]·a_m,  v = Map_unsigned[c_v]·a_v   (the block's old absmax a_m, a_v)
//      update:      the float32 Adam/AdamW element step of adam.cu (ca_adam_op), writing the parameter;
//                   the new m, v are kept in shared memory
//   2. absmax:      a' = max |m|, max v over the block: a tree reduction in shared memory (a fixed order; a maximum is
//                   exact in any order, and any NaN gives the one canonical NaN 0x7fc00000)
//   3. requantize:  c = Encode(m / a'_m), Encode(v / a'_v) (binary search for the nearest map value)
// Reference: src/CudaAdam/Reference/BlockwiseState8.cs (BlockwiseState8.Step around AdamReference.Update) and
// src/CudaAdam/Quantization.cs (DynamicMap.Encode, QuantizedBuffer.QuantizeBlock/DequantizeBlock), line by line.
//
// The tensor table entry of an 8-bit tensor (CaTensor, common.cuh) reuses the state pointers: m and v point at the
// 8-bit CODES of m and v (one byte per element, the tensor's own elements), vmax and aux at the float32 ABSMAX of m and
// v (one per block of the tensor). amsgrad does not combine with 8-bit state, so neither slot has another use here.
// maps: the 256 values of the signed map, then the 256 of the unsigned one (DynamicMap.Signed, DynamicMap.Unsigned).
#include "common.cuh"

#define CA_Q8_BLOCK 2048          // QuantizedBuffer.BlockSize
#define CA_Q8_ZERO_SIGNED 127     // DynamicMap.ZeroCode(QuantMap.Signed): the code of 0 in the signed map
#define CA_Q8_ZERO_UNSIGNED 0     // DynamicMap.ZeroCode(QuantMap.Unsigned)

/// DynamicMap.Encode: the nearest map value's code. lo = the largest index with map[lo] <= x (0 below map[0]) by 8
/// halvings, then lo + 1 when map[lo+1] − x < x − map[lo] (a tie keeps lo); NaN → the code of 0.
static __device__ __forceinline__ unsigned char ca_q8_encode(float x, const float* map, int zero) {
    if (x != x) return (unsigned char)zero;
    int lo = 0;
    for (int step = 128; step > 0; step >>= 1) lo += map[lo + step] <= x ? step : 0;
    if (lo < 255 && map[lo + 1] - x < x - map[lo]) lo++;
    return (unsigned char)lo;
}

/// The absmax reduction's step: the larger, and NaN when either is NaN (QuantizedBuffer.QuantizeBlock). Operands are
/// |x| (never −0) or NaN, so the result of any reduction order is the same value (NaN canonicalized afterwards).
static __device__ __forceinline__ float ca_q8_max(float a, float b) {
    return (b > a || b != b) ? b : a;
}

/// Adam / AdamW (the CA_DECOUPLED flag, as adam_step) with 8-bit m and v. Launched with one block per chunk of a
/// chunk table of chunk size CA_Q8_BLOCK, blockDim.x <= CA_MAX_BLOCK. Skip flag, inv_scale, clip coefficient and
/// 16-bit parameters exactly as ca_foreach (common.cuh).
extern "C" __global__ __launch_bounds__(CA_MAX_BLOCK) void adam8_step(const CaTensor* tensors, const CaChunk* chunks, float inv_scale,
                                      const int* skip_flag, int epoch, const float* clip, const float* maps) {
    __shared__ float qmap[512];
    __shared__ float m_new[CA_Q8_BLOCK], v_new[CA_Q8_BLOCK];
    __shared__ float red_m[CA_MAX_BLOCK], red_v[CA_MAX_BLOCK];
    if (skip_flag != nullptr && *(const volatile int*)skip_flag == epoch) return;
    const CaChunk c = chunks[blockIdx.x];
    const CaTensor t = tensors[c.tensor];
    if (!(t.flags & CA_ACTIVE) || c.length <= 0) return;   // the same for every thread of the block: no barrier is split
    const float coef = clip ? *clip : 1.0f;
    for (int i = threadIdx.x; i < 512; i += blockDim.x) qmap[i] = maps[i];
    __syncthreads();
    const float* smap = qmap;
    const float* umap = qmap + 256;
    unsigned char* code_m = reinterpret_cast<unsigned char*>(t.m);
    unsigned char* code_v = reinterpret_cast<unsigned char*>(t.v);
    const long long block = c.start / CA_Q8_BLOCK;
    const float a_m = t.vmax[block], a_v = t.aux[block];

    // 1. dequantize, update, keep the new moments.
    float mx_m = 0.0f, mx_v = 0.0f;
    for (long long j = threadIdx.x; j < c.length; j += blockDim.x) {
        const long long i = c.start + j;
        CaElem e;
        e.p = t.p ? t.p[i] : ca_widen(t.lp[i], t.flags);
        e.g = t.g[i] * inv_scale;
        if (clip) e.g = e.g * coef;
        if (t.flags & CA_MAXIMIZE) e.g = -e.g;
        e.m = smap[code_m[i]] * a_m;
        e.v = umap[code_v[i]] * a_v;
        e.vmax = 0.0f;
        e.aux = 0.0f;
        ca_adam_op(e, t);
        if (t.p) t.p[i] = e.p;
        if (t.lp) t.lp[i] = ca_narrow(e.p, t.flags, t.key, i);
        m_new[j] = e.m;
        v_new[j] = e.v;
        mx_m = ca_q8_max(mx_m, fabsf(e.m));
        mx_v = ca_q8_max(mx_v, fabsf(e.v));
    }

    // 2. the block's absmax: a pairwise tree over the threads' maxima (any blockDim.x).
    red_m[threadIdx.x] = mx_m;
    red_v[threadIdx.x] = mx_v;
    __syncthreads();
    for (unsigned int s = 1; s < blockDim.x; s <<= 1) {
        if ((threadIdx.x & (2 * s - 1)) == 0 && threadIdx.x + s < blockDim.x) {
            red_m[threadIdx.x] = ca_q8_max(red_m[threadIdx.x], red_m[threadIdx.x + s]);
            red_v[threadIdx.x] = ca_q8_max(red_v[threadIdx.x], red_v[threadIdx.x + s]);
        }
        __syncthreads();
    }
    float na_m = red_m[0], na_v = red_v[0];
    if (na_m != na_m) na_m = __uint_as_float(0x7fc00000u);   // QuantizedBuffer.CanonicalNaN
    if (na_v != na_v) na_v = __uint_as_float(0x7fc00000u);

    // 3. requantize (each thread its own elements of phase 1: no element is read and written by two threads).
    for (long long j = threadIdx.x; j < c.length; j += blockDim.x) {
        const long long i = c.start + j;
        code_m[i] = ca_q8_encode(m_new[j] / na_m, smap, CA_Q8_ZERO_SIGNED);
        code_v[i] = ca_q8_encode(v_new[j] / na_v, umap, CA_Q8_ZERO_UNSIGNED);
    }
    if (threadIdx.x == 0) {
        t.vmax[block] = na_m;   // every thread read the old absmax before the first barrier
        t.aux[block] = na_v;
    }
}
