using Flux2.Models.Vae;
using Flux2.Pipeline;
using static TorchSharp.torch;

namespace Flux2.Training.Objective;

/// <summary>
/// Control images of an edit/instruction pair as the transformer sees them: their clean latents packed into tokens
/// that follow the noisy target tokens, with position ids T = 10 + 10·k for the k-th image — exactly what
/// <see cref="Flux2Pipeline.Generate"/> does with reference images at inference, so a LoRA trained here edits there.
/// They are never noised and the loss ignores their outputs (docs/ai-toolkit-compat.md §4, get_noise_prediction).
/// </summary>
public sealed record ReferenceTokens(Tensor Tokens, Tensor Ids)
{
    /// <param name="latents">one [B, C, h, w] patchified latent per control image.</param>
    public static ReferenceTokens? From(IReadOnlyList<Tensor> latents)
    {
        if (latents.Count == 0) return null;
        var device = latents[0].device;
        var tokens = latents.Select(LatentPacking.Pack).ToArray();
        var ids = latents.Select((l, k) => PositionIds.Image((int)l.shape[2], (int)l.shape[3], device,
            PositionIds.ReferenceTime(k))).ToArray();
        return new ReferenceTokens(cat(tokens, 1), cat(ids, 0));
    }
}
