using System.Text.Json;
using Flux2.Native;
using Flux2.Training;
using Flux2.Training.Config;
using Xunit;
using Xunit.Abstractions;

namespace Flux2.Tests.Training;

/// <summary>The job the ai-toolkit web UI saves for FLUX.2 (<c>.job_config.json</c>, or the same tree as YAML):
/// <c>defaultJobConfig</c> of <c>ui/src/app/jobs/new/jobConfig.ts</c> (with <c>defaultDatasetConfig</c> and
/// <c>defaultSampleConfig</c>) after the FLUX.2 entry of <c>options.tsx</c> applied its "selected" defaults, changed
/// only in model path, dataset, device, steps (and the output folder, so the test writes under its temp folder). It
/// loads with no unknown key and no key that is read but not used; the video and other-model keys are listed as not
/// applicable.</summary>
[Collection(TorchGlobalRngCollection.Name)]
public class AiToolkitUiJobTests(ITestOutputHelper output)
{
    /// <summary>The sample prompts of the UI's <c>defaultSampleConfig</c> (every model choice starts from them).
    /// </summary>
    internal static readonly string[] SamplePrompts =
    [
        "woman with red hair, playing chess at the park, bomb going off in the background",
        "a woman holding a coffee cup, in a beanie, sitting at a cafe",
        "a horse is a DJ at a night club, fish eye lens, smoke machine, lazer lights, holding a martini",
        "a man showing off his cool new t shirt at the beach, a shark is jumping out of the water in the background",
        "a bear building a log cabin in the snow covered mountains",
        "woman playing the guitar, on stage, singing a song, laser lights, punk rocker",
        "hipster man with a beard, building a chair, in a wood shop",
        "photo of a man, white background, medium shot, modeling clothing, studio lighting, white backdrop",
        "a man holding a sign that says, 'this is a sign'",
        "a bulldog, in a post apocalyptic world, with a shotgun, in a leather jacket, in a desert, with a motorcycle",
    ];

    /// <summary>The UI's FLUX.2 job with the four user changes (model, dataset, device, steps).</summary>
    public static Dictionary<string, object?> UiJob(string model, string dataset, string device, int steps,
        string trainingFolder) => new()
        {
            ["job"] = "extension",
            ["config"] = new Dictionary<string, object?>
            {
                ["name"] = "my_first_lora_v1",
                ["process"] = new object[]
            {
                new Dictionary<string, object?>
                {
                    ["type"] = "diffusion_trainer",
                    ["training_folder"] = trainingFolder,
                    ["sqlite_db_path"] = "./aitk_db.db",
                    ["device"] = device,
                    ["trigger_word"] = null,
                    ["performance_log_every"] = 10,
                    ["network"] = new Dictionary<string, object?>
                    {
                        ["type"] = "lora", ["linear"] = 32, ["linear_alpha"] = 32, ["conv"] = 16, ["conv_alpha"] = 16,
                        ["lokr_full_rank"] = true, ["lokr_factor"] = -1,
                        ["network_kwargs"] = new Dictionary<string, object?> { ["ignore_if_contains"] = new object[0] },
                    },
                    ["save"] = new Dictionary<string, object?>
                    {
                        ["dtype"] = "bf16", ["save_every"] = 250, ["max_step_saves_to_keep"] = 4,
                        ["save_format"] = "diffusers", ["push_to_hub"] = false,
                    },
                    ["datasets"] = new object[]
                    {
                        new Dictionary<string, object?>
                        {
                            ["folder_path"] = dataset, ["mask_path"] = null, ["mask_min_value"] = 0.1,
                            ["default_caption"] = "", ["caption_ext"] = "txt", ["caption_dropout_rate"] = 0.05,
                            ["cache_latents_to_disk"] = false, ["is_reg"] = false, ["network_weight"] = 1,
                            ["resolution"] = new object[] { 512, 768, 1024 }, ["controls"] = new object[0],
                            ["shrink_video_to_frames"] = true, ["num_frames"] = 1, ["flip_x"] = false,
                            ["flip_y"] = false, ["num_repeats"] = 1,
                        },
                    },
                    ["train"] = new Dictionary<string, object?>
                    {
                        ["batch_size"] = 1, ["bypass_guidance_embedding"] = true, ["steps"] = steps,
                        ["gradient_accumulation"] = 1, ["train_unet"] = true, ["train_text_encoder"] = false,
                        ["gradient_checkpointing"] = true, ["noise_scheduler"] = "flowmatch",
                        ["optimizer"] = "adamw8bit", ["timestep_type"] = "weighted", ["content_or_style"] = "balanced",
                        ["optimizer_params"] = new Dictionary<string, object?> { ["weight_decay"] = 1e-4 },
                        ["unload_text_encoder"] = false, ["cache_text_embeddings"] = false, ["lr"] = 0.0001,
                        ["ema_config"] = new Dictionary<string, object?> { ["use_ema"] = false, ["ema_decay"] = 0.99 },
                        ["skip_first_sample"] = false, ["force_first_sample"] = false, ["disable_sampling"] = false,
                        ["dtype"] = "bf16", ["diff_output_preservation"] = false,
                        ["diff_output_preservation_multiplier"] = 1.0, ["diff_output_preservation_class"] = "person",
                        ["switch_boundary_every"] = 1, ["loss_type"] = "mse",
                    },
                    ["logging"] = new Dictionary<string, object?> { ["log_every"] = 1, ["use_ui_logger"] = true },
                    ["model"] = new Dictionary<string, object?>
                    {
                        ["name_or_path"] = model, ["quantize"] = true, ["qtype"] = "qfloat8", ["quantize_te"] = true,
                        ["qtype_te"] = "qfloat8", ["arch"] = "flux2", ["low_vram"] = true,
                        ["model_kwargs"] = new Dictionary<string, object?> { ["match_target_res"] = false },
                        ["compile"] = false,
                    },
                    ["sample"] = new Dictionary<string, object?>
                    {
                        ["sampler"] = "flowmatch", ["sample_every"] = 250, ["sample_start_step"] = 0,
                        ["width"] = 1024, ["height"] = 1024,
                        ["samples"] = SamplePrompts.Select(p => new Dictionary<string, object?> { ["prompt"] = p })
                            .ToArray(),
                        ["neg"] = "", ["seed"] = 42, ["walk_seed"] = true, ["guidance_scale"] = 4,
                        ["sample_steps"] = 30, ["num_frames"] = 1, ["fps"] = 1,
                    },
                    // train.unload_text_encoder is set by the FLUX.2 entry too (false, as above)
                },
            },
            },
            ["meta"] = new Dictionary<string, object?> { ["name"] = "[name]", ["version"] = "1.0" },
        };

    public static string Json(Dictionary<string, object?> job)
        => JsonSerializer.Serialize(job, new JsonSerializerOptions { WriteIndented = true });

    public static string Yaml(Dictionary<string, object?> job)
        => new YamlDotNet.Serialization.SerializerBuilder().Build().Serialize(job);

    static readonly string[] InertKeys =
    [
        "config.process[0].sqlite_db_path", "config.process[0].logging",
        "config.process[0].network.conv", "config.process[0].network.conv_alpha",
        "config.process[0].network.lokr_full_rank", "config.process[0].network.lokr_factor",
        "config.process[0].save.save_format", "config.process[0].save.push_to_hub",
        "config.process[0].datasets[0].mask_min_value", "config.process[0].datasets[0].controls",
        "config.process[0].datasets[0].shrink_video_to_frames", "config.process[0].datasets[0].num_frames",
        "config.process[0].train.bypass_guidance_embedding", "config.process[0].train.switch_boundary_every",
        "config.process[0].model.compile", "config.process[0].sample.sampler",
        "config.process[0].sample.num_frames", "config.process[0].sample.fps",
    ];

    [Theory]
    [InlineData("json")]
    [InlineData("yaml")]
    public void TheUiJobLoadsWithNoUnknownAndNoUnusedKey(string form)
    {
        var job = UiJob("tiny-random", "/data/images", "cpu", 2, "/tmp/out");
        var text = form == "json" ? Json(job) : Yaml(job);
        var loaded = JobConfigReader.Parse(text, $".job_config.{form}");
        Assert.Empty(loaded.Warnings);
        Assert.Empty(loaded.IgnoredKeys);
        Assert.Equal(InertKeys.Order(), loaded.InertKeys.Select(n => n.Key).Order());
        var printed = new StringWriter();
        JobConfigPrinter.Print(loaded, printed);
        Assert.DoesNotContain("read but not used", printed.ToString());
        Assert.Contains("# accepted, changes nothing here (read with mask_path only): " +
            "config.process[0].datasets[0].mask_min_value", printed.ToString());
        var p = loaded.Job.Process;
        Assert.Equal(10, p.PerformanceLogEvery);
        Assert.Equal(TimestepType.Weighted, p.Train.TimestepType);
        Assert.True(p.Model.Quantize && p.Model.LowVram && p.Train.GradientCheckpointing);
        Assert.Equal(10, p.Sample.AllPrompts.Count);
    }

    /// <summary>The JSON form runs end to end on the CPU with the tiny random model: 10 steps, the baseline and final
    /// sample grids of the 10 UI prompts, the final LoRA, and the line of performance_log_every (10). The grids are
    /// drawn at 64² with 2 steps instead of the UI's 1024² with 30 (which take minutes on the CPU).</summary>
    [Fact]
    public void TheUiJobTrainsTheTinyModel()
    {
        TorchRuntime.EnsureLoaded();
        var outDir = TestPaths.TempDir();
        var job = UiJob("tiny-random", TempDataset.Create(), "cpu", 10, outDir);
        var sample = (Dictionary<string, object?>)((Dictionary<string, object?>)
            ((object[])((Dictionary<string, object?>)job["config"]!)["process"]!)[0])["sample"]!;
        (sample["width"], sample["height"], sample["sample_steps"]) = (64, 64, 2);
        var loaded = JobConfigReader.Parse(Json(job), ".job_config.json");
        var log = new List<string>();
        var result = TrainingRun.Run(loaded, new TrainerCallbacks
        {
            OnMessage = m => { log.Add(m); output.WriteLine(m); }
        });
        Assert.EndsWith("my_first_lora_v1.safetensors", result.FinalLora);
        Assert.Equal(2, result.SampleGrids.Count);
        Assert.Contains(log, l => l.StartsWith("performance: steps 1-10: mean ", StringComparison.Ordinal));
        var resolved = File.ReadAllText(Path.Combine(result.RunFolder, "config.resolved.txt"));
        Assert.DoesNotContain("read but not used", resolved);
        Assert.Contains("# accepted, changes nothing here (", resolved);
    }
}
