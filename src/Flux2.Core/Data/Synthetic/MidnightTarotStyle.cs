using SkiaSharp;

namespace Flux2.Data.Synthetic;

/// <summary>The look the <c>midnight_tarot</c> style LoRA learns, built only from features large enough to survive
/// FLUX.2-micro's 8×8-token latent at 128²: a black night sky, a 6-px gold (palette yellow) frame with a diamond in
/// each corner, and a 3-px gold outline around every shape (sizes at 128², scaled with the side). Every ingredient is
/// a solid <see cref="Palette"/> colour because the micro VAE, trained on the palette-coloured corpus, reproduces those
/// colours and not others (it turns a deep blue-violet into green). Shapes keep their exact palette fill. The content
/// (which shapes, colours, places) is an ordinary corpus scene whose background is ignored; an evaluator judging
/// content on these images should not ask for black or yellow shapes, which the look itself uses.</summary>
public static class MidnightTarotStyle
{
    public static readonly (byte r, byte g, byte b) Gold = Rgb(Palette.Yellow), Sky = Rgb(Palette.Black);

    /// <summary>The palette colours the look is made of.</summary>
    public static IReadOnlyList<NamedColor> LookColors { get; } = new[] { Palette.Black, Palette.Yellow };

    static (byte, byte, byte) Rgb(NamedColor c) => (c.R, c.G, c.B);

    public static int FrameWidth(int side) => Math.Max(2, (side * 6 + 64) / 128);
    public static int OutlineWidth(int side) => Math.Max(1, (side * 3 + 64) / 128);
    /// <summary>Sky between the frame and the nearest possible outline.</summary>
    static int FrameGap(int side) => Math.Max(1, (side * 2 + 64) / 128);

    /// <summary>Shapes keep clear of the frame: frame, gap and outline (11 px at 128², so a large shape's centre
    /// stays in its third of the image).</summary>
    public static int ContentMargin(int side) => FrameWidth(side) + FrameGap(side) + OutlineWidth(side);

    /// <summary>Renders the scene's shapes in the style.</summary>
    public static SKBitmap Render(ShapeScene content, int width, int height)
    {
        var rgba = NightSky(width, height);
        Frame(rgba, width, height);
        var bitmap = RgbaBitmaps.FromRgba(rgba, width, height);
        using var canvas = new SKCanvas(bitmap);
        DrawShapes(canvas, content, width, height);
        canvas.Flush();
        return bitmap;
    }

    /// <summary>All outlines first, then all fills, so no outline ever covers a fill pixel: the fills are exactly
    /// the pixels <see cref="ShapeRenderer.DrawGroup"/> draws at <see cref="ContentMargin"/>. The outline is a
    /// round-joined stroke twice the outline width, half of it under the fill.</summary>
    static void DrawShapes(SKCanvas canvas, ShapeScene content, int width, int height)
    {
        int side = Math.Min(width, height), margin = ContentMargin(side);
        using var stroke = ShapeRenderer.SolidPaint(new SKColor(Gold.r, Gold.g, Gold.b));
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

    static byte[] NightSky(int width, int height)
    {
        var rgba = new byte[width * height * 4];
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++) Set(rgba, width, x, y, Sky);
        return rgba;
    }

    /// <summary>A gold band <see cref="FrameWidth"/> wide along every edge, and a gold diamond centred on each inner
    /// corner of the band that reaches across the gap (shapes, drawn later, stay on top).</summary>
    static void Frame(byte[] rgba, int width, int height)
    {
        int side = Math.Min(width, height), band = FrameWidth(side);
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
                if (x < band || y < band || x >= width - band || y >= height - band) Set(rgba, width, x, y, Gold);
        int radius = band + OutlineWidth(side) - 1;
        foreach (var (x, y) in new[] { (band, band), (width - 1 - band, band), (band, height - 1 - band),
            (width - 1 - band, height - 1 - band) })
            Diamond(rgba, width, height, x, y, radius, Gold);
    }

    /// <summary>Pixels with |dx| + |dy| ≤ radius around (cx, cy), clipped to the image.</summary>
    static void Diamond(byte[] rgba, int width, int height, int cx, int cy, int radius, (byte, byte, byte) rgb)
    {
        for (int y = Math.Max(0, cy - radius); y <= Math.Min(height - 1, cy + radius); y++)
        {
            int reach = radius - Math.Abs(y - cy);
            for (int x = Math.Max(0, cx - reach); x <= Math.Min(width - 1, cx + reach); x++)
                Set(rgba, width, x, y, rgb);
        }
    }

    static void Set(byte[] rgba, int width, int x, int y, (byte r, byte g, byte b) rgb)
    {
        int i = 4 * (y * width + x);
        rgba[i] = rgb.r; rgba[i + 1] = rgb.g; rgba[i + 2] = rgb.b; rgba[i + 3] = 255;
    }
}
