using Flux2.IO;
using Flux2.Native;
using Flux2.Tests.Cli;
using Flux2.Training;
using Flux2.Training.Config;
using Flux2.Training.State;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Flux2.Tests.Training.Resume;

/// <summary>No input loses a user's files: unsafe run names, --restart next to foreign files, unreadable, damaged or
/// non-finite training states, diverging runs, and outputs or devices that can only fail late.</summary>
[Collection(nameof(SerialTrainingCollection))]
public class DataDamageTests(ITestOutputHelper output)
{
    static string RunOf(string outDir) => Path.Combine(outDir, "tiny_lora");

    /// <summary>Trains the resume job, collecting the trainer's messages.</summary>
    TrainingRunResult Train(string data, string outDir, int steps, List<string> messages, int saveEvery = 10,
                         bool restart = false, Func<string, string>? edit = null)
    {
        TorchRuntime.EnsureLoaded();
        var yaml = ResumeJob.Yaml(data, outDir, steps, saveEvery: saveEvery);
        var loaded = JobConfigReader.Parse(edit is null ? yaml : edit(yaml), "damage.yaml");
        var callbacks = new TrainerCallbacks { OnMessage = m => { messages.Add(m); output.WriteLine(m); } };
        return TrainingRun.Run(loaded, callbacks, restart: restart);
    }

    string JobFile(string data, string outDir, int steps, string name = "tiny_lora")
    {
        var path = Path.Combine(TestPaths.TempDir(), "job.yaml");
        File.WriteAllText(path, ResumeJob.Yaml(data, outDir, steps).Replace("name: tiny_lora", $"name: {name}"));
        return path;
    }

    /// <summary><c>./flux2 train job --no-eval</c> with <paramref name="options"/>, in-process.</summary>
    CliRunner.Result TrainCli(string job, params string[] options)
    {
        var r = CliRunner.Run(new[] { "train", job, "--no-eval" }.Concat(options).ToArray());
        output.WriteLine(r.ToString());
        return r;
    }

    // ---------------------------------------------------------------- 1. the run folder is the run's alone

    [Theory]
    [InlineData("'..'")]
    [InlineData("'.'")]
    [InlineData("'...'")]
    [InlineData("'a/b'")]
    [InlineData("'/tmp/abs'")]
    [InlineData("\"a\\n\"")]
    [InlineData("''")]
    public void ANameThatIsNotOnePlainFolderNameIsRefusedAtLoad(string yamlName)
    {
        var yaml = ResumeJob.Yaml("data", "out", 2).Replace("name: tiny_lora", $"name: {yamlName}");
        var e = Assert.Throws<JobConfigException>(() => JobConfigReader.Parse(yaml, "job.yaml"));
        output.WriteLine(e.Message);
        Assert.Contains("config.name", e.Message);
        Assert.StartsWith("job.yaml:", e.Message);
    }

    [Fact]
    public void TrainWithDotDotAsTheNameExitsTwoNamingTheKey()
    {
        var outDir = TestPaths.TempDir();
        File.WriteAllText(Path.Combine(outDir, "keep.txt"), "mine");
        var job = JobFile(TempDataset.Create(), Path.Combine(outDir, "runs"), 2, "'..'");
        var r = CliRunner.AssertUserError(TrainCli(job, "--restart"), "config.name", "my_lora");
        Assert.Empty(Directory.GetDirectories(outDir, RunFolder.PreviousPrefix + "*"));
        Assert.True(File.Exists(Path.Combine(outDir, "keep.txt")), r.ToString());
    }

    [Fact]
    public void ANameEditedAfterLoadingIsCheckedByTheRunToo()
    {
        TorchRuntime.EnsureLoaded();
        var loaded = JobConfigReader.Parse(ResumeJob.Yaml(TempDataset.Create(), TestPaths.TempDir(), 2), "job.yaml");
        loaded.Job.Config.Name = "..";
        var e = Assert.Throws<UserError>(() => TrainingRun.Run(loaded, restart: true));
        Assert.Contains("config.name", e.Message);
    }

    [Fact]
    public void RestartMovesOnlyTheRunsOwnFiles()
    {
        var data = TempDataset.Create();
        var outDir = TestPaths.TempDir();
        var run = RunOf(outDir);
        Train(data, outDir, 2, new());
        File.WriteAllText(Path.Combine(run, "notes.txt"), "mine");
        File.WriteAllText(Path.Combine(run, "other_lora.safetensors"), "another run's file");
        Directory.CreateDirectory(Path.Combine(run, "other_run"));
        File.WriteAllText(Path.Combine(run, "other_run", "other_run.safetensors"), "another run");
        Directory.CreateDirectory(Path.Combine(run, "samples"));
        File.WriteAllText(Path.Combine(run, "samples", "favourite.txt"), "mine");

        var fresh = Train(data, outDir, 2, new(), restart: true);

        Assert.Null(fresh.ResumedFrom);
        var foreign = new[] { "notes.txt", "other_lora.safetensors", Path.Combine("other_run", "other_run.safetensors"),
                              Path.Combine("samples", "favourite.txt") };
        foreach (var kept in foreign)
            Assert.True(File.Exists(Path.Combine(run, kept)), $"{kept} was moved");
        var previous = Assert.Single(Directory.GetDirectories(run, RunFolder.PreviousPrefix + "*"));
        foreach (var moved in new[] { "tiny_lora.safetensors", "tiny_lora.state.safetensors", "config.resolved.txt",
                                      "run.sqlite" })
            Assert.True(File.Exists(Path.Combine(previous, moved)), $"{moved} was not moved aside");
        Assert.False(File.Exists(Path.Combine(previous, "notes.txt")));
    }

    // ---------------------------------------------------------------- 2. unreadable states

    static void Truncate(string path)
    {
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..(bytes.Length / 2)]);
    }

    [Fact]
    public void WhenNoStateIsReadableTrainRefusesAndOverwritesNothing()
    {
        var data = TempDataset.Create();
        var outDir = TestPaths.TempDir();
        var run = RunOf(outDir);
        var job = JobFile(data, outDir, 2);
        Assert.Equal(0, TrainCli(job).Exit);
        var lora = Path.Combine(run, "tiny_lora.safetensors");
        var state = TrainingStateFile.PathFor(lora);
        Truncate(state);
        var loraBytes = File.ReadAllBytes(lora);

        CliRunner.AssertUserError(TrainCli(job, "--steps", "4"), state, "--restart");
        Assert.Equal(loraBytes, File.ReadAllBytes(lora));

        Assert.Equal(0, TrainCli(job, "--steps", "2", "--restart").Exit);
        var previous = Assert.Single(Directory.GetDirectories(run, RunFolder.PreviousPrefix + "*"));
        Assert.Equal(loraBytes, File.ReadAllBytes(Path.Combine(previous, "tiny_lora.safetensors")));
    }

    [Fact]
    public void ALoraFileWithoutItsStateIsNotOverwrittenByAFreshStart()
    {
        var outDir = TestPaths.TempDir();
        Directory.CreateDirectory(RunOf(outDir));
        var lora = Path.Combine(RunOf(outDir), "tiny_lora.safetensors");
        File.WriteAllText(lora, "a LoRA from somewhere else");
        CliRunner.AssertUserError(TrainCli(JobFile(TempDataset.Create(), outDir, 2)), "no training state", "--restart");
        Assert.Equal("a LoRA from somewhere else", File.ReadAllText(lora));
    }

    /// <summary>A 4-step run saving at step 2: tiny_lora_000000002 and the final tiny_lora (step 4), both with
    /// states.</summary>
    (string data, string outDir, string finalState) TwoCheckpoints()
    {
        var data = TempDataset.Create();
        var outDir = TestPaths.TempDir();
        Train(data, outDir, 4, new(), saveEvery: 2);
        var finalState = Path.Combine(RunOf(outDir), "tiny_lora" + TrainingStateFile.Extension);
        Assert.True(File.Exists(finalState));
        Assert.True(File.Exists(Path.Combine(RunOf(outDir), "tiny_lora_000000002" + TrainingStateFile.Extension)));
        return (data, outDir, finalState);
    }

    /// <summary>The newest state is damaged by <paramref name="damage"/>: the run says so, keeps it (moved aside with
    /// its LoRA) and resumes from the older one.</summary>
    void ADamagedNewestStateIsReportedKeptAndSkipped(Action<string> damage, string reason)
    {
        var (data, outDir, finalState) = TwoCheckpoints();
        damage(finalState);
        var damaged = File.ReadAllBytes(finalState);
        var messages = new List<string>();

        var result = Train(data, outDir, 4, messages, saveEvery: 2);

        Assert.Equal(2, result.ResumedFrom);
        var report = Assert.Single(messages, m => m.Contains("cannot resume from"));
        Assert.Contains(finalState, report);
        Assert.Contains(reason, report);
        var previous = Assert.Single(Directory.GetDirectories(RunOf(outDir), RunFolder.PreviousPrefix + "*"));
        Assert.Equal(damaged, File.ReadAllBytes(Path.Combine(previous, Path.GetFileName(finalState))));
        Assert.True(File.Exists(Path.Combine(previous, "tiny_lora.safetensors")));
    }

    [Fact]
    public void ATruncatedNewestStateIsReportedKeptAndSkipped()
        => ADamagedNewestStateIsReportedKeptAndSkipped(Truncate, "");

    [Fact]
    public void AStateWithNaNWeightsIsReportedKeptAndSkipped()
        => ADamagedNewestStateIsReportedKeptAndSkipped(WriteNaNWeights, "NaN");

    [Fact]
    public void AStateWithChangedDataBytesIsReportedKeptAndSkipped()
        => ADamagedNewestStateIsReportedKeptAndSkipped(FlipABitOfAWeight, "checksum");

    /// <summary>NaN weights, written without a checksum (as older files are): the finite check alone must catch it.
    /// </summary>
    static void WriteNaNWeights(string path)
    {
        using var state = TrainingStateFile.Read(path);
        state.Tensors["param.0"].fill_(float.NaN);
        var meta = new Dictionary<string, string>(state.Values)
        {
            [TrainingStateFile.FormatKey] = TrainingStateFile.Format,
        };
        SafetensorsWriter.Write(path, state.Tensors.OrderBy(kv => kv.Key, StringComparer.Ordinal), meta);
    }

    /// <summary>One bit of a weight in the middle of the data: still a finite number, but not the one saved.</summary>
    static void FlipABitOfAWeight(string path)
    {
        long offset;
        using (var file = SafetensorsFile.Open(path))
            offset = new FileInfo(path).Length - file.Entries.Values.Max(e => e.End) + file.Entries["param.0"].Begin
                     + 1;
        var bytes = File.ReadAllBytes(path);
        bytes[offset] ^= 0x01;
        File.WriteAllBytes(path, bytes);
    }

    // ---------------------------------------------------------------- 3. non-finite runs

    [Fact]
    public void ADivergingRunStopsWithoutSavingAndKeepsTheLastFiniteCheckpoint()
    {
        var (data, outDir, finalState) = TwoCheckpoints();
        var messages = new List<string>();

        var e = Assert.Throws<TrainingFaultException>(() =>
            Train(data, outDir, 40, messages, saveEvery: 2, edit: y => y.Replace("lr: 0.01", "lr: 1e30")));
        output.WriteLine(e.Message);

        // Named by the message, still there, and resumable (Read checks whole and finite), as is every state left.
        var lastGood = Path.Combine(RunOf(outDir), "tiny_lora.safetensors");
        Assert.Contains($"The last checkpoint, {lastGood}, is finite", e.Message);
        using (var state = TrainingStateFile.Read(finalState)) Assert.Equal(4, state.Step);
        foreach (var f in Directory.GetFiles(RunOf(outDir), "*" + TrainingStateFile.Extension))
            TrainingStateFile.Read(f).Dispose();
    }

    [Fact]
    public void ANonFiniteStateIsNeverWritten()
    {
        TorchRuntime.EnsureLoaded();
        using var state = new TrainingState();
        state.Put("step", 3);
        state.PutTensor("param.0", tensor(new[] { 1f, float.PositiveInfinity }));
        var path = Path.Combine(TestPaths.TempDir(), "x" + TrainingStateFile.Extension);
        var e = Assert.Throws<InvalidDataException>(() => TrainingStateFile.Write(path, state));
        Assert.Contains("param.0", e.Message);
        Assert.False(File.Exists(path));
    }

    // ---------------------------------------------------------------- 4. late failures checked up front

    [Fact]
    public void AMissingCudaDeviceIsRefusedBeforeRestartMovesAnything()
    {
        var outDir = TestPaths.TempDir();
        Directory.CreateDirectory(RunOf(outDir));
        var lora = Path.Combine(RunOf(outDir), "tiny_lora.safetensors");
        File.WriteAllText(lora, "x");
        var job = JobFile(TempDataset.Create(), outDir, 2);
        CliRunner.AssertUserError(TrainCli(job, "--device", "cuda:99", "--restart"), "cuda");
        Assert.True(File.Exists(lora));
        Assert.Empty(Directory.GetDirectories(RunOf(outDir), RunFolder.PreviousPrefix + "*"));
    }

    [Fact]
    public void AMissingDatasetFolderIsRefusedBeforeRestartMovesAnything()
    {
        var outDir = TestPaths.TempDir();
        Directory.CreateDirectory(RunOf(outDir));
        var lora = Path.Combine(RunOf(outDir), "tiny_lora.safetensors");
        File.WriteAllText(lora, "x");
        var missing = Path.Combine(TestPaths.TempDir(), "no-such-dataset");
        CliRunner.AssertUserError(TrainCli(JobFile(missing, outDir, 2), "--restart"), "datasets[0].folder_path",
                                  missing);
        Assert.True(File.Exists(lora));
    }

    [Theory]
    [InlineData("", "train.gradient_checkpointing: true")]
    [InlineData("\n        gradient_checkpointing: true", "needs CUDA")]
    public void LayerOffloadingThatCannotRunIsRefusedBeforeRestartMovesAnything(string train, string message)
    {
        var outDir = TestPaths.TempDir();
        Directory.CreateDirectory(RunOf(outDir));
        var lora = Path.Combine(RunOf(outDir), "tiny_lora.safetensors");
        File.WriteAllText(lora, "x");
        var job = JobFile(TempDataset.Create(), outDir, 2);
        File.WriteAllText(job, File.ReadAllText(job)
            .Replace("gradient_accumulation: 2", "gradient_accumulation: 2" + train)
            .Replace("arch: flux2", "arch: flux2, layer_offloading: true"));
        CliRunner.AssertUserError(TrainCli(job, "--device", "cpu", "--restart"), "model.layer_offloading", message);
        Assert.True(File.Exists(lora));
    }

    [Fact]
    public void AnUnknownDeviceIsAUserError()
        => CliRunner.AssertUserError(TrainCli(JobFile(TempDataset.Create(), TestPaths.TempDir(), 2), "--device", "gpu"),
                                     "'gpu'");

    [Theory]
    [InlineData("tiny_lora.safetensors")]
    [InlineData("tiny_lora.state.safetensors")]
    [InlineData("config.resolved.txt")]
    public void AFolderWhereTheRunWritesAFileIsRefusedBeforeTraining(string entry)
    {
        var outDir = TestPaths.TempDir();
        Directory.CreateDirectory(Path.Combine(RunOf(outDir), entry));
        CliRunner.AssertUserError(TrainCli(JobFile(TempDataset.Create(), outDir, 2)), entry, "is a folder");
        Assert.Empty(Directory.GetFiles(RunOf(outDir)));
    }

    [Fact]
    public void ATrainingFolderThatIsAFileIsAUserError()
    {
        var file = Path.Combine(TestPaths.TempDir(), "not-a-folder");
        File.WriteAllText(file, "x");
        CliRunner.AssertUserError(TrainCli(JobFile(TempDataset.Create(), file, 2)), "training_folder");
    }
}
