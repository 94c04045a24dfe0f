using Flux2.IO;
using Flux2.Models.Vae;
using Flux2.Native;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace Flux2.Tests.Models;

/// <summary>config.json parsing and the latent shape helpers (docs/flux2-model.md §3.1, §5.1, §5.3).</summary>
public class VaeConfigAndPackingTests
{
    static bool Same(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && a.eq(b).all().item<bool>();

    [Fact]
    public void EmptyJsonGivesDevDefaults()
    {
        var cfg = VaeConfig.FromJson(ConfigJson.Parse("{}", "x/config.json"));
        Assert.Equal(new[] { 128, 256, 512, 512 }, cfg.BlockOutChannels);
        Assert.Equal(32, cfg.LatentChannels);
        Assert.Equal(2, cfg.LayersPerBlock);
        Assert.Equal(32, cfg.NormNumGroups);
        Assert.Equal(128, cfg.PatchifiedChannels);
        Assert.Equal(8, cfg.ScaleFactor);
        Assert.Equal(4, cfg.DownBlockTypes.Length);
    }

    [Fact]
    public void UnknownKeysAreIgnored()
    {
        var cfg = VaeConfig.FromJson(ConfigJson.Parse(
            """{"_class_name":"AutoencoderKLFlux2","scaling_factor":0.3,"latent_channels":16}"""));
        Assert.Equal(16, cfg.LatentChannels);
    }

    [Theory]
    [InlineData("""{"latent_channels":"32"}""", "latent_channels")]
    [InlineData("""{"block_out_channels":[128,"a"]}""", "block_out_channels")]
    [InlineData("""{"block_out_channels":[128,250]}""", "block_out_channels")]
    [InlineData("""{"use_quant_conv":1}""", "use_quant_conv")]
    [InlineData("""{"patch_size":[2]}""", "patch_size")]
    [InlineData("""{"act_fn":"relu"}""", "act_fn")]
    [InlineData("""{"down_block_types":["DownEncoderBlock2D"]}""", "down_block_types")]
    [InlineData("""{"batch_norm_eps":0}""", "batch_norm_eps")]
    public void InvalidValuesNameFileAndKey(string json, string key)
    {
        var e =
            Assert.Throws<ConfigException>(() => VaeConfig.FromJson(ConfigJson.Parse(json, "/models/vae/config.json")));
        Assert.Equal(key, e.Key);
        Assert.Contains("/models/vae/config.json", e.Message);
        Assert.Contains(key, e.Message);
    }

    [Fact]
    public void PatchifyUsesChannelIndexCTimes4PlusPiTimes2PlusPj()
    {
        TorchRuntime.EnsureLoaded();
        using var scope = NewDisposeScope();
        var z = randn(2, 3, 6, 8);
        var p = LatentPacking.Patchify(z);
        Assert.Equal(new long[] { 2, 12, 3, 4 }, p.shape);
        for (int c = 0; c < 3; c++)
            for (int pi = 0; pi < 2; pi++)
                for (int pj = 0; pj < 2; pj++)
                {
                    var expected = z[.., c, TensorIndex.Slice(pi, null, 2), TensorIndex.Slice(pj, null, 2)];
                    Assert.True(Same(p[.., c * 4 + pi * 2 + pj], expected));
                }
        Assert.True(Same(LatentPacking.Unpatchify(p), z));
    }

    [Fact]
    public void PackIsRowMajorAndUnpackInverts()
    {
        TorchRuntime.EnsureLoaded();
        using var scope = NewDisposeScope();
        var x = randn(2, 5, 3, 4);
        var t = LatentPacking.Pack(x);
        Assert.Equal(new long[] { 2, 12, 5 }, t.shape);
        Assert.True(Same(t[.., 1 * 4 + 2], x[.., .., 1, 2]));
        Assert.True(Same(LatentPacking.Unpack(t, 3, 4), x));
        Assert.Throws<ArgumentException>(() => LatentPacking.Unpack(t, 4, 4));
    }

    [Fact]
    public void NormalizeAndDenormalizeInvert()
    {
        TorchRuntime.EnsureLoaded();
        using var scope = NewDisposeScope();
        var mean = randn(8);
        var var_ = rand(8) + 0.5;
        var x = randn(1, 8, 2, 3);
        var n = LatentPacking.Normalize(x, mean, var_, 1e-4);
        var expected = (x - mean.view(1, -1, 1, 1)) / (var_.view(1, -1, 1, 1) + 1e-4).sqrt();
        Assert.True(n.allclose(expected, rtol: 1e-6, atol: 1e-6));
        Assert.True(LatentPacking.Denormalize(n, mean, var_, 1e-4).allclose(x, rtol: 1e-5, atol: 1e-5));
    }
}
