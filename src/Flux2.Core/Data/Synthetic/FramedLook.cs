using SkiaSharp;

namespace Flux2.Data.Synthetic;

/// <summary>A look made of features large enough to survive FLUX.2-micro's 8×8-token latent: a background (a solid
/// <see cref="Sky"/> colour, or the scene's own backdrop when null), a band <see cref="FramePixels"/> wide along every
/// edge with an optional diamond on each inner corner, and an outline <see cref="OutlinePixels"/> wide around every
/// shape. Widths are given at 128² and scale with the image side. <see cref="MidnightTarotStyle"/> is one such look;
/// the micro VAE is trained on random ones (<see cref="Random"/>) so that it can encode and decode looks the
/// transformer never saw.</summary>
public sealed record FramedLook(NamedColor? Sky, NamedColor Frame, NamedColor Outline, int FramePixels,
    int OutlinePixels, bool CornerDiamonds)
{
    /// <summary>Pixels at <paramref name="side"/> for <paramref name="at128"/> pixels at 128², at least
    /// <paramref name="min"/>.</summary>
    static int Scale(int side, int at128, int min) => Math.Max(min, (side * at128 + 64) / 128);

    public int FrameWidth(int side) => Scale(side, FramePixels, 2);
    public int OutlineWidth(int side) => Scale(side, OutlinePixels, 1);
    /// <summary>Background between the frame and the nearest possible outline.</summary>
    static int FrameGap(int side) => Scale(side, 2, 1);

    /// <summary>Shapes keep clear of the frame: frame, gap and outline.</summary>
    public int ContentMargin(int side) => FrameWidth(side) + FrameGap(side) + OutlineWidth(side);

    /// <summary>Renders the scene's shapes in this look.</summary>
    public SKBitmap Render(ShapeScene content, int width, int height)
    {
        var rgba = Sky is { } sky ? Solid(width, height, sky)
            : BackdropPainter.Paint(content.Background, width, height);
        PaintFrame(rgba, width, height);
        var bitmap = RgbaBitmaps.FromRgba(rgba, width, height);
        using var canvas = new SKCanvas(bitmap);
        DrawShapes(canvas, content, width, height);
        canvas.Flush();
        return bitmap;
    }

    /// <summary>A look drawn from <paramref name="rng"/>: half of them on a solid palette colour, the rest on the
    /// scene's backdrop; frame and outline in palette colours other than the solid background; frame 2–10 px,
    /// outline 1–4 px at 128², corner diamonds on half.</summary>
    public static FramedLook Random(Random rng)
    {
        var colours = Palette.All;
        NamedColor? sky = rng.Next(2) == 0 ? colours[rng.Next(colours.Count)] : null;
        NamedColor Other() { while (true) { var c = colours[rng.Next(colours.Count)]; if (c != sky) return c; } }
        var frame = Other();
        var outline = Other();
        return new FramedLook(sky, frame, outline, 2 + rng.Next(9), 1 + rng.Next(4), rng.Next(2) == 0);
    }

    /// <summary>All outlines first, then all fills, so no outline ever covers a fill pixel: the fills are exactly
    /// the pixels <see cref="ShapeRenderer.DrawGroup"/> draws at <see cref="ContentMargin"/>. The outline is a
    /// round-joined stroke twice the outline width, half of it under the fill.</summary>
    void DrawShapes(SKCanvas canvas, ShapeScene content, int width, int height)
    {
        int side = Math.Min(width, height), margin = ContentMargin(side);
        using var stroke = ShapeRenderer.SolidPaint(new SKColor(Outline.R, Outline.G, Outline.B));
        stroke.Style = SKPaintStyle.Stroke;
        stroke.StrokeWidth = 2 * OutlineWidth(side);
        stroke.StrokeJoin = SKStrokeJoin.Round;
        foreach (var group in content.Groups)
            foreach (var s in ShapeLayout.Place(group, width, height, margin))
            {
                using var path = ShapePaths.Create(group.Kind, s.X, s.Y, s.Diameter);
                canvas.DrawPath(path, stroke);
            }
        foreach (var group in content.Groups) ShapeRenderer.DrawGroup(canvas, group, width, height, margin);
    }

    static byte[] Solid(int width, int height, NamedColor colour)
    {
        var rgba = new byte[width * height * 4];
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++) Set(rgba, width, x, y, colour);
        return rgba;
    }

    /// <summary>A band <see cref="FrameWidth"/> wide along every edge and, with <see cref="CornerDiamonds"/>, a
    /// diamond centred on each inner corner of the band that reaches across the gap (shapes, drawn later, stay on
    /// top).</summary>
    void PaintFrame(byte[] rgba, int width, int height)
    {
        int side = Math.Min(width, height), band = FrameWidth(side);
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
                if (x < band || y < band || x >= width - band || y >= height - band) Set(rgba, width, x, y, Frame);
        if (!CornerDiamonds) return;
        int radius = band + OutlineWidth(side) - 1;
        foreach (var (x, y) in new[] { (band, band), (width - 1 - band, band), (band, height - 1 - band),
            (width - 1 - band, height - 1 - band) })
            Diamond(rgba, width, height, x, y, radius, Frame);
    }

    /// <summary>Pixels with |dx| + |dy| ≤ radius around (cx, cy), clipped to the image.</summary>
    static void Diamond(byte[] rgba, int width, int height, int cx, int cy, int radius, NamedColor colour)
    {
        for (int y = Math.Max(0, cy - radius); y <= Math.Min(height - 1, cy + radius); y++)
        {
            int reach = radius - Math.Abs(y - cy);
            for (int x = Math.Max(0, cx - reach); x <= Math.Min(width - 1, cx + reach); x++)
                Set(rgba, width, x, y, colour);
        }
    }

    static void Set(byte[] rgba, int width, int x, int y, NamedColor c)
    {
        int i = 4 * (y * width + x);
        rgba[i] = c.R; rgba[i + 1] = c.G; rgba[i + 2] = c.B; rgba[i + 3] = 255;
    }
}
