using Flux2.Nn.Quantization;
using Flux2.Nn;
using TorchSharp;
using TorchSharp.Modules;
using Linear = Flux2.Nn.Linear;
using static TorchSharp.torch;
using F = Flux2.Nn.Functional;

namespace Flux2.Models.Transformer;

/// <summary>SwiGLU feed-forward (reference §2.5 step 9): linear_out(SiLU(a) · b) with [a | b] = linear_in(x).</summary>
public sealed class SwiGLUFeedForward : nn.Module<Tensor, Tensor>
{
    public Linear linear_in, linear_out;

    public SwiGLUFeedForward(int dim, int hidden, Device? device, ScalarType? dtype, QuantType? quant = null) : base(nameof(SwiGLUFeedForward))
    {
        linear_in = new Linear(dim, 2 * hidden, device: device, dtype: dtype, quant: quant);
        linear_out = new Linear(hidden, dim, device: device, dtype: dtype, quant: quant);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var h = linear_in.forward(x).chunk(2, -1);
        return linear_out.forward(nn.functional.silu(h[0]) * h[1]).MoveToOuterDisposeScope();
    }
}

/// <summary>Attention weights of a double-stream block: image stream (to_q/k/v, to_out.0) and text stream
/// (add_q/k/v_proj, to_add_out), each with per-head QK RMSNorm (reference §2.5 table).</summary>
public sealed class DoubleStreamAttention : nn.Module
{
    public Linear to_q, to_k, to_v, add_q_proj, add_k_proj, add_v_proj, to_add_out;
    public ModuleList<Linear> to_out;
    public RMSNorm norm_q, norm_k, norm_added_q, norm_added_k;

    public DoubleStreamAttention(TransformerConfig c, Device? device, ScalarType? dtype, QuantType? quant = null) : base(nameof(DoubleStreamAttention))
    {
        int d = c.InnerDim;
        Linear L() => new(d, d, device: device, dtype: dtype, quant: quant);
        RMSNorm N() => new(c.AttentionHeadDim, c.Eps, device, dtype);
        (to_q, to_k, to_v, add_q_proj, add_k_proj, add_v_proj, to_add_out) = (L(), L(), L(), L(), L(), L(), L());
        to_out = new ModuleList<Linear>(L());
        (norm_q, norm_k, norm_added_q, norm_added_k) = (N(), N(), N(), N());
        RegisterComponents();
    }
}

/// <summary>
/// Double-stream block (diffusers <c>Flux2TransformerBlock</c>, BFL <c>DoubleStreamBlock</c>; reference §2.5):
/// separate weights per stream, one joint attention over [text; image].
/// </summary>
public sealed class DoubleStreamBlock : nn.Module
{
    readonly int headDim;
    readonly double eps;
    public DoubleStreamAttention attn;
    public SwiGLUFeedForward ff, ff_context;

    public DoubleStreamBlock(TransformerConfig c, Device? device, ScalarType? dtype, QuantType? quant = null) : base(nameof(DoubleStreamBlock))
    {
        headDim = c.AttentionHeadDim; eps = c.Eps;
        attn = new DoubleStreamAttention(c, device, dtype, quant);
        ff = new SwiGLUFeedForward(c.InnerDim, c.MlpHidden, device, dtype, quant);
        ff_context = new SwiGLUFeedForward(c.InnerDim, c.MlpHidden, device, dtype, quant);
        RegisterComponents();
    }

    /// <summary>img [B, Ni, D], txt [B, Nt, D]; modImg/modTxt = (attention set, MLP set). Returns (txt, img).</summary>
    public (Tensor txt, Tensor img) Forward(Tensor img, Tensor txt, ModulationParams[] modImg, ModulationParams[] modTxt, Tensor cos, Tensor sin)
    {
        using var scope = NewDisposeScope();
        var (mi, mt) = (modImg[0], modTxt[0]);
        var imgN = F.Modulate(F.LayerNormNoAffine(img, eps), mi.Shift, mi.Scale);
        var txtN = F.Modulate(F.LayerNormNoAffine(txt, eps), mt.Shift, mt.Scale);

        var a = attn;
        var q = cat(new[] { a.norm_added_q.forward(Attention.SplitHeads(a.add_q_proj.forward(txtN), headDim)), a.norm_q.forward(Attention.SplitHeads(a.to_q.forward(imgN), headDim)) }, 1);
        var k = cat(new[] { a.norm_added_k.forward(Attention.SplitHeads(a.add_k_proj.forward(txtN), headDim)), a.norm_k.forward(Attention.SplitHeads(a.to_k.forward(imgN), headDim)) }, 1);
        var v = cat(new[] { Attention.SplitHeads(a.add_v_proj.forward(txtN), headDim), Attention.SplitHeads(a.to_v.forward(imgN), headDim) }, 1);
        var joint = Attention.Joint(q, k, v, cos, sin);
        long nt = txt.shape[1];
        var txtAttn = joint[.., ..(int)nt];
        var imgAttn = joint[.., (int)nt..];

        img = img + mi.Gate * a.to_out[0].forward(imgAttn);
        var mi2 = modImg[1];
        img = img + mi2.Gate * ff.forward(F.Modulate(F.LayerNormNoAffine(img, eps), mi2.Shift, mi2.Scale));

        txt = txt + mt.Gate * a.to_add_out.forward(txtAttn);
        var mt2 = modTxt[1];
        txt = txt + mt2.Gate * ff_context.forward(F.Modulate(F.LayerNormNoAffine(txt, eps), mt2.Shift, mt2.Scale));
        return (txt.MoveToOuterDisposeScope(), img.MoveToOuterDisposeScope());
    }
}
