using Flux2.Data.Synthetic;
using Flux2.Pipeline;
using static TorchSharp.torch;

namespace Flux2.Evaluation;

/// <summary>One sanity prompt: what it asks for, and the seed its image is drawn with.</summary>
public sealed record SanityPrompt(NamedColor Shape, ShapeKind Kind, NamedColor Background, long Seed)
{
    /// <summary>In the corpus caption grammar (size and place included, <see cref="SceneCaption"/>): the base model
    /// was pretrained on exactly this wording, so a failure means it did not learn, not that it never read such
    /// text.</summary>
    public string Prompt =>
        $"a large {Shape.Name} {Kind.Singular()} in the center on " +
        $"{Article(Background.Name)} {Background.Name} background";

    static string Article(string word) => "aeiou".Contains(word[0]) ? "an" : "a";
}

/// <summary>A sanity prompt's image judged by <see cref="SceneCheck"/>.</summary>
public sealed record SanityVerdict(SanityPrompt Prompt, SceneVerdict Verdict);

/// <summary>All verdicts and the share that passed (colours, and shape class where judgeable).</summary>
public sealed record SanityReport(IReadOnlyList<SanityVerdict> Verdicts, double Seconds)
{
    public double PassRate => Verdicts.Count == 0 ? 0 : (double)Verdicts.Count(v => v.Verdict.Passed) / Verdicts.Count;
}

/// <summary>
/// Base-model sanity: does the base model draw what a simple prompt asks? 24 single-shape prompts — every
/// (circle | square | triangle) × 8 well-separated colour pairs — one fixed seed each, at the model's resolution;
/// each image is checked by <see cref="SceneCheck"/> (background colour, shape colour, shape class by fill ratio).
/// </summary>
public static class BaseModelSanity
{
    public const long FirstSeed = 2024;

    static readonly (NamedColor shape, NamedColor background)[] ColourPairs =
    {
        (Palette.Red, Palette.Blue), (Palette.Yellow, Palette.Purple), (Palette.White, Palette.Black),
            (Palette.Green, Palette.Pink),
        (Palette.Blue, Palette.Yellow), (Palette.Black, Palette.White), (Palette.Cyan, Palette.Red),
            (Palette.Orange, Palette.Green),
    };

    static readonly ShapeKind[] Shapes = { ShapeKind.Circle, ShapeKind.Square, ShapeKind.Triangle };

    /// <summary>The 24 prompts: i runs over all (shape, pair) combinations since 3 and 8 share no factor.</summary>
    public static IReadOnlyList<SanityPrompt> Prompts { get; } = Enumerable.Range(0, Shapes.Length * ColourPairs.Length)
        .Select(i => new SanityPrompt(ColourPairs[i % ColourPairs.Length].shape, Shapes[i % Shapes.Length],
            ColourPairs[i % ColourPairs.Length].background, FirstSeed + i))
        .ToList();

    public static SanityReport Run(Flux2Models models, int width, int height, int steps = 20, float guidance = 4f,
        int batch = 8, Action<string>? log = null)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var verdicts = new List<SanityVerdict>();
        using var scope = NewDisposeScope();
        var negative = models.NegativeEmbedsForGuidance();
        var device = models.Transformer.Device;
        foreach (var chunk in Prompts.Chunk(batch))
        {
            using var chunkScope = NewDisposeScope();
            var embeds = models.EncodePrompts(chunk.Select(p => p.Prompt).ToList());
            // One noise draw per prompt from its own seed: a prompt's image does not depend on the batching.
            var noise =
                cat(chunk.Select(p => models.Pipeline.InitialNoise(1, height, width, p.Seed, device)).ToList(), 0);
            var images = models.Pipeline.Generate(embeds, noise, steps, guidance, negativeEmbeds: negative).cpu();
            for (int i = 0; i < chunk.Length; i++)
            {
                var p = chunk[i];
                var verdict = SceneCheck.Check(ToRgb(images[i]), width, height, p.Shape, p.Background, p.Kind);
                verdicts.Add(new SanityVerdict(p, verdict));
            }
            log?.Invoke($"sanity: {verdicts.Count}/{Prompts.Count} images judged");
        }
        return new SanityReport(verdicts, clock.Elapsed.TotalSeconds);
    }

    /// <summary>[3, H, W] in 0..1 → packed RGB bytes, rounded like a saved PNG.</summary>
    public static byte[] ToRgb(Tensor image01)
    {
        using var hwc = (image01.detach().to(ScalarType.Float32).cpu().clamp(0, 1) * 255).round().to(ScalarType.Byte)
            .permute(1, 2, 0).contiguous();
        return hwc.data<byte>().ToArray();
    }

    public static string Table(SanityReport report)
    {
        var s = new System.Text.StringBuilder();
        s.AppendLine("| # | prompt | seen background | seen shape colour | fill | seen shape | pass |");
        s.AppendLine("|---|---|---|---|---|---|---|");
        int n = 0;
        foreach (var v in report.Verdicts)
        {
            var o = v.Verdict.Observed;
            s.AppendLine($"| {++n} | {v.Prompt.Prompt} | {o.Background}{Mark(v.Verdict.BackgroundMatches)} | " +
                $"{o.Foreground?.Name ?? "none"}{Mark(v.Verdict.ForegroundMatches)} | " +
                $"{o.FillRatio.ToString("F2", System.Globalization.CultureInfo.InvariantCulture)} | " +
                $"{o.ShapeGuess?.Singular() ?? "-"}{Mark(v.Verdict.ShapeMatches)} | " +
                $"{(v.Verdict.Passed ? "yes" : "NO")} |");
        }
        s.AppendLine();
        s.AppendLine($"pass rate " +
            $"{(100 * report.PassRate).ToString("F0", System.Globalization.CultureInfo.InvariantCulture)}% " +
            $"({report.Verdicts.Count(v => v.Verdict.Passed)}/{report.Verdicts.Count}), " +
            $"{report.Seconds.ToString("F1", System.Globalization.CultureInfo.InvariantCulture)} s");
        return s.ToString();
    }

    static string Mark(bool? ok) => ok switch { true => "", false => " ✗", null => " ?" };
}
