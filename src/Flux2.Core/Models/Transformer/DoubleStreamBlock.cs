using Flux2.Nn;
using Flux2.Nn.Quantization;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = Flux2.Nn.Functional;
using Linear = Flux2.Nn.Linear;

namespace Flux2.Models.Transformer;

/// <summary>SwiGLU feed-forward: linear_out(SiLU(a) · b) with [a | b] = linear_in(x).</summary>
public sealed class SwiGLUFeedForward : nn.Module<Tensor, Tensor>
{
    public Linear linear_in, linear_out;

    public SwiGLUFeedForward(int dim, int hidden, Device? device, ScalarType? dtype, QuantType? quant = null)
        : base(nameof(SwiGLUFeedForward))
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
/// (add_q/k/v_proj, to_add_out), each with per-head QK RMSNorm.</summary>
public sealed class DoubleStreamAttention : nn.Module
{
    public Linear to_q, to_k, to_v, add_q_proj, add_k_proj, add_v_proj, to_add_out;
    public ModuleList<Linear> to_out;
    public RMSNorm norm_q, norm_k, norm_added_q, norm_added_k;

    public DoubleStreamAttention(TransformerConfig c, Device? device, ScalarType? dtype, QuantType? quant = null)
        : base(nameof(DoubleStreamAttention))
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

/// <summary>A double-stream block's inputs: img [B, Ni, D], txt [B, Nt, D], the shared modulation sets of each stream
/// (attention set, MLP set), and the RoPE tables. Packed as [img, txt, 6 image modulations, 6 text modulations, cos,
/// sin]; img and txt are the hidden states.</summary>
public sealed record DoubleBlockInputs(Tensor Img, Tensor Txt, ModulationParams[] ModImg, ModulationParams[] ModTxt,
                                       Tensor Cos, Tensor Sin) : IBlockInputs<DoubleBlockInputs>
{
    public Tensor[] Pack() =>
        [Img, Txt, .. ModulationParams.Flatten(ModImg), .. ModulationParams.Flatten(ModTxt), Cos, Sin];

    public static DoubleBlockInputs Unpack(IReadOnlyList<Tensor> t) =>
        new(t[0], t[1], ModulationParams.Unflatten(t, 2, 2), ModulationParams.Unflatten(t, 8, 2), t[14], t[15]);

    public static IReadOnlyList<int> HiddenStates { get; } = [0, 1];
}

/// <summary>
/// Double-stream block (diffusers <c>Flux2TransformerBlock</c>, BFL <c>DoubleStreamBlock</c>):
/// separate weights per stream, one joint attention over [text; image].
/// </summary>
public sealed class DoubleStreamBlock : nn.Module
{
    readonly int headDim;
    readonly double eps;
    public DoubleStreamAttention attn;
    public SwiGLUFeedForward ff, ff_context;

    public DoubleStreamBlock(TransformerConfig c, Device? device, ScalarType? dtype, QuantType? quant = null)
        : base(nameof(DoubleStreamBlock))
    {
        headDim = c.AttentionHeadDim; eps = c.Eps;
        attn = new DoubleStreamAttention(c, device, dtype, quant);
        ff = new SwiGLUFeedForward(c.InnerDim, c.MlpHidden, device, dtype, quant);
        ff_context = new SwiGLUFeedForward(c.InnerDim, c.MlpHidden, device, dtype, quant);
        RegisterComponents();
    }

    /// <summary>Returns [txt, img], new tensors.</summary>
    public Tensor[] Forward(DoubleBlockInputs inputs)
    {
        using var scope = NewDisposeScope();
        var (img, txt, modImg, modTxt, cos, sin) = inputs;
        var (mi, mt) = (modImg[0], modTxt[0]);
        var imgN = F.Modulate(F.LayerNormNoAffine(img, eps), mi.Shift, mi.Scale);
        var txtN = F.Modulate(F.LayerNormNoAffine(txt, eps), mt.Shift, mt.Scale);

        var a = attn;
        Tensor Heads(Linear proj, Tensor x) => Attention.SplitHeads(proj.forward(x), headDim);
        var q = cat(new[] { a.norm_added_q.forward(Heads(a.add_q_proj, txtN)),
                            a.norm_q.forward(Heads(a.to_q, imgN)) }, 1);
        var k = cat(new[] { a.norm_added_k.forward(Heads(a.add_k_proj, txtN)),
                            a.norm_k.forward(Heads(a.to_k, imgN)) }, 1);
        var v = cat(new[] { Heads(a.add_v_proj, txtN), Heads(a.to_v, imgN) }, 1);
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
        return [txt.MoveToOuterDisposeScope(), img.MoveToOuterDisposeScope()];
    }
}
