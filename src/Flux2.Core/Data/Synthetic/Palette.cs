namespace Flux2.Data.Synthetic;

/// <summary>The fixed colour vocabulary of the synthetic corpus. The values are far apart (the closest pair,
/// orange/yellow, is 90 RGB units apart) so that "is this pixel red?" has an unambiguous answer even on a blurry
/// generated image.</summary>
public static class Palette
{
    public static readonly NamedColor Red = new("red", 220, 30, 30);
    public static readonly NamedColor Orange = new("orange", 255, 140, 0);
    public static readonly NamedColor Yellow = new("yellow", 255, 230, 0);
    public static readonly NamedColor Green = new("green", 30, 170, 50);
    public static readonly NamedColor Cyan = new("cyan", 0, 200, 220);
    public static readonly NamedColor Blue = new("blue", 30, 70, 230);
    public static readonly NamedColor Purple = new("purple", 140, 50, 200);
    public static readonly NamedColor Pink = new("pink", 255, 120, 200);
    public static readonly NamedColor White = new("white", 245, 245, 245);
    public static readonly NamedColor Black = new("black", 20, 20, 20);

    public static IReadOnlyList<NamedColor> All { get; } = new[] { Red, Orange, Yellow, Green, Cyan, Blue, Purple,
        Pink, White, Black };

    public static NamedColor ByName(string name) =>
        All.FirstOrDefault(c => c.Name == name)
            ?? throw new KeyNotFoundException($"no palette colour named '{name}' (known: {string.Join(", ", All)})");

    /// <summary>The palette entry closest in RGB; ties go to the earlier entry so the answer is stable.</summary>
    public static NamedColor Nearest(byte r, byte g, byte b, NamedColor? excluding = null)
    {
        NamedColor? best = null;
        int bestDistance = int.MaxValue;
        foreach (var c in All)
        {
            if (c == excluding) continue;
            int d = c.DistanceSquared(r, g, b);
            if (d < bestDistance) { best = c; bestDistance = d; }
        }
        return best!;
    }
}
