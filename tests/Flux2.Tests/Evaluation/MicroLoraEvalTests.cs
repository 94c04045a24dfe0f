using Flux2.Evaluation;
using Flux2.Models;
using Flux2.Native;
using Flux2.Pipeline;
using Flux2.Training;
using Flux2.Training.Config;
using Xunit;
using Xunit.Abstractions;

namespace Flux2.Tests.Evaluation;

/// <summary>LoRA evaluation on FLUX.2-micro: a short midnight_tarot run raises trigger strength clearly while
/// bleed stays a minority of the change; the same job at 0 steps changes nothing. Thresholds make "clearly" and "a
/// minority" numeric; they wait for the micro weights to be calibrated against.</summary>
public class MicroLoraEvalTests(ITestOutputHelper output)
{
    static readonly LoraEvalOptions Quick = new() { Seeds = 2, Steps = 12 };

    /// <summary>The shipped midnight_tarot job trained for <paramref name="steps"/> steps in a temporary folder,
    /// without sample grids; returns its final LoRA and the dataset folder.</summary>
    internal static (string lora, string dataset) TrainStyleJob(int steps, Action<ProcessConfig>? configure = null,
        Action<string>? log = null)
    {
        TorchRuntime.EnsureLoaded();
        var dataset = Path.Combine(TestPaths.RepoRoot, "datasets-sample", "midnight_tarot");
        var loaded = JobConfigReader.Read(Path.Combine(TestPaths.RepoRoot, "datasets-sample", "midnight_tarot.yaml"));
        var p = loaded.Job.Process;
        p.TrainingFolder = TestPaths.TempDir();
        p.Datasets[0].FolderPath = dataset;
        p.Train.Steps = steps;
        p.Train.DisableSampling = true;
        configure?.Invoke(p);
        return (TrainingRun.Run(loaded, new TrainerCallbacks { OnMessage = log }).FinalLora, dataset);
    }

    LoraEvalResult TrainAndEvaluate(int steps)
    {
        var (lora, dataset) = TrainStyleJob(steps, log: output.WriteLine);
        using var models = Flux2Models.Load(MicroModel.Name);
        var r = LoraEvaluator.Evaluate(models, lora, dataset, "midnight_tarot", Quick, output.WriteLine);
        output.WriteLine(LoraEvalReport.Table(r));
        return r;
    }

    [MicroModelFact]
    public void ShortStyleRunRaisesTriggerStrengthWithSmallBleed()
    {
        var r = TrainAndEvaluate(100);
        Assert.True(r.TriggerStrength > 0.2, $"strength {r.TriggerStrength}");
        Assert.True(r.BleedRatio < 0.5,
            $"bleed {r.Bleed} is {r.BleedRatio:P0} of the trigger change {r.TriggerChange}");
    }

    [MicroModelFact]
    public void ZeroStepRunChangesNothing()
    {
        var r = TrainAndEvaluate(0);
        Assert.True(Math.Abs(r.TriggerStrength) < 1e-6 && r.Bleed < 1e-6,
            $"strength {r.TriggerStrength}, bleed {r.Bleed}");
    }
}
