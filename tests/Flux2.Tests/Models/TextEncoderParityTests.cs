using System.Text.Json.Nodes;
using Flux2.IO;
using Flux2.Models.TextEncoder;
using Flux2.Native;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Flux2.Tests.Models;

/// <summary>Text encoder vs the reference (transformers 5.17 Mistral3, fp32 CPU) on the flux2-tiny fixture.</summary>
public class TextEncoderParityTests(ITestOutputHelper output)
{
    [Fact]
    public void PromptEmbedsMatchReference()
    {
        TorchRuntime.EnsureLoaded();
        var outLayers = TestPaths.TextEncoderOutLayers(TestPaths.Tiny);
        using var enc = Flux2PromptEncoder.FromFolder(Path.Combine(TestPaths.Tiny, "text_encoder"), outLayers);
        using var io = SafetensorsSource.OpenFile(Path.Combine(TestPaths.Tiny, "text_encoder_io.safetensors"));
        using var ids = io.Read("input_ids");
        using var mask = io.Read("attention_mask");
        using var expected = io.Read("prompt_embeds");
        Assert.True(mask.sum().item<long>() < mask.numel(), "the fixture is expected to contain padding");

        using var actual = enc.Encode(ids, mask);
        Assert.Equal(expected.shape, actual.shape);
        Assert.Equal(outLayers.Length * enc.Model.Config.HiddenSize, actual.shape[2]);
        var err = (actual - expected).abs().max().item<float>();
        output.WriteLine($"text encoder prompt_embeds {string.Join("x", actual.shape)}, out layers " +
            $"[{string.Join(", ", outLayers)}]: max abs error {err:E3} (max |ref| " +
            $"{expected.abs().max().item<float>():F3})");
        Assert.True(actual.isfinite().all().item<bool>());
        Assert.True(err <= 1e-4f, $"max abs error {err}");
    }

    [Fact]
    public void BuildsOnlyTheNeededLayersAndIgnoresTheRest()
    {
        TorchRuntime.EnsureLoaded();
        using var enc = Flux2PromptEncoder.FromFolder(Path.Combine(TestPaths.Tiny, "text_encoder"), new[] { 1 });
        Assert.Equal(1, enc.Model.BuiltLayers);
        Assert.Null(enc.Model.norm);
        var expected = enc.Model.Config.ParameterCount(1);
        Assert.Equal(expected, enc.Model.parameters().Sum(p => p.numel()));

        // The layer-1 slice of the full-model output is the same with only one layer built.
        using var full =
            Flux2PromptEncoder.FromFolder(Path.Combine(TestPaths.Tiny, "text_encoder"),
                TestPaths.TextEncoderOutLayers(TestPaths.Tiny));
        using var io = SafetensorsSource.OpenFile(Path.Combine(TestPaths.Tiny, "text_encoder_io.safetensors"));
        using var ids = io.Read("input_ids");
        using var mask = io.Read("attention_mask");
        using var a = enc.Encode(ids, mask);
        using var b = full.Encode(ids, mask);
        var h = enc.Model.Config.HiddenSize;
        using var slice = b[TensorIndex.Ellipsis, TensorIndex.Slice(0, h)];
        Assert.Equal(0f, (a - slice).abs().max().item<float>());
    }

    /// <summary>transformers reports the last layer's hidden state after the final norm (the fixture's layer 3 of 3);
    /// the raw residual stream of that layer does not match, so the convention matters.</summary>
    [Fact]
    public void LastHiddenStateIsAfterTheFinalNorm()
    {
        TorchRuntime.EnsureLoaded();
        using var enc = Flux2PromptEncoder.FromFolder(Path.Combine(TestPaths.Tiny, "text_encoder"), new[] { 3 });
        using var io = SafetensorsSource.OpenFile(Path.Combine(TestPaths.Tiny, "text_encoder_io.safetensors"));
        using var ids = io.Read("input_ids");
        using var mask = io.Read("attention_mask");
        using var expected = io.Read("prompt_embeds");
        var m = enc.Model;
        var h = m.Config.HiddenSize;
        using var _ = no_grad();
        var h2 = m.HiddenStates(ids, mask, new[] { 2 })[0];
        var (cos, sin) =
            MistralRotaryEmbedding.CosSin(ids.shape[1], m.Config.HeadDim, m.Config.RopeTheta, h2.device, h2.dtype);
        using var allowed = MistralTextModel.AttentionMask(mask, ids.shape[0], ids.shape[1], h2.device);
        using var raw = m.layers[2].forward(h2, cos, sin, allowed);
        using var normed = m.norm!.forward(raw);
        using var refLast = expected[TensorIndex.Ellipsis, TensorIndex.Slice(2 * h, 3 * h)];
        Assert.True((normed - refLast).abs().max().item<float>() <= 1e-4f);
        Assert.True((raw - refLast).abs().max().item<float>() > 1e-2f);
    }
}
