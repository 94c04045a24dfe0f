using SkiaSharp;

namespace Flux2.Data.Synthetic;

/// <summary>Outlines of the shape classes as Skia paths, centred on (x, y) and spanning <c>d</c> pixels. Star points
/// come from closed-form constants (square roots only, which IEEE rounds identically everywhere) rather than
/// Math.Sin/Cos, whose last bit may differ between C libraries and would make PNGs machine-dependent.</summary>
public static class ShapePaths
{
    static readonly double Sqrt5 = Math.Sqrt(5);
    // sin/cos of 18° and 54°, the angles of a five-pointed star's points.
    static readonly double Sin18 = (Sqrt5 - 1) / 4, Cos18 = Math.Sqrt(10 + 2 * Sqrt5) / 4;
    static readonly double Sin54 = (Sqrt5 + 1) / 4, Cos54 = Math.Sqrt(10 - 2 * Sqrt5) / 4;

    public static SKPath Create(ShapeKind kind, float x, float y, float d)
    {
        float r = d / 2;
        using var p = new SKPathBuilder();
        switch (kind)
        {
            case ShapeKind.Circle: p.AddCircle(x, y, r); break;
            case ShapeKind.Square: p.AddRect(SKRect.Create(x - 0.43f * d, y - 0.43f * d, 0.86f * d, 0.86f * d)); break;
            case ShapeKind.Triangle: Polygon(p, x, y, r, (0, -1), (1, 1), (-1, 1)); break;
            case ShapeKind.Diamond: Polygon(p, x, y, r, (0, -1), (1, 0), (0, 1), (-1, 0)); break;
            case ShapeKind.Star: Star(p, x, y, r); break;
            case ShapeKind.Ring:
                // Even-odd fill turns the inner circle into a hole.
                p.FillType = SKPathFillType.EvenOdd;
                p.AddCircle(x, y, r);
                p.AddCircle(x, y, 0.55f * r);
                break;
            case ShapeKind.Cross: // a plus sign with arms 0.68 r thick
                Polygon(p, x, y, r, (-0.34, -1), (0.34, -1), (0.34, -0.34), (1, -0.34), (1, 0.34), (0.34, 0.34),
                    (0.34, 1), (-0.34, 1), (-0.34, 0.34), (-1, 0.34), (-1, -0.34), (-0.34, -0.34));
                break;
            case ShapeKind.Heart: Heart(p, x, y, r); break;
            case ShapeKind.Robot: Robot(p, x, y, r); break;
            default: throw new ArgumentOutOfRangeException(nameof(kind), kind, null);
        }
        return p.Detach();
    }

    /// <summary>A closed polygon from unit coordinates (−1..1, y down) scaled by r around (x, y).</summary>
    static void Polygon(SKPathBuilder p, float x, float y, float r, params (double ux, double uy)[] points)
    {
        p.MoveTo(x + (float)(points[0].ux * r), y + (float)(points[0].uy * r));
        foreach (var (ux, uy) in points.Skip(1)) p.LineTo(x + (float)(ux * r), y + (float)(uy * r));
        p.Close();
    }

    /// <summary>Five points on radius r, five inner corners on 0.45 r (a bold star that still reads at 23
    /// px).</summary>
    static void Star(SKPathBuilder p, float x, float y, float r)
    {
        const double inner = 0.45;
        // Clockwise from the top point; y grows downwards. Outer points at −90°, −18°, 54°, 126°, 198°.
        (double, double)[] outer = { (0, -1), (Cos18, -Sin18), (Cos54, Sin54), (-Cos54, Sin54), (-Cos18, -Sin18) };
        // Inner corners halfway between: −54°, 18°, 90°, 162°, 234°.
        (double, double)[] corners = { (Cos54, -Sin54), (Cos18, Sin18), (0, 1), (-Cos18, Sin18), (-Cos54, -Sin54) };
        var points = new (double, double)[10];
        for (int i = 0; i < 5; i++)
        {
            points[2 * i] = outer[i];
            points[2 * i + 1] = (corners[i].Item1 * inner, corners[i].Item2 * inner);
        }
        // Stars look low-heavy when centred on their circumcircle; nudge down so the visual centre sits on (x, y).
        Polygon(p, x, y + 0.1f * r, r, points);
    }

    /// <summary>A generic robot: a square head with two square eye holes (even-odd fill), a wider body, two legs. All
    /// edges are axis-aligned, so it rasterises identically everywhere.</summary>
    static void Robot(SKPathBuilder p, float x, float y, float r)
    {
        p.FillType = SKPathFillType.EvenOdd;
        void Box(double l, double t, double right, double b) =>
            p.AddRect(new SKRect(x + (float)(l * r), y + (float)(t * r), x + (float)(right * r), y + (float)(b * r)));
        Box(-0.45, -1, 0.45, -0.25);                                   // head
        Box(-0.3, -0.75, -0.1, -0.55); Box(0.1, -0.75, 0.3, -0.55);    // eye holes
        Box(-0.12, -0.25, 0.12, -0.15);                                // neck
        Box(-0.7, -0.15, 0.7, 0.55);                                   // body
        Box(-0.5, 0.55, -0.2, 1); Box(0.2, 0.55, 0.5, 1);              // legs
    }

    /// <summary>Two cubic lobes meeting at a bottom tip.</summary>
    static void Heart(SKPathBuilder p, float x, float y, float r)
    {
        SKPoint U(double ux, double uy) => new(x + (float)(ux * r), y + (float)(uy * r));
        p.MoveTo(U(0, 0.95));
        p.CubicTo(U(-1.25, 0.1), U(-0.95, -1.05), U(0, -0.45));
        p.CubicTo(U(0.95, -1.05), U(1.25, 0.1), U(0, 0.95));
        p.Close();
    }
}
