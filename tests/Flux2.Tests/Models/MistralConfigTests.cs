using Flux2.IO;
using Flux2.Models.TextEncoder;
using Flux2.Native;
using Xunit;

namespace Flux2.Tests.Models;

public class MistralConfigTests
{
    [Fact]
    public void MistralSmallParameterCountsMatchTheReference()
    {
        var c = MistralConfig.MistralSmall3;
        Assert.Equal(555_755_520L, c.ParametersPerLayer);        // docs/flux2-model.md §4.2
        Assert.Equal(671_088_640L, c.EmbeddingParameters);
        Assert.Equal(671_088_640L + 30 * 555_755_520L, c.ParameterCount(30)); // FLUX.2 builds layers 1..30: 17.34 B
        Assert.Equal(17_343_754_240L, c.ParameterCount(30));
        Assert.Equal(671_088_640L + 40 * 555_755_520L + 5120, c.ParameterCount(40)); // + final norm
        Assert.Throws<ArgumentOutOfRangeException>(() => c.ParameterCount(41));
    }

    [Fact]
    public void TinyConfigConstructsWithTheFormulaCount()
    {
        TorchRuntime.EnsureLoaded();
        var c = MistralConfig.Tiny;
        foreach (var k in new[] { 0, 2, 3 })
        {
            using var m = new MistralTextModel(c, k);
            Assert.Equal(c.ParameterCount(k), m.named_parameters().Sum(p => p.parameter.numel()));
            Assert.Equal(k, m.layers.Count);
        }
        using var full = new MistralTextModel(c);
        var names = full.named_parameters().Select(p => p.name).ToHashSet();
        Assert.Contains("embed_tokens.weight", names);
        Assert.Contains("layers.2.self_attn.k_proj.weight", names);
        Assert.Contains("layers.0.mlp.down_proj.weight", names);
        Assert.Contains("layers.1.post_attention_layernorm.weight", names);
        Assert.Contains("norm.weight", names);
        Assert.Throws<ArgumentOutOfRangeException>(() => new MistralTextModel(c, 4));
    }

    [Fact]
    public void ParsesTransformers5AndOlderConfigs()
    {
        var fixture = MistralConfig.FromJson(Path.Combine(TestPaths.Tiny, "text_encoder", "config.json"));
        Assert.Equal(MistralConfig.Tiny, fixture);

        var old = MistralConfig.FromJson(ConfigJson.Parse("""
            {"text_config": {"hidden_size": 64, "num_attention_heads": 8, "num_key_value_heads": 2, "head_dim": null,
             "num_hidden_layers": 2, "intermediate_size": 100, "vocab_size": 50, "rope_theta": 10000.0,
             "rms_norm_eps": 1e-6}}
            """));
        Assert.Equal(8, old.HeadDim);
        Assert.Equal(1e4, old.RopeTheta);
        Assert.Equal(1e-6, old.RmsNormEps);
        Assert.Equal(11, old.PadTokenId);

        var production = MistralConfig.FromJson(ConfigJson.Parse("""{"text_config": {"head_dim": 128}}"""));
        Assert.Equal(MistralConfig.MistralSmall3, production);
        var e =
            Assert.Throws<ConfigException>(() =>
                MistralConfig.FromJson(ConfigJson.Parse(
                    """{"num_attention_heads": 6, "num_key_value_heads": 4, "head_dim": 4}""", "te/config.json")));
        Assert.Equal("num_key_value_heads", e.Key);
        Assert.Contains("te/config.json", e.Message);
    }

    [Theory]
    [InlineData("""{"text_config": {"hidden_size": "64"}}""", "text_config.hidden_size")]
    [InlineData("""{"text_config": {"rope_parameters": {"rope_theta": "big"}}}""",
        "text_config.rope_parameters.rope_theta")]
    [InlineData("""{"text_config": {"rope_parameters": {"rope_type": "yarn"}}}""",
        "text_config.rope_parameters.rope_type")]
    [InlineData("""{"text_config": 3}""", "text_config")]
    [InlineData("""{"num_key_value_heads": 2.5}""", "num_key_value_heads")]
    public void BadValuesNameFileAndKey(string json, string key)
    {
        var e = Assert.Throws<ConfigException>(() => MistralConfig.FromJson(ConfigJson.Parse(json,
            "/m/text_encoder/config.json")));
        Assert.Equal(key, e.Key);
        Assert.Contains("/m/text_encoder/config.json", e.Message);
        Assert.Contains($"'{key}'", e.Message);
    }

    [Fact]
    public void NullKeyValueHeadsMeansOnePerHead() =>
        Assert.Equal(8, MistralConfig.FromJson(ConfigJson.Parse(
            """{"num_attention_heads": 8, "num_key_value_heads": null, "hidden_size": 64}""")).NumKeyValueHeads);
}
