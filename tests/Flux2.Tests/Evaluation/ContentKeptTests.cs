using Flux2.Data.Synthetic;
using Flux2.Evaluation;
using Flux2.Tests.Data;
using SkiaSharp;
using Xunit;
using Xunit.Abstractions;

namespace Flux2.Tests.Evaluation;

/// <summary>Content kept and the held-out style prompts, validated on rendered images: the renderer's own images of
/// the evaluation prompts keep their content, a "LoRA" that paints everything dark keeps none.</summary>
public class ContentKeptTests(ITestOutputHelper output)
{
    const int Size = 128;
    const int Seeds = 3;

    static byte[] Rgb(SKBitmap bmp)
    {
        using (bmp) return RgbaBitmaps.ToRgb(bmp);
    }

    /// <summary>The style prompts drawn in the midnight_tarot look, one image per (seed, prompt), seed-major.</summary>
    static List<byte[]> Styled(IReadOnlyList<EvalPrompt> prompts) =>
        Enumerable.Range(0, Seeds).SelectMany(seed => prompts.Select(p => Rgb(MidnightTarotStyle.Render(
            new ShapeScene(Backdrop.Plain, p.Content!), Size, Size)))).ToList();

    /// <summary>An object prompt drawn as the sample robot at the size and place it asks, the way the object sample
    /// set draws it, on its solid background.</summary>
    static byte[] Robot(EvalObject o, Placement? moveTo = null)
    {
        var bitmap = RgbaBitmaps.FromRgba(BackdropPainter.Paint(new Backdrop(o.Background, BackdropPattern.Solid),
            Size, Size), Size, Size);
        using (var canvas = new SKCanvas(bitmap))
        {
            int h = (int)Math.Round(ZorblaxRobot.HeightFraction(o.Size) * Size),
                w = (int)Math.Round(ZorblaxRobot.WidthRatio * h);
            var (fx, fy) = (moveTo ?? o.Placement).Center();
            int m = ShapeRenderer.BorderMargin;
            ZorblaxRobot.Draw(canvas, Math.Clamp((int)Math.Round(fx * Size), m + w / 2, Size - m - w / 2),
                Math.Clamp((int)Math.Round(fy * Size), m + h / 2, Size - m - h / 2), h);
        }
        return Rgb(bitmap);
    }

    /// <summary>Everything painted a dark night blue with pale specks: the look of a style, none of the
    /// content.</summary>
    static byte[] Dark(int seed)
    {
        var rng = new Random(seed);
        var rgb = new byte[Size * Size * 3];
        for (int i = 0; i < Size * Size; i++)
        {
            bool speck = rng.Next(90) == 0;
            rgb[3 * i] = (byte)(speck ? 255 : 20 + rng.Next(10));
            rgb[3 * i + 1] = (byte)(speck ? 236 : 18 + rng.Next(10));
            rgb[3 * i + 2] = (byte)(speck ? 170 : 60 + rng.Next(20));
        }
        return rgb;
    }

    [Fact]
    public void StylePrompts_RenderedInTheStyle_KeepTheirContent_DarkPaintKeepsNone()
    {
        var prompts = EvalPrompts.For("midnight_tarot", null);
        Assert.All(prompts, p => Assert.All(p.Content!, g => Assert.Contains(g.Color, EvalPrompts.StyleColours)));
        double kept = ContentKept.Share(prompts, Styled(prompts), Size, Size);
        double dark = ContentKept.Share(prompts, Enumerable.Range(0, Seeds * prompts.Count).Select(Dark).ToList(),
            Size, Size);
        output.WriteLine($"styled {kept:P0}, dark {dark:P0}");
        foreach (var p in prompts)
        {
            using var bmp = MidnightTarotStyle.Render(new ShapeScene(Backdrop.Plain, p.Content!), Size, Size);
            var v = SceneCheck.Check(bmp, new ShapeScene(Backdrop.Plain, p.Content!));
            if (!v.Passed)
                output.WriteLine($"{p.WithoutTrigger}: {string.Join("; ", v.Groups.Select(g => g.Observed))}");
        }
        Assert.True(kept >= 0.95, $"content kept on the style's own rendering: {kept:P0}");
        Assert.True(dark <= 0.10, $"content kept on dark paint: {dark:P0}");
    }

    [Fact]
    public void ObjectPrompts_SampleRobotWhereAsked_IsKept_MovedOrDarkIsNot()
    {
        var prompts = EvalPrompts.For("zorblax", ZorblaxRobot.ClassWord);
        var right = prompts.Select(p => Robot(p.Object!)).ToList();
        Assert.Equal(1.0, ContentKept.Share(prompts, right, Size, Size));
        // Moved to the mirrored cell (prompts in the center stay there, so only the others count).
        var moved = prompts.Where(p => p.Object!.Placement != Placement.Center).ToList();
        var mirrored = moved.Select(p => Robot(p.Object!, TestScenes.Mirror(p.Object!.Placement))).ToList();
        Assert.Equal(0.0, ContentKept.Share(moved, mirrored, Size, Size));
        var dark = Enumerable.Range(0, prompts.Count).Select(Dark).ToList();
        Assert.True(ContentKept.Share(prompts, dark, Size, Size) <= 0.10);
    }


    [Fact]
    public void HeldOutStylePrompts_UseNoClassColourPairOfTheDataset_AndKeepTheirContentWhenStyled()
    {
        var dataset = Path.Combine(TestPaths.RepoRoot, "datasets-sample", "midnight_tarot");
        var held = EvalPrompts.HeldOutStyle("midnight_tarot", dataset);
        Assert.NotNull(held);
        Assert.Equal(EvalPrompts.HeldOutCount, held!.Count);
        var captions = Directory.GetFiles(dataset, "*.txt").Select(File.ReadAllText).ToList();
        var seen = captions.Select(c => SceneCaption.ParseContent(c.Replace("[trigger]", "").Trim()))
            .Where(g => g != null).SelectMany(g => g!).Select(g => (g.Kind, g.Color)).ToHashSet();
        Assert.True(seen.Count >= 10, $"only {seen.Count} (class, colour) pairs parsed from {captions.Count} captions");
        Assert.All(held, p => Assert.All(p.Content!, g =>
        {
            Assert.DoesNotContain((g.Kind, g.Color), seen);
            Assert.Contains(g.Color, EvalPrompts.StyleColours);
        }));
        Assert.All(held, p => Assert.StartsWith("midnight_tarot ", p.WithTrigger));
        foreach (var p in held) output.WriteLine(p.WithTrigger);
        Assert.True(ContentKept.Share(held, Styled(held), Size, Size) >= 0.95);
    }

    [Fact]
    public void CaptionParser_ReadsEveryCorpusCaptionBack()
    {
        var corpus = new ShapeCorpus(5);
        for (int i = 0; i < 300; i++)
        {
            var scene = corpus.Sample(i);
            Assert.Equal(scene.Groups, SceneCaption.ParseContent(SceneCaption.Content(scene)));
        }
        Assert.Null(SceneCaption.ParseContent("a watercolour painting of a cat"));
        Assert.Null(SceneCaption.ParseContent("robot, small, at the left, on a yellow background"));
    }

    /// <summary>Which colours stay findable on the committed midnight_tarot images: every group of a style-prompt
    /// colour (not black, not yellow) is found in its cell; black and yellow are reported, not asserted (they are
    /// the look's own sky and gold).</summary>
    [Fact]
    public void CommittedStyleImages_StyleColoursAreFoundWhereTheirCaptionsSay()
    {
        var dataset = Path.Combine(TestPaths.RepoRoot, "datasets-sample", "midnight_tarot");
        var perColour = new Dictionary<string, (int n, int found)>();
        foreach (var png in EvalPrompts.DatasetImages(dataset))
        {
            var groups = SceneCaption.ParseContent(
                File.ReadAllText(Path.ChangeExtension(png, ".txt")).Replace("[trigger]", "").Trim());
            if (groups is null) continue;
            using var bmp = SKBitmap.Decode(png);
            var verdict = SceneCheck.Check(bmp, new ShapeScene(Backdrop.Plain, groups));
            foreach (var g in verdict.Groups)
            {
                var (n, f) = perColour.GetValueOrDefault(g.Expected.Color.Name);
                perColour[g.Expected.Color.Name] = (n + 1, f + (g.ColourFound && g.PlacementMatches != false ? 1 : 0));
            }
        }
        foreach (var (c, (n, f)) in perColour) output.WriteLine($"{c}: {f}/{n} found in their cell");
        var style = perColour.Where(kv => EvalPrompts.StyleColours.Any(c => c.Name == kv.Key)).ToList();
        Assert.True(style.Sum(kv => kv.Value.n) >= 15);
        Assert.True(style.Sum(kv => kv.Value.found) >= 0.95 * style.Sum(kv => kv.Value.n),
            string.Join(", ", style.Select(kv => $"{kv.Key} {kv.Value.found}/{kv.Value.n}")));
    }
}
