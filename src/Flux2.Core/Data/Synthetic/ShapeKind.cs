namespace Flux2.Data.Synthetic;

/// <summary>The shape classes of the corpus. Square is axis-aligned and diamond is the same square turned 45°, so
/// the model has to learn orientation, not just outline. <see cref="Robot"/> is the one object class: a generic robot
/// figure in the group's colour, so that the class word of the object LoRA sample ("robot") means something to the
/// base model before any LoRA teaches it one particular robot.</summary>
public enum ShapeKind { Circle, Square, Triangle, Star, Ring, Cross, Diamond, Heart, Robot }

public static class ShapeKindWords
{
    /// <summary>The eight geometric classes, in the order the scene generator draws them from.</summary>
    public static IReadOnlyList<ShapeKind> Geometric { get; } = new[] { ShapeKind.Circle, ShapeKind.Square,
        ShapeKind.Triangle, ShapeKind.Star, ShapeKind.Ring, ShapeKind.Cross, ShapeKind.Diamond, ShapeKind.Heart };

    public static string Singular(this ShapeKind kind) => kind.ToString().ToLowerInvariant();

    public static string Plural(this ShapeKind kind) => kind == ShapeKind.Cross ? "crosses" : kind.Singular() + "s";
}
