using Flux2.IO;
using Flux2.Models.Vae;
using Flux2.Native;
using Flux2.Nn;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Flux2.Tests.Models;

/// <summary>Construction, parameter counts, naming and weight-loading errors of
/// <see cref="AutoencoderKLFlux2"/>.</summary>
public class VaeModelTests(ITestOutputHelper output)
{
    static long Count(nn.Module m) => m.parameters().Sum(p => p.numel());

    [Fact]
    public void DevConfigHasReferenceParameterCounts()
    {
        TorchRuntime.EnsureLoaded();
        // Meta tensors: shapes only, no memory or init cost (docs/flux2-model.md §5.2 counts).
        using var vae = new AutoencoderKLFlux2(VaeConfig.Dev, new Device(DeviceType.META));
        var names = vae.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        long enc = names.Where(kv => kv.Key.StartsWith("encoder.")).Sum(kv => kv.Value.numel());
        long dec = names.Where(kv => kv.Key.StartsWith("decoder.")).Sum(kv => kv.Value.numel());
        long quant = names.Where(kv => kv.Key.StartsWith("quant_conv.")).Sum(kv => kv.Value.numel());
        long post = names.Where(kv => kv.Key.StartsWith("post_quant_conv.")).Sum(kv => kv.Value.numel());
        long total = Count(vae);
        output.WriteLine($"encoder {enc:N0}, decoder {dec:N0}, quant {quant:N0}, " +
            $"post-quant {post:N0}, total {total:N0}");
        Assert.Equal(34_421_696, enc);
        Assert.Equal(49_619_203, dec);
        Assert.Equal(4_160, quant);
        Assert.Equal(1_056, post);
        Assert.Equal(enc + dec + quant + post, total);
        Assert.InRange(total / 1e6, 84.0, 84.1);
        // bn buffers of 128 = 4·32 channels, plus the int64 counter
        var buffers = vae.named_buffers().ToDictionary(b => b.name, b => b.buffer);
        Assert.Equal(new long[] { 128 }, buffers["bn.running_mean"].shape);
        Assert.Equal(new long[] { 128 }, buffers["bn.running_var"].shape);
        Assert.Equal(ScalarType.Int64, buffers["bn.num_batches_tracked"].dtype);
    }

    [Fact]
    public void DevConfigHasDiffusersKeyNames()
    {
        TorchRuntime.EnsureLoaded();
        using var vae = new AutoencoderKLFlux2(VaeConfig.Dev, new Device(DeviceType.META));
        var keys = vae.named_parameters().Select(p => p.name).ToHashSet();
        Assert.Contains("encoder.down_blocks.0.downsamplers.0.conv.weight", keys);
        Assert.DoesNotContain("encoder.down_blocks.3.downsamplers.0.conv.weight", keys);
        Assert.Contains("encoder.down_blocks.1.resnets.0.conv_shortcut.weight", keys);
        Assert.Contains("encoder.mid_block.attentions.0.to_out.0.bias", keys);
        Assert.Contains("decoder.up_blocks.0.resnets.2.norm2.weight", keys);
        Assert.Contains("decoder.up_blocks.2.upsamplers.0.conv.weight", keys);
        Assert.DoesNotContain("decoder.up_blocks.3.upsamplers.0.conv.weight", keys);
        Assert.Contains("decoder.up_blocks.2.resnets.0.conv_shortcut.weight", keys);
        Assert.Equal(new long[] { 64, 512, 3, 3 }, vae.named_parameters()
            .First(p => p.name == "encoder.conv_out.weight").parameter.shape);
    }

    [Fact]
    public void FixtureKeysAreExactlyTheModuleKeys()
    {
        TorchRuntime.EnsureLoaded();
        using var vae = new AutoencoderKLFlux2(VaeConfig.Tiny);
        using var src = SafetensorsSource.OpenFile(Path.Combine(TestPaths.Tiny, "vae",
            "diffusion_pytorch_model.safetensors"));
        var moduleKeys = vae.named_parameters().Select(p => p.name).Concat(vae.named_buffers().Select(b => b.name))
            .OrderBy(k => k, StringComparer.Ordinal);
        Assert.Equal(src.Keys.OrderBy(k => k, StringComparer.Ordinal), moduleKeys);
    }

    [Fact]
    public void MismatchedConfigNamesTheOffendingKey()
    {
        TorchRuntime.EnsureLoaded();
        using var vae = new AutoencoderKLFlux2(VaeConfig.Tiny with { BlockOutChannels = [8, 24] });
        using var src = SafetensorsSource.OpenFile(Path.Combine(TestPaths.Tiny, "vae",
            "diffusion_pytorch_model.safetensors"));
        var e = Assert.Throws<WeightLoadException>(() => vae.LoadWeights(src));
        output.WriteLine(e.Message);
        Assert.Contains("encoder.down_blocks.1.resnets.0.conv1.weight", e.Message);
        Assert.Contains("diffusion_pytorch_model.safetensors", e.Message);
        Assert.NotEmpty(e.ShapeErrors);
    }

    [Fact]
    public void MissingAttentionInConfigIsReportedAsUnexpectedKeys()
    {
        TorchRuntime.EnsureLoaded();
        using var vae = new AutoencoderKLFlux2(VaeConfig.Tiny with { MidBlockAddAttention = false });
        using var src = SafetensorsSource.OpenFile(Path.Combine(TestPaths.Tiny, "vae",
            "diffusion_pytorch_model.safetensors"));
        var e = Assert.Throws<WeightLoadException>(() => vae.LoadWeights(src));
        Assert.Contains("encoder.mid_block.attentions.0.to_q.weight", e.Unexpected);
    }

    [Fact]
    public void ShapesFlowThroughEncodeAndDecode()
    {
        TorchRuntime.EnsureLoaded();
        using var vae = new AutoencoderKLFlux2(VaeConfig.Tiny);
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var image = rand(2, 3, 32, 48) * 2 - 1;
        using var dist = vae.Encode(image);
        Assert.Equal(new long[] { 2, 4, 16, 24 }, dist.Mean.shape);
        var latent = vae.EncodeToTrainingLatent(image);
        Assert.Equal(new long[] { 2, 16, 8, 12 }, latent.shape);
        Assert.Equal(new long[] { 2, 3, 32, 48 }, vae.DecodeFromTrainingLatent(latent).shape);
        Assert.Throws<ArgumentException>(() => vae.Decode(zeros(1, 16, 8, 12)));
    }

    [Fact]
    public void ForwardDoesNotLeakTensors()
    {
        TorchRuntime.EnsureLoaded();
        using var vae = new AutoencoderKLFlux2(VaeConfig.Tiny);
        using var image = rand(1, 3, 16, 16);
        using var _ = no_grad();
        using (var warm = vae.EncodeToTrainingLatent(image)) { }
        using var scope = NewDisposeScope();
        using (var latent = vae.EncodeToTrainingLatent(image))
        using (var decoded = vae.DecodeFromTrainingLatent(latent)) { }
        Assert.Equal(0, scope.DisposablesCount);
    }
    [Fact]
    public void FromFolderWithoutWeightsNamesTheMissingFile()
    {
        var dir = TestPaths.TempDir();
        var e = Assert.Throws<FileNotFoundException>(() => AutoencoderKLFlux2.FromFolder(dir));
        Assert.Contains("diffusion_pytorch_model.safetensors", e.Message);
    }

    [Fact]
    public void FromFolderLoadsInBFloat16()
    {
        TorchRuntime.EnsureLoaded();
        using var vae = AutoencoderKLFlux2.FromFolder(Path.Combine(TestPaths.Tiny, "vae"), CPU, ScalarType.BFloat16);
        using var io = SafetensorsSource.OpenFile(Path.Combine(TestPaths.Tiny, "vae_io.safetensors"));
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        Assert.Equal(ScalarType.Int64, vae.named_buffers().First(b => b.name == "bn.num_batches_tracked").buffer.dtype);
        var decoded = vae.Decode(io.Read("z", dtype: ScalarType.BFloat16));
        Assert.Equal(ScalarType.BFloat16, decoded.dtype);
        var err = (decoded.to(ScalarType.Float32) - io.Read("decoded")).abs().max().item<float>();
        output.WriteLine($"bf16 decoded max abs error {err:E3}");
        Assert.True(err < 0.1, $"bf16 decode error {err}");
    }
}
