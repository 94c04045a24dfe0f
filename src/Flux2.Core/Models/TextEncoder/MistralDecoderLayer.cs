using Flux2.Nn;
using Flux2.Nn.Quantization;
using TorchSharp;
using static TorchSharp.torch;
using Linear = Flux2.Nn.Linear;

namespace Flux2.Models.TextEncoder;

/// <summary>SwiGLU feed-forward (docs/flux2-model.md §4.2): down_proj(silu(gate_proj(x)) · up_proj(x)), no
/// bias.</summary>
public sealed class MistralMlp : nn.Module<Tensor, Tensor>
{
    public Linear gate_proj, up_proj, down_proj;

    public MistralMlp(MistralConfig cfg, Device? device = null, ScalarType? dtype = null, QuantType? quant = null)
        : base(nameof(MistralMlp))
    {
        gate_proj = new Linear(cfg.HiddenSize, cfg.IntermediateSize, device: device, dtype: dtype, quant: quant);
        up_proj = new Linear(cfg.HiddenSize, cfg.IntermediateSize, device: device, dtype: dtype, quant: quant);
        down_proj = new Linear(cfg.IntermediateSize, cfg.HiddenSize, device: device, dtype: dtype, quant: quant);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var h = nn.functional.silu(gate_proj.forward(x)).mul_(up_proj.forward(x));
        return down_proj.forward(h).MoveToOuterDisposeScope();
    }
}

/// <summary>Pre-norm decoder layer (docs/flux2-model.md §4.2): h = x + attn(RMSNorm(x)); out = h + mlp(RMSNorm(h)).
/// Checkpoint names: <c>input_layernorm</c>, <c>self_attn</c>, <c>post_attention_layernorm</c>, <c>mlp</c>.</summary>
public sealed class MistralDecoderLayer : nn.Module<Tensor, Tensor, Tensor, Tensor, Tensor>
{
    public RMSNorm input_layernorm, post_attention_layernorm;
    public MistralAttention self_attn;
    public MistralMlp mlp;

    public MistralDecoderLayer(MistralConfig cfg, Device? device = null, ScalarType? dtype = null,
        QuantType? quant = null) : base(nameof(MistralDecoderLayer))
    {
        input_layernorm = new RMSNorm(cfg.HiddenSize, cfg.RmsNormEps, device, dtype);
        self_attn = new MistralAttention(cfg, device, dtype, quant);
        post_attention_layernorm = new RMSNorm(cfg.HiddenSize, cfg.RmsNormEps, device, dtype);
        mlp = new MistralMlp(cfg, device, dtype, quant);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x, Tensor cos, Tensor sin, Tensor allowed)
    {
        using var scope = NewDisposeScope();
        var h = x + self_attn.forward(input_layernorm.forward(x), cos, sin, allowed);
        return (h + mlp.forward(post_attention_layernorm.forward(h))).MoveToOuterDisposeScope();
    }
}
