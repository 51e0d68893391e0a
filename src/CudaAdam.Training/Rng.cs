namespace CudaAdam.Training;

/// <summary>
/// A small, serializable pseudo-random generator: xoshiro256** (Blackman &amp; Vigna, 2018, "Scrambled linear
/// pseudorandom number generators"), seeded through SplitMix64. Its whole state is four 64-bit words
/// (<see cref="GetState"/>/<see cref="SetState"/>), so checkpoints can store it and a resumed run draws the same
/// numbers. Not System.Random, whose algorithm and state are not part of .NET's contract.
/// </summary>
/// <remarks>Not thread-safe; give each consumer (initialization, shuffling, dropout) its own instance.</remarks>
public sealed class Rng
{
    private ulong _s0, _s1, _s2, _s3;

    /// <summary>A generator whose state is expanded from <paramref name="seed"/> with SplitMix64 (never all zero).</summary>
    public Rng(ulong seed)
    {
        ulong x = seed;
        _s0 = SplitMix64(ref x); _s1 = SplitMix64(ref x); _s2 = SplitMix64(ref x); _s3 = SplitMix64(ref x);
    }

    /// <summary>A generator for stream <paramref name="stream"/> of <paramref name="seed"/>: independent seeds for
    /// initialization, shuffling and dropout from one user seed.</summary>
    public static Rng ForStream(ulong seed, ulong stream) => new(seed ^ (0x9E3779B97F4A7C15UL * (stream + 1)));

    /// <summary>The four state words (for checkpoints).</summary>
    public ulong[] GetState() => [_s0, _s1, _s2, _s3];

    /// <summary>Restores a state from <see cref="GetState"/>.</summary>
    /// <exception cref="ArgumentException">Not four words, or all zero (xoshiro's one invalid state).</exception>
    public void SetState(IReadOnlyList<ulong> state)
    {
        ArgumentNullException.ThrowIfNull(state);
        if (state.Count != 4) throw new ArgumentException($"an Rng state has 4 words, got {state.Count}", nameof(state));
        if (state.All(w => w == 0)) throw new ArgumentException("an all-zero Rng state is invalid for xoshiro256**", nameof(state));
        (_s0, _s1, _s2, _s3) = (state[0], state[1], state[2], state[3]);
    }

    /// <summary>The next 64 random bits.</summary>
    public ulong NextUInt64()
    {
        ulong result = RotateLeft(_s1 * 5, 7) * 9;
        ulong t = _s1 << 17;
        _s2 ^= _s0; _s3 ^= _s1; _s1 ^= _s2; _s0 ^= _s3;
        _s2 ^= t;
        _s3 = RotateLeft(_s3, 45);
        return result;
    }

    /// <summary>Uniform in [0, 1) with 53 random bits.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Uniform in [0, 1) with 24 random bits (every value exactly representable in float).</summary>
    public float NextFloat() => (NextUInt64() >> 40) * (1.0f / (1 << 24));

    /// <summary>Uniform integer in [0, <paramref name="n"/>), without modulo bias (rejection sampling).</summary>
    public int NextInt(int n)
    {
        if (n <= 0) throw new ArgumentOutOfRangeException(nameof(n), n, "the range must be positive");
        ulong range = (ulong)n;
        ulong limit = ulong.MaxValue - ulong.MaxValue % range; // multiples of n below limit are equally likely
        ulong r;
        do r = NextUInt64(); while (r >= limit);
        return (int)(r % range);
    }

    /// <summary>A standard normal draw (Box–Muller, one value per two uniforms; nothing cached, so the state stays four words).</summary>
    public double NextNormal()
    {
        double u1 = 1.0 - NextDouble(); // (0, 1]: log is finite
        double u2 = NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2);
    }

    /// <summary>Fisher–Yates shuffle of <paramref name="items"/> in place.</summary>
    public void Shuffle<T>(Span<T> items)
    {
        for (int i = items.Length - 1; i > 0; i--)
        {
            int j = NextInt(i + 1);
            (items[i], items[j]) = (items[j], items[i]);
        }
    }

    private static ulong RotateLeft(ulong x, int k) => (x << k) | (x >> (64 - k));

    private static ulong SplitMix64(ref ulong x)
    {
        ulong z = x += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
