using TorchSharp;
using static TorchSharp.torch;

namespace Flux2.Models.Vae;

/// <summary>
/// The VAE's <c>bn</c>: a BatchNorm2d(prod(patch)·latent, affine=False) kept only for its running statistics, which
/// normalize patchified latents for the transformer (docs/flux2-model.md §5.3). Buffers carry the checkpoint names
/// <c>running_mean</c>, <c>running_var</c>, <c>num_batches_tracked</c> (int64 scalar). It is never updated here.
/// </summary>
public sealed class LatentBatchNorm : nn.Module
{
    public readonly long Channels;
    public readonly double Eps;
    readonly Tensor running_mean, running_var, num_batches_tracked;

    public LatentBatchNorm(long channels, double eps, Device? device = null, ScalarType? dtype = null)
        : base(nameof(LatentBatchNorm))
    {
        if (channels <= 0) throw new ArgumentException($"LatentBatchNorm: channels must be positive, got {channels}");
        Channels = channels; Eps = eps;
        running_mean = zeros(new[] { channels }, dtype ?? ScalarType.Float32, device);
        running_var = ones(new[] { channels }, dtype ?? ScalarType.Float32, device);
        num_batches_tracked = zeros(Array.Empty<long>(), ScalarType.Int64, device);
        register_buffer(nameof(running_mean), running_mean);
        register_buffer(nameof(running_var), running_var);
        register_buffer(nameof(num_batches_tracked), num_batches_tracked);
    }

    public Tensor RunningMean => running_mean;
    public Tensor RunningVar => running_var;

    /// <summary>(x − mean) / sqrt(var + eps) over channel dim 1 of [B, C, h, w].</summary>
    public Tensor Normalize(Tensor patchified) => LatentPacking.Normalize(patchified, running_mean, running_var, Eps);

    /// <summary>x · sqrt(var + eps) + mean, the inverse of <see cref="Normalize"/>.</summary>
    public Tensor Denormalize(Tensor normalized) =>
        LatentPacking.Denormalize(normalized, running_mean, running_var, Eps);
}
