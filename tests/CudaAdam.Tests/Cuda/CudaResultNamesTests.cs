using CudaAdam.Cuda;
using CudaAdam.Cuda.Interop;

namespace CudaAdam.Tests.Cuda;

[TestFixture]
public class CudaResultNamesTests
{
    // Values and names as cuda.h defines them.
    [TestCase(0, "CUDA_SUCCESS")]
    [TestCase(1, "CUDA_ERROR_INVALID_VALUE")]
    [TestCase(2, "CUDA_ERROR_OUT_OF_MEMORY")]
    [TestCase(3, "CUDA_ERROR_NOT_INITIALIZED")]
    [TestCase(34, "CUDA_ERROR_STUB_LIBRARY")]
    [TestCase(100, "CUDA_ERROR_NO_DEVICE")]
    [TestCase(200, "CUDA_ERROR_INVALID_IMAGE")]
    [TestCase(201, "CUDA_ERROR_INVALID_CONTEXT")]
    [TestCase(209, "CUDA_ERROR_NO_BINARY_FOR_GPU")]
    [TestCase(218, "CUDA_ERROR_INVALID_PTX")]
    [TestCase(222, "CUDA_ERROR_UNSUPPORTED_PTX_VERSION")]
    [TestCase(400, "CUDA_ERROR_INVALID_HANDLE")]
    [TestCase(500, "CUDA_ERROR_NOT_FOUND")]
    [TestCase(600, "CUDA_ERROR_NOT_READY")]
    [TestCase(700, "CUDA_ERROR_ILLEGAL_ADDRESS")]
    [TestCase(701, "CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES")]
    [TestCase(716, "CUDA_ERROR_MISALIGNED_ADDRESS")]
    [TestCase(719, "CUDA_ERROR_LAUNCH_FAILED")]
    [TestCase(900, "CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED")]
    [TestCase(901, "CUDA_ERROR_STREAM_CAPTURE_INVALIDATED")]
    [TestCase(908, "CUDA_ERROR_STREAM_CAPTURE_WRONG_THREAD")]
    [TestCase(999, "CUDA_ERROR_UNKNOWN")]
    public void NamesMatchCudaH(int value, string name) =>
        Assert.That(CudaResultNames.Name((CudaResult)value), Is.EqualTo(name));

    [Test]
    public void UnknownValueKeepsItsNumber() =>
        Assert.That(CudaResultNames.Name((CudaResult)12345), Is.EqualTo("CUresult(12345)"));

    [Test]
    public void EveryEnumNameIsUpperSnake()
    {
        foreach (var r in Enum.GetValues<CudaResult>())
            Assert.That(CudaResultNames.Name(r), Does.Match("^CUDA_(SUCCESS|ERROR_[A-Z0-9_]+)$"));
    }

    [Test]
    public void ExceptionNamesCallResultAndHint()
    {
        var e = new CudaException("cuInit(0)", CudaResult.NoDevice, "CUDA_ERROR_NO_DEVICE", "no CUDA-capable device is detected");
        Assert.That(e.Message, Does.StartWith("cuInit(0) failed: CUDA_ERROR_NO_DEVICE (100): no CUDA-capable device is detected"));
        Assert.That(e.Message, Does.Contain("CUDA_VISIBLE_DEVICES"));
        Assert.That(new CublasException("cublasCreate_v2(out h)", CublasStatus.InvalidValue).Message,
            Is.EqualTo("cublasCreate_v2(out h) failed: CUBLAS_STATUS_INVALID_VALUE (7)"));
    }

    [Test]
    public void CallNameDropsTheImportClass() =>
        Assert.That(Cu.CallName("DriverNative.cuMemAlloc_v2(out p, n)"), Is.EqualTo("cuMemAlloc_v2(out p, n)"));
}
