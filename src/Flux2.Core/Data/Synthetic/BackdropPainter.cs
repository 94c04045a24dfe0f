namespace Flux2.Data.Synthetic;

/// <summary>Fills an RGBA buffer with a <see cref="Backdrop"/> pixel by pixel in integer arithmetic, so gradients
/// and patterns are byte-identical on every machine (Skia's shaders pick CPU-specific code paths whose rounding may
/// differ).</summary>
public static class BackdropPainter
{
    /// <summary>How far (percent) a pattern's ink moves from the base colour: faint, so the base stays the colour
    /// an evaluator names.</summary>
    const int InkPercent = 20;
    /// <summary>How far (percent) a gradient darkens (or, for black, lightens) from top to bottom.</summary>
    const int GradientPercent = 25;

    public static byte[] Paint(Backdrop backdrop, int width, int height)
    {
        var rgba = new byte[width * height * 4];
        var c = backdrop.Color;
        var baseRgb = (c.R, c.G, c.B);
        var ink = c.MixTowards(TintTarget(c), InkPercent);
        int stripe = Math.Max(4, width / 16), dotPitch = Math.Max(6, width / 10), cell = Math.Max(4, width / 8);
        int dotRadius2 = dotPitch * dotPitch / 25;
        for (int y = 0; y < height; y++)
        {
            var rowColor = backdrop.Pattern == BackdropPattern.Gradient
                ? c.MixTowards(GradientTarget(c),
                               (2 * GradientPercent * y + height - 1) / (2 * Math.Max(1, height - 1)))
                : baseRgb;
            for (int x = 0; x < width; x++)
            {
                bool inked = backdrop.Pattern switch
                {
                    BackdropPattern.Stripes => (x + y) / stripe % 3 == 0,
                    BackdropPattern.Dots => Square(x % dotPitch - dotPitch / 2) + Square(y % dotPitch - dotPitch / 2)
                        <= dotRadius2,
                    BackdropPattern.Checkers => (x / cell + y / cell) % 2 == 1,
                    _ => false,
                };
                var (r, g, b) = inked ? ink : rowColor;
                int i = 4 * (y * width + x);
                rgba[i] = r; rgba[i + 1] = g; rgba[i + 2] = b; rgba[i + 3] = 255;
            }
        }
        return rgba;
    }

    static readonly (byte, byte, byte) White = (255, 255, 255), Black = (0, 0, 0);

    static int Square(int v) => v * v;

    /// <summary>Patterns lighten, except on white where lightening would be invisible.</summary>
    static (byte, byte, byte) TintTarget(NamedColor c) => c == Palette.White ? Black : White;

    /// <summary>Gradients darken, except on black where darkening would be invisible.</summary>
    static (byte, byte, byte) GradientTarget(NamedColor c) => c == Palette.Black ? White : Black;
}
