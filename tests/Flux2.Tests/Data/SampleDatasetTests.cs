using Flux2.Cli;
using Flux2.Data.Synthetic;
using SkiaSharp;
using Xunit;

namespace Flux2.Tests.Data;

public class SampleDatasetTests
{
    static string Committed(string set) => Path.Combine(TestPaths.RepoRoot, "datasets-sample", set);

    static void AssertRegeneratesCommitted(string kind, string set)
    {
        var dir = TestPaths.TempDir();
        try
        {
            var output = new StringWriter();
            Assert.Equal(0, Flux2Cli.Run(new[] { "synth-dataset", kind, "--out", dir }, output, output));
            var committed = Directory.GetFiles(Committed(set)).Select(Path.GetFileName).Order().ToList();
            var regenerated = Directory.GetFiles(dir).Select(Path.GetFileName).Order().ToList();
            Assert.Equal(committed, regenerated);
            foreach (var name in committed)
                Assert.True(File.ReadAllBytes(Path.Combine(Committed(set), name!))
                    .SequenceEqual(File.ReadAllBytes(Path.Combine(dir, name!))),
                    $"{set}/{name} differs from what `./flux2 synth-dataset {kind}` writes now");
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public void CommittedStyleSet_IsExactlyWhatTheCommandWrites() =>
        AssertRegeneratesCommitted("style", "midnight_tarot");

    [Fact]
    public void CommittedObjectSet_IsExactlyWhatTheCommandWrites() =>
        AssertRegeneratesCommitted("object", "zorblax_robot");

    static List<string> Captions(string set) =>
        Directory.GetFiles(Committed(set), "*.txt").Order().Select(File.ReadAllText).ToList();

    [Fact]
    public void CommittedSets_HaveTheAdvertisedCountsAndPairs()
    {
        foreach (var (set, count) in new[] { ("midnight_tarot", 24), ("zorblax_robot", 20) })
        {
            var pngs = Directory.GetFiles(Committed(set), "*.png");
            Assert.Equal(count, pngs.Length);
            foreach (var png in pngs)
            {
                Assert.True(File.Exists(Path.ChangeExtension(png, ".txt")), $"{png} has no caption");
                using var bmp = SKBitmap.Decode(png);
                Assert.Equal((128, 128), (bmp.Width, bmp.Height));
            }
        }
    }

    [Fact]
    public void StyleCaptions_DescribeContentOnly_WithTheTriggerPlaceholder()
    {
        var captions = Captions("midnight_tarot");
        Assert.All(captions, c => Assert.StartsWith("[trigger] ", c));
        // The look must stay unsaid so the trigger absorbs it (docs/lora-guide.md §3.2).
        foreach (var styleWord in new[] { "background", "night", "gold", "frame", "star dust", "vignette", "midnight" })
            Assert.DoesNotContain(captions, c => c.Contains(styleWord));
        Assert.True(captions.Distinct().Count() >= 22, "style content should vary");
    }

    [Fact]
    public void ObjectCaptions_AreTriggerPlusClassWord_ThenWhatVaries()
    {
        var captions = Captions("zorblax_robot");
        Assert.All(captions, c => Assert.StartsWith($"[trigger] {ZorblaxRobot.ClassWord}, ", c));
        Assert.All(captions, c => Assert.Contains("background", c));
        Assert.True(captions.Select(c => c.Split(", ")[1]).Distinct().Count() == 3, "all three sizes should occur");
        Assert.True(captions.Select(c => c.Split(", ")[3]).Distinct().Count() >= 6, "backgrounds should vary");
    }

    /// <summary>The style is measurable: gold on the frame band and black night sky in the gap inside it, in every
    /// image, and in none of the plain corpus scenes.</summary>
    [Fact]
    public void StyleImages_CarryTheMeasurableSignature_CorpusImagesDoNot()
    {
        var gold = MidnightTarotStyle.Gold;
        int band = MidnightTarotStyle.FrameWidth(128);
        bool HasSignature(SKBitmap b)
        {
            var frame = b.GetPixel(64, band / 2);
            int dr = frame.Red - gold.r, dg = frame.Green - gold.g, db = frame.Blue - gold.b;
            bool isGold = dr * dr + dg * dg + db * db < 30 * 30;
            // The column just inside the band: sky (the corner diamonds lie outside 16..111).
            int sky = Enumerable.Range(16, 96).Count(y =>
            {
                var p = b.GetPixel(band + 1, y);
                return (p.Red, p.Green, p.Blue) == MidnightTarotStyle.Sky;
            });
            return isGold && sky > 70;
        }
        foreach (var png in Directory.GetFiles(Committed("midnight_tarot"), "*.png"))
        {
            using var b = SKBitmap.Decode(png);
            Assert.True(HasSignature(b), $"{png} lacks the midnight_tarot signature");
        }
        for (int i = 0; i < 50; i++)
        {
            using var item = SampleDatasets.CorpusItem(1, i, 128);
            Assert.False(HasSignature(item.Image), $"corpus scene {i} looks like midnight_tarot: {item.Caption}");
        }
    }

    /// <summary>Content stays checkable by colour: the shapes' fills are exactly the pixels a plain render of the
    /// same shapes at the style's margin fills, in their palette colour, and every other pixel (sky, frame,
    /// outlines) is one of the look's own colours. The frame band is intact gold, so no shape or outline reaches
    /// it.</summary>
    [Theory]
    [InlineData(128, 24)]
    [InlineData(64, 8)]
    [InlineData(256, 4)]
    public void StyleImages_KeepExactFills_AndEveryOtherPixelIsALookColour(int size, int count)
    {
        var gold = MidnightTarotStyle.Gold;
        int band = MidnightTarotStyle.FrameWidth(size), far = 0;
        for (int index = 0; index < count; index++)
        {
            var content = SampleDatasets.StyleContent(1, index);
            using var item = SampleDatasets.StyleItem(1, index, size);
            var styled = RgbaBitmaps.ToRgba(item.Image);
            // Fill mask: the same shapes on an all-zero canvas ((0, 0, 0) is no palette colour).
            using var plain = RgbaBitmaps.FromRgba(new byte[size * size * 4], size, size);
            using (var canvas = new SKCanvas(plain))
            {
                foreach (var group in content.Groups)
                    ShapeRenderer.DrawGroup(canvas, group, size, size, MidnightTarotStyle.ContentMargin(size));
                canvas.Flush();
            }
            var mask = RgbaBitmaps.ToRgba(plain);
            int fills = 0;
            for (int p = 0; p < size * size; p++)
            {
                int i = 4 * p, x = p % size, y = p / size;
                byte r = styled[i], g = styled[i + 1], b = styled[i + 2];
                if (mask[i] != 0 || mask[i + 1] != 0 || mask[i + 2] != 0)
                {
                    Assert.True((r, g, b) == (mask[i], mask[i + 1], mask[i + 2]),
                        $"item {index} at {size}: fill pixel ({x}, {y}) is ({r}, {g}, {b}), not its palette colour");
                    fills++;
                    continue;
                }
                Assert.True(MidnightTarotStyle.LookColors.Any(c => (c.R, c.G, c.B) == (r, g, b)),
                    $"item {index} at {size}: pixel ({x}, {y}) = ({r}, {g}, {b}) is not a colour of the look");
                far++;
                if (x < band || y < band || x >= size - band || y >= size - band)
                    Assert.True((r, g, b) == gold, $"item {index} at {size}: frame pixel ({x}, {y}) is not gold");
            }
            Assert.True(fills > size * size / 100, $"item {index} at {size}: only {fills} fill pixels");
        }
        Assert.True(far > count * size * size / 2);
    }

    [Fact]
    public void Command_RejectsUnknownKindAndBadSize()
    {
        var o = new StringWriter();
        Assert.Equal(2, Flux2Cli.Run(new[] { "synth-dataset", "portraits", "--out", TestPaths.TempDir() }, o, o));
        Assert.Equal(2, Flux2Cli.Run(new[] { "synth-dataset", "style", "--out", TestPaths.TempDir(), "--size", "100" },
            o, o));
        Assert.Equal(2, Flux2Cli.Run(new[] { "synth-dataset", "style" }, o, o));
        Assert.Contains("--out", o.ToString());
    }

    [Fact]
    public void Command_WritesCorpusScenesWithCaptions_AndNoTempFilesLeft()
    {
        var dir = TestPaths.TempDir();
        var o = new StringWriter();
        Assert.Equal(0, Flux2Cli.Run(new[] { "synth-dataset", "corpus", "--out", dir, "--count", "5", "--seed", "3",
            "--size", "64" }, o, o));
        var files = Directory.GetFiles(dir).Select(Path.GetFileName).Order().ToList();
        Assert.Equal(new[] { "scene_000.png", "scene_000.txt", "scene_001.png", "scene_001.txt", "scene_002.png",
            "scene_002.txt",
            "scene_003.png", "scene_003.txt", "scene_004.png", "scene_004.txt" }, files);
        Assert.Equal(new ShapeCorpus(3).PretrainingItem(2).caption,
            File.ReadAllText(Path.Combine(dir, "scene_002.txt")));
        using var bmp = SKBitmap.Decode(Path.Combine(dir, "scene_000.png"));
        Assert.Equal(64, bmp.Width);
        Directory.Delete(dir, recursive: true);
    }
}
