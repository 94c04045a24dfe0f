using Flux2.Models.TextEncoder;

namespace Flux2.Training.Data;

/// <summary>
/// The text encoder sees at most <see cref="PromptTokenizer.MaxLength"/> tokens of a caption (32 on FLUX.2-micro,
/// 512 with FLUX.2-dev's chat template, which takes part of them): the words past that window are cut before the
/// encoder and never reach training. This finds such captions and the words they lose.
/// </summary>
public static class CaptionWindow
{
    /// <summary>A caption longer than the window: its token count and the words that fall outside it.</summary>
    public sealed record Overflow(string Image, string Caption, int Tokens, string Lost);

    /// <summary>Null when the whole caption fits; otherwise the words past the window (a word cut in the middle
    /// counts as lost).</summary>
    public static Overflow? Check(string image, string caption, PromptTokenizer tokenizer)
    {
        int tokens = tokenizer.Tokens(caption).Length;
        if (tokens <= tokenizer.MaxLength) return null;
        var words = caption.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        // The longest word prefix that fits: token counts grow with the prefix, so a binary search finds it.
        int lo = 0, hi = words.Length;
        while (lo < hi)
        {
            int mid = (lo + hi + 1) / 2;
            if (tokenizer.Tokens(string.Join(' ', words[..mid])).Length <= tokenizer.MaxLength) lo = mid;
            else hi = mid - 1;
        }
        return new Overflow(image, caption, tokens, string.Join(' ', words[lo..]));
    }

    /// <summary>Every caption of <paramref name="items"/> that overflows, one per image, with the trigger put in as
    /// training does (<paramref name="addTrigger"/> false for regularization images).</summary>
    public static IReadOnlyList<Overflow> Find(IEnumerable<DatasetItem> items, string? trigger,
        PromptTokenizer tokenizer, bool addTrigger = true)
        => items.DistinctBy(i => i.ImagePath)
            .Select(i => Check(i.ImagePath, CaptionRules.InjectTrigger(i.Caption, trigger, addIfMissing: addTrigger),
                tokenizer))
            .OfType<Overflow>().ToList();

    /// <summary>The trainer's warning for <paramref name="overflows"/> of <paramref name="total"/> captions (null
    /// when none overflow): how many, the window, up to three examples with their lost words, and the fix.</summary>
    public static string? Warning(IReadOnlyList<Overflow> overflows, int total, int window)
    {
        if (overflows.Count == 0) return null;
        var examples = overflows.Take(3).Select(o => $"{Path.GetFileName(o.Image)} ({o.Tokens} tokens) loses " +
            $"\"{o.Lost}\"");
        return $"warning: {overflows.Count} of {total} captions are longer than the text encoder's {window}-token " +
            $"window, so their last words are cut and never trained: {string.Join("; ", examples)}" +
            (overflows.Count > 3 ? $"; and {overflows.Count - 3} more" : "") +
            ". Shorten those captions (the words that matter first).";
    }
}
