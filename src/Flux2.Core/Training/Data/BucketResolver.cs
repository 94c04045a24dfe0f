namespace Flux2.Training.Data;

/// <summary>
/// Aspect-ratio bucket of an image (docs/ai-toolkit-compat.md §2.7): never upscale (target area = min(w·h, R²)),
/// scale both sides by √(target / w·h), try the floor/ceil combinations at the model's pixel multiple, keep those
/// with area ≤ R², pick the one closest in area to the target.
/// </summary>
public static class BucketResolver
{
    public static (int width, int height) BucketFor(int width, int height, int resolution, int multiple)
    {
        double target = Math.Min((double)width * height, (double)resolution * resolution);
        double scale = Math.Sqrt(target / ((double)width * height));
        double w = width * scale, h = height * scale;
        var candidates = new[] { (Floor(w), Floor(h)), (Floor(w), Ceil(h)), (Ceil(w), Floor(h)), (Ceil(w), Ceil(h)) }
            .Where(c => c.Item1 >= multiple && c.Item2 >= multiple
                        && (double)c.Item1 * c.Item2 <= (double)resolution * resolution)
            .ToList();
        if (candidates.Count == 0) return (Math.Max(multiple, Floor(w)), Math.Max(multiple, Floor(h)));
        return candidates.OrderBy(c => Math.Abs((double)c.Item1 * c.Item2 - target)).First();

        int Floor(double v) => (int)Math.Floor(v / multiple) * multiple;
        int Ceil(double v) => (int)Math.Ceiling(v / multiple) * multiple;
    }

    /// <summary>The square R×R crop used when buckets are off.</summary>
    public static (int width, int height) Square(int resolution, int multiple)
    {
        int side = Math.Max(multiple, resolution / multiple * multiple);
        return (side, side);
    }
}
