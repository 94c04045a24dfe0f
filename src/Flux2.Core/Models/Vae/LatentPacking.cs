using TorchSharp;
using static TorchSharp.torch;

namespace Flux2.Models.Vae;

/// <summary>
/// Shape changes between VAE latents and transformer tokens (docs/flux2-model.md §3.1, §5.3):
/// z [B, C, H, W] —Patchify 2×2→ [B, 4C, H/2, W/2] (channel c·4 + pi·2 + pj) —Normalize (BN stats)→
/// —Pack→ tokens [B, h·w, 4C] (token i·w + j), and the inverses.
/// </summary>
public static class LatentPacking
{
    /// <summary>[B, C, H, W] → [B, C·p·q, H/p, W/q], channel index c·p·q + pi·q + pj (BFL
    /// <c>c (i pi) (j pj) -> (c pi pj) i j</c>; diffusers <c>_patchify_latents</c>).</summary>
    public static Tensor Patchify(Tensor z, int p = 2, int q = 2)
    {
        if (z.dim() != 4 || z.shape[2] % p != 0 || z.shape[3] % q != 0)
            throw new ArgumentException($"Patchify expects [B, C, H, W] with H % {p} == 0 and W % {q} == 0, got " +
                $"[{string.Join(", ", z.shape)}]");
        long b = z.shape[0], c = z.shape[1], h = z.shape[2] / p, w = z.shape[3] / q;
        using var scope = NewDisposeScope();
        return z.view(b, c, h, p, w, q).permute(0, 1, 3, 5, 2, 4).reshape(b, c * p * q, h, w).MoveToOuterDisposeScope();
    }

    /// <summary>Inverse of <see cref="Patchify"/>: [B, C·p·q, h, w] → [B, C, h·p, w·q] (diffusers
    /// <c>_unpatchify_latents</c>).</summary>
    public static Tensor Unpatchify(Tensor x, int p = 2, int q = 2)
    {
        if (x.dim() != 4 || x.shape[1] % (p * q) != 0)
            throw new ArgumentException(
                $"Unpatchify expects [B, C·{p * q}, h, w], got [{string.Join(", ", x.shape)}]");
        long b = x.shape[0], c = x.shape[1] / (p * q), h = x.shape[2], w = x.shape[3];
        using var scope = NewDisposeScope();
        return x.reshape(b, c, p, q, h, w).permute(0, 1, 4, 2, 5, 3).reshape(b, c, h * p, w * q)
            .MoveToOuterDisposeScope();
    }

    /// <summary>(x − mean) / sqrt(var + eps) per channel of [B, C, h, w], computed in fp32, returned in x's
    /// dtype.</summary>
    public static Tensor Normalize(Tensor x, Tensor runningMean, Tensor runningVar, double eps)
    {
        CheckStats(x, runningMean, runningVar);
        using var scope = NewDisposeScope();
        var (mean, std) = Stats(runningMean, runningVar, eps, x.device);
        return ((x.to(ScalarType.Float32) - mean) / std).to(x.dtype).MoveToOuterDisposeScope();
    }

    /// <summary>x · sqrt(var + eps) + mean, the inverse of <see cref="Normalize"/>.</summary>
    public static Tensor Denormalize(Tensor x, Tensor runningMean, Tensor runningVar, double eps)
    {
        CheckStats(x, runningMean, runningVar);
        using var scope = NewDisposeScope();
        var (mean, std) = Stats(runningMean, runningVar, eps, x.device);
        return (x.to(ScalarType.Float32) * std + mean).to(x.dtype).MoveToOuterDisposeScope();
    }

    /// <summary>[B, C, h, w] → tokens [B, h·w, C], row-major (token i·w + j) (diffusers
    /// <c>_pack_latents</c>).</summary>
    public static Tensor Pack(Tensor x)
    {
        if (x.dim() != 4) throw new ArgumentException($"Pack expects [B, C, h, w], got [{string.Join(", ", x.shape)}]");
        using var scope = NewDisposeScope();
        return x.reshape(x.shape[0], x.shape[1], x.shape[2] * x.shape[3]).permute(0, 2, 1).contiguous()
            .MoveToOuterDisposeScope();
    }

    /// <summary>Inverse of <see cref="Pack"/>: tokens [B, h·w, C] → [B, C, h, w].</summary>
    public static Tensor Unpack(Tensor tokens, long h, long w)
    {
        if (tokens.dim() != 3 || tokens.shape[1] != h * w)
            throw new ArgumentException($"Unpack expects [B, {h}·{w}, C], got [{string.Join(", ", tokens.shape)}]");
        using var scope = NewDisposeScope();
        return tokens.permute(0, 2, 1).reshape(tokens.shape[0], tokens.shape[2], h, w).MoveToOuterDisposeScope();
    }

    static void CheckStats(Tensor x, Tensor mean, Tensor var)
    {
        if (x.dim() != 4 || x.shape[1] != mean.shape[0] || var.shape[0] != mean.shape[0])
            throw new ArgumentException($"latent [{string.Join(", ", x.shape)}] does not match BatchNorm stats of " +
                $"{mean.shape[0]} channels (patchify first?)");
    }

    static (Tensor mean, Tensor std) Stats(Tensor runningMean, Tensor runningVar, double eps, Device device)
    {
        var mean = runningMean.to(ScalarType.Float32).to(device).view(1, -1, 1, 1);
        var std = (runningVar.to(ScalarType.Float32).to(device) + eps).sqrt().view(1, -1, 1, 1);
        return (mean, std);
    }
}
