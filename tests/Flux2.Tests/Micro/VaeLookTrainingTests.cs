using Flux2.Data.Synthetic;
using Flux2.Micro.Pretraining;
using Flux2.Models;
using Flux2.Models.Vae;
using Flux2.Native;
using Xunit;
using static TorchSharp.torch;

namespace Flux2.Tests.Micro;

public class VaeLookTrainingTests
{
    [Fact]
    public void RandomLooksAreSeededAndKeepFrameAndOutlineOffASolidBackground()
    {
        for (int i = 0; i < 200; i++)
        {
            var look = FramedLook.Random(new Random(i));
            Assert.Equal(look, FramedLook.Random(new Random(i)));
            Assert.NotEqual(look.Sky, look.Frame);
            Assert.NotEqual(look.Sky, look.Outline);
            Assert.InRange(look.FramePixels, 2, 10);
            Assert.InRange(look.OutlinePixels, 1, 4);
        }
    }

    [Fact]
    public void TheStyleLookIsTheMidnightTarotRender()
    {
        var content = SampleDatasets.StyleContent(1, 3);
        using var a = MidnightTarotStyle.Render(content, 64, 64);
        using var b = MidnightTarotStyle.Look.Render(content, 64, 64);
        Assert.Equal(RgbaBitmaps.ToRgb(a), RgbaBitmaps.ToRgb(b));
        Assert.Equal(ShapeCorpusSource.Pixels(a), ShapeCorpusSource.StyleLook(1, 64)(3).pixels);
    }

    [Fact]
    public void TheVaeSourceDrawsTheAskedShareInRandomLooksAndIsOtherwiseThePlainCorpus()
    {
        const int seed = 5, size = 32, n = 60;
        var plain = ShapeCorpusSource.Create(seed, size);
        var none = ShapeCorpusSource.WithLooks(seed, 0, size);
        var all = ShapeCorpusSource.WithLooks(seed, 1, size);
        var half = ShapeCorpusSource.WithLooks(seed, 0.5, size);
        int styled = 0;
        for (long i = 0; i < n; i++)
        {
            var p = plain(i);
            Assert.Equal(p.pixels, none(i).pixels);
            Assert.Equal(p.caption, all(i).caption);
            Assert.NotEqual(p.pixels, all(i).pixels);
            Assert.Equal(half(i).pixels, half(i).pixels);
            if (!half(i).pixels.SequenceEqual(p.pixels)) styled++;
        }
        Assert.InRange(styled, n / 4, 3 * n / 4);
    }

    [Fact]
    public void DecoderOnlyTrainingLeavesTheEncoderAndLatentStatisticsAsTheyWere()
    {
        TorchRuntime.EnsureLoaded();
        manual_seed(3);
        using var vae = new AutoencoderKLFlux2(MicroModel.Vae, CPU);
        Flux2.Nn.RandomInit.Apply(vae, 3);
        var before = vae.named_parameters().ToDictionary(p => p.name, p => p.parameter.detach().clone());
        var stats = vae.BatchNorm.RunningMean.clone();
        var trainer = new VaePretrainer(vae, ShapeCorpusSource.WithLooks(1, 0.5), MicroModel.Resolution, CPU)
        {
            BatchSize = 2,
            DecoderOnly = true,
        };
        trainer.Train(2, seed: 1);
        foreach (var (name, p) in vae.named_parameters())
        {
            bool same = p.equal(before[name]).all().item<bool>();
            if (name.StartsWith("encoder.") || name.StartsWith("quant_conv.")) Assert.True(same, name);
        }
        Assert.Contains(vae.named_parameters(),
            p => p.name.StartsWith("decoder.") && !p.parameter.equal(before[p.name]).all().item<bool>());
        Assert.True(vae.BatchNorm.RunningMean.equal(stats).all().item<bool>());
        double error = trainer.ReconstructionError(ShapeCorpusSource.Create(1), 0, 3);
        Assert.True(error > 0 && double.IsFinite(error), $"reconstruction mse {error}");
    }
}
