using Flux2.Models.TextEncoder;
using Flux2.Training.Data;

namespace Flux2.Interactive.Datasets;

/// <summary>One image/caption pair of a dataset folder, with its token count after trigger substitution and the
/// words past the text encoder's window (<see cref="Lost"/>, null when it fits or no tokenizer was given).</summary>
public sealed record CaptionInfo(string Image, string Caption, string Final, int Tokens, bool HasTrigger,
    string? Lost = null);

/// <summary>A caption problem: <see cref="Kind"/> is "style words", "no [trigger]", "duplicate", "too long",
/// "missing".</summary>
public sealed record CaptionIssue(string Image, string Kind, string Detail);

/// <summary>
/// Caption checks of the guide's caption advice (docs/lora-guide.md §3.2): a style LoRA's captions describe only the
/// content — words that describe the style make the model attach the look to those words instead of the trigger;
/// every caption should carry <c>[trigger]</c> (the trainer prepends it otherwise); duplicate captions teach nothing
/// new; captions longer than the text encoder's window are cut.
/// </summary>
public static class CaptionLint
{
    /// <summary>Words that describe a look rather than content (extend per dataset).</summary>
    public static readonly string[] DefaultStyleWords =
    {
        "style", "styled", "painting", "painted", "illustration", "artwork", "drawing", "watercolor", "sketch",
            "vintage",
        "aesthetic", "tarot", "vignette", "gold frame", "golden frame", "gold outline", "star dust", "stardust",
            "night sky", "glow", "sparkle", "sparkles",
    };

    /// <summary>Reads every image's same-name .txt caption.</summary>
    public static IReadOnlyList<CaptionInfo> Read(string folder, string? trigger, PromptTokenizer? tokenizer = null,
        string captionExt = "txt")
        => Directory.EnumerateFiles(folder).Where(f => DatasetScanner.ImageExtensions.Contains(Path.GetExtension(f)
            .ToLowerInvariant()))
            .Order(StringComparer.Ordinal)
            .Select(image =>
            {
                var txt = Path.ChangeExtension(image, captionExt);
                var caption = File.Exists(txt) ? File.ReadAllText(txt).Trim() : "";
                var final = CaptionRules.InjectTrigger(caption, trigger, addIfMissing: true);
                return new CaptionInfo(Path.GetFileName(image), caption, final, tokenizer?.Tokens(final).Length ?? 0,
                    CaptionRules.MentionsTrigger(caption, trigger),
                    tokenizer is null ? null : CaptionWindow.Check(image, final, tokenizer)?.Lost);
            }).ToList();

    /// <summary>The checks; <paramref name="styleLora"/> turns on the style-word check.</summary>
    public static IReadOnlyList<CaptionIssue> Check(IReadOnlyList<CaptionInfo> captions, bool styleLora,
        int? maxTokens = null, IEnumerable<string>? styleWords = null)
    {
        var issues = new List<CaptionIssue>();
        var words = (styleWords ?? DefaultStyleWords).ToArray();
        foreach (var c in captions)
        {
            if (c.Caption.Length == 0)
            {
                issues.Add(new(c.Image, "missing",
                "no caption: it trains as the trigger alone")); continue;
            }
            if (!c.HasTrigger) issues.Add(new(c.Image, "no [trigger]", "the trainer prepends the trigger word"));
            if (styleLora)
            {
                var found = words.Where(w => System.Text.RegularExpressions.Regex.IsMatch(c.Caption,
                    $@"\b{System.Text.RegularExpressions.Regex.Escape(w)}\b",
                    System.Text.RegularExpressions.RegexOptions.IgnoreCase)).ToArray();
                if (found.Length > 0) issues.Add(new(c.Image, "style words",
                    $"describes the style ({string.Join(", ", found)}): the look would bind to these words, not the " +
                    $"trigger"));
            }
            if (maxTokens is { } max && c.Tokens > max) issues.Add(new(c.Image, "too long",
                $"{c.Tokens} tokens > {max}: " + (c.Lost is { } lost ? $"\"{lost}\" is cut" : "the end is cut")));
        }
        foreach (var group in captions.Where(c => c.Caption.Length > 0).GroupBy(c => c.Caption.ToLowerInvariant())
            .Where(g => g.Count() > 1))
            issues.Add(new(string.Join(", ", group.Select(g => g.Image)), "duplicate",
                $"same caption \"{group.First().Caption}\""));
        return issues;
    }
}
