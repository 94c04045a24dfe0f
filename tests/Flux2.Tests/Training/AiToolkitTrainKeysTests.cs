using Flux2.Lora;
using Flux2.Native;
using Flux2.Training;
using Flux2.Training.Config;
using Xunit;
using Xunit.Abstractions;

namespace Flux2.Tests.Training;

/// <summary>Keys of the ai-toolkit UI's job that change what a run does: disable_sampling, is_reg with reg_weight,
/// network_weight and network.pretrained_lora_path (docs/ai-toolkit-compat.md §1.3, §2.10-2.12, §2.17).</summary>
[Collection(TorchGlobalRngCollection.Name)]
public class AiToolkitTrainKeysTests(ITestOutputHelper output)
{
    (TrainingRunResult result, List<StepReport> steps) Train(string yaml)
    {
        TorchRuntime.EnsureLoaded();
        var loaded = JobConfigReader.Parse(yaml, "tiny.yaml");
        Assert.Empty(loaded.Warnings);
        Assert.Empty(loaded.IgnoredKeys);
        var steps = new List<StepReport>();
        var result = TrainingRun.Run(loaded, new TrainerCallbacks { OnStep = steps.Add, OnMessage = output.WriteLine });
        return (result, steps);
    }

    /// <summary>The tiny job with a second dataset (its keys in flow style) after the first.</summary>
    static string WithSecondDataset(string yaml, string dataset)
    {
        const string first = "          resolution: [32]\n";
        Assert.Contains(first, yaml);
        return yaml.Replace(first, first + $"        - {{{dataset}, caption_ext: txt, resolution: [32]}}\n");
    }

    [Fact]
    public void DisableSamplingDrawsNoGrid()
    {
        var outDir = TestPaths.TempDir();
        var (result, steps) = Train(TempDataset.Job(TempDataset.Create(), outDir, 2, "disable_sampling: true"));
        Assert.Equal(2, steps.Count);
        Assert.Empty(result.SampleGrids);
        Assert.False(Directory.Exists(Path.Combine(result.RunFolder, "samples")));
    }

    [Fact]
    public void SampleStartStepSkipsEarlierGrids()
    {
        var outDir = TestPaths.TempDir();
        var yaml = TempDataset.Job(TempDataset.Create(), outDir, 4, "skip_first_sample: true")
            .Replace("sample_every: 1000", "sample_every: 1\n        sample_start_step: 3");
        var (result, _) = Train(yaml);
        Assert.Equal(new[] { "000000003.png", "000000004.png" }, result.SampleGrids.Select(Path.GetFileName));
    }

    /// <summary>ai-toolkit's reg schedule on 3 steps: step 1 (0-based 0, a save step) and step 2 (odd) train on the
    /// training set, step 3 (0-based 2) on the regularization set, whose loss is multiplied by reg_weight. With the
    /// same seed the first two steps are the same whatever reg_weight is, and the third loss scales with it.</summary>
    [Fact]
    public void RegularizationBatchesComeEverySecondStepAndTheirLossIsWeighted()
    {
        var data = TempDataset.Create();
        var reg = TempDataset.Create(count: 2, caption: i => $"a plain square {i}");
        string Job(double? regWeight) => WithSecondDataset(TempDataset.Job(data, TestPaths.TempDir(), 3,
                "disable_sampling: true" + (regWeight is double w ? $"\n        reg_weight: {w}" : "")),
            $"folder_path: {reg}" + (regWeight is null ? "" : ", is_reg: true"));
        var plain = Train(Job(null)).steps.Select(s => s.Loss).ToList();   // both datasets are training sets
        var one = Train(Job(1.0)).steps.Select(s => s.Loss).ToList();
        var half = Train(Job(0.5)).steps.Select(s => s.Loss).ToList();
        output.WriteLine($"no reg {string.Join(", ", plain)}; reg_weight 1 {string.Join(", ", one)}; " +
            $"0.5 {string.Join(", ", half)}");
        Assert.Equal(one.Take(2), half.Take(2));
        Assert.Equal(0.5 * one[2], half[2], 6);
        Assert.NotEqual(plain[2], one[2]);
    }

    [Fact]
    public void ZeroNetworkWeightLeavesTheLoraUntrained()
    {
        var yaml = TempDataset.Job(TempDataset.Create(), TestPaths.TempDir(), 2, "disable_sampling: true")
            .Replace("          resolution: [32]\n", "          resolution: [32]\n          network_weight: 0\n");
        var (result, steps) = Train(yaml);
        Assert.All(steps, s => Assert.Equal(0.0, s.GradNorm));
        foreach (var u in LoraFile.Read(result.FinalLora)) Assert.Equal(0f, u.Up.abs().max().item<float>());
    }

    /// <summary>A run started from a LoRA file with no step taken saves that LoRA: the model's output with the saved
    /// file equals its output with the given one.</summary>
    [Fact]
    public void PretrainedLoraPathIsTheStartingNetwork()
    {
        var data = TempDataset.Create();
        var (first, _) = Train(TempDataset.Job(data, TestPaths.TempDir(), 3, "disable_sampling: true"));
        var yaml = TempDataset.Job(data, TestPaths.TempDir(), 0, "disable_sampling: true", name: "continued")
            .Replace("network: {type: lora, linear: 4, linear_alpha: 4}",
                $"network: {{type: lora, linear: 4, linear_alpha: 4, pretrained_lora_path: {first.FinalLora}}}");
        var (second, _) = Train(yaml);
        using var given = TinyTrainingRunTests.OutputOf(first.FinalLora);
        using var saved = TinyTrainingRunTests.OutputOf(second.FinalLora);
        using var none = TinyTrainingRunTests.OutputOf(null);
        Assert.True((given - none).abs().max().item<float>() > 1e-4, "the first run's LoRA changes nothing");
        Assert.True((saved - given).abs().max().item<float>() <= 1e-6 * given.abs().max().item<float>());
    }

    /// <summary>Blank prompt preservation adds MSE(LoRA on, LoRA off) on the empty prompt × multiplier. The first
    /// step's LoRA is zero (the term and its gradient are 0), so both runs take the same first step and the second
    /// step's loss grows by the multiplier times the same term.</summary>
    [Fact]
    public void BlankPromptPreservationAddsTheMultipliedTerm()
    {
        var data = TempDataset.Create();
        List<double> Losses(double? multiplier) => Train(TempDataset.Job(data, TestPaths.TempDir(), 2,
            "disable_sampling: true" + (multiplier is double m
                ? $"\n        blank_prompt_preservation: true\n        blank_prompt_preservation_multiplier: {m}"
                : ""))).steps.Select(s => s.Loss).ToList();
        var off = Losses(null);
        var one = Losses(1);
        var three = Losses(3);
        output.WriteLine($"off {string.Join(", ", off)}; x1 {string.Join(", ", one)}; x3 {string.Join(", ", three)}");
        Assert.Equal(off[0], one[0], 6);
        Assert.Equal(off[0], three[0], 6);
        double term = one[1] - off[1];
        Assert.True(term > 1e-7, $"the preservation term is {term}");
        Assert.Equal(3 * term, three[1] - off[1], 5);
    }

    [Fact]
    public void BlankPromptPreservationAndDopAreNotBothAllowed()
    {
        var yaml = TempDataset.Job(TempDataset.Create(), TestPaths.TempDir(), 1,
            "blank_prompt_preservation: true\n        diff_output_preservation: true");
        var e = Assert.Throws<JobConfigException>(() => JobConfigReader.Parse(yaml, "tiny.yaml"));
        Assert.Contains("blank_prompt_preservation", e.Message);
    }
}
