using System.Runtime.InteropServices;

namespace CudaAdam.Cuda.Emulator;

/// <summary>
/// Raw imports of <c>libcudaadam_emu.so</c> (native/emu/emu_runtime.cpp), named like the C symbols. Unchecked:
/// use <see cref="EmulatorApi"/>. The import name is resolved by <see cref="EmulatorLibrary"/> only.
/// </summary>
internal static unsafe partial class EmulatorNative
{
    /// <summary>Deliberately not a file name: the runtime's default probing finds nothing under this name, so the
    /// load always goes through <see cref="EmulatorLibrary"/>'s order (CUDAADAM_EMU_LIB first), whatever other
    /// resolvers this assembly has.</summary>
    public const string Lib = "cudaadam_emu_located_by_EmulatorLibrary";

    static EmulatorNative() => EmulatorLibrary.RegisterResolver();

    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)]
    public static partial nint emu_find_kernel(string family, string name);

    [LibraryImport(Lib)] public static partial int emu_kernel_arity(nint kernel);
    [LibraryImport(Lib)] public static partial nint emu_list_kernels();

    [LibraryImport(Lib)]
    public static partial int emu_launch(nint kernel, uint gridX, uint gridY, uint gridZ, uint blockX, uint blockY, uint blockZ,
                                         uint sharedBytes, nint args, int argCount);

    [LibraryImport(Lib)] public static partial nint emu_last_error();
    [LibraryImport(Lib)] public static partial int emu_set_threads(int threads);
    [LibraryImport(Lib)] public static partial int emu_get_threads();
    [LibraryImport(Lib)] public static partial int emu_convert_floats(int kind, float* input, ushort* output, float* back, long count);
}
