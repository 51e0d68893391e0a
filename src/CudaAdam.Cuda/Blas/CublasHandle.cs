#pragma warning disable CS1591 // CS1591 backlog (issue 13): 5 public members here have no XML doc yet; document them, then delete this line
using CudaAdam.Cuda.Driver;
using CudaAdam.Cuda.Interop;

namespace CudaAdam.Cuda.Blas;

/// <summary>
/// A cuBLAS handle bound to one context and stream, pointer mode set explicitly to <see cref="CublasPointerMode.Host"/>
/// (alpha and beta are host floats). Every call makes the context current first, so any thread may use it
/// (one at a time: a cuBLAS handle is not meant for concurrent calls). cuBLAS is column-major:
/// a row-major product <c>C = A B</c> is computed as <c>C^T = B^T A^T</c>, i.e. pass B first.
/// </summary>
public sealed class CublasHandle : IDisposable
{
    private nint _handle;

    /// <exception cref="NativeLibraryNotFoundException">No cuBLAS library loads (says what was tried and what to install).</exception>
    public CublasHandle(CudaContext context, CudaStream stream)
    {
        NativeLibraries.Load(NativeLibraries.Cublas); // a clear error here, not one from inside the P/Invoke resolver
        context.MakeCurrent();
        CublasCheck.Check(CublasNative.cublasCreate_v2(out _handle));
        try
        {
            CublasCheck.Check(CublasNative.cublasSetStream_v2(_handle, stream.Handle));
            CublasCheck.Check(CublasNative.cublasSetPointerMode_v2(_handle, CublasPointerMode.Host));
        }
        catch
        {
            CublasNative.cublasDestroy_v2(_handle);
            _handle = 0;
            throw;
        }
        Context = context;
        Stream = stream;
    }

    public CudaContext Context { get; }
    public CudaStream Stream { get; }
    public nint Handle => _handle != 0 ? _handle : throw new ObjectDisposedException(nameof(CublasHandle));

    /// <summary>cuBLAS's version as major*10000 + minor*100 + patch (<c>cublasGetVersion_v2</c>).</summary>
    public int Version
    {
        get
        {
            Context.MakeCurrent();
            CublasCheck.Check(CublasNative.cublasGetVersion_v2(Handle, out int v));
            return v;
        }
    }

    /// <summary>
    /// <c>C = alpha op(A) op(B) + beta C</c> in fp32, column-major: op(A) is m x k, op(B) is k x n, C is m x n.
    /// Queued on <see cref="Stream"/>. cuBLAS may use TF32 only if the math mode asks for it; the default does not.
    /// </summary>
    public unsafe void Sgemm(CublasOperation transA, CublasOperation transB, int m, int n, int k,
        float alpha, DeviceBuffer<float> a, int lda, DeviceBuffer<float> b, int ldb, float beta, DeviceBuffer<float> c, int ldc)
    {
        CheckShapes(transA, transB, m, n, k, a.Length, lda, b.Length, ldb, c.Length, ldc);
        Context.MakeCurrent();
        CublasCheck.Check(CublasNative.cublasSgemm_v2(Handle, transA, transB, m, n, k, &alpha, (ulong)a.Pointer, lda,
            (ulong)b.Pointer, ldb, &beta, (ulong)c.Pointer, ldc));
    }

    /// <summary>
    /// <c>cublasGemmEx</c> with fp32 accumulation (<c>CUBLAS_COMPUTE_32F</c>, alpha and beta fp32): A and B may be
    /// fp16 (<see cref="CudaDataType.R16F"/>, elements <see cref="Half"/>) or bf16 (<see cref="CudaDataType.R16BF"/>,
    /// raw <see cref="ushort"/> bits); C is fp32, fp16 or bf16. Column-major like <see cref="Sgemm"/>.
    /// </summary>
    public unsafe void GemmEx<TA, TB, TC>(CublasOperation transA, CublasOperation transB, int m, int n, int k, float alpha,
        DeviceBuffer<TA> a, CudaDataType aType, int lda, DeviceBuffer<TB> b, CudaDataType bType, int ldb,
        float beta, DeviceBuffer<TC> c, CudaDataType cType, int ldc)
        where TA : unmanaged where TB : unmanaged where TC : unmanaged
    {
        CheckElement<TA>(aType, nameof(a));
        CheckElement<TB>(bType, nameof(b));
        CheckElement<TC>(cType, nameof(c));
        CheckShapes(transA, transB, m, n, k, a.Length, lda, b.Length, ldb, c.Length, ldc);
        const int defaultAlgo = -1; // CUBLAS_GEMM_DEFAULT
        Context.MakeCurrent();
        CublasCheck.Check(CublasNative.cublasGemmEx(Handle, transA, transB, m, n, k, &alpha, (ulong)a.Pointer, aType, lda,
            (ulong)b.Pointer, bType, ldb, &beta, (ulong)c.Pointer, cType, ldc, CublasComputeType.Compute32F, defaultAlgo));
    }

    public void Dispose()
    {
        var h = _handle;
        if (h == 0) return;
        _handle = 0;
        Context.MakeCurrent();
        CublasCheck.Check(CublasNative.cublasDestroy_v2(h));
        GC.SuppressFinalize(this);
    }

    ~CublasHandle()
    {
        if (_handle != 0) LeakCounter.Report("CublasHandle");
    }

    private static unsafe void CheckElement<T>(CudaDataType type, string name) where T : unmanaged
    {
        int expected = type == CudaDataType.R32F ? 4 : 2;
        if (sizeof(T) != expected)
            throw new ArgumentException($"{name}: {typeof(T).Name} ({sizeof(T)} bytes) does not hold {type} ({expected} bytes)", name);
    }

    /// <summary>Column-major bounds: a rows x cols matrix with leading dimension ld needs ld*(cols-1)+rows elements.</summary>
    internal static void CheckShapes(CublasOperation transA, CublasOperation transB, int m, int n, int k,
        long aLength, int lda, long bLength, int ldb, long cLength, int ldc)
    {
        if (m < 0 || n < 0 || k < 0) throw new ArgumentOutOfRangeException(nameof(m), $"negative gemm size m={m} n={n} k={k}");
        Check("A", transA == CublasOperation.N ? m : k, transA == CublasOperation.N ? k : m, aLength, lda);
        Check("B", transB == CublasOperation.N ? k : n, transB == CublasOperation.N ? n : k, bLength, ldb);
        Check("C", m, n, cLength, ldc);

        static void Check(string what, int rows, int cols, long length, int ld)
        {
            if (ld < Math.Max(1, rows))
                throw new ArgumentException($"gemm: leading dimension of {what} is {ld}, must be at least {Math.Max(1, rows)} (its stored rows)");
            long need = rows == 0 || cols == 0 ? 0 : (long)ld * (cols - 1) + rows;
            if (length < need)
                throw new ArgumentException($"gemm: {what} is {rows}x{cols} with leading dimension {ld}: needs {need} elements, the buffer has {length}");
        }
    }
}
