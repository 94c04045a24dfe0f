using Flux2.Interactive.Display;
using Flux2.Interactive.Images;
using Flux2.Lora;
using Flux2.Pipeline;
using Flux2.Training.Data;
using static TorchSharp.torch;

namespace Flux2.Interactive.Training;

/// <summary>The guide's first check of a trained LoRA: the same prompts and noise drawn by the base model, by the
/// LoRA with the trigger, and by the LoRA without it. The style should appear only in the middle column.</summary>
public static class TriggerComparison
{
    public static PngImage Grid(Flux2Models models, string loraPath, string trigger,
                                IReadOnlyList<string> contentPrompts, long seed = 7, int steps = 20,
                                float guidance = 4f, int size = 128, double strength = 1.0)
    {
        var withTrigger =
            contentPrompts.Select(p => CaptionRules.InjectTrigger($"{CaptionRules.TriggerPlaceholder} {p}", trigger,
                addIfMissing: true)).ToList();
        using var baseImages = Kit.Generate(models, contentPrompts, seed, steps, guidance, size, size);
        var adapters = LoraLoader.Apply(models.Transformer, loraPath, strength);
        Tensor loraTrigger, loraPlain;
        try
        {
            loraTrigger = Kit.Generate(models, withTrigger, seed, steps, guidance, size, size);
            loraPlain = Kit.Generate(models, contentPrompts, seed, steps, guidance, size, size);
        }
        finally { LoraLoader.Remove(models.Transformer, adapters); }
        using (loraTrigger) using (loraPlain)
            return ImageGrid.FromTensors(new[] { ("base", baseImages), ("LoRA + trigger", loraTrigger),
                ("LoRA, no trigger", loraPlain) }, contentPrompts);
    }
}
