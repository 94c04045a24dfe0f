using System.Text.Json.Nodes;
using Flux2.IO;
using Flux2.Models.TextEncoder;
using Flux2.Native;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Flux2.Tests.Models;

/// <summary>The Qwen3 text encoder of FLUX.2 [klein] vs the reference (transformers 5.17 Qwen3ForCausalLM, fp32 CPU)
/// on the flux2-klein-tiny fixture.</summary>
public class KleinTextEncoderTests(ITestOutputHelper output)
{
    [Fact]
    public void ConfigIsReadAsQwen3()
    {
        var cfg = MistralConfig.FromJson(Path.Combine(TestPaths.Klein, "text_encoder", "config.json"));
        Assert.Equal(TextEncoderFamily.Qwen3, cfg.Family);
        Assert.True(cfg.QkNorm);
        Assert.Equal((16, 40, 4, 4, 2, 8), (cfg.HiddenSize, cfg.IntermediateSize, cfg.NumHiddenLayers,
            cfg.NumAttentionHeads, cfg.NumKeyValueHeads, cfg.HeadDim));
        Assert.Equal(1e6, cfg.RopeTheta);
        Assert.Equal(1e-6, cfg.RmsNormEps);
        Assert.Equal(11, cfg.PadTokenId);
        // Absent fields take Qwen3-4B's values, not Mistral's.
        var bare = MistralConfig.FromJson(ConfigJson.Parse("""{"model_type": "qwen3"}"""));
        Assert.Equal(MistralConfig.Qwen3_4B, bare);
    }

    [Theory]
    [InlineData("""{"model_type": "qwen3", "attention_bias": true}""", "attention_bias")]
    [InlineData("""{"model_type": "qwen3", "use_sliding_window": true}""", "use_sliding_window")]
    [InlineData("""{"model_type": "qwen3", "layer_types": ["full_attention", "sliding_attention"]}""",
        "layer_types")]
    public void Qwen3VariantsWithoutAFluxEncoderAreRefusedNamingTheKey(string json, string key)
    {
        var e = Assert.Throws<ConfigException>(() => MistralConfig.FromJson(ConfigJson.Parse(json, "te/config.json")));
        Assert.Equal(key, e.Key);
        Assert.Contains("te/config.json", e.Message);
    }

    [Fact]
    public void PromptEmbedsMatchReference()
    {
        TorchRuntime.EnsureLoaded();
        var outLayers = TestPaths.TextEncoderOutLayers(TestPaths.Klein);
        using var enc = Flux2PromptEncoder.FromFolder(Path.Combine(TestPaths.Klein, "text_encoder"), outLayers);
        Assert.NotNull(enc.Model.layers[0].self_attn.q_norm);
        Assert.Equal(enc.Model.Config.ParameterCount(outLayers.Max()), enc.Model.parameters().Sum(p => p.numel()));
        using var io = SafetensorsSource.OpenFile(Path.Combine(TestPaths.Klein, "text_encoder_io.safetensors"));
        using var ids = io.Read("input_ids");
        using var mask = io.Read("attention_mask");
        using var expected = io.Read("prompt_embeds");
        Assert.True(mask.sum().item<long>() < mask.numel(), "the fixture is expected to contain padding");

        using var actual = enc.Encode(ids, mask);
        Assert.Equal(expected.shape, actual.shape);
        var err = (actual - expected).abs().max().item<float>();
        output.WriteLine($"klein prompt_embeds {string.Join("x", actual.shape)}: max abs error {err:E3} " +
            $"(max |ref| {expected.abs().max().item<float>():F3})");
        Assert.True(err <= 1e-4f, $"max abs error {err}");

        // Without the q/k norms the same weights give other embeddings: the fixture tests them.
        foreach (var layer in enc.Model.layers)
        {
            using var _ = no_grad();
            layer.self_attn.q_norm!.weight.mul_(2);
        }
        using var perturbed = enc.Encode(ids, mask);
        Assert.True((perturbed - expected).abs().max().item<float>() > 1e-3f);
    }
}
