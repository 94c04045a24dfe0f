namespace Flux2.Data.Synthetic;

/// <summary>The shape classes of the corpus. Square is axis-aligned and diamond is the same square turned 45°, so
/// the model has to learn orientation, not just outline.</summary>
public enum ShapeKind { Circle, Square, Triangle, Star, Ring, Cross, Diamond, Heart }

public static class ShapeKindWords
{
    public static string Singular(this ShapeKind kind) => kind.ToString().ToLowerInvariant();

    public static string Plural(this ShapeKind kind) => kind == ShapeKind.Cross ? "crosses" : kind.Singular() + "s";
}
