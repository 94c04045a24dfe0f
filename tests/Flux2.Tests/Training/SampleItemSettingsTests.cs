using Flux2.Native;
using Flux2.Pipeline;
using Flux2.Training.Config;
using Flux2.Training.Network;
using Flux2.Training.Previews;
using SkiaSharp;
using Xunit;

namespace Flux2.Tests.Training;

/// <summary>A <c>samples[]</c> item's own seed, sample_steps, guidance_scale, width/height, network_multiplier and
/// ctrl_img_1..3 act on its grid row, as in ai-toolkit (docs/ai-toolkit-compat.md §2.12).</summary>
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

    static SKBitmap Grid(Flux2Models models, SampleConfig config, LoraNetwork? network = null)
        => SKBitmap.Decode(new SampleGrid(models, config, null, TestPaths.TempDir(), network).Render(0)!.GridPath);

    /// <summary>The pixels of a w × h rectangle at (x, y).</summary>
    static byte[] Region(SKBitmap bmp, int x, int y, int w, int h)
        => Enumerable.Range(y, h).SelectMany(r => Enumerable.Range(x, w).Select(c => bmp.GetPixel(c, r)))
            .SelectMany(p => new[] { p.Red, p.Green, p.Blue }).ToArray();

    [Fact]
    public void ItemSizeRendersThatRowAtItsOwnSize()
    {
        TorchRuntime.EnsureLoaded();
        using var models = Flux2Models.CreateTinyRandom(0);
        var section = new SampleConfig { Width = 32, Height = 32, SampleSteps = 2, Seed = 5 };
        using var grid = Grid(models, section with
        {
            Samples = [new() { Prompt = "a red square" }, new() { Prompt = "a red square", Width = 48, Height = 16 }],
        });
        Assert.Equal((48, 48), (grid.Width, grid.Height));
        using var alone = Grid(models, section with
        {
            Width = 48,
            Height = 16,
            Samples = [new() { Prompt = "a red square" }],
        });
        Assert.Equal(Region(alone, 0, 0, 48, 16), Region(grid, 0, 32, 48, 16));
        var grey = Region(grid, 32, 0, 16, 32);
        Assert.All(grey, b => Assert.InRange(b, (byte)126, (byte)128)); // the shorter row's padding
    }

    [Fact]
    public void NetworkMultiplierScalesTheLoraOfItsRow()
    {
        TorchRuntime.EnsureLoaded();
        using var models = Flux2Models.CreateTinyRandom(0);
        using var network = LoraNetwork.Attach(models.Transformer, new NetworkConfig { Linear = 4 }, seed: 1);
        using (TorchSharp.torch.no_grad())
            foreach (var m in network.Modules) m.Up.normal_(0, 0.5);
        var section = new SampleConfig { Width = 32, Height = 32, SampleSteps = 2, Seed = 5 };
        byte[] Row(SampleConfig config, int row)
        {
            using var bmp = Grid(models, config, network);
            return Region(bmp, 0, 32 * row, 32, 32);
        }
        var items = new SampleItem[]
        {
            new() { Prompt = "a red square" }, new() { Prompt = "a red square", NetworkMultiplier = 0 },
            new() { Prompt = "a red square", NetworkMultiplier = 0.5 },
        };
        var on = Row(section with { Samples = [.. items] }, 0);
        var zero = Row(section with { Samples = [.. items] }, 1);
        var half = Row(section with { Samples = [.. items] }, 2);
        Assert.All(network.Modules, m => Assert.Equal(1.0, m.Adapter.Multiplier)); // restored after the grid
        network.Enabled = false;
        var baseModel = Row(section with { Samples = [new() { Prompt = "a red square" }] }, 0);
        network.Enabled = true;
        Assert.Equal(baseModel, zero);
        Assert.NotEqual(on, zero);
        Assert.NotEqual(half, zero);
        Assert.NotEqual(half, on);
        Assert.Equal(half, Row(section with { NetworkMultiplier = 0.5, Samples = [new() { Prompt = "a red square" }] },
            0)); // the section's multiplier, when the item sets none
    }

    [Fact]
    public void CtrlImagesAreReferenceImagesOfTheirRow()
    {
        TorchRuntime.EnsureLoaded();
        using var models = Flux2Models.CreateTinyRandom(0);
        var dir = TestPaths.TempDir();
        var reference = Path.Combine(dir, "ref.png");
        TempDataset.WritePng(reference, 32, 32, SKColors.Blue);
        var section = new SampleConfig { Width = 32, Height = 32, SampleSteps = 2, Seed = 5 };
        using var grid = Grid(models, section with
        {
            Samples = [new() { Prompt = "a red square" }, new() { Prompt = "a red square", CtrlImg1 = reference }],
        });
        Assert.NotEqual(Region(grid, 0, 0, 32, 32), Region(grid, 0, 32, 32, 32));
        var missing = section with { Samples = [new() { Prompt = "a", CtrlImg2 = Path.Combine(dir, "none.png") }] };
        var e = Assert.Throws<UserError>(() => new SampleGrid(models, missing, null, dir));
        Assert.Contains("sample.samples[0].ctrl_img_2 ", e.Message);
    }

    [Fact]
    public void ItemKeysAreRead()
    {
        var yaml = JobConfigTests.Minimal("""
                  sample:
                    network_multiplier: 0.8
                    samples:
                      - {prompt: a, width: 768, height: 512, network_multiplier: 0.5,
                         ctrl_img: a.png, ctrl_img_3: c.png}
            """);
        var loaded = JobConfigReader.Parse(yaml, "t.yaml");
        Assert.Empty(loaded.IgnoredKeys);
        Assert.Empty(loaded.Warnings);
        var sample = loaded.Job.Process.Sample;
        Assert.Equal(0.8, sample.NetworkMultiplier);
        var item = sample.Samples[0];
        Assert.Equal((768, 512, 0.5), (item.Width, item.Height, item.NetworkMultiplier));
        Assert.Equal(new[] { "a.png", "c.png" }, item.CtrlImages);
    }
}
