using Flux2.Nn;
using Flux2.Nn.Quantization;
using TorchSharp;
using static TorchSharp.torch;
using Linear = Flux2.Nn.Linear;

namespace Flux2.Models.TextEncoder;

/// <summary>
/// Mistral self-attention (docs/flux2-model.md §4.2): q/k/v/o projections without bias, grouped-query attention (each
/// KV head serves NumAttentionHeads/NumKeyValueHeads consecutive query heads, transformers' repeat_kv), RoPE on q and
/// k, softmax(q kᵀ / sqrt(head_dim) + mask) v. Field names are the checkpoint's (<c>self_attn.q_proj</c> ...). Qwen3
/// (<see cref="MistralConfig.QkNorm"/>) also normalizes each query and key head with its own RMSNorm
/// (<c>q_norm</c>, <c>k_norm</c>, weight [head_dim]) before RoPE, as transformers' <c>Qwen3Attention</c>.
/// </summary>
public sealed class MistralAttention : nn.Module<Tensor, Tensor, Tensor, Tensor, Tensor>
{
    readonly MistralConfig cfg;
    public Linear q_proj, k_proj, v_proj, o_proj;
    public RMSNorm? q_norm, k_norm;

    public MistralAttention(MistralConfig cfg, Device? device = null, ScalarType? dtype = null,
        QuantType? quant = null) : base(nameof(MistralAttention))
    {
        this.cfg = cfg;
        q_proj = new Linear(cfg.HiddenSize, cfg.QueryDim, device: device, dtype: dtype, quant: quant);
        k_proj = new Linear(cfg.HiddenSize, cfg.KeyValueDim, device: device, dtype: dtype, quant: quant);
        v_proj = new Linear(cfg.HiddenSize, cfg.KeyValueDim, device: device, dtype: dtype, quant: quant);
        o_proj = new Linear(cfg.QueryDim, cfg.HiddenSize, device: device, dtype: dtype, quant: quant);
        if (cfg.QkNorm)
        {
            q_norm = new RMSNorm(cfg.HeadDim, cfg.RmsNormEps, device, dtype);
            k_norm = new RMSNorm(cfg.HeadDim, cfg.RmsNormEps, device, dtype);
        }
        RegisterComponents();
    }

    /// <param name="x">[B, L, hidden]</param>
    /// <param name="cos">[L, head_dim]</param>
    /// <param name="sin">[L, head_dim]</param>
    /// <param name="allowed">bool [B, 1, L, L], true where query i may attend to key j.</param>
    public override Tensor forward(Tensor x, Tensor cos, Tensor sin, Tensor allowed)
    {
        if (x.dim() != 3 || x.shape[2] != cfg.HiddenSize)
            throw new ArgumentException($"attention input must be [B, L, {cfg.HiddenSize}], got " +
                $"[{string.Join(", ", x.shape)}]");
        using var scope = NewDisposeScope();
        var (b, l) = (x.shape[0], x.shape[1]);
        var q = q_proj.forward(x).view(b, l, cfg.NumAttentionHeads, cfg.HeadDim);
        var k = k_proj.forward(x).view(b, l, cfg.NumKeyValueHeads, cfg.HeadDim);
        if (q_norm is not null && k_norm is not null) (q, k) = (q_norm.forward(q), k_norm.forward(k));
        q = q.transpose(1, 2);
        k = k.transpose(1, 2);
        var v = v_proj.forward(x).view(b, l, cfg.NumKeyValueHeads, cfg.HeadDim).transpose(1, 2);
        q = MistralRotaryEmbedding.Apply(q, cos, sin);
        k = MistralRotaryEmbedding.Apply(k, cos, sin);
        var groups = cfg.NumAttentionHeads / cfg.NumKeyValueHeads;
        if (groups > 1)
        {
            k = k.repeat_interleave(groups, 1);
            v = v.repeat_interleave(groups, 1);
        }
        // Boolean mask: true = attend. Scale defaults to 1/sqrt(head_dim), as in transformers' Mistral.
        var o = nn.functional.scaled_dot_product_attention(q, k, v, allowed, 0.0, false);
        o = o.transpose(1, 2).reshape(b, l, cfg.QueryDim);
        return o_proj.forward(o).MoveToOuterDisposeScope();
    }
}
