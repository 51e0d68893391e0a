using System.Runtime.InteropServices;
using System.Text;
using CudaAdam.Cuda.Interop;

namespace CudaAdam.Cuda.Compilation;

/// <summary>The result of one NVRTC compilation: PTX text (NUL excluded) or a cubin, and NVRTC's log (warnings).</summary>
public sealed record CompiledImage(byte[] Image, bool IsCubin, string Log);

/// <summary>
/// NVRTC: compiles CUDA C source to PTX or cubin in process, with the project's numerical options
/// (<see cref="StandardOptions"/>): no FMA contraction, IEEE division and square root, C++17, functions
/// <c>__device__</c> by default. Headers come from the given map (the embedded <c>kernels/*.cuh</c>), never from disk.
/// </summary>
public static class NvrtcCompiler
{
    /// <summary>
    /// Options of every compilation. <c>--fmad=false</c> with precise div/sqrt is the numerical contract
    /// (DESIGN.md): the GPU then computes the element-wise optimizer math bit for bit like the CPU reference.
    /// </summary>
    public static readonly IReadOnlyList<string> StandardOptions =
        ["--fmad=false", "-std=c++17", "--prec-div=true", "--prec-sqrt=true", "-default-device"];

    private static readonly Lazy<(int, int)> LazyVersion = new(() =>
    {
        Check(NvrtcNative.nvrtcVersion(out int major, out int minor), "nvrtcVersion");
        return (major, minor);
    });

    private static readonly Lazy<IReadOnlyList<int>> LazyArchs = new(() =>
    {
        Check(NvrtcNative.nvrtcGetNumSupportedArchs(out int n), "nvrtcGetNumSupportedArchs");
        var archs = new int[n];
        unsafe
        {
            fixed (int* p = archs) Check(NvrtcNative.nvrtcGetSupportedArchs(p), "nvrtcGetSupportedArchs");
        }
        return archs;
    });

    /// <summary>NVRTC's version, e.g. (11, 8) for Debian's libnvrtc11.2 package.</summary>
    public static (int Major, int Minor) Version => LazyVersion.Value;

    /// <summary>Compute capabilities NVRTC can compile for (nvrtcGetSupportedArchs), e.g. 35..90 for 11.8.</summary>
    public static IReadOnlyList<int> SupportedArchs => LazyArchs.Value;

    /// <summary>The full option list for <paramref name="target"/>: standard options, the arch, then extras.</summary>
    public static IReadOnlyList<string> Options(CompileTarget target, IEnumerable<string>? extra = null) =>
        [.. StandardOptions, target.Option, .. extra ?? []];

    /// <summary>Compiles <paramref name="source"/> with exactly <paramref name="options"/> (see <see cref="Options"/>).</summary>
    /// <exception cref="NvrtcCompileException">The source does not compile; carries the log and the numbered source.</exception>
    public static unsafe CompiledImage Compile(KernelSource source, IReadOnlyList<string> options, bool cubin)
    {
        var headerNames = source.Headers.Keys.Order(StringComparer.Ordinal).ToArray();
        var pinned = new List<nint>();
        try
        {
            byte* Utf8(string s)
            {
                var p = Marshal.StringToCoTaskMemUTF8(s);
                pinned.Add(p);
                return (byte*)p;
            }

            byte** headers = stackalloc byte*[Math.Max(1, headerNames.Length)];
            byte** includes = stackalloc byte*[Math.Max(1, headerNames.Length)];
            for (int i = 0; i < headerNames.Length; i++)
            {
                headers[i] = Utf8(source.Headers[headerNames[i]]);
                includes[i] = Utf8(headerNames[i]);
            }
            byte** opts = stackalloc byte*[Math.Max(1, options.Count)];
            for (int i = 0; i < options.Count; i++) opts[i] = Utf8(options[i]);

            Check(NvrtcNative.nvrtcCreateProgram(out nint program, Utf8(source.Text), Utf8(source.FileName), headerNames.Length, headers, includes),
                $"nvrtcCreateProgram({source.FileName})");
            try
            {
                var result = NvrtcNative.nvrtcCompileProgram(program, options.Count, opts);
                string log = Log(program);
                if (result == NvrtcResult.Compilation)
                    throw new NvrtcCompileException(source.FileName, source.Text, options, log);
                Check(result, $"nvrtcCompileProgram({source.FileName}, {string.Join(' ', options)})", log);

                byte[] image;
                if (cubin)
                {
                    Check(NvrtcNative.nvrtcGetCUBINSize(program, out nuint size), "nvrtcGetCUBINSize");
                    image = new byte[(int)size];
                    fixed (byte* p = image) Check(NvrtcNative.nvrtcGetCUBIN(program, p), "nvrtcGetCUBIN");
                }
                else
                {
                    Check(NvrtcNative.nvrtcGetPTXSize(program, out nuint size), "nvrtcGetPTXSize");
                    var ptx = new byte[(int)size];
                    fixed (byte* p = ptx) Check(NvrtcNative.nvrtcGetPTX(program, p), "nvrtcGetPTX");
                    int end = Array.IndexOf(ptx, (byte)0);
                    image = end < 0 ? ptx : ptx[..end];
                }
                return new CompiledImage(image, cubin, log);
            }
            finally
            {
                NvrtcNative.nvrtcDestroyProgram(ref program);
            }
        }
        finally
        {
            foreach (var p in pinned) Marshal.FreeCoTaskMem(p);
        }
    }

    private static unsafe string Log(nint program)
    {
        Check(NvrtcNative.nvrtcGetProgramLogSize(program, out nuint size), "nvrtcGetProgramLogSize");
        if (size <= 1) return "";
        var buffer = new byte[(int)size];
        fixed (byte* p = buffer) Check(NvrtcNative.nvrtcGetProgramLog(program, p), "nvrtcGetProgramLog");
        return Encoding.UTF8.GetString(buffer, 0, (int)size - 1).TrimEnd();
    }

    private static void Check(NvrtcResult result, string call, string? log = null)
    {
        if (result == NvrtcResult.Success) return;
        string text = Marshal.PtrToStringUTF8(NvrtcNative.nvrtcGetErrorString(result)) ?? result.ToString();
        if (result == NvrtcResult.InvalidOption) text += ": an option is not accepted by this NVRTC";
        throw new NvrtcException(call, result, string.IsNullOrEmpty(log) ? text : text + "\n" + log);
    }
}
