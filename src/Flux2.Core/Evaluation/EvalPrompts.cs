using Flux2.Training.Data;

namespace Flux2.Evaluation;

/// <summary>One evaluation prompt in both forms: with the trigger word in front, and without it.</summary>
public sealed record EvalPrompt(string WithTrigger, string WithoutTrigger);

/// <summary>
/// The fixed prompt sets the evaluator uses, so numbers from different runs are comparable. Both follow the caption
/// grammar of the sample datasets (and of the micro model's corpus), because a prompt in a grammar the model never
/// saw would measure the text encoder, not the LoRA:
/// <list type="bullet">
/// <item>style sets: content only (<see cref="StyleContent"/>), like the style captions, which leave the look
/// unsaid;</item>
/// <item>object sets: the class word with size, place and background (<see cref="ObjectPhrases"/>), like the
/// object captions "[trigger] robot, small, at the top left, on a yellow background".</item></list>
/// </summary>
public static class EvalPrompts
{
    public static readonly IReadOnlyList<string> StyleContent = new[]
    {
        "a large red circle in the center",
        "a medium blue square at the top left",
        "a medium yellow triangle at the bottom right",
        "two small white stars at the top",
        "a large green heart in the center",
        "a medium purple diamond at the left",
        "a small orange ring at the right",
        "three small pink crosses at the bottom",
    };

    /// <summary>Completed with the class word in front (e.g. "robot, medium, in the center, on a white
    /// background").</summary>
    public static readonly IReadOnlyList<string> ObjectPhrases = new[]
    {
        "medium, in the center, on a white background",
        "small, at the top left, on a blue background",
        "large, at the right, on a black background",
        "medium, at the bottom, on a yellow background",
        "small, in the center, on a purple background",
        "large, at the left, on a pink background",
        "medium, at the top right, on a white background",
        "small, at the bottom left, on a black background",
    };

    /// <summary>The prompt set for a LoRA: the object set when <paramref name="classWord"/> is given, else the style
    /// set.</summary>
    public static IReadOnlyList<EvalPrompt> For(string trigger, string? classWord)
    {
        var plain = classWord is { Length: > 0 } ? ObjectPhrases.Select(p => $"{classWord}, {p}") : StyleContent;
        return plain.Select(p => new EvalPrompt($"{trigger} {p}", p)).ToList();
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
