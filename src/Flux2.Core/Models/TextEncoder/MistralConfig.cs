using Flux2.IO;

namespace Flux2.Models.TextEncoder;

/// <summary>Which language model a FLUX.2 text encoder is: Mistral-Small-3.x ([dev]) or Qwen3 ([klein]).</summary>
public enum TextEncoderFamily { Mistral, Qwen3 }

/// <summary>
/// Language-model config of the FLUX.2 text encoders. Defaults are the [dev] production model, the Mistral-Small-3.x
/// <c>text_config</c> (docs/flux2-model.md §4.2): 40 layers, hidden 5120, SwiGLU 32768, 32 heads / 8 KV heads of 128,
/// vocab 131072 (Tekken), RoPE theta 1e9, RMSNorm eps 1e-5. [klein]'s Qwen3 (docs/flux2-model.md §8.2) is
/// the same pre-norm GQA decoder with SwiGLU and RoPE plus a per-head RMSNorm of q and k (<see cref="QkNorm"/>).
/// </summary>
public sealed record MistralConfig
{
    public TextEncoderFamily Family { get; init; } = TextEncoderFamily.Mistral;
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

    /// <summary>Qwen3: RMSNorm over head_dim of every query and key head before RoPE (<c>self_attn.q_norm</c>,
    /// <c>self_attn.k_norm</c>, eps <see cref="RmsNormEps"/>).</summary>
    public bool QkNorm => Family == TextEncoderFamily.Qwen3;

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

    /// <summary>Qwen3-4B, the text encoder of FLUX.2 [klein] 4B: 36 layers, hidden 2560, SwiGLU 9728, 32 heads / 8 KV
    /// heads of 128, vocab 151936, RoPE theta 1e6, RMSNorm eps 1e-6, <c>&lt;|endoftext|&gt;</c> (151643) as
    /// padding.</summary>
    public static MistralConfig Qwen3_4B { get; } = new()
    {
        Family = TextEncoderFamily.Qwen3,
        VocabSize = 151936,
        HiddenSize = 2560,
        IntermediateSize = 9728,
        NumHiddenLayers = 36,
        NumAttentionHeads = 32,
        NumKeyValueHeads = 8,
        HeadDim = 128,
        RopeTheta = 1e6,
        RmsNormEps = 1e-6,
        PadTokenId = 151643,
        BosTokenId = 151643,
        EosTokenId = 151645,
    };

    /// <summary>Qwen3-8B, the text encoder of FLUX.2 [klein] 9B: as <see cref="Qwen3_4B"/> with hidden 4096 and
    /// SwiGLU 12288.</summary>
    public static MistralConfig Qwen3_8B { get; } = Qwen3_4B with { HiddenSize = 4096, IntermediateSize = 12288 };

    public int QueryDim => NumAttentionHeads * HeadDim;
    public int KeyValueDim => NumKeyValueHeads * HeadDim;

    /// <summary>Parameters of one decoder layer: q/k/v/o projections, gate/up/down, two RMSNorm weights (+ the q/k
    /// norms of Qwen3).</summary>
    public long ParametersPerLayer =>
        (long)HiddenSize * QueryDim + 2L * HiddenSize * KeyValueDim + (long)QueryDim * HiddenSize
        + 3L * HiddenSize * IntermediateSize + 2L * HiddenSize + (QkNorm ? 2L * HeadDim : 0);

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
    /// <c>text_config</c>), a plain Mistral config, or a Qwen3 one (<c>model_type</c> "qwen3": absent fields take
    /// <see cref="Qwen3_4B"/>'s values; attention bias, sliding windows and other layer types are refused, as no
    /// FLUX.2 encoder has them). RoPE theta is <c>rope_parameters.rope_theta</c> (transformers 5) or
    /// <c>rope_theta</c> (older); head_dim defaults to hidden/heads (Qwen3: 128) when absent or null;
    /// num_key_value_heads: null means one per attention head (as transformers); other absent fields take the
    /// production defaults.</summary>
    public static MistralConfig FromJson(string path) => FromJson(ConfigJson.Load(path));

    public static MistralConfig FromJson(ConfigJson root)
    {
        var t = root.Object("text_config") ?? root;
        var rope = t.Object("rope_parameters");
        var family = t.String("model_type", null) == "qwen3" ? TextEncoderFamily.Qwen3 : TextEncoderFamily.Mistral;
        var d = family == TextEncoderFamily.Qwen3 ? Qwen3_4B : new MistralConfig();
        if (family == TextEncoderFamily.Qwen3) RefuseQwen3Variants(t);

        var hidden = t.Int("hidden_size", d.HiddenSize);
        var heads = t.Int("num_attention_heads", d.NumAttentionHeads);
        if (rope?.String("rope_type", "default") is { } type && type != "default")
            throw rope.Error("rope_type", $"'{type}' is not supported (only 'default')");
        var cfg = new MistralConfig
        {
            Family = family,
            VocabSize = t.Int("vocab_size", d.VocabSize),
            HiddenSize = hidden,
            IntermediateSize = t.Int("intermediate_size", d.IntermediateSize),
            NumHiddenLayers = t.Int("num_hidden_layers", d.NumHiddenLayers),
            NumAttentionHeads = heads,
            NumKeyValueHeads = t.Has("num_key_value_heads") ? t.NullableInt("num_key_value_heads") ?? heads
                : d.NumKeyValueHeads,
            // transformers' Qwen3Config defaults head_dim to 128; Mistral's to hidden / heads.
            HeadDim = t.Int("head_dim", family == TextEncoderFamily.Qwen3 ? d.HeadDim : heads > 0 ? hidden / heads : 0),
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

    static void RefuseQwen3Variants(ConfigJson t)
    {
        if (t.Bool("attention_bias", false))
            throw t.Error("attention_bias", "is true; the Qwen3 encoder here has no q/k/v/o bias");
        if (t.Bool("use_sliding_window", false))
            throw t.Error("use_sliding_window", "is true; the Qwen3 encoder here uses full attention only");
        if (t.Strings("layer_types", null)?.FirstOrDefault(l => l != "full_attention") is { } other)
            throw t.Error("layer_types", $"has '{other}'; the Qwen3 encoder here uses full attention only");
    }
}
