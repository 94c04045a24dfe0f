namespace Flux2.Training.State;

/// <summary>
/// xoshiro256** (Blackman &amp; Vigna) behind <see cref="Random"/>'s API, so the data order, caption dropout and
/// timestep code keep taking a <see cref="Random"/>. Unlike System.Random its whole state is four numbers we can save
/// and restore, which exact resume needs. Every virtual of <see cref="Random"/> is overridden, so Shuffle/GetItems also
/// draw from it.
/// </summary>
public sealed class TrainerRandom : Random
{
    ulong s0, s1, s2, s3;

    public TrainerRandom(long seed)
    {
        // splitmix64 spreads any seed (0 included) over the 256-bit state, as the xoshiro authors recommend.
        ulong x = unchecked((ulong)seed);
        s0 = SplitMix(ref x); s1 = SplitMix(ref x); s2 = SplitMix(ref x); s3 = SplitMix(ref x);
    }

    /// <summary>The generator's position: restoring it replays exactly the same draws.</summary>
    public ulong[] State
    {
        get => new[] { s0, s1, s2, s3 };
        set
        {
            if (value is not { Length: 4 } || value.All(v => v == 0))
                throw new ArgumentException("xoshiro256** state must be 4 words, not all zero");
            (s0, s1, s2, s3) = (value[0], value[1], value[2], value[3]);
        }
    }

    public ulong NextUInt64()
    {
        ulong result = ulong.RotateLeft(s1 * 5, 7) * 9;
        ulong t = s1 << 17;
        s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3;
        s2 ^= t;
        s3 = ulong.RotateLeft(s3, 45);
        return result;
    }

    /// <summary>Uniform in [0, 1) from the top 53 bits.</summary>
    public override double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));
    protected override double Sample() => NextDouble();
    public override float NextSingle() => (NextUInt64() >> 40) * (1.0f / (1U << 24));
    public override int Next() => (int)(NextUInt64() >> 33); // [0, int.MaxValue)
    public override int Next(int maxValue) => Next(0, maxValue);
    public override int Next(int minValue, int maxValue) => (int)NextInt64(minValue, maxValue);
    public override long NextInt64()
    {
        long v;
        do v = (long)(NextUInt64() >> 1); while (v == long.MaxValue); // the API promises [0, long.MaxValue)
        return v;
    }

    public override long NextInt64(long maxValue) => NextInt64(0, maxValue);

    public override long NextInt64(long minValue, long maxValue)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(minValue, maxValue);
        ulong range = (ulong)(maxValue - minValue);
        if (range <= 1) return minValue;
        // Lemire-free rejection: unbiased, and simple enough to keep bit-for-bit reproducible.
        ulong limit = ulong.MaxValue - ulong.MaxValue % range;
        ulong r;
        do r = NextUInt64(); while (r >= limit);
        return minValue + (long)(r % range);
    }

    public override void NextBytes(byte[] buffer) => NextBytes(buffer.AsSpan());

    public override void NextBytes(Span<byte> buffer)
    {
        for (int i = 0; i < buffer.Length; i += 8)
        {
            ulong r = NextUInt64();
            for (int k = 0; k < 8 && i + k < buffer.Length; k++) buffer[i + k] = (byte)(r >> (8 * k));
        }
    }

    static ulong SplitMix(ref ulong x)
    {
        ulong z = x += 0x9E3779B97F4A7C15;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EB;
        return z ^ (z >> 31);
    }
}
