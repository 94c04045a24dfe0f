using Flux2.Evaluation;
using Flux2.Models;
using Flux2.Pipeline;
using Xunit;

namespace Flux2.Tests.Evaluation;

/// <summary>Evaluations that share a <see cref="BaseImageCache"/> generate the base images once and measure exactly
/// what uncached evaluations measure.</summary>
public class BaseImageCacheTests
{
    [MicroModelFact]
    public void CachedBaseImagesGiveTheSameMetricsAndAreGeneratedOnce()
    {
        var (lora, dataset) = MicroLoraEvalTests.TrainStyleJob(3, p => p.Train.DiffOutputPreservation = false);
        var options = new LoraEvalOptions { Seeds = 1, Steps = 2 };
        using var models = Flux2Models.Load(MicroModel.Name);

        var plain = LoraEvaluator.Evaluate(models, lora, dataset, "midnight_tarot", options);
        using var cache = new BaseImageCache();
        var first = LoraEvaluator.Evaluate(models, lora, dataset, "midnight_tarot", options, baseImages: cache);
        Assert.Equal(3, cache.Generated); // base with and without the trigger, held-out base
        var half = LoraEvaluator.Evaluate(models, lora, dataset, "midnight_tarot",
            options with { LoraStrength = 0.5 }, baseImages: cache);
        Assert.Equal(3, cache.Generated);

        Assert.Equal(plain.BaseDistance, first.BaseDistance);
        Assert.Equal(plain.LoraDistance, first.LoraDistance);
        Assert.Equal(plain.Bleed, first.Bleed);
        Assert.Equal(plain.ContentKept, first.ContentKept);
        Assert.Equal(plain.BaseDistance, half.BaseDistance);
        Assert.NotEqual(plain.LoraDistance, half.LoraDistance);

        var other = LoraEvaluator.Evaluate(models, lora, dataset, "midnight_tarot", options with { Steps = 3 },
            baseImages: cache);
        Assert.Equal(6, cache.Generated);
        Assert.NotEqual(plain.BaseDistance, other.BaseDistance);
    }
}
