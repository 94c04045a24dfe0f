using System.Diagnostics;
using Flux2.Lora;
using Flux2.Native;
using Flux2.Pipeline;
using Flux2.Training;
using Flux2.Training.Config;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Flux2.Tests.Training;

[Collection(TorchGlobalRngCollection.Name)]
public class TinyTrainingRunTests(ITestOutputHelper output)
{
    (TrainingRunResult result, List<StepReport> steps, List<EvalReport> evals) Train(
        string dataset, string outDir, int steps, bool restart = false)
    {
        TorchRuntime.EnsureLoaded();
        var loaded = JobConfigReader.Parse(TempDataset.Job(dataset, outDir, steps), "tiny.yaml");
        Assert.Empty(loaded.Warnings);
        var stepReports = new List<StepReport>();
        var evals = new List<EvalReport>();
        var clock = Stopwatch.StartNew();
        var result = TrainingRun.Run(loaded, new TrainerCallbacks
        {
            OnStep = stepReports.Add,
            OnEval = evals.Add,
            OnMessage = m => output.WriteLine($"{clock.Elapsed.TotalSeconds,6:F2}s {m}"),
            OnSample = r =>
                output.WriteLine($"{clock.Elapsed.TotalSeconds,6:F2}s sample grid {r.GridPath} in {r.Seconds:F2}s"),
            OnSave = r => output.WriteLine($"{clock.Elapsed.TotalSeconds,6:F2}s saved {r.Path}"),
        }, restart: restart);
        output.WriteLine($"{clock.Elapsed.TotalSeconds,6:F2}s done");
        return (result, stepReports, evals);
    }

    [Fact]
    public void TwentyStepsLowerTheLossAndTheSavedLoraChangesTheModel()
    {
        var data = TempDataset.Create();
        var outDir = TestPaths.TempDir();
        var clock = Stopwatch.StartNew();
        var (result, steps, evals) = Train(data, outDir, 20);
        output.WriteLine($"20 steps + samples + saves: {clock.Elapsed.TotalSeconds:F1} s; mean step " +
            $"{steps.Average(s => s.Seconds) * 1000:F0} ms");
        foreach (var e in evals) output.WriteLine($"eval step {e.Step}: {e.Loss:F4}");

        Assert.Equal(Enumerable.Range(1, 20), steps.Select(s => s.Step));
        Assert.All(steps, s => Assert.True(s.Applied && double.IsFinite(s.Loss) && s.GradNorm > 0));
        Assert.True(evals[^1].Loss < evals[0].Loss * 0.95,
            $"fixed-input loss {evals[0].Loss:F4} -> {evals[^1].Loss:F4}");

        var run = Path.Combine(outDir, "tiny_lora");
        Assert.Equal(Path.Combine(run, "tiny_lora.safetensors"), result.FinalLora);
        // save_every 10 with max_step_saves_to_keep 1: step 10 saved; nothing else intermediate (20 is the final).
        Assert.Equal(new[] { "tiny_lora_000000010.safetensors", "tiny_lora_000000010.state.safetensors" },
            Directory.GetFiles(run, "tiny_lora_*.safetensors").Select(Path.GetFileName).Order(StringComparer.Ordinal));
        Assert.True(File.Exists(Path.Combine(run, "samples", "000000000.png")));
        Assert.True(File.Exists(Path.Combine(run, "samples", "000000020.png")));
        Assert.True(File.Exists(Path.Combine(run, "config.resolved.txt")));

        using var withLora = OutputOf(result.FinalLora);
        using var without = OutputOf(null);
        var diff = (withLora - without).abs().max().item<float>();
        Assert.True(diff > 1e-4, $"LoRA changed the output by only {diff}");
    }

    [Fact]
    public void ZeroStepLoraLeavesTheModelUnchanged()
    {
        var (result, steps, _) = Train(TempDataset.Create(), TestPaths.TempDir(), 0);
        Assert.Empty(steps);
        var updates = LoraFile.Read(result.FinalLora);
        Assert.NotEmpty(updates);
        using var withLora = OutputOf(result.FinalLora);
        using var without = OutputOf(null);
        Assert.Equal(0f, (withLora - without).abs().max().item<float>());
    }

    [Fact]
    public void SameSeedGivesIdenticalLoraBytes()
    {
        // Same folders too: the metadata records the resolved config, paths included.
        var data = TempDataset.Create();
        var outDir = TestPaths.TempDir();
        var first = File.ReadAllBytes(Train(data, outDir, 6).result.FinalLora);
        // restart: without it the second run would resume the finished first one instead of training again.
        var second = File.ReadAllBytes(Train(data, outDir, 6, restart: true).result.FinalLora);
        Assert.Equal(first, second);
    }

    /// <summary>Transformer output of a fresh tiny-random model on fixed inputs, with the LoRA file applied when
    /// given.</summary>
    internal static Tensor OutputOf(string? lora)
    {
        using var models = Flux2Models.CreateTinyRandom(0);
        if (lora is not null) LoraLoader.Apply(models.Transformer, lora);
        using var _ = no_grad();
        var t = models.Transformer;
        using var gen = new TorchSharp.torch.Generator(5);
        var hidden = randn(new long[] { 1, 16, t.Config.InChannels }, generator: gen);
        var context = randn(new long[] { 1, 8, t.Config.JointAttentionDim }, generator: gen);
        return t.Forward(hidden, context, tensor(new[] { 0.5f }), tensor(new[] { 1f }), PositionIds.Image(4, 4),
            PositionIds.Text(8));
    }
}
