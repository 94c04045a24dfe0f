using TorchSharp;
using static TorchSharp.torch;

namespace Flux2.Models.Vae;

/// <summary>
/// The encoder's diagonal Gaussian (diffusers <c>DiagonalGaussianDistribution</c>): moments split in half along
/// channels into mean and logvar; logvar clamped to [−30, 20]; std = exp(logvar / 2). FLUX.2 uses the mean
/// (<see cref="Mode"/>) for training latents (docs/flux2-model.md §5.3). Owns its tensors: dispose it.
/// </summary>
public sealed class LatentDist : IDisposable
{
    public Tensor Mean { get; }
    public Tensor LogVar { get; }
    public Tensor Std { get; }

    public LatentDist(Tensor moments)
    {
        if (moments.dim() != 4 || moments.shape[1] % 2 != 0)
            throw new ArgumentException($"moments must be [B, 2C, h, w], got [{string.Join(", ", moments.shape)}]");
        using var scope = NewDisposeScope();
        var halves = moments.chunk(2, dim: 1);
        Mean = halves[0].contiguous().MoveToOuterDisposeScope();
        LogVar = halves[1].clamp(-30.0, 20.0).MoveToOuterDisposeScope();
        Std = (LogVar * 0.5).exp().MoveToOuterDisposeScope();
    }

    public Tensor Mode() => Mean.alias();

    /// <summary>mean + std · ε with ε ~ N(0, 1).</summary>
    public Tensor Sample(Generator? generator = null)
    {
        using var scope = NewDisposeScope();
        var eps = randn(Mean.shape, Mean.dtype, Mean.device, generator: generator);
        return (Mean + Std * eps).MoveToOuterDisposeScope();
    }

    public void Dispose() { Mean.Dispose(); LogVar.Dispose(); Std.Dispose(); }
}
