using SkiaSharp;

namespace Flux2.Data.Synthetic;

/// <summary>A measurable "does this image show what the prompt asked for?" for single-shape prompts, usable on
/// generated images (blurry, noisy) as well as rendered ones:
/// <list type="number">
/// <item>background = per-channel median of a 2-pixel border ring, named by the nearest palette colour;</item>
/// <item>a pixel is foreground when some other palette colour is closer to it than the background estimate is and
/// it is clearly away from that estimate; this ignores gradients and faint pattern tints, which stay nearer the
/// background than any other palette colour;</item>
/// <item>the foreground colour is the most common nearest-palette name among foreground pixels;</item>
/// <item>the shape guess compares that colour's area with its (0.5%-trimmed) bounding box.</item>
/// </list></summary>
public static class SceneCheck
{
    const int BorderWidth = 2;
    /// <summary>RGB distance below which a pixel counts as background whatever its nearest colour (noise,
    /// tints).</summary>
    const int MinForegroundDistance = 30;
    /// <summary>Below this share of the image, "no foreground found".</summary>
    const double MinForegroundFraction = 0.004;

    static readonly (ShapeKind kind, double fill)[] FillRatios =
        { (ShapeKind.Triangle, 0.5), (ShapeKind.Circle, Math.PI / 4), (ShapeKind.Square, 1.0) };

    /// <summary>Shape classes the fill ratio can distinguish.</summary>
    public static bool CanJudge(ShapeKind kind) => FillRatios.Any(f => f.kind == kind);

    public static SceneVerdict Check(SKBitmap image, NamedColor shapeColor, NamedColor background,
        ShapeKind? shape = null) =>
        Check(RgbaBitmaps.ToRgb(image), image.Width, image.Height, shapeColor, background, shape);

    /// <summary>Judges a single-shape scene spec (colour, background colour and, where judgeable, shape).</summary>
    public static SceneVerdict Check(byte[] rgb, int width, int height, ShapeScene expected)
    {
        var g = expected.SingleShape;
        return Check(rgb, width, height, g.Color, expected.Background.Color, g.Kind);
    }

    public static SceneVerdict Check(byte[] rgb, int width, int height, NamedColor shapeColor, NamedColor background,
        ShapeKind? shape = null)
    {
        var seen = Observe(rgb, width, height);
        bool? shapeOk = shape is { } k && CanJudge(k) ? seen.ShapeGuess == k : null;
        return new SceneVerdict(seen, seen.Background == background, seen.Foreground == shapeColor, shapeOk);
    }

    /// <summary>Reads background, foreground colour and shape from packed RGB bytes (3 per pixel, row-major).</summary>
    public static SceneObservation Observe(byte[] rgb, int width, int height)
    {
        if (rgb.Length != width * height * 3)
            throw new ArgumentException($"expected {width * height * 3} RGB bytes for " +
                $"{width}x{height}, got {rgb.Length}");
        var (br, bg, bb) = BorderMedian(rgb, width, height);
        var background = Palette.Nearest(br, bg, bb);

        // Nearest non-background palette colour per foreground pixel, -1 for background.
        var label = new int[width * height];
        var votes = new int[Palette.All.Count];
        int foreground = 0;
        for (int i = 0; i < label.Length; i++)
        {
            byte r = rgb[3 * i], g = rgb[3 * i + 1], b = rgb[3 * i + 2];
            int dr = r - br, dg = g - bg, db = b - bb, toBackground = dr * dr + dg * dg + db * db;
            var nearest = Palette.Nearest(r, g, b, excluding: background);
            bool isForeground = toBackground > MinForegroundDistance * MinForegroundDistance
                && nearest.DistanceSquared(r, g, b) < toBackground;
            label[i] = isForeground ? IndexOf(nearest) : -1;
            if (isForeground) { votes[label[i]]++; foreground++; }
        }
        double fraction = (double)foreground / label.Length;
        if (fraction < MinForegroundFraction) return new SceneObservation(background, null, fraction, 0, null);

        int winner = Array.IndexOf(votes, votes.Max());
        double fill = FillRatio(label, winner, width, height);
        var guess = FillRatios.MinBy(f => Math.Abs(f.fill - fill)).kind;
        return new SceneObservation(background, Palette.All[winner], fraction, fill, guess);
    }

    static int IndexOf(NamedColor c)
    {
        for (int i = 0; i < Palette.All.Count; i++) if (Palette.All[i] == c) return i;
        throw new InvalidOperationException("colour not in palette");
    }

    /// <summary>Per-channel median of the outer ring: robust to patterns (their tint covers under half the ring or
    /// stays close to the base) and to a shape that touches the edge.</summary>
    static (byte, byte, byte) BorderMedian(byte[] rgb, int width, int height)
    {
        var rs = new List<byte>(); var gs = new List<byte>(); var bs = new List<byte>();
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
            {
                if (x >= BorderWidth && y >= BorderWidth && x < width - BorderWidth && y < height - BorderWidth)
                    continue;
                int i = 3 * (y * width + x);
                rs.Add(rgb[i]); gs.Add(rgb[i + 1]); bs.Add(rgb[i + 2]);
            }
        static byte Median(List<byte> v) { v.Sort(); return v[v.Count / 2]; }
        return (Median(rs), Median(gs), Median(bs));
    }

    /// <summary>Pixels of the winning colour inside their bounding box divided by its area. The box is trimmed by
    /// 0.5% of the pixels on each side so stray specks of a generated image do not inflate it.</summary>
    static double FillRatio(int[] label, int colour, int width, int height)
    {
        var xs = new List<int>(); var ys = new List<int>();
        for (int i = 0; i < label.Length; i++)
            if (label[i] == colour) { xs.Add(i % width); ys.Add(i / width); }
        xs.Sort(); ys.Sort();
        int trim = xs.Count / 200;
        int x0 = xs[trim], x1 = xs[^(trim + 1)], y0 = ys[trim], y1 = ys[^(trim + 1)];
        int inside = 0;
        for (int y = y0; y <= y1; y++)
            for (int x = x0; x <= x1; x++)
                if (label[y * width + x] == colour) inside++;
        return (double)inside / ((long)(x1 - x0 + 1) * (y1 - y0 + 1));
    }
}
