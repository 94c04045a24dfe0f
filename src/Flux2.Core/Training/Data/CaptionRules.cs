using System.Text.RegularExpressions;

namespace Flux2.Training.Data;

/// <summary>
/// ai-toolkit's caption rules (docs/ai-toolkit-compat.md §2.6): caption dropout gives an empty caption; with
/// shuffle_tokens the comma-separated tokens after the first keep_tokens are shuffled; <c>[trigger]</c> (and
/// <c>[name]</c>) become the trigger word, and a training caption without the trigger gets it prepended, so a dropped
/// caption trains as the trigger alone. Sample prompts only get the substitution (§2.6 item 6).
/// </summary>
public static partial class CaptionRules
{
    public const string TriggerPlaceholder = "[trigger]";

    /// <summary>The caption one training step sees for one image; <paramref name="addTrigger"/>: false for
    /// regularization images (the trigger replaces [trigger] but is not prepended).</summary>
    public static string ForTraining(string caption, string? trigger, double dropoutRate, bool shuffleTokens,
        int keepTokens, Random rng, bool addTrigger = true)
    {
        if (dropoutRate > 0 && rng.NextDouble() < dropoutRate) caption = "";
        if (shuffleTokens) caption = ShuffleTokens(caption, keepTokens, rng);
        return InjectTrigger(caption, trigger, addIfMissing: addTrigger);
    }

    /// <summary>Replaces the placeholders with <paramref name="trigger"/> (removes them when there is none) and, when
    /// asked, prepends the trigger to a caption that does not contain it.</summary>
    public static string InjectTrigger(string caption, string? trigger, bool addIfMissing)
    {
        var word = trigger ?? "";
        var text = Tidy(caption.Replace(TriggerPlaceholder, word, StringComparison.OrdinalIgnoreCase)
                               .Replace("[name]", word, StringComparison.OrdinalIgnoreCase));
        if (addIfMissing && word.Length > 0 && !text.Contains(word, StringComparison.Ordinal))
            text = text.Length == 0 ? word : $"{word} {text}";
        return text;
    }

    /// <summary>The prompt with the trigger (placeholder or word) taken out: the "without LoRA concept" twin of a
    /// sample prompt.</summary>
    public static string WithoutTrigger(string prompt, string? trigger)
    {
        var text = prompt.Replace(TriggerPlaceholder, "", StringComparison.OrdinalIgnoreCase);
        if (!string.IsNullOrEmpty(trigger)) text = text.Replace(trigger, "", StringComparison.Ordinal);
        return Tidy(text);
    }

    /// <summary>The preservation (DOP) prompt of a final training caption: every trigger occurrence replaced by the
    /// class word, plain string replacement as in docs/ai-toolkit-compat.md §2.4 ("photo of Alice" → "photo of
    /// woman").</summary>
    public static string ForPreservation(string finalCaption, string trigger, string classWord)
        => Tidy(finalCaption.Replace(trigger, classWord, StringComparison.Ordinal));

    public static bool MentionsTrigger(string prompt, string? trigger)
        => prompt.Contains(TriggerPlaceholder, StringComparison.OrdinalIgnoreCase)
           || (!string.IsNullOrEmpty(trigger) && prompt.Contains(trigger, StringComparison.Ordinal));

    /// <summary>Splits on commas, keeps the first <paramref name="keepTokens"/> in place, shuffles the rest.</summary>
    public static string ShuffleTokens(string caption, int keepTokens, Random rng)
    {
        var tokens = caption.Split(',').Select(t => t.Trim()).Where(t => t.Length > 0).ToList();
        int keep = Math.Min(keepTokens, tokens.Count);
        var rest = tokens.Skip(keep).ToArray();
        rng.Shuffle(rest);
        return string.Join(", ", tokens.Take(keep).Concat(rest));
    }

    /// <summary>Collapses the double spaces and stray commas a removed placeholder leaves behind.</summary>
    static string Tidy(string text)
    {
        text = Spaces().Replace(text, " ");
        text = SpaceBeforeComma().Replace(text, ",");
        text = RepeatedCommas().Replace(text, ",");
        return text.Trim().Trim(',').Trim();
    }

    [GeneratedRegex(@"\s+")] private static partial Regex Spaces();
    [GeneratedRegex(@"\s+,")] private static partial Regex SpaceBeforeComma();
    [GeneratedRegex(@",(\s*,)+")] private static partial Regex RepeatedCommas();
}
