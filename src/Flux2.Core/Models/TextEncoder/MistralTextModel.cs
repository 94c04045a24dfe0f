using Flux2.Nn;
using Flux2.Nn.Offload;
using Flux2.Nn.Quantization;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Flux2.Models.TextEncoder;

/// <summary>
/// The Mistral language model of the FLUX.2 text encoder (docs/flux2-model.md §4.2), as transformers'
/// <c>MistralModel</c> without lm_head; with a Qwen3 config (<see cref="TextEncoderFamily.Qwen3"/>), transformers'
/// <c>Qwen3Model</c> ([klein]; its tied lm_head is not built). Parameter names are the checkpoint's below the
/// <c>language_model.model.</c> (Qwen3: <c>model.</c>) prefix: <c>embed_tokens.weight</c>,
/// <c>layers.N.self_attn.q_proj.weight</c>, ..., <c>norm.weight</c>.
/// <para>Only the first <see cref="BuiltLayers"/> decoder layers are built: FLUX.2 reads hidden states up to layer 30
/// of 40 (docs/flux2-model.md §4.3 "implementation shortcut"), which skips ~5 B parameters. The final <c>norm</c>
/// exists only when every layer is built.</para>
/// <para>Hidden-state indices follow transformers' <c>output_hidden_states</c>: 0 = embedding output, k = output of
/// decoder layer k (residual stream, before the final norm), except k = NumHiddenLayers which transformers reports
/// after the final norm.</para>
/// <para>With a <see cref="QuantType"/>, the seven Linear layers of every decoder layer are built with quantized
/// storage and filled by the loader tensor by tensor; the embedding and the norms stay in <c>dtype</c>.</para>
/// </summary>
public sealed class MistralTextModel : nn.Module
{
    public MistralConfig Config { get; }
    public int BuiltLayers { get; }
    public Embedding embed_tokens;
    public ModuleList<MistralDecoderLayer> layers;
    public RMSNorm? norm;

    public MistralTextModel(MistralConfig cfg, int? layersToBuild = null, Device? device = null,
        ScalarType? dtype = null, QuantType? quant = null)
        : base(nameof(MistralTextModel))
    {
        cfg.Validate();
        var k = layersToBuild ?? cfg.NumHiddenLayers;
        if (k < 0 || k > cfg.NumHiddenLayers)
            throw new ArgumentOutOfRangeException(nameof(layersToBuild),
                $"{k} layers requested, the config has {cfg.NumHiddenLayers}");
        Config = cfg;
        BuiltLayers = k;
        embed_tokens = nn.Embedding(cfg.VocabSize, cfg.HiddenSize, device: device, dtype: dtype ?? ScalarType.Float32);
        embed_tokens.weight!.requires_grad = false;
        layers = new ModuleList<MistralDecoderLayer>();
        for (var i = 0; i < k; i++) layers.Add(new MistralDecoderLayer(cfg, device, dtype, quant));
        if (k == cfg.NumHiddenLayers) norm = new RMSNorm(cfg.HiddenSize, cfg.RmsNormEps, device, dtype);
        RegisterComponents();
    }

    /// <summary>Checkpoint keys (relative to the language model) this model expects: used to load a prefix of the
    /// layers from a full checkpoint.</summary>
    public bool WantsKey(string key)
    {
        if (key.StartsWith("layers.", StringComparison.Ordinal))
        {
            var dot = key.IndexOf('.', 7);
            return dot > 7 && int.TryParse(key.AsSpan(7, dot - 7), out var n) && n < BuiltLayers;
        }
        if (key.StartsWith("norm.", StringComparison.Ordinal)) return norm is not null;
        return key.StartsWith("embed_tokens.", StringComparison.Ordinal);
    }

    /// <summary>Run on this device with the weights left where they are (CPU memory), each decoder layer copied over
    /// only while it computes (<see cref="StreamedToDevice"/>; low_vram's prompt encoding next to a loaded
    /// transformer). The token embedding table stays put too: the lookup is done there and only the [B, L, hidden]
    /// result moves. Null: everything runs where the weights are.</summary>
    public Device? StreamLayersTo { get; set; }

    IDisposable? OnDevice(nn.Module part) => StreamLayersTo is { } d ? StreamedToDevice.While(part, d) : null;

    /// <summary>Hidden states at <paramref name="indices"/> (see the class remarks), each [B, L, hidden].</summary>
    /// <param name="inputIds">int64 [B, L]</param>
    /// <param name="attentionMask">[B, L], 1 = token, 0 = padding (any integer/bool dtype); null = no padding.</param>
    public Tensor[] HiddenStates(Tensor inputIds, Tensor? attentionMask, IReadOnlyList<int> indices)
    {
        if (inputIds.dim() != 2)
            throw new ArgumentException($"input_ids must be [B, L], got [{string.Join(", ", inputIds.shape)}]");
        if (attentionMask is not null && !attentionMask.shape.SequenceEqual(inputIds.shape))
            throw new ArgumentException($"attention_mask [{string.Join(", ", attentionMask.shape)}] must match " +
                $"input_ids [{string.Join(", ", inputIds.shape)}]");
        if (indices.Count == 0) throw new ArgumentException("no hidden-state index requested");
        foreach (var i in indices)
            if (i < 0 || i > BuiltLayers)
                throw new ArgumentOutOfRangeException(nameof(indices),
                    $"hidden state {i} requested, but only layers 0..{BuiltLayers} are built");
        var last = indices.Max();

        using var scope = NewDisposeScope();
        var device = StreamLayersTo ?? embed_tokens.weight!.device;
        var (b, l) = (inputIds.shape[0], inputIds.shape[1]);
        var x = embed_tokens.forward(inputIds.to(embed_tokens.weight!.device)).to(device);
        var (cos, sin) = MistralRotaryEmbedding.CosSin(l, Config.HeadDim, Config.RopeTheta, device, x.dtype);
        var allowed = AttentionMask(attentionMask?.to(device), b, l, device);

        var found = new Tensor?[indices.Count];
        void Keep(int index, Tensor h)
        {
            for (var j = 0; j < indices.Count; j++)
                if (indices[j] == index) found[j] = h.MoveToOuterDisposeScope();
        }
        Keep(0, x);
        for (var i = 0; i < last; i++)
        {
            using (OnDevice(layers[i])) x = layers[i].forward(x, cos, sin, allowed);
            if (i + 1 == Config.NumHiddenLayers && norm is not null)
                using (OnDevice(norm)) Keep(i + 1, norm.forward(x));
            else Keep(i + 1, x);
        }
        return found.Select(t => t!).ToArray();
    }

    /// <summary>
    /// bool [B, 1, L, L]: causal (key j ≤ query i) and key j is not padding, as transformers' causal + padding mask.
    /// With right padding every row keeps at least key 0, so padded query rows stay finite; a row with no allowed key
    /// (an all-padding sequence) is allowed its own position instead of producing NaN.
    /// </summary>
    public static Tensor AttentionMask(Tensor? attentionMask, long batch, long length, Device device)
    {
        using var scope = NewDisposeScope();
        var causal = ones(length, length, ScalarType.Bool, device).tril();                 // [L, L]
        var allowed = causal.unsqueeze(0).unsqueeze(0).expand(batch, 1, length, length);   // [B, 1, L, L]
        if (attentionMask is not null)
        {
            var keys = attentionMask.ne(0).view(batch, 1, 1, length);
            allowed = allowed.logical_and(keys);
            var empty = allowed.any(-1, keepdim: true).logical_not();                      // [B, 1, L, 1]
            allowed = allowed.logical_or(empty.logical_and(eye(length, dtype: ScalarType.Bool, device: device)));
        }
        return allowed.contiguous().MoveToOuterDisposeScope();
    }
}
