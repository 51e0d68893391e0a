#pragma warning disable CS1591 // CS1591 backlog (issue 13): 5 public members here have no XML doc yet; document them, then delete this line
using System.Numerics;
using System.Runtime.InteropServices;

namespace CudaAdam.Training.Tensors;

/// <summary>
/// Single-precision GEMM on row-major matrices, BLAS's sgemm:
/// <c>C = alpha · op(A) · op(B) + beta · C</c>, op(X) = X or Xᵀ, op(A) is m×k, op(B) is k×n, C is m×n, with
/// leading dimensions (row strides) lda, ldb, ldc. With beta = 0, C is not read (NaNs in it do not propagate).
/// The one matrix operation the layers need, behind an interface so a cuBLAS implementation can come.
/// </summary>
public interface IGemm
{
    /// <summary>A short name for logs: <c>openblas</c> or <c>managed</c>.</summary>
    string Name { get; }

    void Sgemm(bool transA, bool transB, int m, int n, int k, float alpha,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, float beta, Span<float> c, int ldc);
}

/// <summary>Picks the GEMM: OpenBLAS when <c>libopenblas.so.0</c> loads, the managed loops otherwise.</summary>
public static class Gemm
{
    private static readonly Lazy<IGemm> DefaultGemm = new(() =>
        OpenBlasGemm.IsAvailable ? new OpenBlasGemm() : new ManagedGemm());

    /// <summary>OpenBLAS if present (Debian: <c>apt-get install libopenblas0-pthread</c>), else <see cref="ManagedGemm"/>.</summary>
    public static IGemm Default => DefaultGemm.Value;

    /// <summary>Checks the arguments of <see cref="IGemm.Sgemm"/>: sizes, leading dimensions and buffer lengths.</summary>
    /// <exception cref="ArgumentException">Says which operand is too short or which leading dimension is too small.</exception>
    public static void CheckArguments(bool transA, bool transB, int m, int n, int k,
        int aLength, int lda, int bLength, int ldb, int cLength, int ldc)
    {
        if (m < 0 || n < 0 || k < 0) throw new ArgumentException($"sgemm: negative size m={m} n={n} k={k}");
        int aRows = transA ? k : m, aCols = transA ? m : k;
        int bRows = transB ? n : k, bCols = transB ? k : n;
        Check("A", aRows, aCols, aLength, lda);
        Check("B", bRows, bCols, bLength, ldb);
        Check("C", m, n, cLength, ldc);
        return;

        static void Check(string name, int rows, int cols, int length, int ld)
        {
            if (ld < Math.Max(1, cols))
                throw new ArgumentException($"sgemm: leading dimension of {name} is {ld}, less than its {cols} columns");
            long need = rows == 0 ? 0 : (long)(rows - 1) * ld + cols;
            if (length < need)
                throw new ArgumentException($"sgemm: {name} ({rows}x{cols}, ld {ld}) needs {need} elements, the buffer has {length}");
        }
    }
}

/// <summary>
/// The managed fallback: a row at a time, op(A)'s row gathered into a contiguous buffer, then AXPYs over B's rows
/// (B not transposed) or dot products with B's rows (B transposed), both with <see cref="Vector{T}"/>. Float
/// accumulation in k order; results differ from OpenBLAS's by rounding only (tests state the tolerance).
/// Rows run in parallel when the product is large; each row is computed by one thread, so results do not depend
/// on the thread count.
/// </summary>
public sealed class ManagedGemm : IGemm
{
    public string Name => "managed";

    public void Sgemm(bool transA, bool transB, int m, int n, int k, float alpha,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, float beta, Span<float> c, int ldc)
    {
        Gemm.CheckArguments(transA, transB, m, n, k, a.Length, lda, b.Length, ldb, c.Length, ldc);
        if (m == 0 || n == 0) return;
        if ((long)m * n * k < 1 << 20)
        {
            var aRow = new float[k];
            var acc = new float[n];
            for (int i = 0; i < m; i++) Row(i, a, b, c, aRow, acc);
            return;
        }
        // Spans cannot be captured by a lambda: copy to arrays once (large products only).
        float[] aa = a.ToArray(), ba = b.ToArray(), ca = c.ToArray();
        Parallel.For(0, m, () => (new float[k], new float[n]), (i, _, buf) =>
        {
            Row(i, aa, ba, ca, buf.Item1, buf.Item2);
            return buf;
        }, _ => { });
        ca.CopyTo(c);
        return;

        void Row(int i, ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c, float[] aRow, float[] acc)
        {
            for (int p = 0; p < k; p++) aRow[p] = transA ? a[p * lda + i] : a[i * lda + p];
            if (!transB)
            {
                Array.Clear(acc);
                for (int p = 0; p < k; p++) Axpy(aRow[p], b.Slice(p * ldb, n), acc);
            }
            else
            {
                for (int j = 0; j < n; j++) acc[j] = Dot(aRow, b.Slice(j * ldb, k));
            }
            var cRow = c.Slice(i * ldc, n);
            for (int j = 0; j < n; j++) cRow[j] = beta == 0 ? alpha * acc[j] : alpha * acc[j] + beta * cRow[j];
        }
    }

    private static void Axpy(float s, ReadOnlySpan<float> x, Span<float> y)
    {
        int j = 0, w = Vector<float>.Count;
        var vs = new Vector<float>(s);
        for (; j <= x.Length - w; j += w)
            (new Vector<float>(y.Slice(j)) + vs * new Vector<float>(x.Slice(j))).CopyTo(y.Slice(j));
        for (; j < x.Length; j++) y[j] += s * x[j];
    }

    private static float Dot(ReadOnlySpan<float> x, ReadOnlySpan<float> y)
    {
        int j = 0, w = Vector<float>.Count;
        var acc = Vector<float>.Zero;
        for (; j <= x.Length - w; j += w) acc += new Vector<float>(x.Slice(j)) * new Vector<float>(y.Slice(j));
        float s = Vector.Sum(acc);
        for (; j < x.Length; j++) s += x[j] * y[j];
        return s;
    }
}

/// <summary>Raw import of OpenBLAS's CBLAS sgemm (Debian <c>libopenblas0-pthread</c>), named like the C symbol.</summary>
internal static unsafe partial class OpenBlasNative
{
    public const string Library = "libopenblas.so.0";
    public const int CblasRowMajor = 101, CblasNoTrans = 111, CblasTrans = 112;

    [LibraryImport(Library)]
    public static partial void openblas_set_num_threads(int n);

    [LibraryImport(Library)]
    public static partial int openblas_get_num_threads();

    [LibraryImport(Library)]
    public static partial void cblas_sgemm(int order, int transA, int transB, int m, int n, int k, float alpha,
        float* a, int lda, float* b, int ldb, float beta, float* c, int ldc);
}

/// <summary>glibc's setenv: the native environment, which OpenBLAS reads (Environment.SetEnvironmentVariable does not
/// reach it).</summary>
internal static partial class LibC
{
    [LibraryImport("libc.so.6", StringMarshalling = StringMarshalling.Utf8)]
    public static partial int setenv(string name, string value, int overwrite);
}

/// <summary>The checked wrapper over <see cref="OpenBlasNative.cblas_sgemm"/>: validates sizes (BLAS would read out of
/// bounds or call xerbla and exit), then calls it.</summary>
/// <remarks>
/// Threads. Before the library loads, <c>OPENBLAS_THREAD_TIMEOUT=4</c> is put in the native environment (unless it is
/// set already): OpenBLAS's idle workers then sleep after 2⁴ cycles instead of spinning in <c>sched_yield</c> for
/// 2²⁸ cycles (about 0.1 s) after every GEMM, on the cores our own workers and the layers' loops need. After it loads,
/// <c>openblas_set_num_threads</c> gets the CPU step's thread count (<c>CUDAADAM_CPU_THREADS</c>, else the processor
/// count) unless <c>OPENBLAS_NUM_THREADS</c> is set. The pthread build reads the timeout once, at load: if something
/// loaded OpenBLAS earlier in the process, only the thread count applies.
/// </remarks>
public sealed class OpenBlasGemm : IGemm
{
    /// <summary>The spin exponent we ask for (OpenBLAS's minimum).</summary>
    public const string ThreadTimeout = "4";

    private static readonly Lazy<bool> Available = new(() =>
    {
        if (OperatingSystem.IsLinux() && Environment.GetEnvironmentVariable("OPENBLAS_THREAD_TIMEOUT") is null)
        {
            try { LibC.setenv("OPENBLAS_THREAD_TIMEOUT", ThreadTimeout, 0); }
            catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { }
        }
        if (!NativeLibrary.TryLoad(OpenBlasNative.Library, typeof(OpenBlasGemm).Assembly, null, out var handle)) return false;
        bool has = NativeLibrary.TryGetExport(handle, "cblas_sgemm", out _);
        if (has && NativeLibrary.TryGetExport(handle, "openblas_set_num_threads", out _)
            && Environment.GetEnvironmentVariable("OPENBLAS_NUM_THREADS") is null)
            OpenBlasNative.openblas_set_num_threads(CudaAdam.Cpu.SimdStepper.DefaultThreads);
        return has;
    });

    /// <summary>OpenBLAS's thread count (after the library loaded), for logs; 0 without OpenBLAS.</summary>
    public static int Threads =>
        IsAvailable && NativeLibrary.TryGetExport(NativeLibrary.Load(OpenBlasNative.Library, typeof(OpenBlasGemm).Assembly, null),
            "openblas_get_num_threads", out _) ? OpenBlasNative.openblas_get_num_threads() : 0;

    /// <summary>Whether <c>libopenblas.so.0</c> loads and exports cblas_sgemm.</summary>
    public static bool IsAvailable => Available.Value;

    /// <summary>Sets OpenBLAS's thread count for this process (loading it as above, with the short spin timeout), e.g.
    /// to 1 when an experiment already runs one training per core and OpenBLAS's own threads on top would oversubscribe
    /// them (6x slower in deepobs.fsx's smoke run). <c>OPENBLAS_NUM_THREADS</c> in the environment wins.</summary>
    /// <param name="threads">Threads, at least 1.</param>
    /// <returns>Whether OpenBLAS is there (without it the managed GEMM is used and this is moot).</returns>
    public static bool SetThreads(int threads)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1);
        if (!IsAvailable) return false;
        if (Environment.GetEnvironmentVariable("OPENBLAS_NUM_THREADS") is null) OpenBlasNative.openblas_set_num_threads(threads);
        return true;
    }

    /// <exception cref="DllNotFoundException">OpenBLAS is not installed; says which package to install.</exception>
    public OpenBlasGemm()
    {
        if (!IsAvailable)
            throw new DllNotFoundException(
                $"{OpenBlasNative.Library} not found: install Debian's libopenblas0-pthread (./build.sh setup), or use ManagedGemm");
    }

    public string Name => "openblas";

    public unsafe void Sgemm(bool transA, bool transB, int m, int n, int k, float alpha,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, float beta, Span<float> c, int ldc)
    {
        Gemm.CheckArguments(transA, transB, m, n, k, a.Length, lda, b.Length, ldb, c.Length, ldc);
        if (m == 0 || n == 0) return;
        if (k == 0)
        {
            // BLAS scales C by beta; do it here so that empty spans never reach native code.
            for (int i = 0; i < m; i++)
            {
                var row = c.Slice(i * ldc, n);
                if (beta == 0) row.Clear();
                else for (int j = 0; j < n; j++) row[j] *= beta;
            }
            return;
        }
        fixed (float* pa = a)
        fixed (float* pb = b)
        fixed (float* pc = c)
            OpenBlasNative.cblas_sgemm(OpenBlasNative.CblasRowMajor,
                transA ? OpenBlasNative.CblasTrans : OpenBlasNative.CblasNoTrans,
                transB ? OpenBlasNative.CblasTrans : OpenBlasNative.CblasNoTrans,
                m, n, k, alpha, pa, lda, pb, ldb, beta, pc, ldc);
    }
}
