using Flux2.Data.Synthetic;
using Flux2.Evaluation;
using Flux2.Models;
using Flux2.Native;
using Flux2.Pipeline;
using Flux2.Tests.Data;
using Xunit;
using Xunit.Abstractions;

namespace Flux2.Tests.Evaluation;

/// <summary>Base-model sanity v2: 48 held-out prompts, the check itself validated on the renderer's images.</summary>
public class BaseModelSanityTests(ITestOutputHelper output)
{
    const int Size = 128;

    static byte[] Rendered(ShapeScene scene)
    {
        using var bmp = ShapeRenderer.Render(scene, Size, Size);
        return RgbaBitmaps.ToRgb(bmp);
    }

    [Fact]
    public void PromptSet_IsHeldOutJudgeableAndMixesPlainTwoGroupAndSolidBackgrounds()
    {
        var prompts = BaseModelSanity.Prompts;
        Assert.True(prompts.Count >= 48);
        Assert.Equal(prompts.Count, prompts.Select(p => p.Prompt).Distinct().Count());
        Assert.Equal(prompts.Count, prompts.Select(p => p.Seed).Distinct().Count());
        var groups = prompts.SelectMany(p => p.Scene.Groups).ToList();
        Assert.All(groups, g => Assert.True(ShapeCorpus.IsHeldOut(g.Kind, g.Color, g.Placement), g.ToString()));
        Assert.All(groups, g => Assert.True(SceneCheck.CanJudge(g.Kind), g.ToString()));
        Assert.True(prompts.Count(p => p.Scene.Background == Backdrop.Plain) >= 16);
        Assert.All(prompts.Where(p => p.Scene.Background == Backdrop.Plain),
            p => Assert.DoesNotContain("background", p.Prompt));
        var two = prompts.Where(p => p.Scene.Groups.Count == 2).ToList();
        Assert.True(two.Count >= 8);
        Assert.All(two, p => Assert.NotEqual(p.Scene.Groups[0].Color, p.Scene.Groups[1].Color));
        Assert.All(prompts.Where(p => p.Scene.Background != Backdrop.Plain), p =>
        {
            Assert.Equal(BackdropPattern.Solid, p.Scene.Background.Pattern);
            Assert.DoesNotContain(p.Scene.Groups, g => g.Color == p.Scene.Background.Color);
        });
        Assert.Contains(groups, g => g.Kind == ShapeKind.Robot);
        Assert.Equal(4, groups.Select(g => g.Kind).Distinct().Count());
        output.WriteLine(string.Join("\n", prompts.Select(p => p.Prompt)));
    }

    [Fact]
    public void RenderersOwnImagesOfThePrompts_AllPass()
    {
        var report = new SanityReport(BaseModelSanity.Prompts
            .Select(p => BaseModelSanity.Judge(p, Rendered(p.Scene), Size, Size)).ToList(), 0);
        output.WriteLine(BaseModelSanity.Table(report));
        Assert.Equal(1.0, report.PassRate);
    }

    /// <summary>The check is not a rubber stamp: judging each rendered image against a wrong expectation (the two
    /// groups' colours swapped, every group moved to the mirrored cell, or the class changed) fails.</summary>
    [Fact]
    public void WrongExpectations_FailOnTheSameImages()
    {
        static ShapeKind OtherClass(ShapeKind k) => k == ShapeKind.Circle ? ShapeKind.Square : ShapeKind.Circle;
        int judged = 0, passed = 0;
        foreach (var p in BaseModelSanity.Prompts)
        {
            var rgb = Rendered(p.Scene);
            var wrong = new List<ShapeScene>
            {
                p.Scene with { Groups = p.Scene.Groups.Select(g => g with { Kind = OtherClass(g.Kind) }).ToList() },
            };
            if (p.Scene.Groups.Count == 2)
                wrong.Add(p.Scene with
                {
                    Groups = new[] {
                    p.Scene.Groups[0] with { Color = p.Scene.Groups[1].Color },
                    p.Scene.Groups[1] with { Color = p.Scene.Groups[0].Color } }
                });
            if (p.Scene.Groups.All(g => g.Placement != Placement.Center))
                wrong.Add(p.Scene with
                {
                    Groups = p.Scene.Groups.Select(g => g with { Placement = TestScenes.Mirror(g.Placement) }).ToList()
                });
            foreach (var w in wrong)
            {
                judged++;
                if (BaseModelSanity.Judge(new SanityPrompt(w, p.Seed), rgb, Size, Size).Verdict.Passed) passed++;
            }
        }
        Assert.True(judged >= 90, $"{judged} wrong expectations");
        Assert.Equal(0, passed);
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

    /// <summary>The base model's sanity on the committed FLUX.2-micro weights at their own sampling settings
    /// (sample_defaults.json: 20 steps, guidance 2): every prompt asks for combinations the model never saw. The
    /// committed weights pass 42 of 48 (88%); the goal for the model is 95%. This test holds the measured level so a
    /// worse model or checker fails it.</summary>
    [MicroModelFact]
    public void MicroModelDrawsAtLeast85PercentOfHeldOutPrompts()
    {
        TorchRuntime.EnsureLoaded();
        using var models = Flux2Models.Load(MicroModel.Name);
        var report = BaseModelSanity.Run(models, MicroModel.Resolution, MicroModel.Resolution, MicroModel.SampleSteps,
            (float)MicroModel.GuidanceScale, log: output.WriteLine);
        output.WriteLine(BaseModelSanity.Table(report));
        Assert.True(report.PassRate >= 0.85, $"pass rate {report.PassRate:P0}; see the table above");
    }
}
