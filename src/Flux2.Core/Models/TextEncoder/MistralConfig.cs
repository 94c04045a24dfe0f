using Flux2.IO;

namespace Flux2.Models.TextEncoder;

/// <summary>
/// Language-model config of the FLUX.2 text encoder. Defaults are the production model, the Mistral-Small-3.x
/// <c>text_config</c> (docs/flux2-model.md §4.2): 40 layers, hidden 5120, SwiGLU 32768, 32 heads / 8 KV heads of 128,
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

    /// <summary>The production Mistral-Small-3.1/3.2 24B text config (docs/flux2-model.md §4.2).</summary>
    public static MistralConfig MistralSmall3 { get; } = new();

    /// <summary>The shape of the flux2-tiny parity fixture's language model (3 layers, hidden 16, 4/2 heads of
    /// 4).</summary>
    public static MistralConfig Tiny { get; } = new()
    {
        VocabSize = 1000,
        HiddenSize = 16,
        IntermediateSize = 37,
        NumHiddenLayers = 3,
        NumAttentionHeads = 4,
        NumKeyValueHeads = 2,
        HeadDim = 4,
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

    /// <summary>Checks the values the model relies on; <paramref name="origin"/> names the source in errors.</summary>
    public void Validate(string origin = "Mistral config")
    {
        void Fail(string key, string why) => throw new ConfigException(origin, key, why);
        foreach (var (k, v) in new[] { ("num_attention_heads", NumAttentionHeads),
                                       ("num_key_value_heads", NumKeyValueHeads), ("vocab_size", VocabSize),
                                       ("hidden_size", HiddenSize), ("intermediate_size", IntermediateSize),
                                       ("num_hidden_layers", NumHiddenLayers), ("head_dim", HeadDim) })
            if (v <= 0) Fail(k, $"must be positive, got {v}");
        if (NumAttentionHeads % NumKeyValueHeads != 0)
            Fail("num_key_value_heads",
                $"must divide num_attention_heads ({NumAttentionHeads}), got {NumKeyValueHeads}");
        if (HeadDim % 2 != 0) Fail("head_dim", $"must be even for RoPE, got {HeadDim}");
    }

    /// <summary>Reads a transformers config.json: a <c>Mistral3ForConditionalGeneration</c> (fields under
    /// <c>text_config</c>) or a plain Mistral config. RoPE theta is <c>rope_parameters.rope_theta</c> (transformers 5)
    /// or <c>rope_theta</c> (older); head_dim defaults to hidden/heads when absent or null; num_key_value_heads: null
    /// means one per attention head (as transformers); other absent fields take the production defaults.</summary>
    public static MistralConfig FromJson(string path) => FromJson(ConfigJson.Load(path));

    public static MistralConfig FromJson(ConfigJson root)
    {
        var t = root.Object("text_config") ?? root;
        var rope = t.Object("rope_parameters");
        var d = new MistralConfig();

        var hidden = t.Int("hidden_size", d.HiddenSize);
        var heads = t.Int("num_attention_heads", d.NumAttentionHeads);
        if (rope?.String("rope_type", "default") is { } type && type != "default")
            throw rope.Error("rope_type", $"'{type}' is not supported (only 'default')");
        var cfg = new MistralConfig
        {
            VocabSize = t.Int("vocab_size", d.VocabSize),
            HiddenSize = hidden,
            IntermediateSize = t.Int("intermediate_size", d.IntermediateSize),
            NumHiddenLayers = t.Int("num_hidden_layers", d.NumHiddenLayers),
            NumAttentionHeads = heads,
            NumKeyValueHeads = t.Has("num_key_value_heads") ? t.NullableInt("num_key_value_heads") ?? heads
                : d.NumKeyValueHeads,
            HeadDim = t.Int("head_dim", heads > 0 ? hidden / heads : 0),
            RopeTheta = rope?.Double("rope_theta", t.Double("rope_theta", d.RopeTheta))
                ?? t.Double("rope_theta", d.RopeTheta),
            RmsNormEps = t.Double("rms_norm_eps", d.RmsNormEps),
            PadTokenId = t.Int("pad_token_id", root.Int("pad_token_id", d.PadTokenId)),
            BosTokenId = t.Int("bos_token_id", d.BosTokenId),
            EosTokenId = t.Int("eos_token_id", d.EosTokenId),
        };
        cfg.Validate(root.File);
        return cfg;
    }
}
