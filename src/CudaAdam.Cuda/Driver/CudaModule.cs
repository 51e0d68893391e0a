#pragma warning disable CS1591 // CS1591 backlog (issue 13): 4 public members here have no XML doc yet; document them, then delete this line
using System.Text;
using CudaAdam.Cuda.Interop;

namespace CudaAdam.Cuda.Driver;

/// <summary>A loaded module (PTX text, which the driver JIT-compiles, or a cubin) of the current context.</summary>
public sealed class CudaModule : IDisposable
{
    private const int LogBytes = 16 * 1024;
    private nint _handle;

    private CudaModule(nint handle, string name, string infoLog)
    {
        _handle = handle;
        Name = name;
        InfoLog = infoLog;
    }

    public string Name { get; }
    /// <summary>The JIT's information log (register use, ...); empty for most cubins.</summary>
    public string InfoLog { get; }
    public nint Handle => _handle != 0 ? _handle : throw new ObjectDisposedException(nameof(CudaModule));

    /// <summary>
    /// Loads an image with <c>cuModuleLoadDataEx</c>, asking for the JIT error and info logs
    /// (<c>CU_JIT_ERROR_LOG_BUFFER</c>). PTX must be NUL-terminated text: this adds the terminator when missing.
    /// </summary>
    /// <exception cref="CudaException">The load failed; the message carries the JIT error log.</exception>
    public static unsafe CudaModule Load(ReadOnlySpan<byte> image, string name)
    {
        bool isText = image.Length > 0 && image[0] != 0x7f; // cubin is ELF: 0x7f 'E' 'L' 'F'
        byte[] data = isText && image[^1] != 0 ? [.. image, 0] : image.ToArray();
        var errorLog = new byte[LogBytes];
        var infoLog = new byte[LogBytes];
        fixed (byte* pImage = data, pError = errorLog, pInfo = infoLog)
        {
            JitOption* options = stackalloc JitOption[4];
            void** values = stackalloc void*[4];
            options[0] = JitOption.ErrorLogBuffer; values[0] = pError;
            options[1] = JitOption.ErrorLogBufferSizeBytes; values[1] = (void*)(nint)LogBytes;
            options[2] = JitOption.InfoLogBuffer; values[2] = pInfo;
            options[3] = JitOption.InfoLogBufferSizeBytes; values[3] = (void*)(nint)LogBytes;
            var r = DriverNative.cuModuleLoadDataEx(out nint module, pImage, 4, options, values);
            if (r != CudaResult.Success)
            {
                var e = Cu.Error(r, $"cuModuleLoadDataEx({name}, {(isText ? "PTX" : "cubin")} of {image.Length} bytes)");
                string log = CString(errorLog);
                throw log.Length == 0 ? e : new CudaException(e.Call, e.Result, e.ResultName, e.Message + "\nJIT error log:\n" + log);
            }
            return new CudaModule(module, name, CString(infoLog));
        }
    }

    /// <summary>The <c>extern "C"</c> function <paramref name="function"/> (a CUfunction).</summary>
    public nint GetFunction(string function)
    {
        var r = DriverNative.cuModuleGetFunction(out nint f, Handle, function);
        if (r == CudaResult.NotFound)
            throw Cu.Error(r, $"cuModuleGetFunction({Name}, \"{function}\"): no such kernel; is it declared extern \"C\" __global__?");
        Cu.Check(r, $"cuModuleGetFunction({Name}, \"{function}\")");
        return f;
    }

    public void Dispose()
    {
        var h = _handle;
        if (h == 0) return;
        _handle = 0;
        Cu.Check(DriverNative.cuModuleUnload(h));
        GC.SuppressFinalize(this);
    }

    ~CudaModule()
    {
        if (_handle != 0) LeakCounter.Report($"CudaModule({Name})");
    }

    private static string CString(byte[] buffer)
    {
        int n = Array.IndexOf(buffer, (byte)0);
        return Encoding.UTF8.GetString(buffer, 0, n < 0 ? buffer.Length : n).TrimEnd();
    }
}
