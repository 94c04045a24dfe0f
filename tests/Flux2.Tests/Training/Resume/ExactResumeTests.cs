using Flux2.Cli;
using Flux2.Training.State;
using Xunit;
using Xunit.Abstractions;

namespace Flux2.Tests.Training.Resume;

/// <summary>Exact resume: an interrupted run continues exactly like an uninterrupted one.</summary>
[Collection(nameof(SerialTrainingCollection))]
public class ExactResumeTests(ITestOutputHelper output)
{
    const int N = 6;

    [Fact]
    public void NStepsThenANewTrainerToTwoNEqualsTwoNStraightBitForBit()
    {
        var data = TempDataset.Create();
        var straight = ResumeJob.Train(output, data, TestPaths.TempDir(), 2 * N);

        var outDir = TestPaths.TempDir();
        var first = ResumeJob.Train(output, data, outDir, N);
        Assert.Null(first.ResumedFrom);
        // A new TrainingRun builds a new model, task, optimizer and trainer: all it shares with the first is the
        // folder.
        var resumed = ResumeJob.Train(output, data, outDir, 2 * N);
        Assert.Equal(N, resumed.ResumedFrom);
        Assert.Equal(2 * N, resumed.Step);

        ResumeJob.AssertSameTensors(straight.FinalLora, resumed.FinalLora); // EMA weights, alpha baked in
        ResumeJob.AssertSameTensors(TrainingStateFile.PathFor(straight.FinalLora),
            TrainingStateFile.PathFor(resumed.FinalLora)); // raw fp32, moments, PRNG
    }

    [Fact]
    public void CliTrainWithFewerStepsThenAgainResumesAndMatchesAStraightRun()
    {
        var data = TempDataset.Create();
        var straight = ResumeJob.Train(output, data, TestPaths.TempDir(), 2 * N);

        var outDir = TestPaths.TempDir();
        var yaml = Path.Combine(outDir, "job.yaml");
        File.WriteAllText(yaml, ResumeJob.Yaml(data, outDir, 2 * N));
        var o = new StringWriter();
        Assert.Equal(0, Flux2Cli.Run(new[] { "train", yaml, "--steps", N.ToString(), "--no-eval" }, o, o));
        Assert.DoesNotContain("resuming", o.ToString());
        o = new StringWriter();
        Assert.Equal(0, Flux2Cli.Run(new[] { "train", yaml, "--no-eval" }, o, o));
        output.WriteLine(o.ToString());
        Assert.Contains($"resuming from step {N}", o.ToString());

        ResumeJob.AssertSameTensors(straight.FinalLora, Path.Combine(outDir, "tiny_lora", "tiny_lora.safetensors"));
    }

    [Fact]
    public void CancelledRunSavesAStepCheckpointAndResumesFromIt()
    {
        var data = TempDataset.Create();
        var straight = ResumeJob.Train(output, data, TestPaths.TempDir(), 2 * N);

        var outDir = TestPaths.TempDir();
        using var stop = new CancellationTokenSource();
        var cancelled = ResumeJob.Train(output, data, outDir, 2 * N, cancel: stop.Token,
            onStep: r => { if (r.Step == 4) stop.Cancel(); });
        Assert.True(cancelled.Cancelled);
        Assert.Equal(4, cancelled.Step);
        Assert.EndsWith("tiny_lora_000000004.safetensors", cancelled.FinalLora);
        Assert.True(File.Exists(TrainingStateFile.PathFor(cancelled.FinalLora)));
        Assert.False(File.Exists(Path.Combine(outDir, "tiny_lora", "tiny_lora.safetensors"))); // not "done"

        var resumed = ResumeJob.Train(output, data, outDir, 2 * N);
        Assert.Equal(4, resumed.ResumedFrom);
        ResumeJob.AssertSameTensors(straight.FinalLora, resumed.FinalLora);
    }
}
