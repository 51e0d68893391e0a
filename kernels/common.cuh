// common.cuh — shared helpers of kernels/*.cu. Compiled by NVRTC for the GPU, and by g++ for the host emulator,
// which force-includes native/emu/cuda_emu.h first (it defines CUDAADAM_EMU and the CUDA names on the host).
#pragma once

// Dynamic shared memory: `CA_DYNAMIC_SHARED(float, s);` declares `float* s` over the launch's sharedBytes
// (16-byte aligned on the GPU, 256 on the emulator). Use it instead of `extern __shared__ T s[];`, which the
// emulator cannot express (cuda_emu.h defines its own CA_DYNAMIC_SHARED).
#ifndef CA_DYNAMIC_SHARED
#define CA_DYNAMIC_SHARED(type, name)                                    \
    extern __shared__ __align__(16) unsigned char ca_dynamic_shared_[]; \
    type* name = reinterpret_cast<type*>(ca_dynamic_shared_)
#endif
