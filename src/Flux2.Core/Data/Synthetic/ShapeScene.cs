namespace Flux2.Data.Synthetic;

/// <summary>One or more identical shapes side by side in one cell of the image ("two small yellow stars at the top
/// left").</summary>
public sealed record ShapeGroup(ShapeKind Kind, NamedColor Color, ShapeSize Size, Placement Placement, int Count = 1);

/// <summary>Everything a synthetic image shows: the background and 1–2 shape groups (at most 3 shapes in all).
/// Rendering and captioning are pure functions of this record, so the record is also what an evaluator checks a
/// generated image against.</summary>
public sealed record ShapeScene(Backdrop Background, IReadOnlyList<ShapeGroup> Groups)
{
    public int ShapeCount => Groups.Sum(g => g.Count);

    /// <summary>The only group of a single-shape scene (what <see cref="SceneCheck"/> can judge).</summary>
    public ShapeGroup SingleShape => ShapeCount == 1 ? Groups[0]
        : throw new InvalidOperationException($"scene has {ShapeCount} shapes, not one: {SceneCaption.Describe(this)}");
}
