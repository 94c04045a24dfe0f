using System.Text.Json.Nodes;
using Flux2.Lora;
using Flux2.Models.TextEncoder;
using Flux2.Native;
using Flux2.Pipeline;
using Flux2.Tests.Models;
using Flux2.Training.Config;
using Flux2.Training.Previews;
using SkiaSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Flux2.Tests.Training;

/// <summary>A tiny random FLUX.2 [klein] in the real diffusers layout (the klein fixture's components, written by
/// diffusers/transformers, plus model_index.json and a Qwen-format tokenizer/): recognised as klein by its files,
/// trained with an ai-toolkit job, its LoRA loaded back.</summary>
[Collection(TorchGlobalRngCollection.Name)] // training and tiny-random seed libtorch's global generator
public class KleinTrainingTests(ITestOutputHelper output)
{
    /// <summary>Writes the folder; <paramref name="distilled"/> is model_index.json's is_distilled.</summary>
    internal static string WriteTinyKleinFolder(bool distilled = false)
    {
        var root = Path.Combine(TestPaths.TempDir(), "some-model"); // the name says nothing about the family
        foreach (var component in new[] { "transformer", "vae", "text_encoder", "scheduler" })
        {
            var to = Directory.CreateDirectory(Path.Combine(root, component)).FullName;
            foreach (var file in Directory.GetFiles(Path.Combine(TestPaths.Klein, component)))
                File.Copy(file, Path.Combine(to, Path.GetFileName(file)));
        }
        var tokenizer = Directory.CreateDirectory(Path.Combine(root, "tokenizer")).FullName;
        File.WriteAllText(Path.Combine(tokenizer, "tokenizer.json"), Qwen3TokenizerTests.QwenLikeJson());
        File.WriteAllText(Path.Combine(tokenizer, "tokenizer_config.json"), new JsonObject
        {
            ["tokenizer_class"] = "Qwen2Tokenizer",
            ["pad_token"] = "<|endoftext|>",
            ["model_max_length"] = 131072,
            ["chat_template"] = "{%- for message in messages %}{{- '<|im_start|>' + message.role + '\\n' + " +
                "message.content + '<|im_end|>' + '\\n' }}{%- endfor %}{%- if add_generation_prompt %}" +
                "{{- '<|im_start|>assistant\\n' }}{%- if enable_thinking is defined and enable_thinking is false %}" +
                "{{- '<think>\\n\\n</think>\\n\\n' }}{%- endif %}{%- endif %}",
        }.ToJsonString());
        File.WriteAllText(Path.Combine(root, "model_index.json"), new JsonObject
        {
            ["_class_name"] = "Flux2KleinPipeline",
            ["_diffusers_version"] = "0.37.0",
            ["is_distilled"] = distilled,
            ["scheduler"] = new JsonArray("diffusers", "FlowMatchEulerDiscreteScheduler"),
            ["text_encoder"] = new JsonArray("transformers", "Qwen3ForCausalLM"),
            ["tokenizer"] = new JsonArray("transformers", "Qwen2TokenizerFast"),
            ["transformer"] = new JsonArray("diffusers", "Flux2Transformer2DModel"),
            ["vae"] = new JsonArray("diffusers", "AutoencoderKLFlux2"),
        }.ToJsonString());
        return root;
    }

    [Fact]
    public void AFolderWithAQwen3TextEncoderLoadsAsKlein()
    {
        TorchRuntime.EnsureLoaded();
        var log = new List<string>();
        using var models = Flux2Models.Load(WriteTinyKleinFolder(), CPU, log: log.Add);
        Assert.True(models.IsKlein);
        Assert.False(models.IsDistilled);
        Assert.True(models.SamplesWithTrueCfg);
        Assert.Equal(new[] { 1, 2, 3 }, models.TextEncoder.OutLayers); // 4 layers, 3 stacked to joint dim 48
        var tokenizer = Assert.IsType<Qwen3ChatTemplate>(models.Tokenizer);
        Assert.Equal(512, tokenizer.MaxLength);
        Assert.Contains(log, l => l.Contains("FLUX.2 [klein]") && l.Contains("true classifier-free guidance"));
        using var embeds = models.EncodePrompts(new[] { "a red square" });
        Assert.Equal(new long[] { 1, 512, 48 }, embeds.shape);
        using var negative = models.NegativeEmbedsForGuidance();
        Assert.NotNull(negative);

        using var distilled = Flux2Models.Load(WriteTinyKleinFolder(distilled: true), CPU);
        Assert.True(distilled.IsKlein && distilled.IsDistilled && !distilled.SamplesWithTrueCfg);
        Assert.Null(distilled.NegativeEmbedsForGuidance());

        using var dev = Flux2Models.CreateTinyRandom(0);
        Assert.False(dev.IsKlein);
    }

    [Fact]
    public void GenerateSamplesAKleinFolderWithItsNegativePrompt()
    {
        var folder = WriteTinyKleinFolder();
        var outDir = TestPaths.TempDir();
        string Generate(string name, params string[] extra)
        {
            var path = Path.Combine(outDir, name);
            var r = Flux2.Tests.Cli.CliRunner.Run(new[] { "generate", "--prompt", "a red square", "--model", folder,
                "--width", "32", "--height", "32", "--steps", "2", "--device", "cpu", "--out", path }
                .Concat(extra).ToArray());
            output.WriteLine(r.ToString());
            Assert.True(r.Exit == 0, r.ToString());
            Assert.Contains("FLUX.2 [klein]", r.Out);
            Assert.DoesNotContain("--negative is unused", r.Out);
            return path;
        }
        var empty = File.ReadAllBytes(Generate("empty.png"));
        var blurry = File.ReadAllBytes(Generate("blurry.png", "--negative", "blurry"));
        Assert.NotEqual(empty, blurry);
    }

    [Fact]
    public void AnIsDistilledThatIsNotABooleanIsAUserErrorNamingTheKey()
    {
        var root = WriteTinyKleinFolder();
        var index = Path.Combine(root, "model_index.json");
        File.WriteAllText(index, File.ReadAllText(index).Replace("\"is_distilled\":false", "\"is_distilled\":\"no\""));
        var e = Assert.Throws<UserError>(() => Flux2.IO.DiffusersFolder.Open(root));
        Assert.Contains("is_distilled", e.Message);
        Assert.Contains(index, e.Message);
    }

    [Fact]
    public void AnAiToolkitKleinJobTrainsOnCpuAndItsLoraLoadsBack()
    {
        TorchRuntime.EnsureLoaded();
        var folder = WriteTinyKleinFolder();
        var yaml = TempDataset.Job(TempDataset.Create(), TestPaths.TempDir(), steps: 4, name: "klein_lora")
            .Replace("model: {name_or_path: tiny-random, arch: flux2}",
                $"model: {{name_or_path: \"{folder}\", arch: flux2_klein_4b}}")
            .Replace("sample_steps: 2", "sample_steps: 2\n        neg: \"blurry\"");
        var loaded = JobConfigReader.Parse(yaml, "klein.yaml");
        Assert.Empty(loaded.Warnings); // the klein arch name is known
        Assert.Equal("flux2_klein_4b", loaded.Job.Process.Model.Arch);
        Assert.Equal("blurry", loaded.Job.Process.Sample.Neg);

        var run = TinyRun.Train(yaml);
        output.WriteLine(run.Log);
        Assert.Equal(4, run.Losses.Count);
        Assert.All(run.Losses, l => Assert.True(double.IsFinite(l)));
        Assert.Contains("FLUX.2 [klein]", run.Log);
        Assert.DoesNotContain("warning: model.arch", run.Log);

        using var models = Flux2Models.Load(folder, CPU);
        var updates = LoraFile.Read(run.Lora).ToList();
        Assert.NotEmpty(updates);
        using var _ = no_grad();
        using var embeds = models.EncodePrompts(new[] { "a zqx square" });
        using var noise = models.Pipeline.InitialNoise(1, 32, 32, seed: 1);
        using var before = models.Pipeline.Generate(embeds, noise, 2, 4f);
        var adapters = LoraLoader.Apply(models.Transformer, run.Lora); // throws on a key the model lacks
        Assert.Equal(updates.Count, adapters.Count);
        Assert.Equal(updates.Select(u => u.Module).Order(),
            models.Transformer.named_modules().Where(m => m.module is Flux2.Nn.Linear l && l.Adapters.Count > 0)
                .Select(m => m.name).Order());
        using var after = models.Pipeline.Generate(embeds, noise, 2, 4f);
        Assert.True((after - before).abs().max().item<float>() > 0, "the loaded LoRA changes nothing");
    }

    [Fact]
    public void AKleinArchOnAModelThatIsNotKleinIsReportedAtLoad()
    {
        TorchRuntime.EnsureLoaded();
        var yaml = TempDataset.Job(TempDataset.Create(), TestPaths.TempDir(), steps: 1)
            .Replace("arch: flux2}", "arch: flux2_klein_9b}");
        var run = TinyRun.Train(yaml);
        Assert.Contains("warning: model.arch is 'flux2_klein_9b' but tiny-random is not FLUX.2 [klein]", run.Log);
    }

    [Fact]
    public void PreviewsOfAKleinBaseModelUseSampleNegAsTheNegativePrompt()
    {
        TorchRuntime.EnsureLoaded();
        using var models = Flux2Models.Load(WriteTinyKleinFolder(), CPU);
        Tensor Preview(string? neg)
        {
            var config = new SampleConfig
            {
                Width = 32,
                Height = 32,
                SampleSteps = 2,
                GuidanceScale = 4,
                Seed = 1,
                Prompts = ["a red square"],
                Neg = neg ?? "",
            };
            var report = new SampleGrid(models, config, null, TestPaths.TempDir()).Render(1)!;
            using var bmp = SKBitmap.Decode(report.GridPath);
            var bytes = new byte[3 * 32 * 32];
            for (int y = 0; y < 32; y++)
                for (int x = 0; x < 32; x++)
                {
                    var c = bmp.GetPixel(x, y);
                    (bytes[y * 32 + x], bytes[1024 + y * 32 + x], bytes[2048 + y * 32 + x]) = (c.Red, c.Green, c.Blue);
                }
            return tensor(bytes).view(3, 32, 32).to(ScalarType.Float32) / 255;
        }
        Tensor Expected(string neg)
        {
            using var _ = no_grad();
            using var embeds = models.EncodePrompts(new[] { "a red square" });
            using var negative = models.NegativeEmbedsForGuidance(neg);
            using var noise = models.Pipeline.InitialNoise(1, 32, 32, seed: 1);
            using var image = models.Pipeline.Generate(embeds, noise, 2, 4f, negativeEmbeds: negative)[0];
            return (image.clamp(0, 1) * 255).round() / 255;
        }
        using var withNeg = Preview("blurry");
        using var withoutKey = Preview(null);
        using var expectedNeg = Expected("blurry");
        using var expectedEmpty = Expected("");
        Assert.True((withNeg - expectedNeg).abs().max().item<float>() < 1e-6, "preview ≠ CFG with sample.neg");
        Assert.True((withoutKey - expectedEmpty).abs().max().item<float>() < 1e-6, "preview ≠ CFG with \"\"");
        Assert.True((expectedNeg - expectedEmpty).abs().max().item<float>() > 1e-2, "the negative changes nothing");
    }
}
