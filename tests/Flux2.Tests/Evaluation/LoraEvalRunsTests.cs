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

/// <summary>Several LoRAs compared: mean ± sample std over runs, eval.json reuse, and the checkpoint sweep with its
/// suggested step.</summary>
[Collection(TorchGlobalRngCollection.Name)]
public class LoraEvalRunsTests(ITestOutputHelper output)
{
    static EvaluatedLora Scored(int step, double strength, double bleedRatio, double bleed = 0.01) =>
        new($"step {step}", $"lora_{step}.safetensors", step, new Dictionary<string, double>
        {
            ["trigger_strength"] = strength,
            ["bleed_ratio"] = bleedRatio,
            ["bleed"] = bleed,
        }, "", Reused: false);

    [Fact]
    public void MeanAndSampleStandardDeviation()
    {
        var s = MeanStd.Of([1.0, 2.0, 3.0, 4.0]);
        Assert.Equal(2.5, s.Mean, 12);
        Assert.Equal(Math.Sqrt(5.0 / 3.0), s.Std, 12); // Σ(x − 2.5)² = 5, divided by n − 1 = 3
        Assert.Equal(4, s.Count);
        Assert.Equal("2.5000 ± 1.2910", s.ToString());
        var one = MeanStd.Of([0.3]);
        Assert.True(double.IsNaN(one.Std));
        Assert.Equal("0.3000", one.ToString());
        var withMissing = MeanStd.Of([2.0, double.NaN, 4.0]);
        Assert.Equal((3.0, 2, Math.Sqrt(2.0)), (withMissing.Mean, withMissing.Count, withMissing.Std));
        Assert.Equal(0, MeanStd.Of([]).Count);
    }

    [Fact]
    public void SpreadTableHasARowPerRunAndMeanStdPerMetric()
    {
        var runs = new[] { Scored(1, 0.2, 0.1, 0.02), Scored(2, 0.4, 0.3, 0.04), Scored(3, 0.3, 0.2, 0.03) };
        var spread = LoraEvalRuns.Spread(runs);
        Assert.Equal(0.3, spread["trigger_strength"].Mean, 12);
        Assert.Equal(0.1, spread["trigger_strength"].Std, 12);
        Assert.Equal(0, spread["trigger_change"].Count); // absent from every run
        var table = LoraEvalRuns.SpreadTable(runs);
        output.WriteLine(table);
        // Content kept and held-out strength (columns 2 and 3) are absent from these runs: "-".
        Assert.Contains("| step 2 | 0.4000 | - | - | 0.0400 | 0.3000 |", table);
        Assert.Contains("| **mean ± std (n = 3)** | 0.3000 ± 0.1000 | - | - | 0.0300 ± 0.0100 | " +
            "0.2000 ± 0.1000 | - |", table);
    }

    [Fact]
    public void MetricsAreReadByTheirJsonKeysAndMissingOnesAreNaN()
    {
        var m = EvalMetrics.FromJson("""{"trigger_strength": 0.25, "bleed": 0.01, "other": 3}""");
        Assert.Equal(0.25, m["trigger_strength"]);
        Assert.True(double.IsNaN(m["bleed_ratio"]));
        Assert.Equal(EvalMetrics.All.Count, m.Count);
    }

    [Fact]
    public void SuggestsTheEarliestNearBestCheckpointWithLowBleed()
    {
        // step 4 is within 0.05 of the best clean strength (0.42 at step 6); step 8 is stronger but leaks
        var sweep = new[] { Scored(2, 0.10, 0.2), Scored(4, 0.39, 0.3), Scored(6, 0.42, 0.4), Scored(8, 0.60, 0.9) };
        var s = CheckpointSweep.Suggest(sweep)!;
        Assert.Equal(4, s.Checkpoint.Step);
        Assert.Contains("bleed ratio <= 0.500", s.Reason);
        Assert.Contains("| 4 ← |", CheckpointSweep.Table(sweep, s));
        // no clean checkpoint: the rule runs over all and says so
        var leaky = new[] { Scored(2, 0.10, 0.8), Scored(4, 0.50, 0.9), Scored(6, 0.52, 0.95) };
        var l = CheckpointSweep.Suggest(leaky)!;
        Assert.Equal(4, l.Checkpoint.Step);
        Assert.Contains("no checkpoint keeps", l.Reason);
        Assert.Null(CheckpointSweep.Suggest([]));
    }

    /// <summary>A tiny-random run saving every 2 of 6 steps: the sweep finds steps 2, 4 and the final 6 in order,
    /// evaluates each into its folder, and a second sweep reuses every eval.json; a changed option does not.</summary>
    [Fact]
    public void SweepsATinyRunsCheckpointsInStepOrderAndReusesMatchingEvals()
    {
        TorchRuntime.EnsureLoaded();
        var data = TempDataset.Create();
        var job = TempDataset.Job(data, TestPaths.TempDir(), 6)
            .Replace("save_every: 10, max_step_saves_to_keep: 1", "save_every: 2, max_step_saves_to_keep: 10");
        var run = TrainingRun.Run(JobConfigReader.Parse(job, "tiny.yaml"));
        var checkpoints = CheckpointSweep.Checkpoints(run.RunFolder);
        Assert.Equal(new[] { 2, 4, 6 }, checkpoints.Select(c => c.Step));
        Assert.Equal(run.FinalLora, checkpoints[^1].Lora);

        var options = new LoraEvalOptions { Width = 32, Height = 32, Steps = 2, Seeds = 1 };
        using var models = Flux2Models.CreateTinyRandom(0);
        var first = CheckpointSweep.Evaluate(models, run.RunFolder, data, "zqx", options, output.WriteLine);
        output.WriteLine(CheckpointSweep.Table(first, CheckpointSweep.Suggest(first)));
        Assert.Equal(new int?[] { 2, 4, 6 }, first.Select(c => c.Step));
        Assert.All(first, c => Assert.False(c.Reused));
        Assert.True(File.Exists(Path.Combine(run.RunFolder, CheckpointSweep.FolderName, "tiny_lora_000000002",
            LoraEvalReport.JsonFileName)));
        Assert.Equal(Path.Combine(run.RunFolder, LoraEvalReport.JsonFileName), first[^1].JsonPath);
        Assert.True(first[^1][EvalMetrics.TriggerChange] > 0, "the trained LoRA changes the trigger images");

        var again = CheckpointSweep.Evaluate(models, run.RunFolder, data, "zqx", options, output.WriteLine);
        Assert.All(again, c => Assert.True(c.Reused, c.Label));
        Assert.Equal(first.Select(c => c[EvalMetrics.TriggerStrength]),
            again.Select(c => c[EvalMetrics.TriggerStrength]));
        Assert.False(LoraEvalRuns.Matches(first[0].JsonPath, first[0].Lora, models.Origin, data, "zqx",
            options with { Seeds = 2 }));
        Assert.False(LoraEvalRuns.Matches(first[0].JsonPath, first[1].Lora, models.Origin, data, "zqx", options));
        File.SetLastWriteTimeUtc(first[0].Lora, DateTime.UtcNow.AddMinutes(1)); // the LoRA changed after its eval
        Assert.False(LoraEvalRuns.Matches(first[0].JsonPath, first[0].Lora, models.Origin, data, "zqx", options));
    }

    /// <summary><c>./flux2 eval --runs</c> over two tiny-random runs that differ by training seed: a row per run and
    /// the mean ± std row; run again, both evaluations are reused.</summary>
    [Fact]
    public void EvalRunsPrintsMeanAndStdAndReusesEarlierEvaluations()
    {
        TorchRuntime.EnsureLoaded();
        var data = TempDataset.Create();
        var runs = new[] { 7, 8 }.Select(seed => TrainingRun.Run(JobConfigReader.Parse(
            TempDataset.Job(data, TestPaths.TempDir(), 4).Replace("seed: 7", $"seed: {seed}"), "tiny.yaml"))
            .RunFolder).ToList();
        var first = CliRunner.Run("eval", "--runs", string.Join(",", runs), "--seeds", "1", "--device", "cpu");
        output.WriteLine(first.ToString());
        Assert.True(first.Exit == 0, first.ToString());
        Assert.Contains($"| {runs[1]} | ", first.Out);
        Assert.Contains("| **mean ± std (n = 2)** | ", first.Out);
        Assert.All(runs, r => Assert.True(File.Exists(Path.Combine(r, LoraEvalReport.JsonFileName))));
        var again = CliRunner.Run("eval", "--runs", string.Join(",", runs), "--seeds", "1", "--device", "cpu");
        Assert.True(again.Exit == 0, again.ToString());
        Assert.Equal(2, again.Out.Split("reusing").Length - 1);
        CliRunner.AssertUserError(CliRunner.Run("eval", "--runs", runs[0], "--checkpoints", runs[1]),
            "--runs or --checkpoints");
    }
}
