using Flux2.Micro.Pretraining;
using Flux2.Models;
using Flux2.Models.Transformer;
using Flux2.Native;
using Flux2.Pipeline;
using Xunit;
using static TorchSharp.torch;

namespace Flux2.Tests.Micro;

public class MicroPretrainingTests
{
    /// <summary>Solid-colour images with colour-word captions: enough to drive every stage for a few steps.</summary>
    static (float[] pixels, string caption) SolidColour(long index)
    {
        var colours = new (string name, float r, float g, float b)[] { ("red", 1, -1, -1), ("green", -1, 1, -1),
            ("blue", -1, -1, 1) };
        var c = colours[index % colours.Length];
        int n = MicroModel.Resolution * MicroModel.Resolution;
        var p = new float[3 * n];
        Array.Fill(p, c.r, 0, n); Array.Fill(p, c.g, n, n); Array.Fill(p, c.b, 2 * n, n);
        return (p, $"a {c.name} background");
    }

    [Fact]
    public void EveryStageRunsOnCpuAndTheWrittenFolderLoadsAndGenerates()
    {
        TorchRuntime.EnsureLoaded();
        var dir = Path.Combine(TestPaths.TempDir(), "micro");
        var recipe = new MicroRecipe
        {
            VaeSteps = 2,
            VaeBatch = 2,
            TransformerSteps = 2,
            TransformerBatch = 2,
            CorpusSize = 4,
            StatisticsSamples = 4,
            ReconstructionChecks = 2,
        };
        var log = new StringWriter();
        new MicroPretrainer(recipe, SolidColour, SolidColour, CPU, log).Run(dir, "test");
        Assert.Contains("transformer done", log.ToString());
        foreach (var f in new[] { "model_index.json", "transformer/config.json",
                                  "vae/diffusion_pytorch_model.safetensors", "text_encoder/model.safetensors",
                                  "tokenizer/tokenizer_config.json", "scheduler/scheduler_config.json", "README.md",
                                  "pretrain_log.csv", ModelSampleDefaults.FileName })
            Assert.True(File.Exists(Path.Combine(dir, f)), f);
        var native = ModelSampleDefaults.For(dir);
        Assert.Equal((MicroModel.Resolution, MicroModel.Resolution, MicroModel.SampleSteps, MicroModel.GuidanceScale),
            (native.Width, native.Height, native.SampleSteps, native.GuidanceScale));

        using var models = Flux2Models.Load(dir);
        Assert.Equal(MicroModel.Transformer.ParameterCount(), models.Transformer.ParameterCount());
        using var _ = no_grad();
        using var embeds = models.EncodePrompts(new[] { "a red background" });
        Assert.Equal(new long[] { 1, MicroModel.TextTokens, MicroModel.Transformer.JointAttentionDim }, embeds.shape);
        using var negative = models.NegativeEmbedsForGuidance();
        Assert.NotNull(negative);
        using var noise = models.Pipeline.InitialNoise(1, 128, 128, seed: 1);
        using var image = models.Pipeline.Generate(embeds, noise, 2, 4f, negativeEmbeds: negative);
        Assert.Equal(new long[] { 1, 3, 128, 128 }, image.shape);
        Assert.True(isfinite(image).all().item<bool>());
    }
}
