namespace Flux2.Data.Synthetic;

/// <summary>A colour with the English word the captions use for it. RGB is exposed so an evaluator can compare a
/// generated image with what its prompt asked for.</summary>
public sealed record NamedColor(string Name, byte R, byte G, byte B)
{
    /// <summary>Squared RGB distance; squared because only comparisons are needed and integers stay exact.</summary>
    public int DistanceSquared(byte r, byte g, byte b)
    {
        int dr = R - r, dg = G - g, db = B - b;
        return dr * dr + dg * dg + db * db;
    }

    /// <summary>This colour moved <paramref name="percent"/>% of the way towards <paramref name="target"/>, with
    /// integer rounding so every machine computes the same bytes.</summary>
    public (byte r, byte g, byte b) MixTowards((byte r, byte g, byte b) target, int percent) =>
        (Mix(R, target.r, percent), Mix(G, target.g, percent), Mix(B, target.b, percent));

    internal static byte Mix(byte from, byte to, int percent) =>
        (byte)((from * (100 - percent) + to * percent + 50) / 100);

    public override string ToString() => Name;
}
