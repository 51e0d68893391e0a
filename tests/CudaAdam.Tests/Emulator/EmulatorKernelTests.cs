using System.Diagnostics;
using System.Numerics;
using CudaAdam.Cuda;
using CudaAdam.Cuda.Emulator;
using static CudaAdam.Tests.Emulator.EmulatorTestSupport;

namespace CudaAdam.Tests.Emulator;

/// <summary>kernels/testing.cu on the host emulator, each against expectations computed here in C#.</summary>
[NonParallelizable] // the emulator's thread-pool size is process-wide
public class EmulatorKernelTests
{
    private EmulatedDevice _device = null!;
    private KernelArgs _args = null!;

    [SetUp]
    public void SetUp()
    {
        _device = CreateOrIgnore();
        _args = new KernelArgs();
    }

    [TearDown]
    public void TearDown()
    {
        _args?.Dispose();
        if (_device != null)
        {
            EmulatorApi.SetThreads(0); // back to the default for the next test
            Assert.That(_device.LiveBuffers, Is.EqualTo(0), "every buffer of the test was disposed");
            _device.Dispose();
        }
    }

    // Lengths that are not multiples of the block; grids smaller than needed (the grid-stride loop covers the rest),
    // exactly enough, and larger than needed (idle threads).
    [TestCase(1, 1u, 32u)]
    [TestCase(1000, 1u, 1024u)]
    [TestCase(1000, 4u, 256u)]
    [TestCase(100_003, 37u, 256u)]
    [TestCase(100_003, 391u, 256u)]
    [TestCase(4_097, 64u, 128u)]
    public void SaxpyIsBitwiseCSharpSaxpy(int n, uint grid, uint block)
    {
        float a = 1.7f;
        var x = RandomFloats(1, n);
        var y = RandomFloats(2, n, -3f, 3f);
        var expected = new float[n];
        for (int i = 0; i < n; i++) expected[i] = a * x[i] + y[i]; // C# never contracts to FMA

        using var dx = _device.Upload(x);
        using var dy = _device.Upload(y);
        _device.Launch(_device.GetKernel("testing", "saxpy"), grid, block, _args.Clear().Add((long)n).Add(a).Add(dx).Add(dy));
        _device.Synchronize();
        AssertBitwiseEqual(expected, _device.Download(dy), $"saxpy n={n} grid={grid} block={block}");
    }

    /// <summary>The same reduction tree as block_reduce_sum in kernels/testing.cu, in the same order.</summary>
    private static float[] BlockReduceReplica(float[] x, int grid, int block)
    {
        var partial = new float[grid];
        var s = new float[block];
        for (int b = 0; b < grid; b++)
        {
            for (int t = 0; t < block; t++)
            {
                float v = 0f;
                for (long i = (long)b * block + t; i < x.Length; i += (long)block * grid) v += x[i];
                s[t] = v;
            }
            for (int k = block / 2; k >= 32; k >>= 1)
                for (int t = 0; t < k; t++) s[t] += s[t + k];
            var lanes = s[..32];
            for (int k = 16; k > 0; k >>= 1)
            {
                var next = new float[32];
                for (int l = 0; l < 32; l++) next[l] = lanes[l] + (l + k < 32 ? lanes[l + k] : lanes[l]); // shfl_down keeps its own value past the end
                lanes = next;
            }
            partial[b] = lanes[0];
        }
        return partial;
    }

    [TestCase(5, 3, 1024)]
    [TestCase(1000, 4, 64)]
    [TestCase(100_003, 37, 256)]
    [TestCase(1 << 20, 128, 512)]
    public void BlockReductionIsBitwiseItsCSharpReplica(int n, int grid, int block)
    {
        var x = RandomFloats(3, n, -1f, 2f);
        using var dx = _device.Upload(x);
        using var dp = _device.Allocate<float>(grid);
        _device.Launch(_device.GetKernel("testing", "block_reduce_sum"), (uint)grid, (uint)block,
                       _args.Clear().Add(dx).Add((long)n).Add(dp));
        var partial = _device.Download(dp);
        AssertBitwiseEqual(BlockReduceReplica(x, grid, block), partial, $"block_reduce_sum n={n} grid={grid} block={block}");

        // And it is the sum: |ref - x| <= rtol |ref| + atol, accumulated in double, rtol 1e-5 for float partial sums.
        double reference = x.Sum(v => (double)v), total = partial.Sum(v => (double)v);
        Assert.That(total, Is.EqualTo(reference).Within(1e-5 * Math.Abs(reference) + 1e-3));
    }

    [Test]
    public void ManyBlocksInParallelGiveTheSameBitsWhateverTheThreadCount()
    {
        const int n = 300_007, grid = 4096, block = 64;
        var x = RandomFloats(4, n);
        var expected = BlockReduceReplica(x, grid, block);
        using var dx = _device.Upload(x);
        using var dp = _device.Allocate<float>(grid);
        var kernel = _device.GetKernel("testing", "block_reduce_sum");
        foreach (int threads in new[] { 1, 2, 4, 7 })
        {
            EmulatorApi.SetThreads(threads);
            Assert.That(_device.Threads, Is.EqualTo(threads));
            _device.Zero(dp);
            _device.Launch(kernel, grid, block, _args.Clear().Add(dx).Add((long)n).Add(dp));
            AssertBitwiseEqual(expected, _device.Download(dp), $"{grid} blocks on {threads} OS threads");
        }
    }

    [TestCase(1000, 128u)]
    [TestCase(64, 64u)]
    [TestCase(33, 32u)]
    public void WarpVotesMatchThePredicates(int n, uint block)
    {
        var rng = new Random(5);
        var x = new float[n];
        for (int i = 0; i < n; i++)
        {
            int warp = i / 32;
            x[i] = warp % 4 == 0 ? 1f : warp % 4 == 1 ? -1f : (float)rng.NextDouble() - 0.5f; // all-true, all-false, mixed warps
        }
        int warps = (n + 31) / 32;
        uint grid = (uint)((warps * 32 + block - 1) / block);
        int launchedWarps = (int)(grid * block / 32);
        using var dx = _device.Upload(x);
        using var ballots = _device.Allocate<uint>(launchedWarps);
        using var flags = _device.Allocate<int>(2 * launchedWarps);
        using var active = _device.Allocate<uint>(launchedWarps);
        _device.Launch(_device.GetKernel("testing", "warp_vote"), grid, block, _args.Clear().Add(dx).Add((long)n).Add(ballots).Add(flags).Add(active));
        var b = _device.Download(ballots);
        var f = _device.Download(flags);
        var m = _device.Download(active);
        for (int w = 0; w < launchedWarps; w++)
        {
            uint expected = 0;
            for (int l = 0; l < 32; l++)
            {
                long i = (long)w * 32 + l;
                if (i < n && x[i] > 0f) expected |= 1u << l;
            }
            Assert.That(b[w], Is.EqualTo(expected), $"__ballot_sync of warp {w}");
            Assert.That(f[2 * w], Is.EqualTo(expected == uint.MaxValue ? 1 : 0), $"__all_sync of warp {w}");
            Assert.That(f[2 * w + 1], Is.EqualTo(expected != 0 ? 1 : 0), $"__any_sync of warp {w}");
            Assert.That(m[w], Is.EqualTo(uint.MaxValue), $"__activemask of warp {w}");
        }
        Assert.That(b[0], Is.EqualTo(uint.MaxValue), "warp 0 is all positive");
        Assert.That(b[1], Is.EqualTo(0u), "warp 1 is all negative");
    }

    [Test]
    public void WarpShufflesMoveTheRightLanes()
    {
        const uint block = 96, grid = 5;
        int n = (int)(block * grid);
        var rng = new Random(6);
        var x = Enumerable.Range(0, n).Select(_ => rng.Next(-1000, 1000)).ToArray();
        using var dx = _device.Upload(x);
        using var total = _device.Allocate<int>(n);
        using var scan = _device.Allocate<int>(n);
        using var bcast = _device.Allocate<int>(n);
        using var down4 = _device.Allocate<int>(n);
        _device.Launch(_device.GetKernel("testing", "warp_shuffles"), grid, block, _args.Clear().Add(dx).Add(total).Add(scan).Add(bcast).Add(down4));
        var (t, s, bc, d) = (_device.Download(total), _device.Download(scan), _device.Download(bcast), _device.Download(down4));
        for (int i = 0; i < n; i++)
        {
            int warpStart = i / 32 * 32, lane = i % 32;
            Assert.That(t[i], Is.EqualTo(x.Skip(warpStart).Take(32).Sum()), $"xor-butterfly sum at {i}");
            Assert.That(s[i], Is.EqualTo(x.Skip(warpStart).Take(lane + 1).Sum()), $"shfl_up inclusive scan at {i}");
            Assert.That(bc[i], Is.EqualTo(x[warpStart + lane / 8 * 8 + 3]), $"shfl width 8 broadcast of lane 3 at {i}");
            int groupEnd = warpStart + lane / 16 * 16 + 16;
            Assert.That(d[i], Is.EqualTo(i + 4 < groupEnd ? x[i + 4] : x[i]), $"shfl_down 4 within width 16 at {i}");
        }
    }

    [Test]
    public void PartialWarpMasksWorkAfterTheOtherLanesExit()
    {
        const uint grid = 3, block = 64;
        int warps = (int)(grid * block / 32);
        using var dout = _device.Allocate<int>(warps);
        _device.Launch(_device.GetKernel("testing", "half_warp_sum"), grid, block, _args.Clear().Add(dout));
        Assert.That(_device.Download(dout), Is.EqualTo(Enumerable.Repeat(120, warps).ToArray()), "0 + 1 + ... + 15 in every warp");
    }

    [Test]
    public void AWarpMaskNamingExitedLanesIsReported()
    {
        using var dout = _device.Allocate<int>(32);
        var e = Assert.Throws<EmulatorException>(() =>
            _device.Launch(_device.GetKernel("testing", "shuffle_with_exited_lanes"), 1, 32, _args.Clear().Add(dout)))!;
        Assert.That(e.Message, Does.Contain("__shfl_xor_sync").And.Contain("0xffffffff").And.Contain("has exited"));
    }

    [Test]
    public void AtomicsFromManyBlocksAddUp()
    {
        const int n = 100_000, nbins = 7;
        var rng = new Random(7);
        // |values| <= 100, so every partial float sum is an integer below 2^24: exact in any order.
        var values = Enumerable.Range(0, n).Select(_ => rng.Next(-50, 101)).ToArray();
        using var dv = _device.Upload(values);
        using var bins = _device.Allocate<uint>(nbins);
        using var count = _device.Upload(new ulong[] { 0 });
        using var fsum = _device.Upload(new[] { 0f });
        using var dsum = _device.Upload(new[] { 0.0 });
        using var maxv = _device.Upload(new[] { int.MinValue });
        using var minv = _device.Upload(new[] { int.MaxValue });
        using var orbits = _device.Upload(new[] { 0u });
        using var first = _device.Upload(new[] { -1 });
        _device.Zero(bins);
        EmulatorApi.SetThreads(4); // more OS threads than cores: contention on every atomic
        _device.Launch(_device.GetKernel("testing", "atomics"), 40, 128,
                       _args.Clear().Add(dv).Add((long)n).Add(bins).Add(nbins).Add(count).Add(fsum).Add(dsum).Add(maxv).Add(minv).Add(orbits).Add(first));

        var expectedBins = new uint[nbins];
        uint expectedOr = 0;
        foreach (int v in values)
        {
            expectedBins[((v % nbins) + nbins) % nbins]++;
            expectedOr |= 1u << (((v % 32) + 32) % 32);
        }
        Assert.That(_device.Download(bins), Is.EqualTo(expectedBins), "atomicAdd(unsigned)");
        Assert.That(_device.Download(count)[0], Is.EqualTo((ulong)n), "atomicAdd(unsigned long long)");
        Assert.That(_device.Download(fsum)[0], Is.EqualTo((float)values.Sum()), "atomicAdd(float), exact here");
        Assert.That(_device.Download(dsum)[0], Is.EqualTo((double)values.Sum()), "atomicAdd(double)");
        Assert.That(_device.Download(maxv)[0], Is.EqualTo(values.Max()), "atomicMax(int)");
        Assert.That(_device.Download(minv)[0], Is.EqualTo(values.Min()), "atomicMin(int)");
        Assert.That(_device.Download(orbits)[0], Is.EqualTo(expectedOr), "atomicOr(unsigned)");
        Assert.That(_device.Download(first)[0], Is.InRange(0, n - 1), "exactly one atomicCAS(-1 -> i) won");
    }

    [TestCase(1000, 128u)]
    [TestCase(77, 1024u)]
    [TestCase(256, 256u)]
    public void DynamicSharedMemoryReversesEachChunk(int n, uint block)
    {
        var x = RandomFloats(8, n);
        uint grid = (uint)((n + block - 1) / block);
        using var dx = _device.Upload(x);
        using var dy = _device.Allocate<float>(n);
        _device.Launch(_device.GetKernel("testing", "reverse_chunks"), grid, block, _args.Clear().Add(dx).Add(dy).Add((long)n),
                       sharedBytes: (int)block * sizeof(float));
        var expected = new float[n];
        for (int b = 0; b * (int)block < n; b++)
        {
            int start = b * (int)block, m = Math.Min((int)block, n - start);
            for (int t = 0; t < m; t++) expected[start + t] = x[start + m - 1 - t];
        }
        AssertBitwiseEqual(expected, _device.Download(dy), $"reverse_chunks n={n} block={block}");
    }

    [Test]
    public void ThreeDimensionalGridsAndBlocksIndexLikeCuda()
    {
        var grid = new Dim3(3, 2, 2);
        var block = new Dim3(4, 3, 2);
        int total = (int)(grid.Count * block.Count);
        using var dout = _device.Allocate<uint>(6L * total);
        _device.Launch(_device.GetKernel("testing", "thread_indices"), grid, block, _args.Clear().Add(dout));
        var o = _device.Download(dout);
        int g = 0;
        for (uint bz = 0; bz < grid.Z; bz++)
        for (uint by = 0; by < grid.Y; by++)
        for (uint bx = 0; bx < grid.X; bx++)
        for (uint tz = 0; tz < block.Z; tz++)
        for (uint ty = 0; ty < block.Y; ty++)
        for (uint tx = 0; tx < block.X; tx++, g++)
            Assert.That(o[(6 * g)..(6 * g + 6)], Is.EqualTo(new[] { tx, ty, tz, bx, by, bz }), $"global thread {g}");
    }

    [Test]
    public void UnknownKernelNamesFamilyAndKernelAndListsWhatExists()
    {
        var e = Assert.Throws<EmulatorException>(() => _device.GetKernel("testing", "no_such_kernel"))!;
        Assert.That(e.Message, Does.Contain("no_such_kernel").And.Contain("testing").And.Contain("testing.cu:saxpy"));
        var f = Assert.Throws<EmulatorException>(() => _device.GetKernel("no_such_family", "saxpy"))!;
        Assert.That(f.Message, Does.Contain("no_such_family"));
        Assert.That(EmulatedDevice.KernelNames, Does.Contain("testing.cu:block_reduce_sum"));
    }

    [Test]
    public void BadLaunchesSayWhatWasWrong()
    {
        var saxpy = _device.GetKernel("testing", "saxpy");
        using var y = _device.Allocate<float>(4);
        _args.Clear().Add(4L).Add(1f).Add(y).Add(y);
        var big = Assert.Throws<ArgumentException>(() => _device.Launch(saxpy, 1, 2048, _args))!;
        Assert.That(big.Message, Does.Contain("testing.cu:saxpy").And.Contain("1024").And.Contain("2048"));
        var big3d = Assert.Throws<ArgumentException>(() => _device.Launch(saxpy, 1, new Dim3(32, 32, 2), _args))!;
        Assert.That(big3d.Message, Does.Contain("at most 1024"));
        var empty = Assert.Throws<ArgumentException>(() => _device.Launch(saxpy, 0, 32, _args))!;
        Assert.That(empty.Message, Does.Contain("grid").And.Contain("at least 1"));

        // The argument count is checked against the kernel's C signature (deduced in the native launcher).
        Assert.That(_device.ParameterCount(saxpy), Is.EqualTo(4));
        var few = Assert.Throws<EmulatorException>(() => _device.Launch(saxpy, 1, 32, _args.Clear().Add(4L).Add(1f).Add(y)))!;
        Assert.That(few.Message, Does.Contain("3 arguments").And.Contain("takes 4"));
    }

    [Test]
    public void SyncthreadsAfterAnEarlyReturnIsReportedAsADeadlock()
    {
        using var y = _device.Allocate<float>(64);
        var e = Assert.Throws<EmulatorException>(() =>
            _device.Launch(_device.GetKernel("testing", "early_exit_before_barrier"), 2, 64, _args.Clear().Add(y)))!;
        Assert.That(e.Message, Does.Contain("deadlock").And.Contain("__syncthreads").And.Contain("32 of the block's 64 threads"));
        Assert.That(e.Message, Does.Contain("testing.cu:early_exit_before_barrier"));

        // The device is still usable afterwards.
        var x = RandomFloats(9, 64);
        using var dx = _device.Upload(x);
        _device.Zero(y);
        _device.Launch(_device.GetKernel("testing", "saxpy"), 1, 64, _args.Clear().Add(64L).Add(2f).Add(dx).Add(y));
        AssertBitwiseEqual(x.Select(v => 2f * v + 0f).ToArray(), _device.Download(y), "saxpy after a deadlock");
    }

    [Test]
    public void LaunchesFromSeveralThreadsAtOnceAreEachCorrect()
    {
        // The emulator runs one launch at a time (one stream); concurrent callers wait their turn, and each one's
        // errors (emu_last_error is per OS thread) stay its own.
        var kernel = _device.GetKernel("testing", "saxpy");
        var deadlock = _device.GetKernel("testing", "early_exit_before_barrier");
        var mismatches = new int[6];
        var messages = new string?[6];
        Parallel.For(0, 6, new ParallelOptions { MaxDegreeOfParallelism = 6 }, k =>
        {
            using var args = new KernelArgs();
            if (k % 3 == 2)
            {
                using var scratch = _device.Allocate<float>(64);
                try { _device.Launch(deadlock, 1, 64, args.Add(scratch)); }
                catch (EmulatorException e) { messages[k] = e.Message; }
                return;
            }
            int n = 20_000 + 17 * k;
            var x = RandomFloats(20 + k, n);
            var y0 = RandomFloats(30 + k, n);
            using var dx = _device.Upload(x);
            using var dy = _device.Upload(y0);
            for (int rep = 0; rep < 5; rep++) _device.Launch(kernel, 16, 128, args.Clear().Add((long)n).Add(0.25f).Add(dx).Add(dy));
            var y = _device.Download(dy);
            for (int i = 0; i < n; i++)
            {
                float e = y0[i];
                for (int rep = 0; rep < 5; rep++) e = 0.25f * x[i] + e;
                if (BitConverter.SingleToInt32Bits(e) != BitConverter.SingleToInt32Bits(y[i])) mismatches[k]++;
            }
        });
        Assert.That(mismatches, Is.All.EqualTo(0), "elements that differ from C#, per caller");
        Assert.That(messages.Where((_, k) => k % 3 == 2), Is.All.Contain("deadlock"));
        Assert.That(messages.Where((_, k) => k % 3 != 2), Is.All.Null);
    }

    [Test]
    public void LargerSaxpyRunsInReasonableTime()
    {
        // Shows the emulator is not pathologically slow; prints elements/s, asserts only the result.
        const int n = 1 << 24;
        var x = RandomFloats(10, n);
        var y = RandomFloats(11, n);
        using var dx = _device.Upload(x);
        using var dy = _device.Upload(y);
        var kernel = _device.GetKernel("testing", "saxpy");
        var sw = Stopwatch.StartNew();
        _device.Launch(kernel, (uint)((n + 255) / 256), 256, _args.Clear().Add((long)n).Add(0.5f).Add(dx).Add(dy));
        double oneThreadPerElement = sw.Elapsed.TotalSeconds;
        sw.Restart();
        _device.Launch(kernel, 2048, 256, _args.Clear().Add((long)n).Add(0.5f).Add(dx).Add(dy));
        double gridStride = sw.Elapsed.TotalSeconds;
        TestContext.Out.WriteLine($"saxpy, {n} elements on {_device.Name}: one thread per element {n / oneThreadPerElement / 1e6:F1} M elements/s; " +
                                  $"grid-stride (2048 x 256 threads) {n / gridStride / 1e6:F1} M elements/s");
        var expected = new float[n];
        for (int i = 0; i < n; i++) expected[i] = 0.5f * x[i] + (0.5f * x[i] + y[i]);
        AssertBitwiseEqual(expected, _device.Download(dy), "two saxpy passes over 2^24 elements");
    }
}
