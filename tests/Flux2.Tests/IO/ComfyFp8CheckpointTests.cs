using Flux2.IO;
using Flux2.Models.Transformer;
using Flux2.Native;
using Flux2.Nn.Quantization;
using Flux2.Pipeline;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Flux2.Tests.IO;

/// <summary>A ComfyUI fp8 single file of the tiny fixture (BFL keys under <c>model.diffusion_model.</c>, the block
/// Linears as float8_e4m3fn codes with a per-tensor fp32 scale, everything else bf16 — both ComfyUI formats) loads as
/// the transformer and reproduces the fixture's bf16 output within 3 %.</summary>
public class ComfyFp8CheckpointTests(ITestOutputHelper output)
{
    /// <summary>Writes the fixture as ComfyUI does: <paramref name="quantOps"/> true: <c>X.weight_scale</c> and
    /// <c>X.comfy_quant</c> (quant_ops format); false: <c>X.scale_weight</c> and a <c>scaled_fp8</c> marker.</summary>
    static string WriteComfyFp8(Flux2Transformer model, bool quantOps)
    {
        using var scope = NewDisposeScope();
        var diffusers = model.state_dict().Select(kv => new KeyValuePair<string, Tensor>(kv.Key, kv.Value.detach()));
        var tensors = new List<KeyValuePair<string, Tensor>>();
        const string prefix = "model.diffusion_model.";
        foreach (var (key, w) in BflTransformerConverter.ToBfl(diffusers))
        {
            bool blockLinear = (key.StartsWith("double_blocks.") || key.StartsWith("single_blocks."))
                && key.EndsWith(".weight") && w.dim() == 2;
            if (!blockLinear)
            {
                tensors.Add(new(prefix + key, w.to(ScalarType.BFloat16)));
                continue;
            }
            var scale = w.abs().max().to(ScalarType.Float32) / 448f;
            tensors.Add(new(prefix + key, (w.to(ScalarType.Float32) / scale).to(SafetensorsDType.Float8E4M3)));
            var module = prefix + key[..^".weight".Length];
            tensors.Add(new(module + (quantOps ? ".weight_scale" : ".scale_weight"), scale.reshape(new long[0])));
            if (quantOps)
            {
                var json = System.Text.Encoding.UTF8.GetBytes("{\"format\": \"float8_e4m3fn\"}");
                tensors.Add(new(module + ".comfy_quant", tensor(json, ScalarType.Byte)));
            }
        }
        if (!quantOps) tensors.Add(new(prefix + "scaled_fp8", zeros(new long[] { 0 }, SafetensorsDType.Float8E4M3)));
        var path = Path.Combine(TestPaths.TempDir(),
            quantOps ? "flux2_fp8mixed.safetensors" : "flux2_fp8_scaled.safetensors");
        SafetensorsWriter.Write(path, tensors, new Dictionary<string, string>());
        return path;
    }

    static Tensor Output(Flux2Transformer t)
    {
        using var _ = no_grad();
        using var gen = new Generator(5);
        var hidden = randn(new long[] { 1, 16, t.Config.InChannels }, generator: gen);
        var context = randn(new long[] { 1, 8, t.Config.JointAttentionDim }, generator: gen);
        return t.Forward(hidden.to(ScalarType.BFloat16), context.to(ScalarType.BFloat16), tensor(new[] { 0.5f }),
            tensor(new[] { 1f }), PositionIds.Image(4, 4), PositionIds.Text(8)).to(ScalarType.Float32);
    }

    [Theory]
    [InlineData(true, false)]
    [InlineData(false, false)]
    [InlineData(true, true)]
    public void ComfyUiFp8FileReproducesTheBf16Fixture(bool quantOps, bool quantizedModel)
    {
        TorchRuntime.EnsureLoaded();
        using var models = Flux2Models.CreateTinyRandom(0);
        var path = WriteComfyFp8(models.Transformer, quantOps);
        var config = models.Transformer.Config;
        using var bf16 = Flux2TransformerFiles.FromCheckpoint(WriteBf16(models.Transformer), config,
            dtype: ScalarType.BFloat16);
        using var fp8 = Flux2TransformerFiles.FromCheckpoint(path, config, dtype: ScalarType.BFloat16,
            quant: quantizedModel ? QuantType.Float8 : null);
        using var expected = Output(bf16);
        using var actual = Output(fp8);
        // For scale: the error of today's fp8 tier, the bf16 file quantized while loading (2.75 % on this fixture).
        using var q8 = Flux2TransformerFiles.FromCheckpoint(WriteBf16(models.Transformer), config,
            dtype: ScalarType.BFloat16, quant: QuantType.Float8);
        using var q8Out = Output(q8);
        var tier = ((q8Out - expected).norm() / expected.norm()).item<float>();
        output.WriteLine($"bf16 file in a qfloat8 model: {tier:P2}");
        double relative = ((actual - expected).norm() / expected.norm()).item<float>();
        output.WriteLine($"relative error of the fp8 file ({(quantOps ? "quant_ops" : "scaled_fp8")}, " +
            $"{(quantizedModel ? "qfloat8 model" : "bf16 model")}): {relative:P2}");
        Assert.True(relative <= 0.03, $"relative error {relative:P2}");
        Assert.True(relative > 0, "the fp8 file gave the bf16 output exactly: its weights were not fp8");
    }

    /// <summary>The fixture as a plain bf16 BFL file (the reference the fp8 file is compared with).</summary>
    static string WriteBf16(Flux2Transformer model)
    {
        using var scope = NewDisposeScope();
        var diffusers = model.state_dict().Select(kv => new KeyValuePair<string, Tensor>(kv.Key,
            kv.Value.detach().to(ScalarType.BFloat16)));
        var path = Path.Combine(TestPaths.TempDir(), "flux2_bf16.safetensors");
        SafetensorsWriter.Write(path, BflTransformerConverter.ToBfl(diffusers), new Dictionary<string, string>());
        return path;
    }
}
