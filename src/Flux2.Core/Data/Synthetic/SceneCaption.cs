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

    /// <summary>Reads the groups back from <see cref="Content"/> text ("a medium green diamond at the top left and
    /// two medium purple diamonds at the bottom right"); null when the text is not in that grammar.</summary>
    public static IReadOnlyList<ShapeGroup>? ParseContent(string text)
    {
        var groups = new List<ShapeGroup>();
        foreach (var part in text.Trim().Split(" and "))
        {
            var words = part.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (words.Length < 6) return null;
            int count = words[0] is "a" or "an" ? 1 : Array.IndexOf(CountWords, words[0]);
            var size = Enum.GetValues<ShapeSize>().Where(z => z.Word() == words[1]).Cast<ShapeSize?>().FirstOrDefault();
            var color = Palette.All.FirstOrDefault(c => c.Name == words[2]);
            var kind = Enum.GetValues<ShapeKind>().Where(k => (count == 1 ? k.Singular() : k.Plural()) == words[3])
                .Cast<ShapeKind?>().FirstOrDefault();
            var phrase = string.Join(' ', words[4..]);
            var place = Enum.GetValues<Placement>().Where(p => p.Phrase() == phrase).Cast<Placement?>()
                .FirstOrDefault();
            if (count < 1 || size is null || color is null || kind is null || place is null) return null;
            groups.Add(new ShapeGroup(kind.Value, color, size.Value, place.Value, count));
        }
        return groups;
    }
}
