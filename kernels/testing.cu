// testing.cu — small kernels that test the launch path and the host emulator (native/emu): indexing, grid-stride
// loops, shared memory and barriers, warp shuffles and votes, atomics, dynamic shared memory. Not optimizer code.
// Each one's expected result is computed in C# by tests/CudaAdam.Tests/Emulator/EmulatorKernelTests.cs.
#include "common.cuh"

// y[i] = a * x[i] + y[i] for i < n, with 64-bit indices and a grid-stride loop (any grid covers any n).
// Separate multiply and add (no FMA with --fmad=false / -ffp-contract=off): bitwise equal to C#'s a * x + y.
extern "C" __global__ void saxpy(long long n, float a, const float* __restrict__ x, float* __restrict__ y)
{
    const long long stride = (long long)blockDim.x * gridDim.x;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride)
        y[i] = a * x[i] + y[i];
}

// partial[blockIdx.x] = the sum of the elements this block visits. blockDim.x: a power of 2 from 64 to 1024.
// Order (replicated bit for bit in C#): thread t of block b sums x[b*B + t], x[b*B + t + B*G], ... in that order
// (B = blockDim.x, G = gridDim.x); then a shared-memory tree s[t] += s[t + k] for k = B/2, ..., 32 with a barrier
// after each level; then the first warp adds v += shfl_down(v, k) for k = 16, 8, 4, 2, 1.
extern "C" __global__ void block_reduce_sum(const float* __restrict__ x, long long n, float* __restrict__ partial)
{
    __shared__ float s[1024];
    const unsigned t = threadIdx.x;
    float v = 0.0f;
    for (long long i = (long long)blockIdx.x * blockDim.x + t; i < n; i += (long long)blockDim.x * gridDim.x)
        v += x[i];
    s[t] = v;
    __syncthreads();
    for (unsigned k = blockDim.x / 2; k >= 32; k >>= 1)
    {
        if (t < k) s[t] += s[t + k];
        __syncthreads();
    }
    if (t < 32)
    {
        v = s[t];
        for (int k = 16; k > 0; k >>= 1)
            v += __shfl_down_sync(0xffffffffu, v, k);
        if (t == 0) partial[blockIdx.x] = v;
    }
}

// For each warp w (global thread index / 32) over x[0..n): pred = (i < n && x[i] > 0).
// ballots[w] = __ballot_sync, flags[2w] = __all_sync, flags[2w+1] = __any_sync; active[w] = __activemask().
// Launch exactly ceil(n / 32) warps with blockDim.x a multiple of 32.
extern "C" __global__ void warp_vote(const float* __restrict__ x, long long n, unsigned* __restrict__ ballots,
                                     int* __restrict__ flags, unsigned* __restrict__ active)
{
    const long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    const int pred = i < n && x[i] > 0.0f;
    const unsigned b = __ballot_sync(0xffffffffu, pred);
    const int all = __all_sync(0xffffffffu, pred);
    const int any = __any_sync(0xffffffffu, pred);
    const unsigned mask = __activemask();
    if ((threadIdx.x & 31) == 0)
    {
        const long long w = i / 32;
        ballots[w] = b;
        flags[2 * w] = all;
        flags[2 * w + 1] = any;
        active[w] = mask;
    }
}

// Per thread i (n = the number of launched threads, blockDim.x a multiple of 32), v = x[i], lane = i % 32:
// total[i] = the sum of v over its warp (xor butterfly); scan[i] = inclusive prefix sum of v within the warp
// (shfl_up); bcast[i] = v of lane 3 of its group of 8 lanes (shfl with width 8); down4[i] = v of lane + 4 within
// its group of 16, or its own v past the group's end (shfl_down with width 16).
extern "C" __global__ void warp_shuffles(const int* __restrict__ x, int* __restrict__ total, int* __restrict__ scan,
                                         int* __restrict__ bcast, int* __restrict__ down4)
{
    const long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    const int lane = threadIdx.x & 31;
    const int v = x[i];
    int s = v;
    for (int m = 16; m > 0; m >>= 1) s += __shfl_xor_sync(0xffffffffu, s, m);
    int t = v;
    for (int d = 1; d < 32; d <<= 1)
    {
        const int u = __shfl_up_sync(0xffffffffu, t, d);
        if (lane >= d) t += u;
    }
    total[i] = s;
    scan[i] = t;
    bcast[i] = __shfl_sync(0xffffffffu, v, 3, 8);
    down4[i] = __shfl_down_sync(0xffffffffu, v, 4, 16);
}

// Atomics from every thread of every block: bins[values[i] mod nbins] += 1 (unsigned), *count += 1 (unsigned long
// long), *fsum += values[i] (float: exact while the sum stays below 2^24), *dsum += values[i] (double), *maxv =
// max(values[i]) and *minv = min(values[i]) (int), *orbits |= 1 << (values[i] mod 32) (unsigned), and
// *first = the first i to win atomicCAS(first, -1, i) (some i).
extern "C" __global__ void atomics(const int* __restrict__ values, long long n, unsigned* bins, int nbins,
                                   unsigned long long* count, float* fsum, double* dsum, int* maxv, int* minv,
                                   unsigned* orbits, int* first)
{
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (long long)blockDim.x * gridDim.x)
    {
        const int v = values[i];
        atomicAdd(&bins[((v % nbins) + nbins) % nbins], 1u);
        atomicAdd(count, 1ull);
        atomicAdd(fsum, (float)v);
        atomicAdd(dsum, (double)v);
        atomicMax(maxv, v);
        atomicMin(minv, v);
        atomicOr(orbits, 1u << (((v % 32) + 32) % 32));
        atomicCAS(first, -1, (int)i);
    }
}

// Reverses each block's chunk of x into y through dynamic shared memory (sharedBytes >= blockDim.x * 4):
// with m = min(blockDim.x, n - base), y[base + t] = x[base + m - 1 - t] for t < m.
extern "C" __global__ void reverse_chunks(const float* __restrict__ x, float* __restrict__ y, long long n)
{
    CA_DYNAMIC_SHARED(float, s);
    const long long base = (long long)blockIdx.x * blockDim.x;
    const unsigned t = threadIdx.x;
    const long long rest = n - base;
    const unsigned m = rest < (long long)blockDim.x ? (unsigned)rest : blockDim.x;
    if (t < m) s[t] = x[base + t];
    __syncthreads();
    if (t < m) y[base + t] = s[m - 1 - t];
}

// out[6 g + 0..5] = threadIdx.xyz, blockIdx.xyz of the thread with linear global index g (x fastest, then y, z;
// threads within a block, then blocks). Tests 3-D grids and blocks.
extern "C" __global__ void thread_indices(unsigned* __restrict__ out)
{
    const unsigned long long block = ((unsigned long long)blockIdx.z * gridDim.y + blockIdx.y) * gridDim.x + blockIdx.x;
    const unsigned long long in_block = ((unsigned long long)threadIdx.z * blockDim.y + threadIdx.y) * blockDim.x + threadIdx.x;
    const unsigned long long g = block * ((unsigned long long)blockDim.x * blockDim.y * blockDim.z) + in_block;
    out[6 * g + 0] = threadIdx.x;
    out[6 * g + 1] = threadIdx.y;
    out[6 * g + 2] = threadIdx.z;
    out[6 * g + 3] = blockIdx.x;
    out[6 * g + 4] = blockIdx.y;
    out[6 * g + 5] = blockIdx.z;
}

// A bug on purpose: odd threads return before a __syncthreads that the even ones wait at. Undefined behaviour on
// a GPU; the emulator reports a deadlock. Only the tests launch it.
extern "C" __global__ void early_exit_before_barrier(float* y)
{
    if (threadIdx.x & 1) return;
    __syncthreads();
    y[threadIdx.x] = 1.0f;
}

// Lanes 16..31 of each warp return at once; lanes 0..15 sum their lane numbers with a half-warp mask (valid: the
// mask names only lanes that take part). out[w] = 0 + 1 + ... + 15 = 120 for each warp w.
extern "C" __global__ void half_warp_sum(int* out)
{
    const unsigned lane = threadIdx.x & 31;
    if (lane >= 16) return;
    int v = (int)lane;
    for (int k = 8; k > 0; k >>= 1) v += __shfl_down_sync(0x0000ffffu, v, k, 16);
    if (lane == 0) out[((long long)blockIdx.x * blockDim.x + threadIdx.x) / 32] = v;
}

// A bug on purpose: lanes 16..31 return, then lanes 0..15 shuffle with the full-warp mask, which names lanes that
// have exited (undefined behaviour on a GPU). The emulator reports it. Only the tests launch it.
extern "C" __global__ void shuffle_with_exited_lanes(int* out)
{
    const unsigned lane = threadIdx.x & 31;
    if (lane >= 16) return;
    out[threadIdx.x] = __shfl_xor_sync(0xffffffffu, (int)lane, 1);
}
