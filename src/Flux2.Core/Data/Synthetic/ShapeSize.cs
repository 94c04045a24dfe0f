namespace Flux2.Data.Synthetic;

/// <summary>Three clearly different sizes, as the fraction of the image side a shape spans.</summary>
public enum ShapeSize { Small, Medium, Large }

public static class ShapeSizeExtensions
{
    public static string Word(this ShapeSize size) => size.ToString().ToLowerInvariant();

    /// <summary>Fraction of the image side; small shapes are still ~23 px wide at 128², large ones about half the
    /// image.</summary>
    public static double Fraction(this ShapeSize size) => size switch
    {
        ShapeSize.Small => 0.18,
        ShapeSize.Medium => 0.28,
        _ => 0.46,
    };
}
