using Flux2.Data.Synthetic;
using Flux2.Evaluation;
using Flux2.Models;
using Flux2.Native;
using Flux2.Pipeline;
using Xunit;
using Xunit.Abstractions;

namespace Flux2.Tests.Evaluation;

/// <summary>Base-model sanity: the model draws the prompt's colours and shape class in >= 80% of 24 cases.</summary>
public class BaseModelSanityTests(ITestOutputHelper output)
{
    [Fact]
    public void PromptSetCoversEveryShapeWithDistinctColourPairs()
    {
        var prompts = BaseModelSanity.Prompts;
        Assert.True(prompts.Count >= 20);
        Assert.Equal(prompts.Count, prompts.Select(p => p.Prompt).Distinct().Count());
        Assert.Equal(prompts.Count, prompts.Select(p => p.Seed).Distinct().Count());
        Assert.All(prompts, p => Assert.NotEqual(p.Shape, p.Background));
        Assert.All(prompts, p => Assert.True(SceneCheck.CanJudge(p.Kind)));
        Assert.Equal(new[] { ShapeKind.Circle, ShapeKind.Square, ShapeKind.Triangle },
            prompts.Select(p => p.Kind).Distinct().Order());
        Assert.Equal("a large red circle in the center on a blue background", prompts[0].Prompt);
    }

    [Fact]
    public void RunsEndToEndOnTinyRandomAndJudgesEveryPrompt()
    {
        TorchRuntime.EnsureLoaded();
        using var models = Flux2Models.CreateTinyRandom(0);
        var report = BaseModelSanity.Run(models, 32, 32, steps: 2);
        Assert.Equal(BaseModelSanity.Prompts.Count, report.Verdicts.Count);
        Assert.InRange(report.PassRate, 0, 1);
        Assert.Contains("pass rate", BaseModelSanity.Table(report));
    }

    [MicroModelFact]
    public void MicroModelDrawsTheAskedColoursAndShapesInAtLeast80Percent()
    {
        TorchRuntime.EnsureLoaded();
        using var models = Flux2Models.Load(MicroModel.Name);
        var report = BaseModelSanity.Run(models, MicroModel.Resolution, MicroModel.Resolution, log: output.WriteLine);
        output.WriteLine(BaseModelSanity.Table(report));
        Assert.True(report.PassRate >= 0.8, $"pass rate {report.PassRate:P0}; see the table above");
    }
}
