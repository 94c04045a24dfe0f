using System.Text.Json;
using Flux2.Evaluation;
using Flux2.Native;
using Flux2.Pipeline;
using Flux2.Tests.Cli;
using Flux2.Tests.Training;
using Flux2.Training;
using Flux2.Training.Config;
using Xunit;
using Xunit.Abstractions;

namespace Flux2.Tests.Evaluation;

/// <summary>LoRA evaluation on tiny-random: an untrained LoRA changes nothing, a trained one changes things.</summary>
public class LoraEvaluatorTests(ITestOutputHelper output)
{
    static readonly LoraEvalOptions Tiny = new() { Width = 32, Height = 32, Steps = 4, Seeds = 2 };

    static TrainingRunResult Train(string dataset, int steps, string lr = "0.01")
    {
        TorchRuntime.EnsureLoaded();
        var job = TempDataset.Job(dataset, TestPaths.TempDir(), steps).Replace("lr: 0.01", $"lr: {lr}");
        return TrainingRun.Run(JobConfigReader.Parse(job, "tiny.yaml"));
    }

    LoraEvalResult Evaluate(string lora, string dataset)
    {
        using var models = Flux2Models.CreateTinyRandom(0);
        var r = LoraEvaluator.Evaluate(models, lora, dataset, "zqx", Tiny, output.WriteLine);
        output.WriteLine(LoraEvalReport.Table(r));
        return r;
    }

    [Fact]
    public void UntrainedLoraShowsNoStrengthAndNoBleed()
    {
        var data = TempDataset.Create();
        var r = Evaluate(Train(data, 0).FinalLora, data);
        Assert.True(r.BaseDistance > 0, "the base model should not already match the dataset");
        Assert.Equal(r.BaseDistance, r.LoraDistance);
        Assert.True(Math.Abs(r.TriggerStrength) < 1e-6, $"strength {r.TriggerStrength}");
        Assert.True(r.Bleed < 1e-6, $"bleed {r.Bleed}");
        Assert.True(r.TriggerChange < 1e-6, $"trigger change {r.TriggerChange}");
        Assert.True(r.BleedLookDistance < 1e-6, $"bleed look distance {r.BleedLookDistance}");
        Assert.Equal(r.BaseContentKept, r.ContentKept);
        Assert.True(r.HeldOutStrength is null || Math.Abs(r.HeldOutStrength.Value) < 1e-6,
            $"held-out strength {r.HeldOutStrength}");
    }

    /// <summary>tiny-random's VAE decoder is random, so no LoRA can bring its images near a dataset's look: here only
    /// "a trained LoRA changes the measured numbers" is asserted. That trigger strength clearly improves is asserted on
    /// FLUX.2-micro in <see cref="MicroLoraEvalTests"/>.</summary>
    [Fact]
    public void TrainedLoraChangesTheMeasuredNumbers()
    {
        var data = TempDataset.Create();
        var r = Evaluate(Train(data, 20).FinalLora, data);
        Assert.True(r.TriggerChange > 1e-3, $"trigger change {r.TriggerChange}");
        Assert.True(Math.Abs(r.TriggerStrength) > 1e-6,
            $"strength {r.TriggerStrength} (d base {r.BaseDistance:F4}, d LoRA {r.LoraDistance:F4})");
        Assert.True(r.Bleed > 1e-3,
            $"bleed {r.Bleed}: a LoRA trained without prior preservation also moves prompts without its trigger");
    }

    [Fact]
    public void EvalCommandReadsTheRunFolderAndWritesJsonAndMarkdown()
    {
        var data = TempDataset.Create();
        var run = Train(data, 0).RunFolder;
        var target = EvalTarget.Resolve(run);
        Assert.Equal("tiny-random", target.Process?.Model.NameOrPath);
        Assert.Equal("zqx", target.Process?.TriggerWord);
        Assert.Equal(data, target.Process?.Datasets[0].FolderPath);

        var r = CliRunner.Run("eval", run, "--seeds", "1", "--steps", "2");
        Assert.True(r.Exit == 0, r.ToString());
        Assert.Contains("trigger strength", r.Out);
        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(run, LoraEvalReport.JsonFileName)));
        Assert.Equal(0, json.RootElement.GetProperty("bleed").GetDouble());
        Assert.InRange(json.RootElement.GetProperty("content_kept").GetDouble(), 0, 1);
        Assert.Contains("**content kept**", r.Out);
        Assert.Equal(32, json.RootElement.GetProperty("options").GetProperty("width").GetInt32());
        // the job's sample size
        Assert.Contains("**trigger strength**", File.ReadAllText(Path.Combine(run, LoraEvalReport.MarkdownFileName)));
        Assert.Empty(Directory.GetFiles(run, ".*.tmp"));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void TrainCommandEvaluatesTheFinalLoraUnlessToldNot(bool noEval)
    {
        var outDir = TestPaths.TempDir();
        var job = Path.Combine(outDir, "job.yaml");
        File.WriteAllText(job, TempDataset.Job(TempDataset.Create(), outDir, 2));
        var r = CliRunner.Run(noEval ? new[] { "train", job, "--no-eval" } : new[] { "train", job });
        Assert.True(r.Exit == 0, r.ToString());
        Assert.Equal(!noEval, File.Exists(Path.Combine(outDir, "tiny_lora", LoraEvalReport.JsonFileName)));
        Assert.Equal(!noEval, r.Out.Contains("trigger strength"));
    }

    [Fact]
    public void EvalOfAForeignLoraWithoutConfigAsksForTheMissingOptions()
    {
        var dir = TestPaths.TempDir();
        var lora = Path.Combine(dir, "foreign.safetensors");
        TorchRuntime.EnsureLoaded();
        using (var t = TorchSharp.torch.zeros(2, 2))
            Flux2.IO.SafetensorsWriter.Write(lora, new[] { new KeyValuePair<string, TorchSharp.torch.Tensor>("x", t) },
                new Dictionary<string, string>());
        CliRunner.AssertUserError(CliRunner.Run("eval", lora), "--model");
    }
}
