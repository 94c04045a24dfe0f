using Flux2.Native;
using Flux2.Pipeline;
using Flux2.Training.Config;
using Flux2.Training.Previews;
using SkiaSharp;
using Xunit;

namespace Flux2.Tests.Training;

/// <summary>A <c>samples[]</c> item's own seed, sample_steps and guidance_scale act on its grid row, as in
/// ai-toolkit (docs/ai-toolkit-compat.md §2.12).</summary>
[Collection(TorchGlobalRngCollection.Name)]
public class SampleItemSettingsTests
{
    [Fact]
    public void ItemSeedsFollowAiToolkit()
    {
        var walk = new SampleConfig
        {
            Seed = 10,
            WalkSeed = true,
            Samples = [new() { Prompt = "a" }, new() { Prompt = "b", Seed = 3 }, new() { Prompt = "c" }],
        };
        Assert.Equal(new long[] { 10, 3, 12 }, walk.ItemSeeds());
        var fixedSeed = walk with { WalkSeed = false };
        Assert.Equal(new long[] { 10, 3, 3 }, fixedSeed.ItemSeeds()); // an item's seed stays for the next ones
    }

    [Fact]
    public void ItemSettingsChangeTheirRowOnly()
    {
        TorchRuntime.EnsureLoaded();
        using var models = Flux2Models.CreateTinyRandom(0);
        byte[][] Rows(params SampleItem[] items)
        {
            var config = new SampleConfig { Width = 32, Height = 32, SampleSteps = 2, Seed = 5, Samples = [.. items] };
            var report = new SampleGrid(models, config, null, TestPaths.TempDir()).Render(0)!;
            using var png = SKBitmap.Decode(report.GridPath);
            var rgb = Flux2.Data.Synthetic.RgbaBitmaps.ToRgb(png);
            int row = rgb.Length / items.Length;
            return Enumerable.Range(0, items.Length).Select(i => rgb[(i * row)..((i + 1) * row)]).ToArray();
        }
        var same = Rows(new() { Prompt = "a red square" }, new() { Prompt = "a red square" });
        Assert.Equal(same[0], same[1]);
        Assert.NotEqual(same[0],
            Rows(new() { Prompt = "a red square" }, new() { Prompt = "a red square", Seed = 6 })[1]);
        Assert.NotEqual(same[0],
            Rows(new() { Prompt = "a red square" }, new() { Prompt = "a red square", SampleSteps = 3 })[1]);
    }
}
