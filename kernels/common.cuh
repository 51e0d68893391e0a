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
