using CudaAdam.Cuda;
using CudaAdam.Cuda.Emulator;

namespace CudaAdam.Tests.Emulator;

internal static class EmulatorTestSupport
{
    /// <summary>An emulated device, or Assert.Ignore with the reason (the library is built by ./build.sh setup, with g++).</summary>
    public static EmulatedDevice CreateOrIgnore(int threads = 0)
    {
        if (!EmulatedDevice.IsAvailable(out var reason)) Prerequisite.Missing(reason);
        return new EmulatedDevice(threads);
    }

    public static DeviceBuffer<T> Upload<T>(this IDevice device, T[] data) where T : unmanaged
    {
        var buffer = device.Allocate<T>(data.Length);
        device.CopyToDevice<T>(data, buffer);
        return buffer;
    }

    public static T[] Download<T>(this IDevice device, DeviceBuffer<T> buffer) where T : unmanaged
    {
        var data = new T[buffer.Length];
        device.CopyToHost<T>(buffer, data);
        return data;
    }

    public static float[] RandomFloats(int seed, int n, float lo = -1f, float hi = 1f)
    {
        var rng = new Random(seed);
        var a = new float[n];
        for (int i = 0; i < n; i++) a[i] = lo + (hi - lo) * (float)rng.NextDouble();
        return a;
    }

    /// <summary>Asserts bit-for-bit equality and names the first index that differs.</summary>
    public static void AssertBitwiseEqual(float[] expected, float[] actual, string what)
    {
        Assert.That(actual, Has.Length.EqualTo(expected.Length), what);
        for (int i = 0; i < expected.Length; i++)
            if (BitConverter.SingleToInt32Bits(expected[i]) != BitConverter.SingleToInt32Bits(actual[i]))
                Assert.Fail($"{what}: element {i} differs: expected {expected[i]:R} (0x{BitConverter.SingleToInt32Bits(expected[i]):x8}), " +
                            $"got {actual[i]:R} (0x{BitConverter.SingleToInt32Bits(actual[i]):x8})");
    }
}
