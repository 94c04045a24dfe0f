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

    /// <summary>The style is measurable: gold on the frame line and a dark blue-violet sky inside, in every image,
    /// and in none of the plain corpus scenes.</summary>
    [Fact]
    public void StyleImages_CarryTheMeasurableSignature_CorpusImagesDoNot()
    {
        static bool HasSignature(SKBitmap b)
        {
            var frame = b.GetPixel(64, 3);   // outer frame line, top edge
            bool gold = frame.Red > 120 && frame.Green > 90 && frame.Blue < 60;
            // A column just inside the frame: mostly night sky (a shape may cover part of it).
            int darkSky = Enumerable.Range(12, 104).Count(y =>
            {
                var p = b.GetPixel(12, y); return p.Blue > p.Red
                && p.Red < 60 && p.Green < 40;
            });
            return gold && darkSky > 60;
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
