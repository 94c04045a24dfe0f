using SkiaSharp;

namespace Flux2.Data.Synthetic;

/// <summary>The look the <c>midnight_tarot</c> style LoRA learns, a <see cref="FramedLook"/>: a black night sky, a
/// 6-px gold (palette yellow) frame with a diamond in each corner, and a 3-px gold outline around every shape (sizes
/// at 128², scaled with the side). Every ingredient is a solid <see cref="Palette"/> colour because the micro VAE
/// reproduces those colours and not others (it turns a deep blue-violet into green). Shapes keep their exact palette
/// fill. The content (which shapes, colours, places) is an ordinary corpus scene whose background is ignored; an
/// evaluator judging content on these images should not ask for black or yellow shapes, which the look itself
/// uses.</summary>
public static class MidnightTarotStyle
{
    public static FramedLook Look { get; } = new(Palette.Black, Palette.Yellow, Palette.Yellow, 6, 3, true);

    public static readonly (byte r, byte g, byte b) Gold = Rgb(Look.Frame), Sky = Rgb(Look.Sky!);

    /// <summary>The palette colours the look is made of (its frame and outlines share one).</summary>
    public static IReadOnlyList<NamedColor> LookColors { get; } = new[] { Look.Sky!, Look.Frame };

    static (byte, byte, byte) Rgb(NamedColor c) => (c.R, c.G, c.B);

    public static int FrameWidth(int side) => Look.FrameWidth(side);
    public static int OutlineWidth(int side) => Look.OutlineWidth(side);

    /// <summary>Shapes keep clear of the frame: frame, gap and outline (11 px at 128², so a large shape's centre
    /// stays in its third of the image).</summary>
    public static int ContentMargin(int side) => Look.ContentMargin(side);

    /// <summary>Renders the scene's shapes in the style.</summary>
    public static SKBitmap Render(ShapeScene content, int width, int height) => Look.Render(content, width, height);
}
