using Flux2.Data.Synthetic;
using Flux2.Native;
using Flux2.Pipeline;
using Flux2.Training;
using Flux2.Training.Config;
using Flux2.Training.Data;
using Flux2.Training.Objective;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Flux2.Tests.Training;

/// <summary>Edit/instruction datasets: control images paired by file name, fed as reference tokens.</summary>
[Collection(TorchGlobalRngCollection.Name)]
public class EditDatasetTests(ITestOutputHelper output)
{
    static string EditSet(int count = 4)
    {
        var dir = TestPaths.TempDir();
        RecolorEditPairs.Write(dir, count, seed: 1, size: 64);
        return dir;
    }

    [Fact]
    public void EditPairsDifferOnlyInTheCircleColourAndCarryTheInstruction()
    {
        var (control, target) = RecolorEditPairs.Scenes(1, 3);
        Assert.Equal(control.Background, target.Background);
        Assert.NotEqual(Palette.Blue, control.Groups[0].Color);
        Assert.Equal(control.Groups[0] with { Color = Palette.Blue }, target.Groups[0]);
        var dir = EditSet(2);
        Assert.Equal(RecolorEditPairs.Instruction, File.ReadAllText(Path.Combine(dir, "target", "recolor_001.txt")));
        Assert.True(File.Exists(Path.Combine(dir, "control", "recolor_001.png")));
    }

    [Fact]
    public void CommittedRecolorEditSetIsWhatTheGeneratorWrites()
    {
        var fresh = TestPaths.TempDir();
        RecolorEditPairs.Write(fresh, RecolorEditPairs.DefaultCount, RecolorEditPairs.DefaultSeed, 128);
        var committed = Path.Combine(TestPaths.RepoRoot, "datasets-sample", "recolor_edit");
        foreach (var sub in new[] { "control", "target" })
        {
            var names = Directory.GetFiles(Path.Combine(fresh, sub)).Select(Path.GetFileName).Order().ToList();
            Assert.Equal(names, Directory.GetFiles(Path.Combine(committed, sub)).Select(Path.GetFileName).Order()
                .ToList());
            foreach (var n in names) Assert.Equal(File.ReadAllBytes(Path.Combine(fresh, sub, n!)),
                File.ReadAllBytes(Path.Combine(committed, sub, n!)));
        }
    }

    [Fact]
    public void ScanPairsEachTargetWithItsControlAndAMissingControlIsAProblem()
    {
        var dir = EditSet(3);
        File.Delete(Path.Combine(dir, "control", "recolor_002.png"));
        var config = new DatasetConfig
        {
            FolderPath = Path.Combine(dir, "target"),
            ControlPath1 = Path.Combine(dir, "control"),
            Resolution = new() { 64 }
        };
        var scan = DatasetScanner.Scan(new[] { config }, 16);
        Assert.Equal(2, scan.Items.Count);
        Assert.All(scan.Items, i => Assert.Equal(Path.GetFileName(i.ImagePath),
            Path.GetFileName(Assert.Single(i.Controls))));
        Assert.All(scan.Items, i => Assert.Equal("64x64+1ctl", i.BucketKey));
        var problem = Assert.Single(scan.Problems);
        Assert.Contains("no control image named recolor_002", problem.Message);

        config.OnError = DataErrorPolicy.Fail;
        var e = Assert.Throws<InvalidDataException>(() => DatasetScanner.Scan(new[] { config }, 16));
        Assert.Contains("recolor_002", e.Message);
    }

    [Fact]
    public void ReferenceTokensUseTheInferenceTimeOffsets()
    {
        TorchRuntime.EnsureLoaded();
        using var scope = NewDisposeScope();
        var refs = ReferenceTokens.From(new[] { zeros(2, 8, 2, 3), zeros(2, 8, 2, 3) })!;
        Assert.Equal(new long[] { 2, 12, 8 }, refs.Tokens.shape);
        var times = refs.Ids[.., 0].data<float>().ToArray();
        Assert.Equal(Enumerable.Repeat(10f, 6).Concat(Enumerable.Repeat(20f, 6)), times);
        Assert.Equal(20, PositionIds.ReferenceTime(1));
    }

    [Fact]
    public void ControlTokensChangeThePredictionOnTheTargetTokensOnly()
    {
        TorchRuntime.EnsureLoaded();
        using var scope = NewDisposeScope();
        using var models = Flux2Models.Load(Flux2Models.TinyRandom);
        using var gen = new Generator(3); // not the global generator: other test classes train in parallel
        var x0 = randn(new long[] { 1, models.Vae.Config.PatchifiedChannels, 4, 4 }, generator: gen);
        var noise = randn(x0.shape, generator: gen);
        var context = models.EncodePrompts(new[] { RecolorEditPairs.Instruction });
        var t = new[] { new Timestep(0.5, 1) };
        using var _ = no_grad();
        var none = FlowMatchLoss.Velocity(models.Transformer, x0, context, noise, t, 1.0);
        var a = FlowMatchLoss.Velocity(models.Transformer, x0, context, noise, t, 1.0,
            ReferenceTokens.From(new[] { randn(x0.shape, generator: gen) }));
        var b = FlowMatchLoss.Velocity(models.Transformer, x0, context, noise, t, 1.0,
            ReferenceTokens.From(new[] { randn(x0.shape, generator: gen) }));
        Assert.Equal(none.shape, a.shape); // the reference tokens' outputs are cropped away
        double ab = (a - b).abs().max().item<float>(), an = (a - none).abs().max().item<float>();
        output.WriteLine($"max |v(refA) - v(refB)| = {ab:E3}, |v(refA) - v(no ref)| = {an:E3}");
        Assert.True(ab > 1e-5 && an > 1e-5);
    }

    [Fact]
    public void AFewTrainingStepsOnTheEditSetHaveFiniteLossAndCacheTheInstructionOnce()
    {
        TorchRuntime.EnsureLoaded();
        var dir = EditSet(4);
        var outDir = TestPaths.TempDir();
        var yaml = System.Text.RegularExpressions.Regex.Replace(
            TempDataset.Job(Path.Combine(dir, "target"), outDir, 3, extraTrain: "cache_text_embeddings: true"),
            @"^(\s+)resolution: \[32\]",
            $"$1resolution: [64]\n$1control_path_1: {Path.Combine(dir, "control")}\n$1on_error: fail",
            System.Text.RegularExpressions.RegexOptions.Multiline);
        var loaded = JobConfigReader.Parse(yaml, "edit.yaml");
        Assert.Empty(loaded.Warnings);
        var steps = new List<StepReport>();
        var messages = new List<string>();
        TrainingRun.Run(loaded, new TrainerCallbacks
        {
            OnStep = steps.Add,
            OnMessage = m => { messages.Add(m); output.WriteLine(m); }
        });
        Assert.Equal(3, steps.Count);
        Assert.All(steps, s => Assert.True(s.Applied && double.IsFinite(s.Loss) && s.GradNorm > 0,
            $"step {s.Step}: loss {s.Loss}"));
        Assert.Contains(messages, m => m.Contains("64x64+1ctl"));
        // One instruction (with the trigger prepended) -> one embedding file under the run folder.
        Assert.Single(Directory.GetFiles(Path.Combine(outDir, "tiny_lora", "_text_embed_cache"), "*.safetensors"));
    }
}
