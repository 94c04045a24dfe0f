namespace Flux2.Data.Synthetic;

/// <summary>Turns (seed, index) into an independent System.Random seed. HashCode.Combine is randomised per process,
/// so a fixed SplitMix64 finaliser is used instead: sample 1,000,000 can be drawn without drawing the ones before
/// it.</summary>
public static class SeedMixer
{
    public static int Mix(int seed, long index)
    {
        ulong z = ((ulong)(uint)seed << 32) ^ (ulong)index;
        z += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        z ^= z >> 31;
        return (int)(z & 0x7FFFFFFF);
    }

    public static Random RandomFor(int seed, long index) => new(Mix(seed, index));
}
