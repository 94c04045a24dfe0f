namespace Flux2.Data.Synthetic;

/// <summary>Where each shape of a group lands, in pixels. Shapes of a group sit in a row (a column in the left and
/// right cells) around the cell centre; the whole cluster is then slid inside the image, which keeps shapes from
/// overlapping each other and keeps a clean border ring for the background estimate of
/// <see cref="SceneCheck"/>.</summary>
public static class ShapeLayout
{
    /// <summary>Gap between neighbours, as a fraction of the shape diameter.</summary>
    const double Spacing = 1.25;

    public readonly record struct Instance(float X, float Y, float Diameter);

    public static IReadOnlyList<Instance> Place(ShapeGroup group, int width, int height, int margin) =>
        Place(group.Placement, group.Count, group.Size.Fraction(), width, height, margin);

    public static IReadOnlyList<Instance> Place(Placement placement, int count, double sizeFraction, int width,
        int height, int margin)
    {
        // Whole pixels keep the rasterisation exactly reproducible (no sub-pixel coverage decisions).
        int d = (int)Math.Round(sizeFraction * Math.Min(width, height));
        int step = (int)Math.Round(d * Spacing);
        var (fx, fy) = placement.Center();
        int cx = (int)Math.Round(fx * width), cy = (int)Math.Round(fy * height);
        bool column = placement.StacksVertically();
        int span = d + (count - 1) * step;
        // Top-left corner of the cluster's bounding box, then clamped inside the margins.
        int x0 = column ? cx - d / 2 : cx - span / 2, y0 = column ? cy - span / 2 : cy - d / 2;
        int w = column ? d : span, h = column ? span : d;
        x0 = Math.Clamp(x0, margin, Math.Max(margin, width - margin - w));
        y0 = Math.Clamp(y0, margin, Math.Max(margin, height - margin - h));
        var result = new Instance[count];
        for (int i = 0; i < count; i++)
        {
            float along = i * step + d / 2f;
            result[i] = column ? new Instance(x0 + d / 2f, y0 + along, d) : new Instance(x0 + along, y0 + d / 2f, d);
        }
        return result;
    }
}
