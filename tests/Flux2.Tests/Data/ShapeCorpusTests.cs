using Flux2.Data.Synthetic;
using Xunit;

namespace Flux2.Tests.Data;

public class ShapeCorpusTests
{
    static byte[] Png(ShapeScene scene)
    {
        using var bmp = ShapeCorpus.Render(scene, 128, 128);
        return RgbaBitmaps.EncodePng(bmp);
    }

    [Fact]
    public void SameSeedAndIndex_GiveByteIdenticalPngAndCaption()
    {
        for (int i = 0; i < 20; i++)
        {
            var a = new ShapeCorpus(42).Sample(i);
            var b = new ShapeCorpus(42).Sample(i);
            Assert.Equal(ShapeCorpus.Caption(a), ShapeCorpus.Caption(b));
            Assert.Equal(Png(a), Png(b));
        }
    }

    [Fact]
    public void Sample_DependsOnlyOnSeedAndIndex_NotOnWhatWasDrawnBefore()
    {
        var corpus = new ShapeCorpus(7);
        for (int i = 0; i < 50; i++) corpus.Sample(i);
        var late = corpus.Sample(1_000_000);
        Assert.Equal(ShapeCorpus.Caption(new ShapeCorpus(7).Sample(1_000_000)), ShapeCorpus.Caption(late));
    }

    [Fact]
    public void DifferentSeedsOrIndices_GiveVariedScenes()
    {
        var captions = Enumerable.Range(0, 200).Select(i => ShapeCorpus.Caption(new ShapeCorpus(1).Sample(i)))
            .ToHashSet();
        Assert.True(captions.Count >= 195, $"only {captions.Count} distinct captions in 200 samples");
        Assert.NotEqual(ShapeCorpus.Caption(new ShapeCorpus(1).Sample(3)),
            ShapeCorpus.Caption(new ShapeCorpus(2).Sample(3)));
    }

    [Fact]
    public void Scenes_StayWithinTheirRules_AndCoverTheVocabulary()
    {
        var scenes = Enumerable.Range(0, 2000).Select(i => new ShapeCorpus(5).Sample(i)).ToList();
        foreach (var s in scenes)
        {
            Assert.InRange(s.ShapeCount, 1, 3);
            Assert.All(s.Groups, g => Assert.NotEqual(s.Background.Color, g.Color));
            if (s.Groups.Count == 2) Assert.All(s.Groups, g => Assert.NotEqual(ShapeSize.Large, g.Size));
        }
        Assert.Equal(ShapeKindWords.Geometric.Count, scenes.SelectMany(s => s.Groups).Select(g => g.Kind)
            .Distinct().Count());
        Assert.Equal(Palette.All.Count, scenes.Select(s => s.Background.Color).Distinct().Count());
        Assert.Equal(Enum.GetValues<BackdropPattern>().Length, scenes.Select(s => s.Background.Pattern).Distinct()
            .Count());
        Assert.Contains(scenes, s => s.ShapeCount == 3);
        Assert.All(Enumerable.Range(0, 300).Select(i => new ShapeCorpus(5, maxShapes: 1).Sample(i)),
            s => Assert.Equal(1, s.ShapeCount));
    }

    [Fact]
    public void Captions_ReadAsPlainEnglish()
    {
        var single = new ShapeScene(new Backdrop(Palette.Blue, BackdropPattern.Solid),
            new[] { new ShapeGroup(ShapeKind.Circle, Palette.Red, ShapeSize.Large, Placement.Center) });
        Assert.Equal("a large red circle in the center on a blue background", ShapeCorpus.Caption(single));

        var two = new ShapeScene(new Backdrop(Palette.Green, BackdropPattern.Stripes), new[]
        {
            new ShapeGroup(ShapeKind.Star, Palette.Yellow, ShapeSize.Small, Placement.TopLeft, 2),
            new ShapeGroup(ShapeKind.Cross, Palette.Orange, ShapeSize.Medium, Placement.BottomRight),
        });
        Assert.Equal("two small yellow stars at the top left and a medium orange cross at the bottom right on a " +
            "striped green background",
            ShapeCorpus.Caption(two));
        Assert.Equal("on an orange gradient background", new Backdrop(Palette.Orange, BackdropPattern.Gradient).Phrase);
    }

    [Fact]
    public void Render_PutsTheShapeColourWhereTheCaptionSays()
    {
        var scene = new ShapeScene(new Backdrop(Palette.Blue, BackdropPattern.Solid),
            new[] { new ShapeGroup(ShapeKind.Square, Palette.Red, ShapeSize.Medium, Placement.TopLeft) });
        using var bmp = ShapeCorpus.Render(scene, 128, 128);
        var (fx, fy) = Placement.TopLeft.Center();
        Assert.Equal(new SkiaSharp.SKColor(220, 30, 30), bmp.GetPixel((int)(fx * 128), (int)(fy * 128)));
        Assert.Equal(new SkiaSharp.SKColor(30, 70, 230), bmp.GetPixel(100, 100));
        Assert.Equal(new SkiaSharp.SKColor(30, 70, 230), bmp.GetPixel(0, 0));
    }

    [Fact]
    public void Layout_KeepsEveryShapeInsideTheBorderMargin()
    {
        // The largest size the generator allows for each count.
        foreach (var (size, count) in new[] { (ShapeSize.Large, 1), (ShapeSize.Medium, 2), (ShapeSize.Small, 3) })
            foreach (var p in Enum.GetValues<Placement>())
                foreach (var s in ShapeLayout.Place(p, count, size.Fraction(), 128, 128, ShapeRenderer.BorderMargin))
                {
                    float r = s.Diameter / 2, lo = ShapeRenderer.BorderMargin, hi = 128 - ShapeRenderer.BorderMargin;
                    Assert.True(s.X - r >= lo && s.X + r <= hi && s.Y - r >= lo && s.Y + r <= hi,
                        $"{count} {size} at {p}: {s}");
                }
    }

    [Fact]
    public void PretrainingItems_NeverAskForAHeldOutCombination_AndMixEveryCaptionForm()
    {
        var corpus = new ShapeCorpus(20261126);
        var items = Enumerable.Range(0, 3000).Select(i => corpus.PretrainingItem(i)).ToList();
        Assert.All(items, item => Assert.DoesNotContain(item.scene.Groups,
            g => ShapeCorpus.IsHeldOut(g.Kind, g.Color, g.Placement)));
        double plain = items.Count(t => t.scene.Background == Backdrop.Plain) / (double)items.Count;
        Assert.InRange(plain, 0.45, 0.55);
        Assert.All(items.Where(t => t.scene.Background == Backdrop.Plain), t =>
            Assert.DoesNotContain("background", t.caption));
        Assert.All(items.Where(t => t.scene.Background != Backdrop.Plain),
            t => Assert.Contains("background", t.caption));
        var robots = items.Where(t => t.scene.Groups.Any(g => g.Kind == ShapeKind.Robot)).ToList();
        Assert.InRange(robots.Count / (double)items.Count, 0.07, 0.15);
        Assert.Contains(robots, t => t.caption.StartsWith("robot, ", StringComparison.Ordinal));
        Assert.Contains(robots, t => t.caption.Contains(" robot", StringComparison.Ordinal));
        Assert.Equal(items[17].caption, corpus.PretrainingItem(17).caption);
    }

    [Fact]
    public void HeldOutCombinations_AreAboutOneInEight_AndCoverEveryShapeAndColour()
    {
        var all = (from k in Enum.GetValues<ShapeKind>()
                   from c in Palette.All
                   from p in Enum.GetValues<Placement>()
                   select (k, c, p)).ToList();
        var held = all.Where(t => ShapeCorpus.IsHeldOut(t.k, t.c, t.p)).ToList();
        Assert.InRange(held.Count / (double)all.Count, 0.09, 0.16);
        Assert.Equal(Enum.GetValues<ShapeKind>().Length, held.Select(t => t.k).Distinct().Count());
        Assert.Equal(Palette.All.Count, held.Select(t => t.c).Distinct().Count());
    }

    [Fact]
    public void PlainBackdrop_IsFarFromEveryPaletteColour_AndCaptionsWithoutABackground()
    {
        var plain = Backdrop.Plain.Color;
        Assert.All(Palette.All, c => Assert.True(c.DistanceSquared(plain.R, plain.G, plain.B) >= 75 * 75, c.Name));
        var scene = new ShapeScene(Backdrop.Plain,
            new[] { new ShapeGroup(ShapeKind.Circle, Palette.Red, ShapeSize.Large, Placement.Center) });
        Assert.Equal("a large red circle in the center", SceneCaption.Describe(scene));
        var robot = scene with { Groups = new[] { scene.Groups[0] with { Kind = ShapeKind.Robot } } };
        Assert.Equal("robot, large, in the center", SceneCaption.ObjectForm(robot));
        Assert.Equal("robot, large, in the center, on a blue background",
            SceneCaption.ObjectForm(robot with { Background = new Backdrop(Palette.Blue, BackdropPattern.Solid) }));
    }
}
