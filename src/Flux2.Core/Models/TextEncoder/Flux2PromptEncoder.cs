using System.Text.Json.Nodes;
using Flux2.IO;
using Flux2.Nn;
using Flux2.Nn.Quantization;
using TorchSharp;
using static TorchSharp.torch;

namespace Flux2.Models.TextEncoder;

/// <summary>
/// FLUX.2 prompt embeddings (docs/flux2-model.md §4.3 steps 4–6): run the Mistral (or [klein]'s Qwen3) language
/// model with the causal + padding mask and concatenate, per token, the hidden states of <see cref="OutLayers"/>
/// (FLUX.2-dev: 10, 20, 30; [klein]: 9, 18, 27) → [B, L, n·hidden] = [layer a | layer b | layer c]. Only layers up
/// to max(OutLayers) are built and loaded.
/// </summary>
public sealed class Flux2PromptEncoder : IDisposable
{
    /// <summary>FLUX.2-dev's layers (docs/flux2-model.md §4.3 step 5).</summary>
    public static readonly int[] DefaultOutLayers = { 10, 20, 30 };

    /// <summary>FLUX.2 [klein]'s layers of Qwen3 (diffusers' <c>Flux2KleinPipeline</c>
    /// text_encoder_out_layers).</summary>
    public static readonly int[] KleinOutLayers = { 9, 18, 27 };

    /// <summary>Key prefixes of the language model in known checkpoint layouts: transformers 4.x
    /// <c>Mistral3ForConditionalGeneration</c> (FLUX.2-dev, the fixture), transformers 5 native, plain
    /// <c>MistralForCausalLM</c>, bare <c>MistralModel</c>.</summary>
    public static readonly string[] KnownPrefixes = { "language_model.model.", "model.language_model.", "model.", "" };

    public MistralTextModel Model { get; }
    public IReadOnlyList<int> OutLayers { get; }
    public int OutputDim => OutLayers.Count * Model.Config.HiddenSize;

    public Flux2PromptEncoder(MistralConfig cfg, IReadOnlyList<int>? outLayers = null, Device? device = null,
        ScalarType? dtype = null, QuantType? quant = null)
    {
        var layers = (outLayers ?? DefaultOutLayers).ToArray();
        if (layers.Length == 0) throw new ArgumentException("outLayers is empty");
        foreach (var i in layers)
            if (i < 0 || i > cfg.NumHiddenLayers)
                throw new ArgumentOutOfRangeException(nameof(outLayers),
                    $"layer {i} is outside 0..{cfg.NumHiddenLayers} of the text encoder config");
        OutLayers = layers;
        Model = new MistralTextModel(cfg, layers.Max(), device, dtype, quant);
        Model.eval();
    }

    /// <summary>prompt_embeds [B, L, n_layers·hidden] for input_ids [B, L] (int64) and attention_mask [B,
    /// L].</summary>
    public Tensor Encode(Tensor inputIds, Tensor? attentionMask)
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var hs = Model.HiddenStates(inputIds, attentionMask, OutLayers);
        // stack(dim=1) → [B, n, L, H] → permute → [B, L, n, H] → reshape (docs/flux2-model.md §4.3 step 6) ==
        // cat on the last dim.
        return cat(hs, -1).MoveToOuterDisposeScope();
    }

    /// <summary>Loads the weights that the built layers need from <paramref name="source"/> (a whole
    /// <c>Mistral3ForConditionalGeneration</c> checkpoint or a bare language model): the language-model prefix is
    /// detected, vision tower / projector / lm_head / unbuilt layers are ignored; everything built must be
    /// present.</summary>
    public void LoadWeights(ITensorSource source)
    {
        var prefix = KnownPrefixes.FirstOrDefault(p => source.Keys.Contains(p + "embed_tokens.weight"))
            ?? throw new WeightLoadException(source.Origin, new[] { "language_model.model.embed_tokens.weight" },
                Array.Empty<string>(),
                new[] { "no language model found (looked for embed_tokens.weight under " +
                        string.Join(", ", KnownPrefixes.Select(p => $"'{p}'")) + ")" });
        using var view = RenamedSource.StripPrefix(source, prefix, Model.WantsKey, ownsInner: false);
        ModuleLoader.Load(Model, view);
    }

    /// <summary>Builds from a text_encoder folder (config.json + model.safetensors or sharded
    /// <c>model.safetensors.index.json</c>) and loads the needed weights; with <paramref name="quant"/>, the decoder
    /// layers' Linear weights are quantized while loading, one tensor at a time.</summary>
    public static Flux2PromptEncoder FromFolder(string textEncoderFolder, IReadOnlyList<int>? outLayers = null,
        Device? device = null, ScalarType? dtype = null, QuantType? quant = null)
    {
        var configPath = Path.Combine(textEncoderFolder, "config.json");
        if (!File.Exists(configPath)) throw new FileNotFoundException($"text encoder config not found: {configPath}",
            configPath);
        var cfg = MistralConfig.FromJson(configPath);
        using var source = WeightFiles.Open(textEncoderFolder);
        var enc = new Flux2PromptEncoder(cfg, outLayers, device, dtype, quant);
        try { enc.LoadWeights(source); }
        catch { enc.Dispose(); throw; }
        return enc;
    }


    public void Dispose() => Model.Dispose();
}
