#pragma warning disable CS1591 // CS1591 backlog (issue 13): 6 public members here have no XML doc yet; document them, then delete this line
using CudaAdam.Cuda;
using CudaAdam.Cuda.Blas;
using CudaAdam.Cuda.Interop;

namespace CudaAdam.Training.Device;

/// <summary>
/// Single-precision GEMM on row-major device matrices: <c>C = alpha · op(A) · op(B) + beta · C</c>, op(A) m×k,
/// op(B) k×n, C m×n, each a contiguous <see cref="DeviceTensor"/> (leading dimension = its column count). With
/// beta = 0, C is not read. The device twin of <see cref="Tensors.IGemm"/>; the GEMM seam of the device layers.
/// </summary>
public interface IDeviceGemm
{
    /// <summary>For logs: <c>cublas</c> or <c>train.cu</c>.</summary>
    string Name { get; }

    /// <exception cref="ArgumentException">The tensors' shapes do not match m, n, k and the transposes.</exception>
    void Sgemm(bool transA, bool transB, int m, int n, int k, float alpha, DeviceTensor a, DeviceTensor b, float beta, DeviceTensor c);
}

/// <summary>Picks the GEMM for a device and checks shapes.</summary>
public static class DeviceGemm
{
    /// <summary>cuBLAS on a <see cref="CudaDevice"/>, the <c>train_sgemm</c> kernel elsewhere (the emulator).</summary>
    public static IDeviceGemm For(IDevice device) =>
        device is CudaDevice cuda ? new CublasGemm(cuda) : new KernelGemm(device);

    /// <summary>Checks that op(A) is m×k, op(B) k×n and C m×n, and that all three live on one device.</summary>
    public static void CheckShapes(bool transA, bool transB, int m, int n, int k, DeviceTensor a, DeviceTensor b, DeviceTensor c)
    {
        if (m < 0 || n < 0 || k < 0) throw new ArgumentException($"device sgemm: negative size m={m} n={n} k={k}");
        Check("A", a, transA ? k : m, transA ? m : k);
        Check("B", b, transB ? n : k, transB ? k : n);
        Check("C", c, m, n);
        if (!ReferenceEquals(a.Device, c.Device) || !ReferenceEquals(b.Device, c.Device))
            throw new ArgumentException("device sgemm: A, B and C must live on the same device");
        return;

        static void Check(string name, DeviceTensor t, int rows, int cols)
        {
            if (t.Rows != rows || t.Cols != cols)
                throw new ArgumentException($"device sgemm: {name} must be [{rows}, {cols}], got [{t.Rows}, {t.Cols}]");
        }
    }
}

/// <summary>
/// The <c>train_sgemm</c> kernel of <c>kernels/train.cu</c>: 16×16 tiles in shared memory, each element's k-sum in
/// k order (deterministic; the GPU and the emulator give the same bits). The GEMM of the emulator; usable on a GPU
/// too (slower than cuBLAS, but bitwise the emulator's).
/// </summary>
public sealed class KernelGemm : IDeviceGemm, IDisposable
{
    private const uint Tile = 16;
    private readonly IDevice _device;
    private readonly Kernel _kernel;
    private readonly KernelArgs _args = new();

    public KernelGemm(IDevice device)
    {
        _device = device ?? throw new ArgumentNullException(nameof(device));
        _kernel = device.GetKernel("train", "train_sgemm");
    }

    public string Name => "train.cu";

    public void Sgemm(bool transA, bool transB, int m, int n, int k, float alpha, DeviceTensor a, DeviceTensor b, float beta, DeviceTensor c)
    {
        DeviceGemm.CheckShapes(transA, transB, m, n, k, a, b, c);
        if (m == 0 || n == 0) return;
        _args.Clear().Add(transA ? 1 : 0).Add(transB ? 1 : 0).Add(m).Add(n).Add(k).Add(alpha)
            .Add(a.Pointer).Add(Math.Max(1, a.Cols)).Add(b.Pointer).Add(Math.Max(1, b.Cols)).Add(beta).Add(c.Pointer).Add(c.Cols);
        var grid = new Dim3(((uint)n + Tile - 1) / Tile, ((uint)m + Tile - 1) / Tile);
        _device.Launch(_kernel, grid, new Dim3(Tile, Tile), _args);
    }

    public void Dispose() => _args.Dispose();
}

/// <summary>
/// cuBLAS SGEMM on a <see cref="CudaDevice"/> (its <see cref="CudaDevice.Blas"/> handle, the device's stream).
/// cuBLAS is column-major; a row-major C (m×n) is column-major Cᵀ (n×m), and Cᵀ = op(B)ᵀ op(A)ᵀ, so the call is
/// <c>cublasSgemm(opB, opA, n, m, k, alpha, B, ldb, A, lda, beta, C, ldc)</c> with the row-major leading dimensions.
/// The default math mode (no TF32). Not bitwise the emulator's kernel (cuBLAS splits k its own way): compare with a
/// tolerance. Only compiled on a machine without a GPU; the [Category("Gpu")] tests run it.
/// </summary>
public sealed class CublasGemm(CudaDevice device) : IDeviceGemm
{
    public string Name => "cublas";

    public void Sgemm(bool transA, bool transB, int m, int n, int k, float alpha, DeviceTensor a, DeviceTensor b, float beta, DeviceTensor c)
    {
        DeviceGemm.CheckShapes(transA, transB, m, n, k, a, b, c);
        if (m == 0 || n == 0) return;
        // Non-owning views of the slices (CublasHandle takes buffers; disposing a view frees nothing).
        using var av = View(a);
        using var bv = View(b);
        using var cv = View(c);
        device.Blas.Sgemm(transB ? CublasOperation.T : CublasOperation.N, transA ? CublasOperation.T : CublasOperation.N,
            n, m, k, alpha, bv, Math.Max(1, b.Cols), av, Math.Max(1, a.Cols), beta, cv, Math.Max(1, c.Cols));
    }

    private DeviceBuffer<float> View(DeviceTensor t) => new(device, t.Pointer, t.Length, static _ => { });
}
