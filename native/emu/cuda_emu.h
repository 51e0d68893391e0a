// cuda_emu.h — the host side of CUDA C, just enough for kernels/*.cu to compile UNCHANGED as C++17 with g++.
//
// Force-included (g++ -include cuda_emu.h) by native/emu/Makefile before every kernels/*.cu. It defines
// CUDAADAM_EMU, so kernels/common.cuh can choose our definitions over <cuda_bf16.h>/<cuda_fp16.h>.
//
// Execution model (see emu_runtime.cpp): a launch runs its blocks on a pool of OS threads; the threads of one
// block run as fibers on one OS thread. A fiber runs until it reaches __syncthreads, a warp operation, or its end.
// So:
//   * threadIdx/blockIdx/blockDim/gridDim are macros reading the current fiber's and block's context;
//   * __shared__ is `static thread_local`: one copy per OS thread, and an OS thread runs one block at a time;
//   * warp shuffles and votes are lock-step: each lane deposits its value and waits, and when all the lanes named in
//     the mask have arrived the scheduler computes every lane's result, as the hardware would.
//
// Numerical contract (DESIGN.md): compiled with -ffp-contract=off and without -ffast-math, float add/mul/div/sqrt
// here give the same bits as NVRTC with --fmad=false. Functions that are approximate on the GPU (__expf, __logf,
// __powf, rsqrtf, expf, ...) are NOT bit-compatible: the host libm rounds differently. Do not use them where a
// kernel promises bitwise parity.
#pragma once

#define CUDAADAM_EMU 1

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <cstdio>
#include <cassert>
#include <cmath>
#include <math.h>
#include <type_traits>

// ---------------------------------------------------------------------------------------------------------------
// Qualifiers
// ---------------------------------------------------------------------------------------------------------------
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline __attribute__((always_inline))
#define __constant__ static
#define __managed__
#define __launch_bounds__(...)
#define __align__(n) alignas(n)
// __restrict__ is already a g++ keyword.
// One copy per OS thread = per running block. `extern __shared__ T x[];` does not compile here: use
// CA_DYNAMIC_SHARED(T, x) (kernels/common.cuh) for dynamic shared memory.
#define __shared__ static thread_local

// ---------------------------------------------------------------------------------------------------------------
// Vector types (alignment as in CUDA's vector_types.h)
// ---------------------------------------------------------------------------------------------------------------
struct uint3 { unsigned int x, y, z; };
struct dim3
{
    unsigned int x, y, z;
    constexpr dim3(unsigned int vx = 1, unsigned int vy = 1, unsigned int vz = 1) : x(vx), y(vy), z(vz) {}
    constexpr dim3(uint3 v) : x(v.x), y(v.y), z(v.z) {}
};
struct alignas(8) float2 { float x, y; };
struct float3 { float x, y, z; };
struct alignas(16) float4 { float x, y, z, w; };
struct alignas(8) int2 { int x, y; };
struct int3 { int x, y, z; };
struct alignas(16) int4 { int x, y, z, w; };
struct alignas(8) uint2 { unsigned int x, y; };
struct alignas(16) uint4 { unsigned int x, y, z, w; };
struct alignas(16) double2 { double x, y; };
struct alignas(16) longlong2 { long long x, y; };
struct alignas(4) ushort2 { unsigned short x, y; };
struct alignas(8) ushort4 { unsigned short x, y, z, w; };

inline float2 make_float2(float x, float y) { return {x, y}; }
inline float3 make_float3(float x, float y, float z) { return {x, y, z}; }
inline float4 make_float4(float x, float y, float z, float w) { return {x, y, z, w}; }
inline int2 make_int2(int x, int y) { return {x, y}; }
inline int4 make_int4(int x, int y, int z, int w) { return {x, y, z, w}; }
inline uint2 make_uint2(unsigned x, unsigned y) { return {x, y}; }
inline uint4 make_uint4(unsigned x, unsigned y, unsigned z, unsigned w) { return {x, y, z, w}; }
inline double2 make_double2(double x, double y) { return {x, y}; }
inline uint3 make_uint3(unsigned x, unsigned y, unsigned z) { return {x, y, z}; }

// ---------------------------------------------------------------------------------------------------------------
// Thread context (defined in emu_runtime.cpp)
// ---------------------------------------------------------------------------------------------------------------
namespace cuda_emu
{
struct ThreadContext { uint3 thread_idx; unsigned lane; };
struct BlockContext { uint3 block_idx; dim3 block_dim; dim3 grid_dim; unsigned char* dynamic_shared; };
// Where a kernel finds its thread's context without thread-local storage (a __tls_get_addr call per threadIdx in a
// dlopen'ed library): every fiber stack is a kFiberStackBytes-aligned region whose lowest bytes hold this header,
// so the context is one mask of the stack pointer away. Kernels only run on fiber stacks.
struct FiberHeader { ThreadContext* thread; BlockContext* block; void* fiber; };
constexpr unsigned long kFiberStackBytes = 256 * 1024;
__attribute__((always_inline)) inline FiberHeader* fiber_header()
{
    return reinterpret_cast<FiberHeader*>(reinterpret_cast<unsigned long>(__builtin_frame_address(0)) & ~(kFiberStackBytes - 1));
}

enum WarpOp : int { WarpShflIdx, WarpShflUp, WarpShflDown, WarpShflXor, WarpBallot, WarpAll, WarpAny, WarpSync, WarpMatchAny };
// Deposits `value` for lane-synchronous operation `op` among the lanes of `mask`, waits for them, returns the result.
unsigned long long warp_op(WarpOp op, unsigned mask, unsigned long long value, int arg, int width);
void sync_threads();
unsigned active_mask();

template <class T> inline unsigned long long to_bits(T v)
{
    static_assert(sizeof(T) <= 8 && std::is_trivially_copyable<T>::value, "warp shuffles move at most 8 bytes");
    unsigned long long b = 0;
    std::memcpy(&b, &v, sizeof(T));
    return b;
}
template <class T> inline T from_bits(unsigned long long b)
{
    T v;
    std::memcpy(&v, &b, sizeof(T));
    return v;
}
} // namespace cuda_emu

#define threadIdx (::cuda_emu::fiber_header()->thread->thread_idx)
#define blockIdx (::cuda_emu::fiber_header()->block->block_idx)
#define blockDim (::cuda_emu::fiber_header()->block->block_dim)
#define gridDim (::cuda_emu::fiber_header()->block->grid_dim)
static constexpr int warpSize = 32;

/// Dynamic shared memory (the launch's sharedBytes, 256-byte aligned): `CA_DYNAMIC_SHARED(float, s);` declares
/// `float* s`. On the GPU, kernels/common.cuh defines it over `extern __shared__`.
#define CA_DYNAMIC_SHARED(type, name) type* name = reinterpret_cast<type*>(::cuda_emu::fiber_header()->block->dynamic_shared)

// ---------------------------------------------------------------------------------------------------------------
// Synchronization, warp shuffles and votes
// ---------------------------------------------------------------------------------------------------------------
inline void __syncthreads() { ::cuda_emu::sync_threads(); }
inline void __syncwarp(unsigned mask = 0xffffffffu) { ::cuda_emu::warp_op(::cuda_emu::WarpSync, mask, 0, 0, 32); }
inline void __threadfence() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
inline void __threadfence_block() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
inline unsigned __activemask() { return ::cuda_emu::active_mask(); }

template <class T> inline T __shfl_sync(unsigned mask, T var, int srcLane, int width = warpSize)
{
    return ::cuda_emu::from_bits<T>(::cuda_emu::warp_op(::cuda_emu::WarpShflIdx, mask, ::cuda_emu::to_bits(var), srcLane, width));
}
template <class T> inline T __shfl_up_sync(unsigned mask, T var, unsigned delta, int width = warpSize)
{
    return ::cuda_emu::from_bits<T>(::cuda_emu::warp_op(::cuda_emu::WarpShflUp, mask, ::cuda_emu::to_bits(var), (int)delta, width));
}
template <class T> inline T __shfl_down_sync(unsigned mask, T var, unsigned delta, int width = warpSize)
{
    return ::cuda_emu::from_bits<T>(::cuda_emu::warp_op(::cuda_emu::WarpShflDown, mask, ::cuda_emu::to_bits(var), (int)delta, width));
}
template <class T> inline T __shfl_xor_sync(unsigned mask, T var, int laneMask, int width = warpSize)
{
    return ::cuda_emu::from_bits<T>(::cuda_emu::warp_op(::cuda_emu::WarpShflXor, mask, ::cuda_emu::to_bits(var), laneMask, width));
}
inline unsigned __ballot_sync(unsigned mask, int predicate)
{
    return (unsigned)::cuda_emu::warp_op(::cuda_emu::WarpBallot, mask, predicate != 0, 0, 32);
}
/// The lanes of `mask` whose `value` has the same bits as this lane's (sm_70+; 4- and 8-byte values).
template <class T> inline unsigned __match_any_sync(unsigned mask, T value)
{
    return (unsigned)::cuda_emu::warp_op(::cuda_emu::WarpMatchAny, mask, ::cuda_emu::to_bits(value), 0, 32);
}
inline int __all_sync(unsigned mask, int predicate) { return (int)::cuda_emu::warp_op(::cuda_emu::WarpAll, mask, predicate != 0, 0, 32); }
inline int __any_sync(unsigned mask, int predicate) { return (int)::cuda_emu::warp_op(::cuda_emu::WarpAny, mask, predicate != 0, 0, 32); }

// ---------------------------------------------------------------------------------------------------------------
// Atomics: GCC __atomic builtins on plain memory (blocks run concurrently on several OS threads).
// ---------------------------------------------------------------------------------------------------------------
#define CUDA_EMU_ATOMIC_INT(T)                                                                                      \
    inline T atomicAdd(T* a, T v) { return __atomic_fetch_add(a, v, __ATOMIC_SEQ_CST); }                             \
    inline T atomicSub(T* a, T v) { return __atomic_fetch_sub(a, v, __ATOMIC_SEQ_CST); }                             \
    inline T atomicExch(T* a, T v) { return __atomic_exchange_n(a, v, __ATOMIC_SEQ_CST); }                           \
    inline T atomicOr(T* a, T v) { return __atomic_fetch_or(a, v, __ATOMIC_SEQ_CST); }                               \
    inline T atomicAnd(T* a, T v) { return __atomic_fetch_and(a, v, __ATOMIC_SEQ_CST); }                             \
    inline T atomicXor(T* a, T v) { return __atomic_fetch_xor(a, v, __ATOMIC_SEQ_CST); }                             \
    inline T atomicCAS(T* a, T compare, T v)                                                                         \
    {                                                                                                                \
        __atomic_compare_exchange_n(a, &compare, v, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);                      \
        return compare;                                                                                              \
    }                                                                                                                \
    inline T atomicMax(T* a, T v)                                                                                    \
    {                                                                                                                \
        T old = __atomic_load_n(a, __ATOMIC_SEQ_CST);                                                                \
        while (old < v && !__atomic_compare_exchange_n(a, &old, v, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {}    \
        return old;                                                                                                  \
    }                                                                                                                \
    inline T atomicMin(T* a, T v)                                                                                    \
    {                                                                                                                \
        T old = __atomic_load_n(a, __ATOMIC_SEQ_CST);                                                                \
        while (old > v && !__atomic_compare_exchange_n(a, &old, v, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {}    \
        return old;                                                                                                  \
    }
CUDA_EMU_ATOMIC_INT(int)
CUDA_EMU_ATOMIC_INT(unsigned int)
CUDA_EMU_ATOMIC_INT(unsigned long long)
CUDA_EMU_ATOMIC_INT(long long)
#undef CUDA_EMU_ATOMIC_INT

namespace cuda_emu
{
// Read-modify-write of a float/double through compare-and-swap on its bits (as CUDA's own emulation of
// atomicAdd(double*) on old GPUs). Returns the old value.
template <class F, class U, class Op> inline F atomic_float_rmw(F* a, Op op)
{
    static_assert(sizeof(F) == sizeof(U), "bit width");
    U* ua = reinterpret_cast<U*>(a);
    U old = __atomic_load_n(ua, __ATOMIC_SEQ_CST);
    for (;;)
    {
        F oldf, newf;
        std::memcpy(&oldf, &old, sizeof(F));
        newf = op(oldf);
        U nu;
        std::memcpy(&nu, &newf, sizeof(F));
        if (__atomic_compare_exchange_n(ua, &old, nu, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) return oldf;
    }
}
} // namespace cuda_emu
inline float atomicAdd(float* a, float v) { return ::cuda_emu::atomic_float_rmw<float, unsigned>(a, [v](float x) { return x + v; }); }
inline double atomicAdd(double* a, double v) { return ::cuda_emu::atomic_float_rmw<double, unsigned long long>(a, [v](double x) { return x + v; }); }
inline float atomicExch(float* a, float v) { return ::cuda_emu::atomic_float_rmw<float, unsigned>(a, [v](float) { return v; }); }

// ---------------------------------------------------------------------------------------------------------------
// Math and bit intrinsics
// ---------------------------------------------------------------------------------------------------------------
// IEEE round-to-nearest-even: exact, bitwise equal to the GPU.
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fsub_rn(float a, float b) { return a - b; }
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fdiv_rn(float a, float b) { return a / b; }
inline float __fsqrt_rn(float a) { return ::sqrtf(a); }
inline float __frcp_rn(float a) { return 1.0f / a; }
inline float __fmaf_rn(float a, float b, float c) { return ::fmaf(a, b, c); }
inline double __dadd_rn(double a, double b) { return a + b; }
inline double __dsub_rn(double a, double b) { return a - b; }
inline double __dmul_rn(double a, double b) { return a * b; }
inline double __ddiv_rn(double a, double b) { return a / b; }
inline double __dsqrt_rn(double a) { return ::sqrt(a); }
inline double __fma_rn(double a, double b, double c) { return ::fma(a, b, c); }
inline float __saturatef(float x) { return x != x ? 0.0f : (x < 0.0f ? 0.0f : (x > 1.0f ? 1.0f : x)); }
// Approximate on the GPU; here the host libm: NOT bitwise.
inline float rsqrtf(float a) { return 1.0f / ::sqrtf(a); }
inline double rsqrt(double a) { return 1.0 / ::sqrt(a); }
inline float __expf(float a) { return ::expf(a); }
inline float __logf(float a) { return ::logf(a); }
inline float __powf(float a, float b) { return ::powf(a, b); }
inline float __sinf(float a) { return ::sinf(a); }
inline float __cosf(float a) { return ::cosf(a); }
inline float __tanhf(float a) { return ::tanhf(a); }

// CUDA's global min/max overloads.
#define CUDA_EMU_MINMAX(T)                                   \
    inline T min(T a, T b) { return a < b ? a : b; }       \
    inline T max(T a, T b) { return a > b ? a : b; }
CUDA_EMU_MINMAX(int)
CUDA_EMU_MINMAX(unsigned int)
CUDA_EMU_MINMAX(long long)
CUDA_EMU_MINMAX(unsigned long long)
#undef CUDA_EMU_MINMAX
inline float min(float a, float b) { return ::fminf(a, b); }
inline float max(float a, float b) { return ::fmaxf(a, b); }
inline double min(double a, double b) { return ::fmin(a, b); }
inline double max(double a, double b) { return ::fmax(a, b); }

inline float __int_as_float(int x) { return cuda_emu::from_bits<float>((unsigned)x); }
inline int __float_as_int(float x) { return (int)(unsigned)cuda_emu::to_bits(x); }
inline float __uint_as_float(unsigned x) { return cuda_emu::from_bits<float>(x); }
inline unsigned __float_as_uint(float x) { return (unsigned)cuda_emu::to_bits(x); }
inline double __longlong_as_double(long long x) { return cuda_emu::from_bits<double>((unsigned long long)x); }
inline long long __double_as_longlong(double x) { return (long long)cuda_emu::to_bits(x); }
inline int __popc(unsigned x) { return __builtin_popcount(x); }
inline int __popcll(unsigned long long x) { return __builtin_popcountll(x); }
inline int __clz(int x) { return x == 0 ? 32 : __builtin_clz((unsigned)x); }
inline int __clzll(long long x) { return x == 0 ? 64 : __builtin_clzll((unsigned long long)x); }
inline int __ffs(int x) { return __builtin_ffs(x); }
inline int __ffsll(long long x) { return __builtin_ffsll(x); }
inline unsigned __brev(unsigned x)
{
    x = ((x >> 1) & 0x55555555u) | ((x & 0x55555555u) << 1);
    x = ((x >> 2) & 0x33333333u) | ((x & 0x33333333u) << 2);
    x = ((x >> 4) & 0x0f0f0f0fu) | ((x & 0x0f0f0f0fu) << 4);
    x = ((x >> 8) & 0x00ff00ffu) | ((x & 0x00ff00ffu) << 8);
    return (x >> 16) | (x << 16);
}
inline unsigned __umulhi(unsigned a, unsigned b) { return (unsigned)(((unsigned long long)a * b) >> 32); }
inline unsigned long long __umul64hi(unsigned long long a, unsigned long long b)
{
    return (unsigned long long)(((unsigned __int128)a * b) >> 64);
}

// Read-only cache loads: plain loads on the host.
template <class T> inline T __ldg(const T* p) { return *p; }

// ---------------------------------------------------------------------------------------------------------------
// bf16 and fp16 (the names of cuda_bf16.h / cuda_fp16.h). Conversions from float round to nearest even; NaN stays
// a (quiet) NaN. Storage only plus conversions: do the arithmetic in float, as the kernels do.
// ---------------------------------------------------------------------------------------------------------------
struct __nv_bfloat16
{
    unsigned short __x;
    __nv_bfloat16() = default;
};
struct __half
{
    unsigned short __x;
    __half() = default;
};
typedef __nv_bfloat16 nv_bfloat16;
typedef __half half;
struct alignas(4) __nv_bfloat162 { __nv_bfloat16 x, y; };
struct alignas(4) __half2 { __half x, y; };

inline __nv_bfloat16 __ushort_as_bfloat16(unsigned short b) { __nv_bfloat16 h; h.__x = b; return h; }
inline unsigned short __bfloat16_as_ushort(__nv_bfloat16 h) { return h.__x; }
inline __half __ushort_as_half(unsigned short b) { __half h; h.__x = b; return h; }
inline unsigned short __half_as_ushort(__half h) { return h.__x; }

inline float __bfloat162float(__nv_bfloat16 h) { return __uint_as_float((unsigned)h.__x << 16); }
inline __nv_bfloat16 __float2bfloat16_rn(float f)
{
    unsigned u = __float_as_uint(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return __ushort_as_bfloat16((unsigned short)((u >> 16) | 0x0040u));  // NaN: quiet
    u += 0x7fffu + ((u >> 16) & 1u);  // round to nearest, ties to even (overflow to inf is correct)
    return __ushort_as_bfloat16((unsigned short)(u >> 16));
}
inline __nv_bfloat16 __float2bfloat16(float f) { return __float2bfloat16_rn(f); }
inline __nv_bfloat16 __float2bfloat16_rz(float f)
{
    unsigned u = __float_as_uint(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return __ushort_as_bfloat16((unsigned short)((u >> 16) | 0x0040u));
    return __ushort_as_bfloat16((unsigned short)(u >> 16));
}

inline float __half2float(__half h)
{
    unsigned s = (unsigned)(h.__x & 0x8000u) << 16, e = (h.__x >> 10) & 0x1fu, m = h.__x & 0x3ffu;
    if (e == 0x1f) return __uint_as_float(s | 0x7f800000u | (m << 13));  // inf / NaN
    if (e != 0) return __uint_as_float(s | ((e + 112u) << 23) | (m << 13));
    // zero or subnormal: m * 2^-24 is exact in float
    float v = (float)m * 5.9604644775390625e-8f;
    return s ? -v : v;
}
inline __half __float2half_rn(float f)
{
    unsigned u = __float_as_uint(f);
    unsigned short s = (unsigned short)((u >> 16) & 0x8000u);
    unsigned a = u & 0x7fffffffu;
    if (a > 0x7f800000u) return __ushort_as_half((unsigned short)(s | 0x7e00u | ((a >> 13) & 0x3ffu)));  // NaN
    if (a >= 0x477ff000u) return __ushort_as_half((unsigned short)(s | 0x7c00u));  // >= 65520 rounds to inf
    if (a >= 0x38800000u)  // normal half (|f| >= 2^-14)
    {
        unsigned r = a - 0x38000000u;                       // rebias exponent 127 -> 15, mantissa unchanged
        r += 0xfffu + ((r >> 13) & 1u);                     // round to nearest even at bit 13
        return __ushort_as_half((unsigned short)(s | (r >> 13)));
    }
    if (a < 0x33000000u) return __ushort_as_half(s);     // < 2^-25: rounds to zero (2^-25 itself ties to 0)
    // subnormal half: value = a_float / 2^-24, rounded to an integer, ties to even
    unsigned e = a >> 23, m = (a & 0x7fffffu) | 0x800000u;
    unsigned shift = 126u - e;                            // m * 2^(e-150) / 2^-24 = m >> (126 - e)
    unsigned q = m >> shift, rem = m & ((1u << shift) - 1u), half_ulp = 1u << (shift - 1u);
    if (rem > half_ulp || (rem == half_ulp && (q & 1u))) q++;
    return __ushort_as_half((unsigned short)(s | q));
}
inline __half __float2half(float f) { return __float2half_rn(f); }
inline __nv_bfloat162 __floats2bfloat162_rn(float a, float b) { return {__float2bfloat16_rn(a), __float2bfloat16_rn(b)}; }
inline __half2 __floats2half2_rn(float a, float b) { return {__float2half_rn(a), __float2half_rn(b)}; }
