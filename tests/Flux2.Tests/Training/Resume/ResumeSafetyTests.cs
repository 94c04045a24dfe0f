using Flux2.Lora;
using Flux2.Training;
using Flux2.Training.State;
using Xunit;
using Xunit.Abstractions;

namespace Flux2.Tests.Training.Resume;

[Collection(nameof(SerialTrainingCollection))]
public class ResumeSafetyTests(ITestOutputHelper output)
{
    [Fact]
    public void ChangedRankRefusesToResumeAndRestartMovesTheOldRunAside()
    {
        var data = TempDataset.Create();
        var outDir = TestPaths.TempDir();
        ResumeJob.Train(output, data, outDir, 2);

        var e = Assert.Throws<ResumeMismatchException>(() => ResumeJob.Train(output, data, outDir, 4, rank: 8));
        output.WriteLine(e.Message);
        Assert.Contains("new config.name", e.Message);
        Assert.Contains("--restart", e.Message);

        var fresh = ResumeJob.Train(output, data, outDir, 2, rank: 8, restart: true);
        Assert.Null(fresh.ResumedFrom);
        var run = Path.Combine(outDir, "tiny_lora");
        var previous = Assert.Single(Directory.GetDirectories(run, RunFolder.PreviousPrefix + "*"));
        Assert.True(File.Exists(Path.Combine(previous, "tiny_lora.safetensors")));
        Assert.True(File.Exists(Path.Combine(previous, "tiny_lora.state.safetensors")));
        Assert.Equal(8, LoraFile.Read(fresh.FinalLora)[0].Down.shape[0]);
    }

    [Fact]
    public void FailedSaveLeavesThePreviousCheckpointIntactAndLoadable()
    {
        var data = TempDataset.Create();
        var outDir = TestPaths.TempDir();
        var run = Path.Combine(outDir, "tiny_lora");
        // A folder where the step-10 LoRA file must go, made after the step-5 save (one made before the start is
        // refused up front): its rename fails, as on a full disk or a read-only folder (a chmod would not stop root,
        // who runs these tests in containers).
        Assert.ThrowsAny<IOException>(() => ResumeJob.Train(output, data, outDir, 20, saveEvery: 5, onStep: r =>
        {
            if (r.Step == 6) Directory.CreateDirectory(Path.Combine(run, "tiny_lora_000000010.safetensors"));
        }));

        // max_step_saves_to_keep is 1: had rotation run, step 5 would be gone.
        var lora5 = Path.Combine(run, "tiny_lora_000000005.safetensors");
        Assert.NotEmpty(LoraFile.Read(lora5));
        using (var state = TrainingStateFile.Read(TrainingStateFile.PathFor(lora5))) Assert.Equal(5, state.Step);
        Assert.Empty(Directory.GetFiles(run, "*.tmp")); // no temp file left behind
    }
}
