using TorchSharp;
using static TorchSharp.torch;

namespace Flux2.Models.TextEncoder;

/// <summary>
/// Standard Llama/Mistral RoPE (docs/flux2-model.md §4.2): non-interleaved halves, rotate_half, inv_freq = 1 /
/// theta^(2i/d). Computed in fp32 exactly as transformers does (inv_freq and angles in fp32), then cast to the
/// activation dtype. Positions are 0..L-1 for every row (transformers' default cache_position; right padding keeps them
/// right).
/// </summary>
public static class MistralRotaryEmbedding
{
    /// <summary>cos, sin of shape [L, headDim] in <paramref name="dtype"/>.</summary>
    public static (Tensor cos, Tensor sin) CosSin(long length, int headDim, double theta, Device device,
        ScalarType dtype)
    {
        using var scope = NewDisposeScope();
        var exponents = arange(0, headDim, 2, dtype: ScalarType.Int64, device: device).to(ScalarType.Float32) / headDim;
        var invFreq = tensor((float)theta, ScalarType.Float32, device).pow(exponents).reciprocal();      // [d/2]
        var positions = arange(length, dtype: ScalarType.Int64, device: device).to(ScalarType.Float32); // [L]
        var freqs = outer(positions, invFreq);                                                           // [L, d/2]
        var emb = cat(new[] { freqs, freqs }, -1);                                                       // [L, d]
        var cos = emb.cos().to(dtype).MoveToOuterDisposeScope();
        var sin = emb.sin().to(dtype).MoveToOuterDisposeScope();
        return (cos, sin);
    }

    /// <summary>x [B, H, L, d] rotated: x·cos + rotate_half(x)·sin, rotate_half(x) = [-x2, x1].</summary>
    public static Tensor Apply(Tensor x, Tensor cos, Tensor sin)
    {
        using var scope = NewDisposeScope();
        var half = x.shape[^1] / 2;
        var x1 = x[TensorIndex.Ellipsis, TensorIndex.Slice(0, half)];
        var x2 = x[TensorIndex.Ellipsis, TensorIndex.Slice(half, null)];
        var rotated = cat(new[] { x2.neg(), x1 }, -1);
        return (x * cos + rotated * sin).MoveToOuterDisposeScope();
    }
}
