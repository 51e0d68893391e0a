using CudaAdam.Cuda;
using CudaAdam.Cuda.Emulator;
using static CudaAdam.Tests.Emulator.EmulatorTestSupport;

namespace CudaAdam.Tests.Emulator;

/// <summary>EmulatedDevice's memory and bookkeeping, its library lookup, and cuda_emu.h's bf16/fp16 conversions.</summary>
public class EmulatedDeviceTests
{
    [Test]
    public void LibraryCandidatesHonourTheEnvironmentVariableAloneThenLookNextToTheAssembliesThenUp()
    {
        var explicitOnly = EmulatorLibrary.Candidates(v => v == EmulatorLibrary.EnvironmentVariable ? "/x/lib.so" : null, "/a/b/c");
        Assert.That(explicitOnly, Is.EqualTo(new[] { "/x/lib.so" }));
        var walk = EmulatorLibrary.Candidates(_ => null, "/a/b");
        Assert.That(walk, Is.EqualTo(new[]
        {
            "/a/b/libcudaadam_emu.so", "/a/b/runtimes/linux-x64/native/libcudaadam_emu.so", "/a/b/.build/native/libcudaadam_emu.so", "/a/.build/native/libcudaadam_emu.so",
            "/.build/native/libcudaadam_emu.so",
        }));
    }

    [Test]
    public void TheMissingLibraryHintTellsACheckoutToRunSetupAndAPackageUserWhatTheirPackageCarries()
    {
        using var checkout = new TempDirectory();
        Directory.CreateDirectory(Path.Combine(checkout.Path, "native", "emu"));
        File.WriteAllText(Path.Combine(checkout.Path, "native", "emu", "Makefile"), "");
        var bin = Directory.CreateDirectory(Path.Combine(checkout.Path, "src", "App", "bin")).FullName;
        Assert.That(EmulatorLibrary.MissingHint(bin), Does.Contain("./build.sh setup").And.Contain(checkout.Path));

        using var app = new TempDirectory();
        var hint = EmulatorLibrary.MissingHint(app.Path);
        Assert.That(hint, Does.Not.Contain("build.sh"), "a package user has no build.sh");
        Assert.That(hint, Does.Contain("CudaAdam.Cuda package").And.Contain(EmulatorLibrary.EnvironmentVariable));
        if (OperatingSystem.IsLinux() && System.Runtime.InteropServices.RuntimeInformation.OSArchitecture == System.Runtime.InteropServices.Architecture.X64)
            Assert.That(hint, Does.Contain("runtimes/linux-x64/native/libcudaadam_emu.so").And.Contain("PackageReference"));
    }

    [Test]
    public void IsAvailableExplainsHowToBuildWhenItIsNot()
    {
        bool available = EmulatedDevice.IsAvailable(out var reason);
        if (available)
        {
            Assert.That(reason, Is.Empty);
            Assert.That(EmulatorLibrary.LoadedPath, Does.EndWith("libcudaadam_emu.so"));
        }
        else
        {
            Assert.That(reason, Does.Contain("./build.sh setup").And.Contain("g++"));
        }
    }

    [Test]
    public unsafe void AllocationsAre256ByteAlignedAndCopiesRespectOffsets()
    {
        using var device = CreateOrIgnore();
        Assert.That(device.Kind, Is.EqualTo(DeviceKind.Emulator));
        Assert.That(device.Name, Does.StartWith("host emulator ("));
        using (var a = device.Allocate<float>(3))
        using (var b = device.Allocate<double>(1001))
        {
            Assert.That((long)a.Pointer % 256, Is.EqualTo(0L));
            Assert.That((long)b.Pointer % 256, Is.EqualTo(0L));
            Assert.That(device.LiveBuffers, Is.EqualTo(2));
            Assert.That(device.LiveBytes, Is.EqualTo(3 * 4 + 1001 * 8));

            device.Zero(b);
            device.CopyToDevice<double>(new[] { 1.0, 2.0, 3.0 }, b, offset: 998);
            var tail = new double[4];
            device.CopyToHost<double>(b, tail, offset: 997);
            Assert.That(tail, Is.EqualTo(new[] { 0.0, 1.0, 2.0, 3.0 }));

            var e = Assert.Throws<ArgumentOutOfRangeException>(() => device.CopyToDevice<double>(new double[4], b, offset: 998))!;
            Assert.That(e.Message, Does.Contain("4 elements at offset 998").And.Contain("1001"));
            Assert.Throws<ArgumentOutOfRangeException>(() => device.CopyToHost<float>(a, new float[1], offset: -1));
        }
        Assert.That(device.LiveBuffers, Is.EqualTo(0));
        Assert.That(device.LiveBytes, Is.EqualTo(0));

        using var empty = device.Allocate<float>(0);
        device.Zero(empty);
        device.CopyToDevice<float>(ReadOnlySpan<float>.Empty, empty);
        Assert.Throws<ArgumentOutOfRangeException>(() => device.Allocate<float>(-1));
    }

    [Test]
    public void BuffersOfAnotherDeviceAndDisposedDevicesAreRejected()
    {
        using var d1 = CreateOrIgnore();
        var d2 = new EmulatedDevice();
        using var b2 = d2.Allocate<int>(4);
        var e = Assert.Throws<ArgumentException>(() => d1.Zero(b2))!;
        Assert.That(e.Message, Does.Contain("another device"));
        var k = d2.GetKernel("testing", "saxpy");
        using var args = new KernelArgs();
        Assert.Throws<ArgumentException>(() => d1.Launch(k, 1, 1, args), "a kernel handle from another device instance");
        d2.Dispose();
        Assert.Throws<ObjectDisposedException>(() => d2.Allocate<int>(1));
    }

    private static uint Bits(float f) => BitConverter.SingleToUInt32Bits(f);

    [Test]
    public void Fp16ConversionIsDotNetsRoundToNearestEvenHalf()
    {
        if (!EmulatedDevice.IsAvailable(out var reason)) Prerequisite.Missing(reason);
        var rng = new Random(12);
        var inputs = new List<float> { 0f, -0f, 1f, 65504f, 65519.996f, 65520f, 1e9f, float.PositiveInfinity, float.NegativeInfinity,
                                       6.1035156e-5f, 5.9604645e-8f, 2.9802322e-8f, 2.9802326e-8f, 8.940697e-8f, 1e-10f, float.Epsilon };
        for (int i = 0; i < 20000; i++)
        {
            // random bit patterns over the whole float range plus values near half's range
            inputs.Add(BitConverter.UInt32BitsToSingle((uint)rng.NextInt64(0, 1L << 32)));
            inputs.Add((float)((rng.NextDouble() - 0.5) * Math.Pow(2, rng.Next(-30, 18))));
        }
        var x = inputs.ToArray();
        var bits = new ushort[x.Length];
        var back = new float[x.Length];
        EmulatorApi.ConvertFloats(1, x, bits, back);
        for (int i = 0; i < x.Length; i++)
        {
            Half h = (Half)x[i];
            if (Half.IsNaN(h))
            {
                Assert.That(float.IsNaN(back[i]), $"NaN stays NaN: input 0x{Bits(x[i]):x8}");
                continue;
            }
            Assert.That(bits[i], Is.EqualTo(BitConverter.HalfToUInt16Bits(h)), $"__float2half_rn({x[i]:R}) (0x{Bits(x[i]):x8})");
            Assert.That(Bits(back[i]), Is.EqualTo(Bits((float)h)), $"__half2float of {x[i]:R}");
        }
    }

    [Test]
    public void Bf16ConversionRoundsToTheNearestEvenNeighbour()
    {
        if (!EmulatedDevice.IsAvailable(out var reason)) Prerequisite.Missing(reason);
        var rng = new Random(13);
        var inputs = new List<float> { 0f, -0f, 1f, 1.00390625f, 1.0078125f, 1.01171875f, float.MaxValue, float.Epsilon,
                                       float.PositiveInfinity, float.NegativeInfinity, float.NaN };
        for (int i = 0; i < 20000; i++) inputs.Add(BitConverter.UInt32BitsToSingle((uint)rng.NextInt64(0, 1L << 32)));
        var x = inputs.ToArray();
        var bits = new ushort[x.Length];
        var back = new float[x.Length];
        EmulatorApi.ConvertFloats(0, x, bits, back);
        for (int i = 0; i < x.Length; i++)
        {
            uint u = Bits(x[i]);
            Assert.That(Bits(back[i]), Is.EqualTo((uint)bits[i] << 16), "bf16 -> float is the upper half of the bits");
            if (float.IsNaN(x[i]))
            {
                Assert.That(float.IsNaN(back[i]), $"NaN stays NaN: 0x{u:x8}");
                continue;
            }
            // The two bf16 neighbours of x (same sign): truncation and one ulp up; the nearest wins, ties go even.
            // One ulp above the largest finite bf16 is infinity, which counts as 2^128 (IEEE overflow rounding).
            uint lo = u >> 16, hi = lo + 1;
            double Value(uint top) => (top & 0x7fff) == 0x7f80 ? ((top & 0x8000) != 0 ? -1 : 1) * Math.Pow(2, 128)
                                                               : BitConverter.UInt32BitsToSingle(top << 16);
            if ((lo & 0x7fff) == 0x7f80)
            {
                Assert.That(bits[i], Is.EqualTo((ushort)lo), "infinity stays infinity");
                continue;
            }
            double dlo = Math.Abs(Value(lo) - x[i]), dhi = Math.Abs(Value(hi) - x[i]);
            uint expected = dlo < dhi ? lo : dhi < dlo ? hi : (lo & 1) == 0 ? lo : hi;
            Assert.That(bits[i], Is.EqualTo((ushort)expected), $"__float2bfloat16_rn(0x{u:x8})");
        }
    }
}
