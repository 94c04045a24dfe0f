using System.Globalization;
using Flux2.Data.Synthetic;
using Flux2.Pipeline;
using static TorchSharp.torch;

namespace Flux2.Evaluation;

/// <summary>One sanity prompt: the scene it asks for, and the seed its image is drawn with.</summary>
public sealed record SanityPrompt(ShapeScene Scene, long Seed)
{
    /// <summary>In the corpus caption grammar (<see cref="SceneCaption.Describe"/>): the base model was pretrained
    /// on this wording, with every (class, colour, place) it names seen in other combinations but never in these
    /// (<see cref="ShapeCorpus.IsHeldOut"/>), so a pass means the model composes words, not that it remembers a
    /// caption.</summary>
    public string Prompt => SceneCaption.Describe(Scene);
}

/// <summary>A sanity prompt's image judged by <see cref="SceneCheck"/>.</summary>
public sealed record SanityVerdict(SanityPrompt Prompt, SceneVerdict Verdict);

/// <summary>All verdicts and the share that passed.</summary>
public sealed record SanityReport(IReadOnlyList<SanityVerdict> Verdicts, double Seconds)
{
    public double PassRate => Verdicts.Count == 0 ? 0 : (double)Verdicts.Count(v => v.Verdict.Passed) / Verdicts.Count;
}

/// <summary>
/// Base-model sanity: does the base model draw what a simple prompt asks, for combinations it never saw? 48
/// prompts, every group a held-out (class, colour, place) combination (<see cref="ShapeCorpus.IsHeldOut"/>) of a
/// class <see cref="SceneCheck"/> can judge, one fixed seed each, at the model's resolution:
/// <list type="bullet">
/// <item><see cref="PlainCount"/> single-group prompts without a background phrase (the plain backdrop);</item>
/// <item><see cref="TwoGroupCount"/> prompts with two groups in opposite cells, of different colours (robots only
/// ever appear alone in pretraining, so these use circle, square and triangle);</item>
/// <item><see cref="SolidCount"/> single-group prompts on a named solid background of another colour.</item>
/// </list>
/// A prompt passes when every group's colour is found in the asked cell with the asked class, and the named
/// background (if any) is the asked one.
/// </summary>
public static class BaseModelSanity
{
    public const long FirstSeed = 2024;
    public const int PlainCount = 16, TwoGroupCount = 8, SolidCount = 24;
    const int SelectionSeed = 48;

    static readonly (Placement, Placement)[] OppositePairs =
    {
        (Placement.Left, Placement.Right), (Placement.Top, Placement.Bottom),
        (Placement.TopLeft, Placement.BottomRight), (Placement.TopRight, Placement.BottomLeft),
    };

    public static IReadOnlyList<SanityPrompt> Prompts { get; } = BuildPrompts();

    static List<SanityPrompt> BuildPrompts()
    {
        var rng = new Random(SelectionSeed);
        var kinds = SceneCheck.Judgeable.OrderBy(k => k).ToArray();
        var held = (from k in kinds
                    from c in Palette.All
                    from p in Enum.GetValues<Placement>()
                    where ShapeCorpus.IsHeldOut(k, c, p)
                    select (kind: k, color: c, place: p)).OrderBy(_ => rng.Next()).ToList();
        var sizes = Enum.GetValues<ShapeSize>();
        var scenes = new List<ShapeScene>();
        ShapeGroup Single(int i) => new(held[i % held.Count].kind, held[i % held.Count].color, sizes[i % 3],
            held[i % held.Count].place);
        for (int i = 0; i < PlainCount; i++) scenes.Add(new ShapeScene(Backdrop.Plain, new[] { Single(i) }));

        var geometric = held.Where(h => h.kind != ShapeKind.Robot).ToList();
        var pairs = (from a in geometric
                     from b in geometric
                     where a.color != b.color && OppositePairs.Contains((a.place, b.place))
                     select (a, b)).OrderBy(_ => rng.Next()).Take(TwoGroupCount).ToList();
        foreach (var (a, b) in pairs)
        {
            var background = Palette.All.Where(c => c != a.color && c != b.color).ElementAt(rng.Next(8));
            var small = rng.Next(2) == 0;
            scenes.Add(new ShapeScene(new Backdrop(background, BackdropPattern.Solid), new[]
            {
                new ShapeGroup(a.kind, a.color, small ? ShapeSize.Small : ShapeSize.Medium, a.place),
                new ShapeGroup(b.kind, b.color, small ? ShapeSize.Medium : ShapeSize.Small, b.place),
            }));
        }

        for (int i = PlainCount; i < PlainCount + SolidCount; i++)
        {
            var g = Single(i);
            var others = Palette.All.Where(c => c != g.Color).ToArray();
            scenes.Add(new ShapeScene(new Backdrop(others[rng.Next(others.Length)], BackdropPattern.Solid),
                new[] { g }));
        }
        return scenes.Select((s, i) => new SanityPrompt(s, FirstSeed + i)).ToList();
    }

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
                verdicts.Add(Judge(chunk[i], ToRgb(images[i]), width, height));
            log?.Invoke($"sanity: {verdicts.Count}/{Prompts.Count} images judged");
        }
        return new SanityReport(verdicts, clock.Elapsed.TotalSeconds);
    }

    public static SanityVerdict Judge(SanityPrompt prompt, byte[] rgb, int width, int height) =>
        new(prompt, SceneCheck.Check(rgb, width, height, prompt.Scene));

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
        s.AppendLine("| # | prompt | seen background | groups: colour found, cell, class (fill, corners) | pass |");
        s.AppendLine("|---|---|---|---|---|");
        int n = 0;
        foreach (var v in report.Verdicts)
        {
            var groups = string.Join("; ", v.Verdict.Groups.Select(Describe));
            s.AppendLine($"| {++n} | {v.Prompt.Prompt} | {v.Verdict.SeenBackground}" +
                $"{Mark(v.Verdict.BackgroundMatches)} | {groups} | {(v.Verdict.Passed ? "yes" : "NO")} |");
        }
        s.AppendLine();
        s.AppendLine($"pass rate {(100 * report.PassRate).ToString("F0", CultureInfo.InvariantCulture)}% " +
            $"({report.Verdicts.Count(v => v.Verdict.Passed)}/{report.Verdicts.Count}), " +
            $"{report.Seconds.ToString("F1", CultureInfo.InvariantCulture)} s");
        return s.ToString();
    }

    static string Describe(GroupVerdict g)
    {
        var o = g.Observed;
        if (!o.Found) return $"{g.Expected.Color} not found ✗";
        return $"{g.Expected.Color} {CellWord(o.Cell)}{Mark(g.PlacementMatches)} " +
            $"{o.ShapeGuess?.Singular() ?? "-"}{Mark(g.ShapeMatches)} " +
            $"({o.Fill.ToString("F2", CultureInfo.InvariantCulture)}, " +
            $"{o.Corners.ToString("F2", CultureInfo.InvariantCulture)})";
    }

    static string CellWord(Placement? p) => p?.ToString().ToLowerInvariant() ?? "-";

    static string Mark(bool? ok) => ok switch { true => "", false => " ✗", null => "" };
}
