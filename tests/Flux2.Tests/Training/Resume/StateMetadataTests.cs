using Flux2.Native;
using Flux2.Training;
using Flux2.Training.Config;
using Flux2.Training.State;
using Xunit;
using Xunit.Abstractions;

namespace Flux2.Tests.Training.Resume;

/// <summary>Damaged JSON values in a training state, values that do not fit the dataset, a damaged run.sqlite and
/// the temp files of a killed save: each is reported by name and none stops an intact checkpoint from resuming.
/// </summary>
[Collection(nameof(SerialTrainingCollection))]
public class StateMetadataTests(ITestOutputHelper output)
{
    static string RunOf(string outDir) => Path.Combine(outDir, "tiny_lora");

    TrainingRunResult Train(string data, string outDir, List<string> messages)
    {
        TorchRuntime.EnsureLoaded();
        var loaded = JobConfigReader.Parse(ResumeJob.Yaml(data, outDir, 4, saveEvery: 2), "state.yaml");
        var callbacks = new TrainerCallbacks { OnMessage = m => { messages.Add(m); output.WriteLine(m); } };
        return TrainingRun.Run(loaded, callbacks);
    }

    /// <summary>A 4-step run saving at step 2 and at the end (step 4).</summary>
    (string data, string outDir, string finalState) TwoCheckpoints()
    {
        var data = TempDataset.Create();
        var outDir = TestPaths.TempDir();
        Train(data, outDir, new());
        return (data, outDir, Path.Combine(RunOf(outDir), "tiny_lora" + TrainingStateFile.Extension));
    }

    static void SetValue(string statePath, string key, string json)
    {
        using var state = TrainingStateFile.Read(statePath);
        state.Values[key] = json;
        TrainingStateFile.Write(statePath, state);
    }

    [Fact]
    public void UnparseableJsonInTheNewestStateIsReportedAndTheOlderStateResumes()
    {
        var (data, outDir, finalState) = TwoCheckpoints();
        SetValue(finalState, "task.rng", "{not json");
        var messages = new List<string>();
        var result = Train(data, outDir, messages);
        Assert.Equal(2, result.ResumedFrom);
        Assert.Contains(messages, m => m.Contains("cannot resume from") && m.Contains("'task.rng'"));
    }

    [Theory]
    [InlineData("task.rng", "[1, 2]", "task.rng")]
    [InlineData("task.rng", "\"words\"", "task.rng")]
    [InlineData("task.data_order", """{"Epoch": 0, "Pending": [[999]]}""", "out of range")]
    [InlineData("task.data_order", """{"Epoch": 0, "Pending": [[-1]]}""", "out of range")]
    public void AStateValueThatDoesNotFitIsAUserErrorNamingTheFile(string key, string json, string phrase)
    {
        var (data, outDir, finalState) = TwoCheckpoints();
        SetValue(finalState, key, json);
        var before = File.ReadAllBytes(finalState);
        var e = Record.Exception(() => Train(data, outDir, new()));
        output.WriteLine(e?.ToString());
        if (e is not UserError and not InvalidDataException)
            Assert.Fail($"expected a user error, got {e}");
        Assert.Contains(phrase, e.Message);
        Assert.Contains("tiny_lora", e.Message);
        Assert.True(File.Exists(finalState) ? before.SequenceEqual(File.ReadAllBytes(finalState)) : true);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ADamagedRunLogIsMovedAsideAndTheRunResumes(bool folder)
    {
        var (data, outDir, _) = TwoCheckpoints();
        var log = Path.Combine(RunOf(outDir), "run.sqlite");
        File.Delete(log + "-wal");
        File.Delete(log + "-shm");
        File.Delete(log);
        if (folder) Directory.CreateDirectory(log);
        else File.WriteAllText(log, "this is not a database, but it is long enough to have a header of 100 bytes. " +
                                    "................................................................");
        var messages = new List<string>();
        var result = Train(data, outDir, messages);
        Assert.Equal(4, result.ResumedFrom);
        Assert.Contains(messages, m => m.Contains("run log") && m.Contains("moved to"));
        var previous = Assert.Single(Directory.GetDirectories(RunOf(outDir), RunFolder.PreviousPrefix + "*"));
        Assert.True(Path.Exists(Path.Combine(previous, "run.sqlite")));
        Assert.True(File.Exists(log));
    }

    [Fact]
    public void TempFilesOfAKilledSaveAreRemovedAtTheNextStartAndReported()
    {
        var (data, outDir, _) = TwoCheckpoints();
        var stale = new[]
        {
            Path.Combine(RunOf(outDir), ".tiny_lora.safetensors." + new string('a', 32) + ".tmp"),
            Path.Combine(RunOf(outDir), ".tiny_lora_000000002.state.safetensors." + new string('b', 32) + ".tmp"),
        };
        var foreign = Path.Combine(RunOf(outDir), ".notes." + new string('c', 32) + ".tmp");
        foreach (var f in stale.Append(foreign)) File.WriteAllText(f, "half a save");
        var messages = new List<string>();
        var result = Train(data, outDir, messages);
        Assert.Equal(4, result.ResumedFrom);
        foreach (var f in stale)
        {
            Assert.False(File.Exists(f));
            Assert.Contains(messages, m => m.Contains("removed " + f));
        }
        Assert.True(File.Exists(foreign));
    }

    [Fact]
    public void AStateWithoutItsLoraFileIsMovedAsideAndReported()
    {
        var (data, outDir, _) = TwoCheckpoints();
        var orphan = Path.Combine(RunOf(outDir), "tiny_lora_000000002" + TrainingStateFile.Extension);
        var bytes = File.ReadAllBytes(orphan);
        File.Delete(TrainingStateFile.LoraPathFor(orphan));
        var messages = new List<string>();
        var result = Train(data, outDir, messages);
        Assert.Equal(4, result.ResumedFrom);
        Assert.Contains(messages, m => m.Contains("without their LoRA file") && m.Contains(Path.GetFileName(orphan)));
        Assert.False(File.Exists(orphan));
        var previous = Assert.Single(Directory.GetDirectories(RunOf(outDir), RunFolder.PreviousPrefix + "*"));
        Assert.Equal(bytes, File.ReadAllBytes(Path.Combine(previous, Path.GetFileName(orphan))));
    }
}
