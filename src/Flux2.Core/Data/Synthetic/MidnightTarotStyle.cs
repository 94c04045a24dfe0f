using SkiaSharp;

namespace Flux2.Data.Synthetic;

/// <summary>The look the <c>midnight_tarot</c> style LoRA learns. Every ingredient is absent from the base corpus and
/// measurable: a navy-to-indigo night sky (the corpus has no dark blues), pale-gold star dust, gold outlines on every
/// shape, a double gold frame with corner diamonds, and a vignette. The content (which shapes, colours, places) is
/// an ordinary corpus scene whose background is ignored.</summary>
public static class MidnightTarotStyle
{
    public static readonly SKColor Gold = new(212, 175, 55);
    public static readonly (byte r, byte g, byte b) SkyTop = (12, 16, 52), SkyBottom = (48, 22, 90),
        StarDust = (255, 236, 170);

    /// <summary>Shapes keep clear of the frame: 9% of the side on each edge.</summary>
    public static int ContentMargin(int size) => Math.Max(ShapeRenderer.BorderMargin, size * 9 / 100);

    /// <summary>Renders the scene's shapes in the style; <paramref name="speckleSeed"/> places the star dust.</summary>
    public static SKBitmap Render(ShapeScene content, int width, int height, int speckleSeed)
    {
        var rgba = NightSky(width, height, new Random(speckleSeed));
        var bitmap = RgbaBitmaps.FromRgba(rgba, width, height);
        using (var canvas = new SKCanvas(bitmap))
        {
            int side = Math.Min(width, height);
            float outline = Math.Max(2, side / 48);
            foreach (var group in content.Groups) ShapeRenderer.DrawGroup(canvas, group, width, height,
                ContentMargin(side), Gold, outline);
            DrawFrame(canvas, width, height);
            canvas.Flush();
        }
        var pixels = RgbaBitmaps.ToRgba(bitmap);
        Vignette(pixels, width, height);
        bitmap.Dispose();
        return RgbaBitmaps.FromRgba(pixels, width, height);
    }

    /// <summary>Vertical navy→indigo gradient with about one star-dust speck per 90 pixels.</summary>
    static byte[] NightSky(int width, int height, Random rng)
    {
        var rgba = new byte[width * height * 4];
        for (int y = 0; y < height; y++)
        {
            int t = y * 100 / Math.Max(1, height - 1);
            byte r = NamedColor.Mix(SkyTop.r, SkyBottom.r, t), g = NamedColor.Mix(SkyTop.g, SkyBottom.g, t),
                b = NamedColor.Mix(SkyTop.b, SkyBottom.b, t);
            for (int x = 0; x < width; x++)
            {
                int i = 4 * (y * width + x);
                rgba[i] = r; rgba[i + 1] = g; rgba[i + 2] = b; rgba[i + 3] = 255;
            }
        }
        for (int n = width * height / 90; n > 0; n--)
        {
            int i = 4 * (rng.Next(height) * width + rng.Next(width));
            rgba[i] = StarDust.r; rgba[i + 1] = StarDust.g; rgba[i + 2] = StarDust.b;
        }
        return rgba;
    }

    /// <summary>An outer 2-px gold line, a thin inner line, and a small gold diamond in each corner.</summary>
    static void DrawFrame(SKCanvas canvas, int width, int height)
    {
        int side = Math.Min(width, height), outer = Math.Max(1, side / 40), inner = outer + Math.Max(3, side / 32);
        using var thick = ShapeRenderer.SolidPaint(Gold);
        thick.Style = SKPaintStyle.Stroke; thick.StrokeWidth = Math.Max(2, side / 64);
        using var thin = ShapeRenderer.SolidPaint(Gold);
        thin.Style = SKPaintStyle.Stroke; thin.StrokeWidth = 1;
        canvas.DrawRect(SKRect.Create(outer, outer, width - 2 * outer, height - 2 * outer), thick);
        canvas.DrawRect(SKRect.Create(inner + 0.5f, inner + 0.5f, width - 2 * inner - 1, height - 2 * inner - 1), thin);
        using var fill = ShapeRenderer.SolidPaint(Gold);
        float d = Math.Max(5, side / 14);
        foreach (var (x, y) in new[] { (inner, inner), (width - inner, inner), (inner, height - inner),
            (width - inner, height - inner) })
        {
            using var diamond = ShapePaths.Create(ShapeKind.Diamond, x, y, d);
            canvas.DrawPath(diamond, fill);
        }
    }

    /// <summary>Darkens towards the corners by up to 45%, in integer arithmetic (squared distances from the centre,
    /// doubled so pixel centres are whole numbers).</summary>
    static void Vignette(byte[] rgba, int width, int height)
    {
        long maxD2 = (long)width * width + (long)height * height;
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
            {
                long dx = 2 * x + 1 - width, dy = 2 * y + 1 - height;
                long keep = 1000 - 450 * (dx * dx + dy * dy) / maxD2;
                int i = 4 * (y * width + x);
                for (int c = 0; c < 3; c++) rgba[i + c] = (byte)((rgba[i + c] * keep + 500) / 1000);
            }
    }
}
