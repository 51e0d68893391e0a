using System.Runtime.InteropServices;

namespace CudaAdam.Cuda.Emulator;

/// <summary>Checked wrappers of <see cref="EmulatorNative"/>: each failure becomes an <see cref="EmulatorException"/>
/// carrying the native message (<c>emu_last_error</c>, which is per OS thread, read right after the call).</summary>
internal static unsafe class EmulatorApi
{
    private static string LastError() => Marshal.PtrToStringUTF8(EmulatorNative.emu_last_error()) ?? "(no message)";

    /// <summary>The kernel's handle; unknown kernel: an exception naming family and kernel and listing those that exist.</summary>
    public static nint FindKernel(string family, string name)
    {
        EmulatorLibrary.Load();
        nint handle = EmulatorNative.emu_find_kernel(family, name);
        if (handle == 0) throw new EmulatorException($"GetKernel(\"{family}\", \"{name}\")", LastError());
        return handle;
    }

    public static int KernelArity(nint kernel) => EmulatorNative.emu_kernel_arity(kernel);

    /// <summary>"family.cu:name, ..." of every kernel compiled into the library.</summary>
    public static string ListKernels()
    {
        EmulatorLibrary.Load();
        return Marshal.PtrToStringUTF8(EmulatorNative.emu_list_kernels()) ?? "";
    }

    /// <summary>Runs the kernel to completion (the emulator's launches are synchronous).</summary>
    public static void Launch(string what, nint kernel, Dim3 grid, Dim3 block, uint sharedBytes, nint args, int argCount)
    {
        int rc = EmulatorNative.emu_launch(kernel, grid.X, grid.Y, grid.Z, block.X, block.Y, block.Z, sharedBytes, args, argCount);
        if (rc != 0) throw new EmulatorException(what, LastError());
    }

    public static void SetThreads(int threads)
    {
        EmulatorLibrary.Load();
        if (EmulatorNative.emu_set_threads(threads) != 0) throw new EmulatorException($"SetThreads({threads})", LastError());
    }

    public static int GetThreads()
    {
        EmulatorLibrary.Load();
        return EmulatorNative.emu_get_threads();
    }

    /// <summary>cuda_emu.h's float → bf16 (<paramref name="kind"/> 0) or fp16 (1) conversion, for tests.</summary>
    public static void ConvertFloats(int kind, ReadOnlySpan<float> input, Span<ushort> bits, Span<float> back)
    {
        if (bits.Length != input.Length || back.Length != input.Length)
            throw new ArgumentException("input, bits and back must have the same length");
        EmulatorLibrary.Load();
        fixed (float* i = input)
        fixed (ushort* o = bits)
        fixed (float* b = back)
        {
            if (EmulatorNative.emu_convert_floats(kind, i, o, b, input.Length) != 0)
                throw new EmulatorException($"ConvertFloats(kind {kind})", LastError());
        }
    }
}
