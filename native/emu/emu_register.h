// emu_register.h — the kernel table of libcudaadam_emu.so.
//
// native/emu/gen_registry.sh writes, for each kernels/<family>.cu, a translation unit that includes the .cu and
// then lists its `extern "C" __global__` kernels with CUDA_EMU_KERNEL. Invoker deduces each kernel's parameter
// types from decltype(&name) and unpacks cuLaunchKernel-style `void** args` (args[i] points at the i-th value).
#pragma once
#include <cstddef>
#include <type_traits>
#include <utility>

namespace cuda_emu
{
using InvokeFn = void (*)(void* fn, void** args);

struct KernelEntry
{
    const char* family;
    const char* name;
    void* fn;
    InvokeFn invoke;
    int arity;
};

/// Adds entries to the process-wide table (called from static initializers of the generated files).
void register_kernels(const KernelEntry* entries, int count);

template <class F> struct Invoker;
template <class... A> struct Invoker<void (*)(A...)>
{
    template <std::size_t... I> static void call(void* fn, void** args, std::index_sequence<I...>)
    {
        (void)args;
        reinterpret_cast<void (*)(A...)>(fn)(*static_cast<std::remove_cv_t<std::remove_reference_t<A>>*>(args[I])...);
    }
    static void invoke(void* fn, void** args) { call(fn, args, std::index_sequence_for<A...>{}); }
    static constexpr int arity = (int)sizeof...(A);
};

struct Registrar
{
    Registrar(const KernelEntry* entries, int count) { register_kernels(entries, count); }
};
} // namespace cuda_emu

#define CUDA_EMU_KERNEL(family, name)                                                                           \
    ::cuda_emu::KernelEntry                                                                                     \
    {                                                                                                           \
        family, #name, reinterpret_cast<void*>(&name), &::cuda_emu::Invoker<decltype(&name)>::invoke,           \
            ::cuda_emu::Invoker<decltype(&name)>::arity                                                         \
    }
