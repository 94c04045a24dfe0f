using System.Text.Json;
using Flux2.IO;
using Flux2.Models.TextEncoder;
using static TorchSharp.torch;

namespace Flux2.Verification;

/// <summary>Text-encoder comparison: prompt_embeds from stored input_ids/attention_mask, stacking the hidden states
/// named by fixture.json <c>te_out_layers</c> (read, not assumed: other fixtures use other layers).</summary>
static class TextEncoderCheck
{
    public static void Run(string dir, JsonElement fixture, Action<string, Tensor, Tensor> compare,
                           Action<string, Action> guard) =>
        guard("text_encoder.prompt_embeds", () =>
        {
            if (!fixture.TryGetProperty("te_out_layers", out var layersJson)
                || layersJson.ValueKind != JsonValueKind.Array)
                throw new InvalidDataException($"{Path.Combine(dir, "fixture.json")}: key 'te_out_layers' (array of " +
                    $"layer indices) is missing");
            var layers = layersJson.EnumerateArray().Select(e => e.GetInt32()).ToArray();
            using var encoder = Flux2PromptEncoder.FromFolder(Path.Combine(dir, "text_encoder"), layers);
            using var io = SafetensorsSource.OpenFile(Path.Combine(dir, "text_encoder_io.safetensors"));
            using var scope = NewDisposeScope();
            compare("text_encoder.prompt_embeds", encoder.Encode(io.Read("input_ids"), io.Read("attention_mask")),
                io.Read("prompt_embeds"));
        });
}
