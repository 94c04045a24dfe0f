using Flux2.IO;
using Flux2.Lora;
using Flux2.Native;
using Flux2.Nn;
using Flux2.Pipeline;
using Flux2.Tests.Cli;
using Flux2.Tests.Training.Resume;
using Flux2.Training;
using Flux2.Training.Config;
using Flux2.Training.Network;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Flux2.Tests.Training;

/// <summary>network.type lokr as ai-toolkit trains it (docs/ai-toolkit-compat.md §2.18): the factorized forward
/// is ΔW = Scale · kron(W1, W2), the saved file holds ComfyUI's LoKr keys per BFL Linear (the fused qkv once), the
/// ΔW ComfyUI rebuilds from the file is the trained module's, and the file loads back (generate's loader,
/// pretrained_lora_path, lora info) to the same ΔW.</summary>
[Collection(TorchGlobalRngCollection.Name)]
public class LokrTests(ITestOutputHelper output)
{
    static string Job(string network, int steps = 0) =>
        TempDataset.Job(TempDataset.Create(), TestPaths.TempDir(), steps, "disable_sampling: true")
            .Replace("network: {type: lora, linear: 4, linear_alpha: 4}", $"network: {{{network}}}");

    [Theory]
    [InlineData(-1, 1, 1L, 1L)]
    [InlineData(-1, 128, 8L, 16L)]
    [InlineData(-1, 360, 18L, 20L)]
    [InlineData(4, 360, 4L, 90L)]
    [InlineData(8, 1024, 8L, 128L)]
    [InlineData(16, 127, 1L, 127L)]
    public void FactorizationFollowsLycoris(int factor, long dimension, long m, long n)
        => Assert.Equal((m, n), LoraNetwork.Factorization(dimension, factor));

    [Theory]
    [InlineData("type: lokr, linear: 4, linear_alpha: 4", false)]
    [InlineData("type: lokr, linear: 2, linear_alpha: 1, lokr_full_rank: false, lokr_factor: 4", true)]
    public void SavedFileRebuildsTheTrainedDeltaWithComfyUiKeys(string network, bool lowRank)
    {
        TorchRuntime.EnsureLoaded();
        var job = JobConfigReader.Parse(Job(network), "lokr.yaml").Job;
        job.Process.Save.Dtype = Precision.Fp32;
        using var models = Flux2Models.CreateTinyRandom(0);
        using var lokr = LoraNetwork.Attach(models.Transformer, job.Process.Network, 3);
        using (no_grad())
            foreach (var p in lokr.Parameters) p.copy_(randn(p.shape) * 0.1); // as if trained
        var file = LoraCheckpoint.Save(TestPaths.TempDir(), lokr, job, 0, 0, final: true);

        using var weights = SafetensorsSource.OpenFile(file);
        var groups = lokr.Modules.GroupBy(m => m.Group).ToList();
        var suffixes = lowRank ? new[] { "alpha", "lokr_w1", "lokr_w2_a", "lokr_w2_b" }
            : new[] { "alpha", "lokr_w1", "lokr_w2" };
        Assert.Equal(groups.SelectMany(g => suffixes.Select(s => $"diffusion_model.{g.Key}.{s}")).Order(),
            weights.Keys.Order());
        Assert.Contains(groups, g => g.Key.EndsWith(".img_attn.qkv") && g.Count() == 3);
        foreach (var g in groups)
        {
            var key = "diffusion_model." + g.Key;
            // ComfyUI's LoKr: w2 = lokr_w2 or lokr_w2_a @ lokr_w2_b; alpha / dim with dim = lokr_w2_b's rows, else 1.
            using var w1 = weights.Read(key + ".lokr_w1");
            using var w2 = lowRank ? weights.Read(key + ".lokr_w2_a").matmul(weights.Read(key + ".lokr_w2_b"))
                : weights.Read(key + ".lokr_w2");
            double scale = lowRank ? weights.Read(key + ".alpha").item<float>()
                                     / weights.Read(key + ".lokr_w2_b").shape[0] : 1.0;
            using var fromFile = kron(w1, w2) * scale;
            using var trained = cat(g.Select(m => ((LokrAdapter)m.Adapter).DeltaWeight()).ToArray(), 0);
            Assert.Equal(trained.shape, fromFile.shape);
            double err = (fromFile - trained).abs().max().item<float>();
            Assert.True(err <= 1e-6, $"{g.Key}: |ΔW file - ΔW trained| = {err}");
        }

        // The factorized forward adds exactly x·ΔWᵀ of DeltaWeight.
        var m0 = lokr.Modules.First(m => m.Group.EndsWith(".img_attn.qkv"));
        var a = (LokrAdapter)m0.Adapter;
        using var x = randn(2, 5, m0.Layer.InFeatures);
        using var y = zeros(2, 5, m0.Layer.OutFeatures);
        using (no_grad()) a.AddTo(y, x);
        using var delta = a.DeltaWeight();
        using var expected = x.matmul(delta.t());
        Assert.True((y - expected).abs().max().item<float>() <= 1e-5 * expected.abs().max().item<float>());
    }

    [Fact]
    public void LokrJobTrainsAndSavesLokrKeys()
    {
        TorchRuntime.EnsureLoaded();
        var log = new List<string>();
        var steps = new List<StepReport>();
        var loaded = JobConfigReader.Parse(Job("type: lokr, linear: 4, linear_alpha: 4", steps: 3), "lokr.yaml");
        Assert.Empty(loaded.Warnings);
        Assert.Empty(loaded.InertKeys);
        var result = TrainingRun.Run(loaded, new TrainerCallbacks
        {
            OnStep = steps.Add,
            OnMessage = m => { log.Add(m); output.WriteLine(m); }
        });
        Assert.Equal(3, steps.Count);
        Assert.All(steps, s => Assert.True(s.Applied && s.GradNorm > 0));
        Assert.Contains(log, l => l.StartsWith("LoKr (factor -1, full rank True): ", StringComparison.Ordinal));
        using var weights = SafetensorsSource.OpenFile(result.FinalLora);
        Assert.Contains("diffusion_model.double_blocks.0.img_attn.qkv.lokr_w1", weights.Keys);
        Assert.DoesNotContain(weights.Keys, k => k.Contains("lora_A"));
        using var w2 = weights.Read("diffusion_model.double_blocks.0.img_attn.qkv.lokr_w2");
        Assert.True(w2.abs().max().item<float>() > 0, "lokr_w2 was not trained");
    }

    [Fact]
    public void LoraJobListsLokrKeysAsInert()
    {
        var loaded = JobConfigReader.Parse(Job("type: lora, linear: 4, lokr_full_rank: true, lokr_factor: -1"));
        Assert.Equal(new[] { "config.process[0].network.lokr_full_rank", "config.process[0].network.lokr_factor" },
            loaded.InertKeys.Select(n => n.Key));
    }

    /// <summary>Each module's ΔW, by diffusers name.</summary>
    static Dictionary<string, Tensor> DeltaW(IEnumerable<(string name, LokrAdapter adapter)> modules)
        => modules.ToDictionary(m => m.name, m => m.adapter.DeltaWeight());

    static void AssertSameDeltaW(Dictionary<string, Tensor> expected, Dictionary<string, Tensor> actual, string what)
    {
        Assert.Equal(expected.Keys.Order(), actual.Keys.Order());
        foreach (var (k, e) in expected)
        {
            double err = (actual[k] - e).abs().max().item<float>();
            Assert.True(err <= 1e-6 * Math.Max(1e-12, e.abs().max().item<float>()), $"{what} {k}: |ΔW diff| {err}");
        }
    }

    [Theory]
    [InlineData("type: lokr, linear: 4, linear_alpha: 4", false)]
    [InlineData("type: lokr, linear: 2, linear_alpha: 1, lokr_full_rank: false, lokr_factor: 4", true)]
    public void SavedFileLoadsBackToTheSameDeltaW(string network, bool lowRank)
    {
        TorchRuntime.EnsureLoaded();
        var job = JobConfigReader.Parse(Job(network), "lokr.yaml").Job;
        job.Process.Save.Dtype = Precision.Fp32;
        using var models = Flux2Models.CreateTinyRandom(0);
        Dictionary<string, Tensor> trained;
        string file;
        using (var lokr = LoraNetwork.Attach(models.Transformer, job.Process.Network, 3))
        {
            using (no_grad())
                foreach (var p in lokr.Parameters) p.copy_(randn(p.shape) * 0.1); // as if trained
            file = LoraCheckpoint.Save(TestPaths.TempDir(), lokr, job, 0, 0, final: true);
            trained = DeltaW(lokr.Modules.Select(m => (m.Name, (LokrAdapter)m.Adapter)));
        }
        Assert.True(LokrFile.IsLokr(file));
        var read = LokrFile.Read(file);
        Assert.Equal(lowRank, read.All(u => u.Rank is not null));

        // generate --lora / eval: LoraLoader attaches one LoKr adapter per diffusers module.
        var adapters = LoraLoader.Apply(models.Transformer, file);
        var applied = models.Transformer.named_modules().SelectMany(m => m.module is Linear l
            ? l.Adapters.OfType<LokrAdapter>().Select(a => (m.name, a)) : []).ToList();
        Assert.Equal(adapters.Count, applied.Count);
        AssertSameDeltaW(trained, DeltaW(applied), "loaded");
        LoraLoader.Remove(models.Transformer, adapters);

        // network.pretrained_lora_path: a fresh LoKr network (another seed) takes the file's weights.
        using (var again = LoraNetwork.Attach(models.Transformer, job.Process.Network, 11))
        {
            Assert.Equal(read.Count, again.LoadWeights(file));
            AssertSameDeltaW(trained, DeltaW(again.Modules.Select(m => (m.Name, (LokrAdapter)m.Adapter))),
                "pretrained");
        }

        // A LoRA job refuses the LoKr file, a LoKr job a LoRA file.
        var loraJob = JobConfigReader.Parse(Job("type: lora, linear: 4, linear_alpha: 4"), "lora.yaml").Job;
        loraJob.Process.Save.Dtype = Precision.Fp32;
        string loraFile;
        using (var lora = LoraNetwork.Attach(models.Transformer, loraJob.Process.Network, 3))
        {
            Assert.Contains("set network.type: lokr", Assert.Throws<UserError>(() => lora.LoadWeights(file)).Message);
            loraFile = LoraCheckpoint.Save(TestPaths.TempDir(), lora, loraJob, 0, 0, final: true);
        }
        using (var lokr = LoraNetwork.Attach(models.Transformer, job.Process.Network, 3))
            Assert.Contains("it is a LoRA file", Assert.Throws<UserError>(() => lokr.LoadWeights(loraFile)).Message);

        // lora info lists the factors; lora convert refuses (a LoKr has no LoRA layout).
        var info = CliRunner.Run("lora", "info", file);
        output.WriteLine(info.Out + info.Err);
        Assert.Equal(0, info.Exit);
        Assert.Contains($"modules:  {read.Count} in the file", info.Out);
        Assert.Contains("diffusion_model.double_blocks.0.img_attn.qkv", info.Out);
        Assert.Contains(lowRank ? "W2 of rank 2" : $"W2 full ({read.Count})", info.Out);
        var convert = CliRunner.Run("lora", "convert", file, Path.Combine(TestPaths.TempDir(), "c.safetensors"),
            "--to", "comfyui");
        Assert.Equal(2, convert.Exit);
        Assert.Contains("is a LoKr file", convert.Err);
    }

    /// <summary>A LoKr run stopped after 2 steps and run again to 4 saves what a straight 4-step run saves.</summary>
    [Fact]
    public void LokrRunResumesExactly()
    {
        TorchRuntime.EnsureLoaded();
        var data = TempDataset.Create();
        string Yaml(string outDir, int steps) => TempDataset.Job(data, outDir, steps, "disable_sampling: true")
            .Replace("network: {type: lora, linear: 4, linear_alpha: 4}", "network: {type: lokr}");
        TrainingRunResult Run(string outDir, int steps)
            => TrainingRun.Run(JobConfigReader.Parse(Yaml(outDir, steps), "lokr.yaml"),
                new TrainerCallbacks { OnMessage = output.WriteLine });
        var straight = Run(TestPaths.TempDir(), 4);
        var outDir = TestPaths.TempDir();
        Assert.Null(Run(outDir, 2).ResumedFrom);
        var resumed = Run(outDir, 4);
        Assert.Equal(2, resumed.ResumedFrom);
        ResumeJob.AssertSameTensors(straight.FinalLora, resumed.FinalLora);
    }
}
