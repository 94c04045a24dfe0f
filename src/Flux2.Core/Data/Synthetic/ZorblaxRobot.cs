using SkiaSharp;

namespace Flux2.Data.Synthetic;

/// <summary>The invented character of the object LoRA sample: a little teal robot with orange eyes, a red-tipped
/// antenna and stubby legs. It is built from corpus-like parts but in an arrangement and a teal the corpus never
/// shows, so "did the LoRA learn zorblax?" is a question about this exact composite.</summary>
public static class ZorblaxRobot
{
    public const string ClassWord = "robot";
    public static readonly SKColor Body = new(0, 140, 140), BodyShade = new(0, 105, 105), Eye = new(255, 140, 0),
        Pupil = new(20, 20, 20), AntennaTip = new(220, 30, 30), Grille = new(245, 245, 245);

    /// <summary>The robot's height as a fraction of the image side for each size word.</summary>
    public static double HeightFraction(ShapeSize size) => size switch
    {
        ShapeSize.Small => 0.36,
        ShapeSize.Medium =>
        0.54,
        _ => 0.76
    };

    /// <summary>Background colours that keep every part readable: no cyan or green next to teal, no orange around
    /// the eyes, no red behind the antenna tip.</summary>
    public static IReadOnlyList<NamedColor> Backgrounds { get; } =
        Palette.All.Where(c => c != Palette.Cyan && c != Palette.Green && c != Palette.Orange && c != Palette.Red)
            .ToArray();

    /// <summary>Draws the robot centred on (x, y) with height h. Unit coordinates span −0.5..0.5 of h.</summary>
    public static void Draw(SKCanvas canvas, float x, float y, float h)
    {
        SKRect R(double l, double t, double r, double b) => new(x + (float)(l * h), y + (float)(t * h),
            x + (float)(r * h), y + (float)(b * h));
        void Rect(SKColor c, double l, double t, double r, double b)
        {
            using var p = ShapeRenderer.SolidPaint(c);
            canvas.DrawRect(R(l, t, r, b), p);
        }
        void Dot(SKColor c, double cx, double cy, double radius)
        {
            using var p = ShapeRenderer.SolidPaint(c);
            canvas.DrawCircle(x + (float)(cx * h), y + (float)(cy * h), (float)(radius * h), p);
        }

        Rect(BodyShade, -0.015, -0.42, 0.015, -0.3);      // antenna stalk
        Dot(AntennaTip, 0, -0.44, 0.055);                 // antenna tip
        Rect(Body, -0.3, -0.3, 0.3, 0.06);                // head
        Dot(Eye, -0.13, -0.14, 0.085); Dot(Eye, 0.13, -0.14, 0.085);
        Dot(Pupil, -0.13, -0.14, 0.035); Dot(Pupil, 0.13, -0.14, 0.035);
        Rect(Grille, -0.12, -0.02, 0.12, 0.02);           // mouth grille
        Rect(BodyShade, -0.22, 0.09, 0.22, 0.36);         // torso
        Rect(Body, -0.36, 0.12, -0.22, 0.18); Rect(Body, 0.22, 0.12, 0.36, 0.18); // arms
        Rect(BodyShade, -0.17, 0.36, -0.07, 0.5); Rect(BodyShade, 0.07, 0.36, 0.17, 0.5); // legs
    }

    /// <summary>Width of the robot relative to its height (the arms reach ±0.36).</summary>
    public const double WidthRatio = 0.72;
}
