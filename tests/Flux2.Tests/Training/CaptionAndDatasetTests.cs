using Flux2.Training.Config;
using Flux2.Training.Data;
using Xunit;

namespace Flux2.Tests.Training;

public class CaptionAndDatasetTests
{
    [Theory]
    [InlineData("a [trigger] card", "zqx", "a zqx card")]
    [InlineData("a red card", "zqx", "zqx a red card")]        // trigger absent: prepended
    [InlineData("zqx, a red card", "zqx", "zqx, a red card")]  // already present: unchanged
    [InlineData("", "zqx", "zqx")]                             // dropped caption trains as the trigger alone
    [InlineData("a [trigger] card", null, "a card")]           // no trigger: placeholder removed
    [InlineData("[trigger], a card", null, "a card")]
    public void TrainingCaptionsGetTheTrigger(string caption, string? trigger, string expected)
        => Assert.Equal(expected, CaptionRules.InjectTrigger(caption, trigger, addIfMissing: true));

    [Fact]
    public void SamplePromptsOnlySubstituteAndHaveATriggerFreeTwin()
    {
        Assert.Equal("a red card", CaptionRules.InjectTrigger("a red card", "zqx", addIfMissing: false));
        Assert.Equal("a zqx card", CaptionRules.InjectTrigger("a [trigger] card", "zqx", addIfMissing: false));
        Assert.Equal("a card", CaptionRules.WithoutTrigger("a [trigger] card", "zqx"));
        Assert.True(CaptionRules.MentionsTrigger("[trigger] card", "zqx"));
        Assert.False(CaptionRules.MentionsTrigger("a card", "zqx"));
    }

    [Fact]
    public void CaptionDropoutRateIsHonoured()
    {
        var rng = new Random(1);
        int dropped = Enumerable.Range(0, 4000).Count(_ =>
            CaptionRules.ForTraining("a [trigger] card", "zqx", 0.25, false, 0, rng) == "zqx");
        Assert.InRange(dropped / 4000.0, 0.22, 0.28);
        Assert.All(Enumerable.Range(0, 100), _ => Assert.Equal("a zqx card",
            CaptionRules.ForTraining("a [trigger] card", "zqx", 0, false, 0, rng)));
    }

    [Fact]
    public void ShuffleKeepsTheFirstTokensAndAllTokens()
    {
        var rng = new Random(3);
        for (int i = 0; i < 20; i++)
        {
            var s = CaptionRules.ShuffleTokens("first, b, c, d, e", keepTokens: 1, rng);
            Assert.StartsWith("first, ", s);
            Assert.Equal(new[] { "b", "c", "d", "e", "first" }, s.Split(", ").Order());
        }
    }

    [Theory]
    [InlineData(1024, 1024, 512, 16, 512, 512)]
    [InlineData(300, 200, 512, 16, 288,
        208)]   // smaller than R²: never upscaled; 288·208 is the /16 area nearest 300·200
    [InlineData(2000, 1000, 512, 16, 736, 352)]  // 736·352 ≤ 512², nearest to it
    public void BucketsFollowAiToolkitRules(int w, int h, int r, int d, int bw, int bh)
    {
        var (x, y) = BucketResolver.BucketFor(w, h, r, d);
        Assert.Equal((bw, bh), (x, y));
        Assert.True(x * y <= r * r && x % d == 0 && y % d == 0);
    }

    [Fact]
    public void ScanSkipsCorruptImagesNotesMissingCaptionsAndExpandsFlipsRepeatsAndResolutions()
    {
        var dir = TempDataset.Create(count: 3, width: 40, height: 32, caption: i => i == 2 ? null : $"card {i}");
        File.WriteAllText(Path.Combine(dir, "broken.png"), "not an image");
        var config = new DatasetConfig
        {
            FolderPath = dir,
            DefaultCaption = "a card",
            FlipX = true,
            NumRepeats = 2,
            Resolution = new() { 32, 16 }
        };
        var scan = DatasetScanner.Scan(new[] { config }, pixelMultiple: 4);
        Assert.Equal(3, scan.ImageCount);
        var skipped = Assert.Single(scan.Problems, p => p.Skipped);
        Assert.EndsWith("broken.png", skipped.Path);
        var note = Assert.Single(scan.Problems, p => !p.Skipped);
        Assert.Contains("no caption file img2.txt", note.Message);
        Assert.Equal(3 * 2 * 2 * 2, scan.Items.Count);  // images × resolutions × flips × repeats
        Assert.Equal("a card", scan.Items.First(i => i.ImagePath.EndsWith("img2.png")).Caption);
        Assert.Contains(scan.Items, i => i.FlipX);
        Assert.All(scan.Items, i => Assert.True(i.Width % 4 == 0 && i.Height % 4 == 0));
        Assert.Contains("1 skipped", scan.Summary());
    }

    [Fact]
    public void ScanWithNoUsableImagesFailsWithTheReasons()
    {
        var dir = TestPaths.TempDir();
        File.WriteAllText(Path.Combine(dir, "x.png"), "junk");
        var e = Assert.Throws<InvalidDataException>(() => DatasetScanner.Scan(new[] {
            new DatasetConfig { FolderPath = dir } }, 16));
        Assert.Contains("x.png", e.Message);
    }

    [Fact]
    public void BatchesNeverMixBucketsAndPadShortBatchesWithTheirOwnItems()
    {
        var items = Enumerable.Range(0, 5).Select(i => new DatasetItem($"a{i}", "", 32, 32, false, false, 0))
            .Concat(Enumerable.Range(0, 3).Select(i => new DatasetItem($"b{i}", "", 48, 32, false, false, 0))).ToList();
        var order = new BatchOrder(items, 2, new Random(0));
        var seen = new HashSet<int>();
        for (int k = 0; k < 5; k++)   // 3 batches of the 5 + 2 of the 3 = one epoch
        {
            var batch = order.Next();
            Assert.Single(batch.Select(i => items[i].BucketKey).Distinct());
            seen.UnionWith(batch);
        }
        Assert.Equal(8, seen.Count);
        Assert.Equal(1, order.Epoch);
    }
}
