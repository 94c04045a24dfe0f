using Flux2.Models.Transformer;
using Flux2.Models.Vae;
using Flux2.Pipeline;
using static TorchSharp.torch;

namespace Flux2.Training.Objective;

/// <summary>
/// The rectified-flow training loss (docs/flux2-model.md §7.4, docs/ai-toolkit-compat.md §2.1-2.2):
/// x_t = (1 − t)·x0 + t·ε, v = transformer(pack(x_t), text, timestep = t, guidance), target = ε − x0,
/// loss = mean over samples of weight · mean(ℓ(v, target)), computed in fp32, ℓ from <see cref="LossFunction"/>
/// (mse unless train.loss_type / differential guidance say otherwise).
/// </summary>
public static class FlowMatchLoss
{
    /// <param name="latents">x0, patchified normalized latents [B, C, h, w] on the model's device.</param>
    /// <param name="context">prompt embeds [B, L, D].</param>
    /// <param name="noise">ε, same shape as <paramref name="latents"/> (drawn by the caller from its seeded
    /// generator).</param>
    /// <param name="guidance">guidance-embedding input (train.cfg_scale, 1.0 by default); unused by models without the
    /// embedder.</param>
    /// <param name="loss">element-wise loss and target rule; plain MSE when null (the fixed-input evaluation uses
    /// that).</param>
    public static Tensor Compute(Flux2Transformer transformer, Tensor latents, Tensor context, Tensor noise,
                                 IReadOnlyList<Timestep> timesteps, double guidance, ReferenceTokens? references = null,
                                 LossFunction? loss = null)
    {
        using var scope = NewDisposeScope();
        var device = latents.device;
        var weights = tensor(timesteps.Select(x => (float)x.Weight).ToArray(), device: device);
        var v = Velocity(transformer, latents, context, noise, timesteps, guidance, references);
        var target = LatentPacking.Pack(noise.to(ScalarType.Float32) - latents.to(ScalarType.Float32));
        var perSample = (loss ?? LossFunction.Mse).PerSample(v, target);
        return (perSample * weights).mean().MoveToOuterDisposeScope();
    }

    /// <summary>The model's velocity on the noisy latents x_t = (1 − t)·x0 + t·ε, packed [B, h·w, C]. Shared by
    /// the main loss and the preservation passes, which must see the very same x_t. Edit pairs append their control
    /// images' <paramref name="references"/> after the target tokens; only the target tokens' output is
    /// returned.</summary>
    public static Tensor Velocity(Flux2Transformer transformer, Tensor latents, Tensor context, Tensor noise,
                                  IReadOnlyList<Timestep> timesteps, double guidance,
                                  ReferenceTokens? references = null)
    {
        using var scope = NewDisposeScope();
        var device = latents.device;
        var dtype = transformer.x_embedder.weight.dtype;
        long b = latents.shape[0], h = latents.shape[2], w = latents.shape[3];
        var t = tensor(timesteps.Select(x => (float)x.T).ToArray(), device: device);
        var x0 = latents.to(ScalarType.Float32);
        var eps = noise.to(ScalarType.Float32);
        var tb = t.view(b, 1, 1, 1);
        var xt = (1 - tb) * x0 + tb * eps;
        var g = transformer.Config.GuidanceEmbeds ? full(new[] { b }, guidance, ScalarType.Float32, device) : null;
        var hidden = LatentPacking.Pack(xt).to(dtype);
        var imageIds = PositionIds.Image((int)h, (int)w, device);
        if (references is not null)
        {
            hidden = cat(new[] { hidden, references.Tokens.to(dtype) }, 1);
            imageIds = cat(new[] { imageIds, references.Ids }, 0);
        }
        var v = transformer.Forward(hidden, context.to(dtype), t, g, imageIds,
            PositionIds.Text((int)context.shape[1], device));
        return v[.., ..(int)(h * w)].to(ScalarType.Float32).MoveToOuterDisposeScope();
    }
}
