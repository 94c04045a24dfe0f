using Flux2.Models.Transformer;
using Flux2.Training.Network;
using static TorchSharp.torch;

namespace Flux2.Training.Objective;

/// <summary>
/// Differential Output Preservation (docs/lora-guide.md §3.3 "DOP", docs/ai-toolkit-compat.md §2.4): on the step's
/// own noisy latents and timesteps, the preservation prompt (trigger → class word) is run once with the LoRA off and
/// without gradients (the prior) and once with the LoRA on; their MSE × multiplier is added to the training loss.
/// Without the trigger the LoRA is thus trained to reproduce the base model — what "bleed" measures. Blank prompt
/// preservation is the same loss with the empty prompt as the preservation prompt.
/// </summary>
public static class DifferentialOutputPreservation
{
    public static Tensor Loss(Flux2Transformer transformer, LoraNetwork network, Tensor latents,
                              Tensor preservationContext, Tensor noise, IReadOnlyList<Timestep> timesteps,
                              double guidance, double multiplier, ReferenceTokens? references = null)
    {
        using var scope = NewDisposeScope();
        Tensor prior;
        using (no_grad())
        {
            network.Enabled = false;
            try
            {
                prior = FlowMatchLoss.Velocity(transformer, latents, preservationContext, noise, timesteps, guidance,
                references);
            }
            finally { network.Enabled = true; }
        }
        var withLora =
            FlowMatchLoss.Velocity(transformer, latents, preservationContext, noise, timesteps, guidance, references);
        return ((withLora - prior).square().mean() * multiplier).MoveToOuterDisposeScope();
    }
}
