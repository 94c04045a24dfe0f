using Flux2.Training.Data;
using Xunit;

namespace Flux2.Tests.Training;

/// <summary>Table-driven: aspect buckets (docs/ai-toolkit-compat.md §2.7) and caption/trigger rules (§2.6).</summary>
public class BucketAndCaptionTableTests
{
    [Theory]
    [InlineData(1024, 1024, 512, 512, 512)]    // square, downscaled
    [InlineData(1920, 1080, 1024, 1360, 768)]  // 16:9; 1376x768 would exceed 1024²
    [InlineData(1080, 1920, 512, 384, 672)]    // 9:16 portrait
    [InlineData(2048, 1024, 1024, 1456, 720)]  // 2:1, area closest to R² wins
    [InlineData(512, 2048, 512, 256, 1024)]    // 1:4 exactly on the grid
    [InlineData(3000, 2000, 768, 944, 624)]    // 3:2
    [InlineData(800, 600, 1024, 800, 592)]     // smaller than R²: never upscaled, only snapped to 16
    [InlineData(64, 64, 512, 64, 64)]          // tiny image keeps its size
    [InlineData(1024, 768, 512, 576, 448)]     // 4:3
    public void BucketForAspectRatio(int w, int h, int resolution, int expectedW, int expectedH)
        => Assert.Equal((expectedW, expectedH), BucketResolver.BucketFor(w, h, resolution, 16));

    [Fact]
    public void EveryBucketIsOnTheGridWithinTheAreaAndNeverUpscaled()
    {
        var rng = new Random(5);
        for (int n = 0; n < 5000; n++)
        {
            int w = rng.Next(16, 6000), h = rng.Next(16, 6000), r = new[] { 256, 512, 768, 1024, 1536 }[rng.Next(5)];
            var (bw, bh) = BucketResolver.BucketFor(w, h, r, 16);
            string at = $"{w}x{h} @ {r} -> {bw}x{bh}";
            Assert.True(bw % 16 == 0 && bh % 16 == 0, at);
            Assert.True((long)bw * bh <= (long)r * r, at);
            // No upscaling: a side may only grow by the rounding to the 16-pixel grid.
            Assert.True(bw <= (w + 15) / 16 * 16 && bh <= (h + 15) / 16 * 16, at);
        }
    }

    [Theory]
    [InlineData("[TRIGGER] card", "zqx", "zqx card")]         // placeholder is case-insensitive
    [InlineData("a [name] card", "zqx", "a zqx card")]        // [name] is a synonym
    [InlineData("photo of zqx", "zqx", "photo of zqx")]       // present: not added again
    [InlineData("a card, [trigger]", "zqx", "a card, zqx")]   // kept where the caption put it
    [InlineData("a card", "", "a card")]                      // empty trigger: nothing added
    [InlineData("[trigger]", null, "")]
    [InlineData("a  [trigger], card", null, "a, card")]       // removal leaves no stray spaces
    public void TriggerInjection(string caption, string? trigger, string expected)
        => Assert.Equal(expected, CaptionRules.InjectTrigger(caption, trigger, addIfMissing: true));

    [Theory]
    [InlineData("a [trigger] card", "zqx", 1.0, "zqx")]       // dropped: the trigger alone
    [InlineData("a [trigger] card", null, 1.0, "")]           // dropped without trigger: blank
    [InlineData("a [trigger] card", "zqx", 0.0, "a zqx card")]
    [InlineData("a red card", "zqx", 0.0, "zqx a red card")]
    public void TrainingCaptionWithDropout(string caption, string? trigger, double dropout, string expected)
        => Assert.Equal(expected, CaptionRules.ForTraining(caption, trigger, dropout, false, 0, new Random(1)));

    [Theory]
    [InlineData("photo of zqx", "zqx", "woman", "photo of woman")]
    [InlineData("zqx a red card", "zqx", "", "a red card")]
    [InlineData("zqx robot, zqx", "zqx", "robot", "robot robot, robot")]
    public void PreservationCaptionSwapsTheTriggerForTheClassWord(string caption, string trigger, string classWord,
        string expected)
        => Assert.Equal(expected, CaptionRules.ForPreservation(caption, trigger, classWord));

    [Theory]
    [InlineData("a [trigger] card", "zqx", "a card")]
    [InlineData("zqx in a forest", "zqx", "in a forest")]
    public void SamplePromptTwinWithoutTrigger(string prompt, string trigger, string expected)
        => Assert.Equal(expected, CaptionRules.WithoutTrigger(prompt, trigger));
}
