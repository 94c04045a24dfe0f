using System.Globalization;
using Flux2.Micro.Pretraining;
using Flux2.Models;
using Flux2.Native;
using Flux2.Tests.Evaluation;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Flux2.Tests.Micro;

/// <summary>The shipped FLUX.2-micro draws a caption's content as well with a made-up word in front (where a LoRA's
/// trigger goes) as without: its flow-matching loss on the same corpus examples, noise and timesteps barely
/// changes.</summary>
public class TriggerWordRobustnessTests(ITestOutputHelper output)
{
    /// <summary>The loss of the shipped weights on the first 256 corpus examples, every caption (share 1) or none
    /// (share 0) with a made-up leading word: one pretraining step at a learning rate too small to matter, whose
    /// logged step-1 loss is computed before the update.</summary>
    static double Loss(double tagShare)
    {
        var dir = Path.Combine(TestPaths.TempDir(), "probe");
        var recipe = new MicroRecipe
        {
            VaeFrom = Path.Combine(MicroModel.DefaultFolder, "vae"),
            TransformerFrom = MicroModel.DefaultFolder,
            CorpusSize = 256,
            TransformerBatch = 256,
            TransformerSteps = 1,
            TransformerLearningRate = 1e-12,
            TagProbability = tagShare,
            ReconstructionChecks = 0,
        };
        MicroPretrainer.OnShapeCorpus(recipe, CPU, TextWriter.Null).Run(dir, "test");
        var row = File.ReadAllLines(Path.Combine(dir, "pretrain_log.csv")).Single(l => l.StartsWith("transformer,1,"));
        return double.Parse(row.Split(',')[2], CultureInfo.InvariantCulture);
    }

    [MicroModelFact]
    public void A_made_up_leading_word_barely_changes_the_loss()
    {
        TorchRuntime.EnsureLoaded();
        double plain = Loss(0), tagged = Loss(1);
        output.WriteLine($"loss {plain:F4} plain, {tagged:F4} with a made-up leading word");
        // Weights pretrained without such words scored 0.043 and 0.179 here.
        Assert.True(tagged <= 1.25 * plain, $"{tagged:F4} with the word vs {plain:F4} without");
    }
}
