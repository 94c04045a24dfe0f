using static TorchSharp.torch;

namespace Flux2.Models.Transformer;

/// <summary>
/// 4-axis rotary position embedding (docs/flux2-model.md §2.7): each token has ids (T, H, W, L); axis i rotates
/// <c>axes[i]</c> dims with freqs 1/theta^(2j/axes[i]); cos/sin are repeat-interleaved and the axes concatenated
/// to head_dim. The table is built in float64 (as diffusers does off MPS) and applied in fp32 to adjacent pairs.
/// </summary>
public static class RoPE
{
    /// <summary>ids [N, 4] -> (cos, sin), each [N, head_dim] fp32.</summary>
    public static (Tensor cos, Tensor sin) Table(Tensor ids, int[] axesDims, double theta)
    {
        using var scope = NewDisposeScope();
        var pos = ids.to(ScalarType.Float64);
        var cosParts = new List<Tensor>();
        var sinParts = new List<Tensor>();
        for (int i = 0; i < axesDims.Length; i++)
        {
            int dim = axesDims[i];
            var exponent = arange(0, dim, 2, dtype: ScalarType.Float64, device: ids.device) / dim;
            var freqs = pow(theta, exponent).reciprocal();
            var angles = pos[.., i].unsqueeze(1) * freqs.unsqueeze(0);        // [N, dim/2]
            cosParts.Add(angles.cos().repeat_interleave(2, dim: 1));
            sinParts.Add(angles.sin().repeat_interleave(2, dim: 1));
        }
        var cos = cat(cosParts, 1).to(ScalarType.Float32);
        var sin = cat(sinParts, 1).to(ScalarType.Float32);
        return (cos.MoveToOuterDisposeScope(), sin.MoveToOuterDisposeScope());
    }

    /// <summary>x [B, S, H, D]; cos/sin [S, D]. out_even = x_e·cos − x_o·sin, out_odd = x_o·cos +
    /// x_e·sin.</summary>
    public static Tensor Apply(Tensor x, Tensor cos, Tensor sin)
    {
        using var scope = NewDisposeScope();
        var xf = x.to(ScalarType.Float32);
        var pairs = xf.reshape(xf.shape[0], xf.shape[1], xf.shape[2], -1, 2);
        var even = pairs[.., .., .., .., 0];
        var odd = pairs[.., .., .., .., 1];
        var rotated = stack(new[] { -odd, even }, -1).flatten(3);
        var c = cos.unsqueeze(0).unsqueeze(2);
        var s = sin.unsqueeze(0).unsqueeze(2);
        return (xf * c + rotated * s).to(x.dtype).MoveToOuterDisposeScope();
    }
}
