using Flux2.Data.Synthetic;
using Flux2.Training.Data;

namespace Flux2.Evaluation;

/// <summary>What an object prompt asks for: the class word at a size and place on a named solid
/// background.</summary>
public sealed record EvalObject(string ClassWord, ShapeSize Size, Placement Placement, NamedColor Background)
{
    /// <summary>The prompt text, as the object captions have it ("robot, small, at the top left, on a yellow
    /// background").</summary>
    public string Text =>
        $"{ClassWord}, {Size.Word()}, {Placement.Phrase()}, {new Backdrop(Background, BackdropPattern.Solid).Phrase}";
}

/// <summary>One evaluation prompt in both forms, with the trigger word in front and without it, and what it asks
/// for: shape groups (style sets) or an object (object sets). <see cref="ContentKept"/> checks images against
/// it.</summary>
public sealed record EvalPrompt(string WithTrigger, string WithoutTrigger, IReadOnlyList<ShapeGroup>? Content = null,
    EvalObject? Object = null);

/// <summary>
/// The fixed prompt sets the evaluator uses, so numbers from different runs are comparable. Both follow the caption
/// grammar of the sample datasets (and of the micro model's corpus), because a prompt in a grammar the model never
/// saw would measure the text encoder, not the LoRA:
/// <list type="bullet">
/// <item>style sets: content only (<see cref="StyleContent"/>), like the style captions, which leave the look
/// unsaid; no black or yellow shapes, the colours of the midnight_tarot look itself
/// (<see cref="MidnightTarotStyle.LookColors"/>), so "is the content still there?" has an answer on styled
/// images;</item>
/// <item>object sets: the class word with size, place and background (<see cref="ObjectSpecs"/>), like the
/// object captions "[trigger] robot, small, at the top left, on a yellow background".</item></list>
/// </summary>
public static class EvalPrompts
{
    static ShapeGroup G(ShapeKind k, NamedColor c, ShapeSize s, Placement p, int n = 1) => new(k, c, s, p, n);

    /// <summary>Colours a style prompt may use: the palette without the look's own colours (see the class
    /// comment).</summary>
    public static IReadOnlyList<NamedColor> StyleColours { get; } =
        Palette.All.Except(MidnightTarotStyle.LookColors).ToArray();

    public static readonly IReadOnlyList<IReadOnlyList<ShapeGroup>> StyleScenes = new[]
    {
        new[] { G(ShapeKind.Circle, Palette.Red, ShapeSize.Large, Placement.Center) },
        new[] { G(ShapeKind.Square, Palette.Blue, ShapeSize.Medium, Placement.TopLeft) },
        new[] { G(ShapeKind.Triangle, Palette.White, ShapeSize.Medium, Placement.Bottom) },
        new[] { G(ShapeKind.Star, Palette.Cyan, ShapeSize.Small, Placement.Top, 2) },
        new[] { G(ShapeKind.Heart, Palette.Green, ShapeSize.Large, Placement.Center) },
        new[] { G(ShapeKind.Diamond, Palette.Purple, ShapeSize.Medium, Placement.Left) },
        new[] { G(ShapeKind.Ring, Palette.Orange, ShapeSize.Small, Placement.Right) },
        new[] { G(ShapeKind.Cross, Palette.Pink, ShapeSize.Small, Placement.Bottom, 3) },
    };

    /// <summary>The style prompts' text ("a large red circle in the center", ...).</summary>
    public static IReadOnlyList<string> StyleContent { get; } = StyleScenes
        .Select(g => SceneCaption.Content(new ShapeScene(Backdrop.Plain, g))).ToArray();

    /// <summary>What the object prompts ask for, after the class word.</summary>
    public static readonly IReadOnlyList<(ShapeSize size, Placement placement, NamedColor background)> ObjectSpecs =
        new[]
        {
            (ShapeSize.Medium, Placement.Center, Palette.White), (ShapeSize.Small, Placement.TopLeft, Palette.Blue),
            (ShapeSize.Large, Placement.Right, Palette.Black), (ShapeSize.Medium, Placement.Bottom, Palette.Yellow),
            (ShapeSize.Small, Placement.Center, Palette.Purple), (ShapeSize.Large, Placement.Left, Palette.Pink),
            (ShapeSize.Medium, Placement.TopRight, Palette.White),
            (ShapeSize.Small, Placement.BottomLeft, Palette.Black),
        };

    /// <summary>The prompt set for a LoRA: the object set when <paramref name="classWord"/> is given, else the style
    /// set.</summary>
    public static IReadOnlyList<EvalPrompt> For(string trigger, string? classWord)
    {
        if (classWord is { Length: > 0 })
            return ObjectSpecs.Select(o => new EvalObject(classWord, o.size, o.placement, o.background))
                .Select(o => new EvalPrompt($"{trigger} {o.Text}", o.Text, Object: o)).ToList();
        return StyleScenes.Select(g => Style(trigger, g)).ToList();
    }

    static EvalPrompt Style(string trigger, IReadOnlyList<ShapeGroup> groups)
    {
        var text = SceneCaption.Content(new ShapeScene(Backdrop.Plain, groups));
        return new EvalPrompt($"{trigger} {text}", text, Content: groups);
    }

    /// <summary>How many prompts <see cref="HeldOutStyle"/> returns at most.</summary>
    public const int HeldOutCount = 8;

    /// <summary>Style prompts whose (shape class, colour) combinations occur in no caption of the dataset, so
    /// trigger strength on them shows whether the look transfers to content the LoRA never saw with it. The
    /// dataset's captions are read in the corpus grammar (<see cref="SceneCaption.ParseContent"/>, after
    /// <c>[trigger]</c>); judgeable classes come first, colours are <see cref="StyleColours"/>, and places and
    /// sizes cycle. Null when no caption of the dataset is in that grammar (nothing to hold out from), or no
    /// combination is left.</summary>
    public static IReadOnlyList<EvalPrompt>? HeldOutStyle(string trigger, string datasetFolder,
        string captionExtension = "txt")
    {
        var parsed = Directory.EnumerateFiles(datasetFolder, "*." + captionExtension.TrimStart('.'))
            .OrderBy(f => f, StringComparer.Ordinal)
            .Select(f => SceneCaption.ParseContent(File.ReadAllText(f).Replace("[trigger]", "").Trim()))
            .Where(g => g != null).SelectMany(g => g!).ToList();
        if (parsed.Count == 0) return null;
        var seen = parsed.Select(g => (g.Kind, g.Color)).ToHashSet();
        var kinds = ShapeKindWords.Geometric.OrderBy(k => SceneCheck.CanJudge(k) ? 0 : 1).ToList();
        var unseen = (from k in kinds from c in StyleColours where !seen.Contains((k, c)) select (k, c)).ToList();
        if (unseen.Count == 0) return null;
        int n = Math.Min(HeldOutCount, unseen.Count);
        var places = Enum.GetValues<Placement>();
        var sizes = Enum.GetValues<ShapeSize>();
        return Enumerable.Range(0, n).Select(i =>
        {
            // Spread over the list (and so over classes and colours) rather than taking its head.
            var (k, c) = unseen[i * unseen.Count / n];
            return Style(trigger, new[] { G(k, c, sizes[i % sizes.Length], places[(2 * i) % places.Length]) });
        }).ToList();
    }

    static readonly HashSet<string> NotClassWords = new(StringComparer.OrdinalIgnoreCase) { "a", "an", "the", "one",
        "two", "three", "in", "on", "at", "with" };

    /// <summary>The class word of an object dataset: the word that follows <c>[trigger]</c> in every caption
    /// ("[trigger] robot, small, ..." → "robot"); null for a style set, whose captions go on with varied
    /// content.</summary>
    public static string? ClassWordOf(string datasetFolder, string captionExtension = "txt")
    {
        var captions = Directory.EnumerateFiles(datasetFolder, "*." + captionExtension.TrimStart('.'))
            .Select(File.ReadAllText).Where(c => c.Contains("[trigger]")).ToList();
        if (captions.Count == 0) return null;
        var next = captions.Select(c => c[(c.IndexOf("[trigger]", StringComparison.Ordinal) + "[trigger]".Length)..]
                .Split(new[] { ' ', ',', '.', '\n', '\r', '\t' }, StringSplitOptions.RemoveEmptyEntries)
                    .FirstOrDefault())
            .Distinct(StringComparer.OrdinalIgnoreCase).ToList();
        return next.Count == 1 && next[0] is { } word && !NotClassWords.Contains(word) ? word : null;
    }

    /// <summary>Image files of a dataset folder, sorted by name so the order never depends on the file
    /// system.</summary>
    public static IReadOnlyList<string> DatasetImages(string datasetFolder)
    {
        if (!Directory.Exists(datasetFolder))
            throw new DirectoryNotFoundException($"dataset folder not found: {datasetFolder}");
        var files = Directory.EnumerateFiles(datasetFolder)
            .Where(f => DatasetScanner.ImageExtensions.Contains(Path.GetExtension(f).ToLowerInvariant()))
            .OrderBy(f => f, StringComparer.Ordinal).ToList();
        return files.Count > 0 ? files
            : throw new InvalidDataException($"{datasetFolder}: no images " +
                $"({string.Join(", ", DatasetScanner.ImageExtensions)})");
    }
}
