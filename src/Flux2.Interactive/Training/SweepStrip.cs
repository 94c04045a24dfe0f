using Flux2.Interactive.Display;
using Flux2.Interactive.Images;
using Flux2.Lora;
using Flux2.Pipeline;
using Flux2.Training.Data;
using static TorchSharp.torch;

namespace Flux2.Interactive.Training;

public sealed partial record SweepResult
{
    /// <summary>One labelled image per variant: the base model, then each variant's LoRA (its first seed's run), all
    /// drawn from <paramref name="prompt"/> with the trigger and the same noise, so the images differ only by the
    /// LoRA.</summary>
    public PngImage Strip(Flux2Models models, string prompt, long seed = 7, int steps = 20, float guidance = 4f,
        int size = 128, double strength = 1.0)
    {
        var text = CaptionRules.InjectTrigger($"{CaptionRules.TriggerPlaceholder} {prompt}", Trigger,
            addIfMissing: true);
        using var scope = NewDisposeScope();
        var images = new List<Tensor> { Kit.Generate(models, [text], seed, steps, guidance, size, size) };
        var labels = new List<string> { "base" };
        foreach (var variant in Variants)
        {
            var run = RunsOf(variant)[0];
            var adapters = LoraLoader.Apply(models.Transformer, run.Lora, strength);
            try { images.Add(Kit.Generate(models, [text], seed, steps, guidance, size, size)); }
            finally { LoraLoader.Remove(models.Transformer, adapters); }
            labels.Add($"{variant.Name} (seed {run.Seed})");
        }
        return ImageGrid.FromTensor(cat(images.ToArray(), 0), labels, columns: images.Count);
    }
}
