using Flux2.Pipeline;
using static TorchSharp.torch;

namespace Flux2.Evaluation;

/// <summary>Generates one image per (seed, prompt) with fixed noise: seed k draws the noise of all prompts at once,
/// so the same (prompts, seeds) give the same starting noise with or without a LoRA — pairs differ only by
/// it.</summary>
public static class EvalSampler
{
    /// <summary>Images [seeds·prompts, 3, H, W] in 0..1 on the CPU, ordered seed-major.</summary>
    public static Tensor Generate(Flux2Models models, Tensor promptEmbeds, Tensor? negativeEmbeds,
        LoraEvalOptions options, Action<string>? log = null, string what = "")
    {
        using var scope = NewDisposeScope();
        var pipeline = models.Pipeline;
        var device = models.Transformer.Device;
        int prompts = (int)promptEmbeds.shape[0];
        var perSeed = new List<Tensor>();
        for (int s = 0; s < options.Seeds; s++)
        {
            var noise = pipeline.InitialNoise(prompts, options.Height, options.Width, options.FirstSeed + s, device);
            perSeed.Add(pipeline.Generate(promptEmbeds, noise, options.Steps, options.Guidance,
                negativeEmbeds: negativeEmbeds).cpu());
            log?.Invoke($"{what}: seed {s + 1}/{options.Seeds} done");
        }
        return cat(perSeed, 0).MoveToOuterDisposeScope();
    }

    public static IReadOnlyList<ImageStatistics> Describe(Tensor images)
    {
        var list = new List<ImageStatistics>();
        for (long i = 0; i < images.shape[0]; i++)
        {
            using var one = images[i];
            list.Add(ImageStatistics.FromTensor(one));
        }
        return list;
    }

    /// <summary>Mean absolute difference per pixel and channel, in 0..1 units.</summary>
    public static double MeanAbsDifference(Tensor a, Tensor b)
    {
        using var d = (a - b).abs().mean();
        return d.to(ScalarType.Float64).item<double>();
    }
}
