#pragma warning disable CS1591 // CS1591 backlog (issue 13): 20 public members here have no XML doc yet; document them, then delete this line
using System.Runtime.InteropServices;

namespace CudaAdam.Cuda.Interop;

/// <summary><c>cublasStatus_t</c> (cublas_api.h).</summary>
public enum CublasStatus
{
    Success = 0,
    NotInitialized = 1,
    AllocFailed = 3,
    InvalidValue = 7,
    ArchMismatch = 8,
    MappingError = 11,
    ExecutionFailed = 13,
    InternalError = 14,
    NotSupported = 15,
    LicenseError = 16,
}

/// <summary><c>cublasOperation_t</c>: N uses the matrix as stored (column-major), T its transpose.</summary>
public enum CublasOperation { N = 0, T = 1, C = 2 }

/// <summary><c>cublasPointerMode_t</c>: where alpha and beta live.</summary>
public enum CublasPointerMode { Host = 0, Device = 1 }

/// <summary><c>cudaDataType_t</c> values used here (library_types.h).</summary>
public enum CudaDataType { R32F = 0, R16F = 2, R16BF = 14 }

/// <summary><c>cublasComputeType_t</c> values used here.</summary>
public enum CublasComputeType { Compute32F = 68, Compute32FPedantic = 69 }

/// <summary>Raw cuBLAS imports (cublas_api.h), the <c>_v2</c> entry points that cublas_v2.h maps the plain names to.</summary>
internal static unsafe partial class CublasNative
{
    private const string Lib = "cublas";

    static CublasNative() => NativeLibraries.Register();

    /// <summary>libraryPropertyType: 0 major, 1 minor, 2 patch.</summary>
    [LibraryImport(Lib)] public static partial CublasStatus cublasGetProperty(int type, out int value);
    [LibraryImport(Lib)] public static partial CublasStatus cublasCreate_v2(out nint handle);
    [LibraryImport(Lib)] public static partial CublasStatus cublasDestroy_v2(nint handle);
    [LibraryImport(Lib)] public static partial CublasStatus cublasGetVersion_v2(nint handle, out int version);
    [LibraryImport(Lib)] public static partial CublasStatus cublasSetStream_v2(nint handle, nint stream);
    [LibraryImport(Lib)] public static partial CublasStatus cublasSetPointerMode_v2(nint handle, CublasPointerMode mode);

    [LibraryImport(Lib)]
    public static partial CublasStatus cublasSgemm_v2(nint handle, CublasOperation transa, CublasOperation transb, int m, int n, int k,
        float* alpha, ulong a, int lda, ulong b, int ldb, float* beta, ulong c, int ldc);

    [LibraryImport(Lib)]
    public static partial CublasStatus cublasGemmEx(nint handle, CublasOperation transa, CublasOperation transb, int m, int n, int k,
        void* alpha, ulong a, CudaDataType aType, int lda, ulong b, CudaDataType bType, int ldb,
        void* beta, ulong c, CudaDataType cType, int ldc, CublasComputeType computeType, int algo);
}
