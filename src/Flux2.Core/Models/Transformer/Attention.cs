using static TorchSharp.torch;

namespace Flux2.Models.Transformer;

/// <summary>Joint attention as FLUX.2 uses it (docs/flux2-model.md §2.5 steps 3-5, §2.7): RoPE on q and k, then SDPA
/// with the default 1/√head_dim scale and no mask — padded text tokens are attended to, as in the
/// reference.</summary>
public static class Attention
{
    /// <summary>q, k, v [B, S, H, D] → [B, S, H·D].</summary>
    public static Tensor Joint(Tensor q, Tensor k, Tensor v, Tensor cos, Tensor sin)
    {
        using var scope = NewDisposeScope();
        q = RoPE.Apply(q, cos, sin).to(v.dtype);
        k = RoPE.Apply(k, cos, sin).to(v.dtype);
        var o = nn.functional.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2));
        return o.transpose(1, 2).flatten(2).MoveToOuterDisposeScope();
    }

    /// <summary>[B, S, H·D] → [B, S, H, D].</summary>
    public static Tensor SplitHeads(Tensor x, int headDim) => x.view(x.shape[0], x.shape[1], -1, headDim);
}
