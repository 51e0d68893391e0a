#pragma warning disable CS1591 // CS1591 backlog (issue 13): 15 public members here have no XML doc yet; document them, then delete this line
using System.Runtime.InteropServices;
using System.Text;
using CudaAdam.Cuda.Interop;

namespace CudaAdam.Cuda;

/// <summary>A CUDA driver API call returned an error: which call, the CUresult's name and the driver's text.</summary>
public sealed class CudaException : Exception
{
    public CudaException(string call, CudaResult result, string name, string text)
        : base($"{call} failed: {name} ({(int)result}): {text}{Hint(result)}")
    {
        Call = call;
        Result = result;
        ResultName = name;
    }

    public string Call { get; }
    public CudaResult Result { get; }
    public string ResultName { get; }

    private static string Hint(CudaResult r) => r switch
    {
        CudaResult.NoDevice => ". No CUDA device is visible: check nvidia-smi and CUDA_VISIBLE_DEVICES.",
        CudaResult.StubLibrary => ". A stub libcuda was loaded: point CUDAADAM_LIBCUDA at the driver's libcuda.so.1.",
        CudaResult.UnsupportedPtxVersion => ". The PTX is newer than the driver: compile for an older arch (--arch) or update the driver.",
        CudaResult.NoBinaryForGpu => ". The kernel image was built for another GPU: clear the kernel cache or pass the device's --arch.",
        _ => ".",
    };
}

/// <summary>A cuBLAS call returned an error.</summary>
public sealed class CublasException : Exception
{
    public CublasException(string call, CublasStatus status)
        : base($"{call} failed: CUBLAS_STATUS_{CudaResultNames.ToUpperSnake(status.ToString())} ({(int)status})" +
               (status == CublasStatus.NotInitialized ? ": is a CUDA context current and does libcublasLt load?" : ""))
    {
        Call = call;
        Status = status;
    }

    public string Call { get; }
    public CublasStatus Status { get; }
}

/// <summary>An NVRTC call other than compilation failed (bad option, out of memory, ...).</summary>
public sealed class NvrtcException : Exception
{
    public NvrtcException(string call, NvrtcResult result, string text)
        : base($"{call} failed: {text} ({(int)result})")
    {
        Call = call;
        Result = result;
    }

    public string Call { get; }
    public NvrtcResult Result { get; }
}

/// <summary>
/// NVRTC rejected a kernel source. Carries the NVRTC log, the options, the file name and the source with line
/// numbers; <see cref="ErrorLines"/> are the lines the log blames (<c>file(LINE): error</c>), shown first in the message.
/// </summary>
public sealed class NvrtcCompileException : Exception
{
    public NvrtcCompileException(string fileName, string source, IReadOnlyList<string> options, string log)
        : base(Format(fileName, source, options, log, out var lines))
    {
        FileName = fileName;
        Source = source;
        Options = options;
        Log = log;
        ErrorLines = lines;
    }

    public string FileName { get; }
    public new string Source { get; }
    public IReadOnlyList<string> Options { get; }
    public string Log { get; }
    /// <summary>1-based line numbers of <see cref="FileName"/> that the log reports errors on.</summary>
    public IReadOnlyList<int> ErrorLines { get; }

    private static string Format(string fileName, string source, IReadOnlyList<string> options, string log, out IReadOnlyList<int> errorLines)
    {
        var lines = source.Split('\n');
        var blamed = new SortedSet<int>();
        var pattern = new System.Text.RegularExpressions.Regex(@"^(?<file>[^\s()]+)\((?<line>\d+)\): (?:catastrophic )?error",
            System.Text.RegularExpressions.RegexOptions.Multiline);
        foreach (System.Text.RegularExpressions.Match m in pattern.Matches(log))
            if (Path.GetFileName(m.Groups["file"].Value) == Path.GetFileName(fileName))
                blamed.Add(int.Parse(m.Groups["line"].Value, System.Globalization.CultureInfo.InvariantCulture));
        errorLines = blamed.ToList();

        var sb = new StringBuilder();
        sb.Append("NVRTC could not compile ").Append(fileName).AppendLine(":");
        sb.AppendLine(log.TrimEnd());
        foreach (int line in blamed)
            if (line >= 1 && line <= lines.Length)
                sb.Append("  at ").Append(fileName).Append(':').Append(line).Append(": ").AppendLine(lines[line - 1].TrimEnd());
        sb.Append("options: ").AppendLine(string.Join(' ', options));
        sb.AppendLine("source:");
        int width = lines.Length.ToString(System.Globalization.CultureInfo.InvariantCulture).Length;
        for (int i = 0; i < lines.Length; i++)
            sb.Append((i + 1).ToString(System.Globalization.CultureInfo.InvariantCulture).PadLeft(width))
              .Append(blamed.Contains(i + 1) ? " > " : " | ").AppendLine(lines[i].TrimEnd('\r'));
        return sb.ToString();
    }
}

/// <summary>The checked layer over <see cref="DriverNative"/>: every status goes through <see cref="Check"/>.</summary>
internal static class Cu
{
    /// <summary>Throws <see cref="CudaException"/> naming <paramref name="call"/> unless <paramref name="result"/> is success.</summary>
    public static void Check(CudaResult result, [System.Runtime.CompilerServices.CallerArgumentExpression(nameof(result))] string call = "")
    {
        if (result != CudaResult.Success) throw Error(result, CallName(call));
    }

    public static CudaException Error(CudaResult result, string call)
    {
        string name = CudaResultNames.Name(result), text = "(no description)";
        try
        {
            if (DriverNative.cuGetErrorName(result, out var n) == CudaResult.Success && n != 0) name = Marshal.PtrToStringUTF8(n) ?? name;
            if (DriverNative.cuGetErrorString(result, out var t) == CudaResult.Success && t != 0) text = Marshal.PtrToStringUTF8(t) ?? text;
        }
        catch (DllNotFoundException)
        {
        }
        return new CudaException(call, result, name, text);
    }

    /// <summary>"DriverNative.cuMemAlloc_v2(out p, n)" to "cuMemAlloc_v2(out p, n)".</summary>
    internal static string CallName(string expression)
    {
        const string prefix = "DriverNative.";
        return expression.StartsWith(prefix, StringComparison.Ordinal) ? expression[prefix.Length..] : expression;
    }
}

/// <summary>The checked layer over <see cref="CublasNative"/>.</summary>
internal static class CublasCheck
{
    public static void Check(CublasStatus status, [System.Runtime.CompilerServices.CallerArgumentExpression(nameof(status))] string call = "")
    {
        if (status != CublasStatus.Success)
            throw new CublasException(call.StartsWith("CublasNative.", StringComparison.Ordinal) ? call["CublasNative.".Length..] : call, status);
    }
}
