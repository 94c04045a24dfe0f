using Flux2.Training.Logging;
using Xunit;
using Xunit.Abstractions;

namespace Flux2.Tests.Training.Resume;

[Collection(nameof(SerialTrainingCollection))]
public class RunLogTests(ITestOutputHelper output)
{
    [Fact]
    public void ARunLogsEveryStepOnceAndAResumeReplacesWhatTheKilledProcessLoggedAfterItsCheckpoint()
    {
        var data = TempDataset.Create();
        var outDir = TestPaths.TempDir();
        // "Kill" the process at step 7: steps 6 and 7 are logged but the newest checkpoint is step 5.
        Assert.Throws<InvalidOperationException>(() => ResumeJob.Train(output, data, outDir, 10, saveEvery: 5,
            onStep: r => { if (r.Step == 7) throw new InvalidOperationException("killed"); }));
        var run = Path.Combine(outDir, "tiny_lora");
        using (var log = RunLog.Open(run)) Assert.Equal(Enumerable.Range(1, 7), log.Steps().Step);

        var resumed = ResumeJob.Train(output, data, outDir, 10, saveEvery: 5);
        Assert.Equal(5, resumed.ResumedFrom);

        Assert.Equal(new[] { run }, RunLog.ListRuns(outDir));
        using var db = RunLog.Open(run);
        var steps = db.Steps();
        Assert.Equal(Enumerable.Range(1, 10), steps.Step);
        Assert.All(steps.Loss, l => Assert.True(double.IsFinite(l) && l > 0));
        Assert.All(steps.LearningRate, lr => Assert.Equal(0.01, lr, 12));
        Assert.All(steps.Timestep, t => Assert.InRange(t, 0, 1));
        Assert.All(steps.GradNorm, g => Assert.True(g > 0));
        Assert.All(steps.MemoryMb, m => Assert.True(m > 10, $"memory {m} MB"));
        Assert.All(steps.Seconds, s => Assert.True(s > 0));

        var runs = db.Runs();
        Assert.Equal(2, runs.Count);
        Assert.Null(runs[0].ResumedFrom);
        Assert.Equal(5, runs[1].ResumedFrom);
        Assert.Contains("tiny_lora", runs[0].Config);
        Assert.Equal("tiny-random", runs[0].Model);

        var resume = Assert.Single(db.Events("resume"));
        Assert.Equal(5, resume.Step);
        Assert.Equal(new[] { 5, 10 }, db.Events("save").Select(e => e.Step)); // the step-5 save, the final at 10
        Assert.Equal(new[] { 0, 10 }, db.Events("sample").Select(e => e.Step));
        Assert.Contains(db.Events("eval"), e => e.Step == 10 && e.Value > 0);
    }
}
