using Flux2.Evaluation;
using Xunit;

namespace Flux2.Tests.Evaluation;

public class ImageStatisticsTests
{
    static byte[] Solid(int w, int h, byte r, byte g, byte b)
    {
        var rgb = new byte[w * h * 3];
        for (int i = 0; i < w * h; i++) { rgb[3 * i] = r; rgb[3 * i + 1] = g; rgb[3 * i + 2] = b; }
        return rgb;
    }

    static byte[] Checkerboard(int w, int h)
    {
        var rgb = new byte[w * h * 3];
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                if ((x + y) % 2 == 0) rgb[3 * (y * w + x)] = rgb[3 * (y * w + x) + 1] = rgb[3 * (y * w + x) + 2] = 255;
        return rgb;
    }

    [Fact]
    public void SolidImageHasItsColourAsMeanNoSpreadNoEdgesAndOneFullBin()
    {
        var s = ImageStatistics.FromRgb(Solid(8, 6, 255, 0, 51), 8, 6);
        Assert.Equal(new[] { 1.0, 0.0, 0.2 }, s.Mean.Select(m => Math.Round(m, 6)));
        Assert.All(s.Std, v => Assert.Equal(0, v, 6));
        Assert.Equal(0, s.EdgeEnergy);
        Assert.Equal(1.0, s.Histogram.Max(), 9);
        Assert.Equal(1.0, s.Histogram.Sum(), 9);
        // r = 255 → bin 3, g = 0 → bin 0, b = 51 (0.2) → bin 0
        Assert.Equal(1.0, s.Histogram[(3 * 4 + 0) * 4 + 0], 9);
    }

    [Fact]
    public void CheckerboardHasFullEdgeEnergyInTheInteriorAndHalfSpread()
    {
        var s = ImageStatistics.FromRgb(Checkerboard(16, 16), 16, 16);
        Assert.All(s.Mean, m => Assert.Equal(0.5, m, 6));
        Assert.All(s.Std, v => Assert.Equal(0.5, v, 6));
        Assert.True(s.EdgeEnergy > 0.9, $"edge energy {s.EdgeEnergy}");
        // every step flips black/white; only the last row/column lacks a neighbour
    }

    [Fact]
    public void TensorAndByteInputsAgree()
    {
        Flux2.Native.TorchRuntime.EnsureLoaded();
        TorchSharp.torch.random.manual_seed(1);
        using var img = TorchSharp.torch.rand(3, 5, 7);
        var fromTensor = ImageStatistics.FromTensor(img);
        using var bytes = (img * 255).round().to(TorchSharp.torch.ScalarType.Byte).permute(1, 2, 0).contiguous();
        var fromBytes = ImageStatistics.FromRgb(bytes.data<byte>().ToArray(), 7, 5);
        for (int c = 0; c < 3; c++) Assert.Equal(fromTensor.Mean[c], fromBytes.Mean[c], 2);
    }

    [Fact]
    public void IdenticalSetsAreAtDistanceZero()
    {
        var set = new[] { ImageStatistics.FromRgb(Solid(8, 8, 200, 30, 30), 8, 8),
            ImageStatistics.FromRgb(Checkerboard(8, 8), 8, 8) };
        var copy = set.Select(s => s with { }).ToArray();
        Assert.Equal(0, LookDistance.Between(set, copy));
    }

    [Fact]
    public void DistanceGrowsWithTheColourChangeAndIsSymmetric()
    {
        ImageStatistics[] Reds(byte r) => new[] { ImageStatistics.FromRgb(Solid(8, 8, r, 20, 20), 8, 8) };
        var red = Reds(220);
        var darkerRed = Reds(160);
        var blue = new[] { ImageStatistics.FromRgb(Solid(8, 8, 30, 70, 230), 8, 8) };
        double near = LookDistance.Between(red, darkerRed), far = LookDistance.Between(red, blue);
        Assert.True(near > 0, $"darker red at {near}");
        Assert.True(far > near, $"blue {far} should be further than darker red {near}");
        Assert.Equal(far, LookDistance.Between(blue, red), 12);
    }

    [Fact]
    public void TextureChangesTheDistanceEvenWithTheSameMeanColour()
    {
        var grey = new[] { ImageStatistics.FromRgb(Solid(16, 16, 128, 128, 128), 16, 16) };
        var checker = new[] { ImageStatistics.FromRgb(Checkerboard(16, 16), 16, 16) };
        var terms = LookDistance.Terms(ImageStatistics.Average(grey), ImageStatistics.Average(checker));
        Assert.True(terms.Mean < 0.01, $"means differ by {terms.Mean}");
        Assert.True(terms.Std > 0.4 && terms.Edges > 0.9 && terms.Histogram > 0.9, terms.ToString());
    }

    [Fact]
    public void SampleDatasetsHaveDistinctLooksAndTheRightKind()
    {
        var tarot = Path.Combine(TestPaths.RepoRoot, "datasets-sample", "midnight_tarot");
        var robot = Path.Combine(TestPaths.RepoRoot, "datasets-sample", "zorblax_robot");
        Assert.Null(EvalPrompts.ClassWordOf(tarot));
        Assert.Equal("robot", EvalPrompts.ClassWordOf(robot));
        var tarotLook = DatasetLook.Load(tarot, 64, 64);
        Assert.Equal(0, LookDistance.Between(tarotLook, DatasetLook.Load(tarot, 64, 64)));
        Assert.True(LookDistance.Between(tarotLook, DatasetLook.Load(robot, 64, 64)) > 0.2);
    }
}
