using System.Text.Json;
using System.Text.Json.Nodes;

namespace Flux2.Models.TextEncoder;

/// <summary>
/// Language-model config of the FLUX.2 text encoder. Defaults are the production model, the Mistral-Small-3.x
/// <c>text_config</c> (reference §4.2): 40 layers, hidden 5120, SwiGLU 32768, 32 heads / 8 KV heads of 128,
/// vocab 131072 (Tekken), RoPE theta 1e9, RMSNorm eps 1e-5.
/// </summary>
public sealed record MistralConfig
{
    public int VocabSize { get; init; } = 131072;
    public int HiddenSize { get; init; } = 5120;
    public int IntermediateSize { get; init; } = 32768;
    public int NumHiddenLayers { get; init; } = 40;
    public int NumAttentionHeads { get; init; } = 32;
    public int NumKeyValueHeads { get; init; } = 8;
    public int HeadDim { get; init; } = 128;
    public double RopeTheta { get; init; } = 1e9;
    public double RmsNormEps { get; init; } = 1e-5;
    public int PadTokenId { get; init; } = 11;
    public int BosTokenId { get; init; } = 1;
    public int EosTokenId { get; init; } = 2;

    /// <summary>The production Mistral-Small-3.1/3.2 24B text config (reference §4.2).</summary>
    public static MistralConfig MistralSmall3 { get; } = new();

    /// <summary>The shape of the flux2-tiny parity fixture's language model (3 layers, hidden 16, 4/2 heads of 4).</summary>
    public static MistralConfig Tiny { get; } = new()
    {
        VocabSize = 1000, HiddenSize = 16, IntermediateSize = 37, NumHiddenLayers = 3,
        NumAttentionHeads = 4, NumKeyValueHeads = 2, HeadDim = 4,
    };

    public int QueryDim => NumAttentionHeads * HeadDim;
    public int KeyValueDim => NumKeyValueHeads * HeadDim;

    /// <summary>Parameters of one decoder layer: q/k/v/o projections, gate/up/down, two RMSNorm weights.</summary>
    public long ParametersPerLayer =>
        (long)HiddenSize * QueryDim + 2L * HiddenSize * KeyValueDim + (long)QueryDim * HiddenSize
        + 3L * HiddenSize * IntermediateSize + 2L * HiddenSize;

    public long EmbeddingParameters => (long)VocabSize * HiddenSize;

    /// <summary>Parameters of a <see cref="MistralTextModel"/> built with the first <paramref name="layers"/>
    /// decoder layers: embedding + layers (+ the final norm when all layers are built). No lm_head.</summary>
    public long ParameterCount(int layers)
    {
        if (layers < 0 || layers > NumHiddenLayers)
            throw new ArgumentOutOfRangeException(nameof(layers), $"0..{NumHiddenLayers}");
        return EmbeddingParameters + layers * ParametersPerLayer + (layers == NumHiddenLayers ? HiddenSize : 0);
    }

    public void Validate()
    {
        if (VocabSize <= 0 || HiddenSize <= 0 || IntermediateSize <= 0 || NumHiddenLayers <= 0 || HeadDim <= 0)
            throw new ArgumentException($"Mistral config has a non-positive size: {this}");
        if (NumAttentionHeads <= 0 || NumKeyValueHeads <= 0 || NumAttentionHeads % NumKeyValueHeads != 0)
            throw new ArgumentException($"num_attention_heads ({NumAttentionHeads}) must be a positive multiple of num_key_value_heads ({NumKeyValueHeads})");
        if (HeadDim % 2 != 0) throw new ArgumentException($"head_dim ({HeadDim}) must be even for RoPE");
    }

    /// <summary>Reads a transformers config.json: a <c>Mistral3ForConditionalGeneration</c> (fields under
    /// <c>text_config</c>) or a plain Mistral config. RoPE theta is <c>rope_parameters.rope_theta</c> (transformers 5)
    /// or <c>rope_theta</c> (older); head_dim defaults to hidden/heads when absent or null; absent fields take the
    /// production defaults.</summary>
    public static MistralConfig FromJson(string json, string origin = "config.json")
    {
        var root = JsonNode.Parse(json) as JsonObject ?? throw new FormatException($"{origin}: not a JSON object");
        var t = root["text_config"] as JsonObject ?? root;
        var d = new MistralConfig();
        int I(string k, int def) => t[k] is JsonValue v && v.TryGetValue<int>(out var x) ? x : def;
        double D(JsonNode? n, double def) => n is JsonValue v && v.TryGetValue<double>(out var x) ? x : def;

        var hidden = I("hidden_size", d.HiddenSize);
        var heads = I("num_attention_heads", d.NumAttentionHeads);
        var theta = D(t["rope_parameters"]?["rope_theta"], D(t["rope_theta"], d.RopeTheta));
        if (t["rope_parameters"]?["rope_type"] is JsonValue rt && rt.GetValue<string>() is var type && type != "default")
            throw new NotSupportedException($"{origin}: rope_type '{type}' is not supported (only 'default')");
        var cfg = new MistralConfig
        {
            VocabSize = I("vocab_size", d.VocabSize),
            HiddenSize = hidden,
            IntermediateSize = I("intermediate_size", d.IntermediateSize),
            NumHiddenLayers = I("num_hidden_layers", d.NumHiddenLayers),
            NumAttentionHeads = heads,
            NumKeyValueHeads = t.ContainsKey("num_key_value_heads") ? I("num_key_value_heads", heads) : d.NumKeyValueHeads, // null → MHA, as transformers
            HeadDim = I("head_dim", hidden / heads),
            RopeTheta = theta,
            RmsNormEps = D(t["rms_norm_eps"], d.RmsNormEps),
            PadTokenId = I("pad_token_id", root["pad_token_id"] is JsonValue p && p.TryGetValue<int>(out var pid) ? pid : d.PadTokenId),
            BosTokenId = I("bos_token_id", d.BosTokenId),
            EosTokenId = I("eos_token_id", d.EosTokenId),
        };
        cfg.Validate();
        return cfg;
    }

    public static MistralConfig FromFile(string path) => FromJson(File.ReadAllText(path), path);
}
