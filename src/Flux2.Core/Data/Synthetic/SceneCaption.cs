namespace Flux2.Data.Synthetic;

/// <summary>Plain-English captions of scenes, e.g. "two small yellow stars at the top left on a striped green
/// background". The wording is fixed so the text encoder sees a small, consistent vocabulary.</summary>
public static class SceneCaption
{
    static readonly string[] CountWords = { "", "a", "two", "three" };

    /// <summary>Full caption: every group, then the background (none for <see cref="Backdrop.Plain"/>).</summary>
    public static string Describe(ShapeScene scene) =>
        scene.Background == Backdrop.Plain ? Content(scene) : $"{Content(scene)} {scene.Background.Phrase}";

    /// <summary>The object-caption form of a one-group scene, as the object LoRA sample's captions have it: class
    /// word first, then size, place and background, comma-separated ("robot, small, at the top left, on a yellow
    /// background"); the colour is left unsaid.</summary>
    public static string ObjectForm(ShapeScene scene)
    {
        var g = scene.Groups.Count == 1 && scene.Groups[0].Count == 1 ? scene.Groups[0]
            : throw new ArgumentException("the object form describes a single-shape scene", nameof(scene));
        var phrase = scene.Background.Phrase;
        return $"{g.Kind.Singular()}, {g.Size.Word()}, {g.Placement.Phrase()}" + (phrase == "" ? "" : $", {phrase}");
    }

    /// <summary>The shapes only, without the background: what a style LoRA's captions say (the style itself, which
    /// includes its background, must stay undescribed so the trigger absorbs it; docs/lora-guide.md §3.2).</summary>
    public static string Content(ShapeScene scene) => string.Join(" and ", scene.Groups.Select(Group));

    public static string Group(ShapeGroup g)
    {
        if (g.Count < 1 || g.Count >= CountWords.Length) throw new ArgumentOutOfRangeException(nameof(g),
            $"a group holds 1..{CountWords.Length - 1} shapes, got {g.Count}");
        var size = g.Size.Word();
        var count = g.Count == 1 ? Backdrop.Article(size) : CountWords[g.Count];
        var noun = g.Count == 1 ? g.Kind.Singular() : g.Kind.Plural();
        return $"{count} {size} {g.Color.Name} {noun} {g.Placement.Phrase()}";
    }
}
