using Flux2.Nn;
using Flux2.Nn.Quantization;
using TorchSharp;
using static TorchSharp.torch;
using F = Flux2.Nn.Functional;

namespace Flux2.Models.Transformer;

/// <summary>Fused projections of a single-stream block (diffusers <c>Flux2ParallelSelfAttention</c>).</summary>
public sealed class ParallelSelfAttention : nn.Module
{
    public Linear to_qkv_mlp_proj, to_out;
    public RMSNorm norm_q, norm_k;

    public ParallelSelfAttention(TransformerConfig c, Device? device, ScalarType? dtype, QuantType? quant = null)
        : base(nameof(ParallelSelfAttention))
    {
        int d = c.InnerDim, m = c.MlpHidden;
        to_qkv_mlp_proj = new Linear(d, 3 * d + 2 * m, device: device, dtype: dtype, quant: quant);
        to_out = new Linear(d + m, d, device: device, dtype: dtype, quant: quant);
        norm_q = new RMSNorm(c.AttentionHeadDim, c.Eps, device, dtype);
        norm_k = new RMSNorm(c.AttentionHeadDim, c.Eps, device, dtype);
        RegisterComponents();
    }
}

/// <summary>A single-stream block's inputs: x = [txt; img] [B, Nt+Ni, D], the shared modulation set, and the RoPE
/// tables. Packed as [x, shift, scale, gate, cos, sin]; x is the hidden state.</summary>
public sealed record SingleBlockInputs(Tensor X, ModulationParams Mod, Tensor Cos, Tensor Sin)
    : IBlockInputs<SingleBlockInputs>
{
    public Tensor[] Pack() => [X, Mod.Shift, Mod.Scale, Mod.Gate, Cos, Sin];

    public static SingleBlockInputs Unpack(IReadOnlyList<Tensor> t) => new(t[0], new(t[1], t[2], t[3]), t[4], t[5]);

    public static IReadOnlyList<int> HiddenStates { get; } = [0];
}

/// <summary>
/// Single-stream, fully parallel block: one projection yields [q | k | v | mlp_gate | mlp_up];
/// attention and SwiGLU MLP run side by side and one output projection merges them.
/// </summary>
public sealed class SingleStreamBlock : nn.Module
{
    readonly int headDim, innerDim, mlpHidden;
    readonly double eps;
    public ParallelSelfAttention attn;

    public SingleStreamBlock(TransformerConfig c, Device? device, ScalarType? dtype, QuantType? quant = null)
        : base(nameof(SingleStreamBlock))
    {
        headDim = c.AttentionHeadDim; innerDim = c.InnerDim; mlpHidden = c.MlpHidden; eps = c.Eps;
        attn = new ParallelSelfAttention(c, device, dtype, quant);
        RegisterComponents();
    }

    /// <summary>Returns [x'], a new tensor.</summary>
    public Tensor[] Forward(SingleBlockInputs inputs)
    {
        using var scope = NewDisposeScope();
        var (x, mod, cos, sin) = inputs;
        var xn = F.Modulate(F.LayerNormNoAffine(x, eps), mod.Shift, mod.Scale);
        var h = attn.to_qkv_mlp_proj.forward(xn);
        var parts = h.split(new long[] { innerDim, innerDim, innerDim, mlpHidden, mlpHidden }, -1);
        var q = attn.norm_q.forward(Attention.SplitHeads(parts[0], headDim));
        var k = attn.norm_k.forward(Attention.SplitHeads(parts[1], headDim));
        var v = Attention.SplitHeads(parts[2], headDim);
        var a = Attention.Joint(q, k, v, cos, sin);
        var m = nn.functional.silu(parts[3]) * parts[4];
        var y = attn.to_out.forward(cat(new[] { a, m }, -1));
        return [(x + mod.Gate * y).MoveToOuterDisposeScope()];
    }
}
