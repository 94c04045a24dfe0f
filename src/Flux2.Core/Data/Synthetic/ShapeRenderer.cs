using SkiaSharp;

namespace Flux2.Data.Synthetic;

/// <summary>Draws a <see cref="ShapeScene"/>. Shapes are filled Skia paths with anti-aliasing OFF: coverage is then
/// a yes/no decision of Skia's fixed-point scan converter, identical on every CPU, whereas anti-aliased blending runs
/// through CPU-specific SIMD paths. At 128² the hard edges also give the evaluator crisp colour regions.</summary>
public static class ShapeRenderer
{
    /// <summary>Pixels kept free of shapes along each edge; <see cref="SceneCheck"/> reads the background
    /// there.</summary>
    public const int BorderMargin = 3;

    public static SKBitmap Render(ShapeScene scene, int width, int height)
    {
        var bitmap = RgbaBitmaps.FromRgba(BackdropPainter.Paint(scene.Background, width, height), width, height);
        using var canvas = new SKCanvas(bitmap);
        foreach (var group in scene.Groups) DrawGroup(canvas, group, width, height, BorderMargin);
        canvas.Flush();
        return bitmap;
    }

    /// <summary>Fills every shape of a group, keeping <paramref name="margin"/> pixels free along each edge.</summary>
    public static void DrawGroup(SKCanvas canvas, ShapeGroup group, int width, int height, int margin)
    {
        using var fill = SolidPaint(new SKColor(group.Color.R, group.Color.G, group.Color.B));
        foreach (var s in ShapeLayout.Place(group, width, height, margin))
        {
            using var path = ShapePaths.Create(group.Kind, s.X, s.Y, s.Diameter);
            canvas.DrawPath(path, fill);
        }
    }

    /// <summary>An opaque, aliased paint (see the class comment for why aliased).</summary>
    public static SKPaint SolidPaint(SKColor color) => new()
    {
        Color = color,
        IsAntialias = false,
        Style = SKPaintStyle.Fill
    };
}
