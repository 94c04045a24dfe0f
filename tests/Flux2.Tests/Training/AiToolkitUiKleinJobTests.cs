using Flux2.IO;
using Flux2.Lora;
using Flux2.Native;
using Flux2.Pipeline;
using Flux2.Tests.Cli;
using Flux2.Training.Config;
using Flux2.Training.Network;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Flux2.Tests.Training;

/// <summary>The job the ai-toolkit web UI writes for its "FLUX.2-klein-base-4B" model choice (the UI's default job with
/// that choice's settings applied), run by <c>./flux2 train</c> on a tiny random klein folder in the real layout.
/// </summary>
[Collection(TorchGlobalRngCollection.Name)]
public class AiToolkitUiKleinJobTests(ITestOutputHelper output)
{
    static readonly string[] Prompts = AiToolkitUiJobTests.SamplePrompts;

    /// <summary>The UI's klein-4B job as its YAML view shows it. Changed from what the UI writes, and why:
    /// training_folder (the UI's training-folder setting), datasets[0].folder_path (the UI's dataset folder),
    /// model.name_or_path (the UI's black-forest-labs/FLUX.2-klein-base-4B), device (the UI's cuda), train.steps (the
    /// UI's 3000), and sample.width / height / sample_steps (the UI's 1024 / 1024 / 30: the 10 prompts at the first
    /// and last step, two passes each with CFG, would take far longer on the CPU than the training). Everything else
    /// is the UI's value.</summary>
    static string UiYaml(string training, string dataset, string model) => $"""
        job: extension
        config:
          name: my_first_lora_v1
          process:
            - type: diffusion_trainer
              training_folder: {training}
              sqlite_db_path: /home/user/ai-toolkit/aitk_db.db
              device: cpu
              trigger_word: null
              performance_log_every: 10
              network:
                type: lora
                linear: 32
                linear_alpha: 32
                conv: 16
                conv_alpha: 16
                lokr_full_rank: true
                lokr_factor: -1
                network_kwargs:
                  ignore_if_contains: []
              save:
                dtype: bf16
                save_every: 250
                max_step_saves_to_keep: 4
                save_format: diffusers
                push_to_hub: false
              datasets:
                - folder_path: {dataset}
                  mask_path: null
                  mask_min_value: 0.1
                  default_caption: ""
                  caption_ext: txt
                  caption_dropout_rate: 0.05
                  cache_latents_to_disk: false
                  is_reg: false
                  network_weight: 1
                  resolution:
                    - 512
                    - 768
                    - 1024
                  controls: []
                  shrink_video_to_frames: true
                  num_frames: 1
                  flip_x: false
                  flip_y: false
                  num_repeats: 1
                  control_path_1: null
                  control_path_2: null
                  control_path_3: null
              train:
                batch_size: 1
                bypass_guidance_embedding: false
                steps: 4
                gradient_accumulation: 1
                train_unet: true
                train_text_encoder: false
                gradient_checkpointing: true
                noise_scheduler: flowmatch
                optimizer: adamw8bit
                timestep_type: weighted
                content_or_style: balanced
                optimizer_params:
                  weight_decay: 0.0001
                unload_text_encoder: false
                cache_text_embeddings: false
                lr: 0.0001
                ema_config:
                  use_ema: false
                  ema_decay: 0.99
                skip_first_sample: false
                force_first_sample: false
                disable_sampling: false
                dtype: bf16
                diff_output_preservation: false
                diff_output_preservation_multiplier: 1
                diff_output_preservation_class: person
                switch_boundary_every: 1
                loss_type: mse
              logging:
                log_every: 1
                use_ui_logger: true
              model:
                name_or_path: {model}
                quantize: true
                qtype: qfloat8
                quantize_te: true
                qtype_te: qfloat8
                arch: flux2_klein_4b
                low_vram: true
                model_kwargs:
                  match_target_res: false
                compile: false
                layer_offloading: false
                layer_offloading_text_encoder_percent: 1
                layer_offloading_transformer_percent: 1
              sample:
                sampler: flowmatch
                sample_every: 250
                sample_start_step: 0
                width: 32
                height: 32
                samples:
        {string.Join("\n", Prompts.Select(p => $"            - prompt: \"{p}\""))}
                neg: ""
                seed: 42
                walk_seed: true
                guidance_scale: 4
                sample_steps: 2
                num_frames: 1
                fps: 1
        meta:
          name: "[name]"
          version: "1.0"
        """;

    /// <summary>The same job as the UI saves it and hands to ai-toolkit's run.py (<c>.job_config.json</c>:
    /// JSON.stringify with two-space indentation), with the same changes as <see cref="UiYaml"/>.</summary>
    static string UiJson(string training, string dataset, string model) => $$"""
        {
          "job": "extension",
          "config": {
            "name": "my_first_lora_v1",
            "process": [
              {
                "type": "diffusion_trainer",
                "training_folder": {{Json(training)}},
                "sqlite_db_path": "/home/user/ai-toolkit/aitk_db.db",
                "device": "cpu",
                "trigger_word": null,
                "performance_log_every": 10,
                "network": {
                  "type": "lora",
                  "linear": 32,
                  "linear_alpha": 32,
                  "conv": 16,
                  "conv_alpha": 16,
                  "lokr_full_rank": true,
                  "lokr_factor": -1,
                  "network_kwargs": {
                    "ignore_if_contains": []
                  }
                },
                "save": {
                  "dtype": "bf16",
                  "save_every": 250,
                  "max_step_saves_to_keep": 4,
                  "save_format": "diffusers",
                  "push_to_hub": false
                },
                "datasets": [
                  {
                    "folder_path": {{Json(dataset)}},
                    "mask_path": null,
                    "mask_min_value": 0.1,
                    "default_caption": "",
                    "caption_ext": "txt",
                    "caption_dropout_rate": 0.05,
                    "cache_latents_to_disk": false,
                    "is_reg": false,
                    "network_weight": 1,
                    "resolution": [
                      512,
                      768,
                      1024
                    ],
                    "controls": [],
                    "shrink_video_to_frames": true,
                    "num_frames": 1,
                    "flip_x": false,
                    "flip_y": false,
                    "num_repeats": 1,
                    "control_path_1": null,
                    "control_path_2": null,
                    "control_path_3": null
                  }
                ],
                "train": {
                  "batch_size": 1,
                  "bypass_guidance_embedding": false,
                  "steps": 4,
                  "gradient_accumulation": 1,
                  "train_unet": true,
                  "train_text_encoder": false,
                  "gradient_checkpointing": true,
                  "noise_scheduler": "flowmatch",
                  "optimizer": "adamw8bit",
                  "timestep_type": "weighted",
                  "content_or_style": "balanced",
                  "optimizer_params": {
                    "weight_decay": 0.0001
                  },
                  "unload_text_encoder": false,
                  "cache_text_embeddings": false,
                  "lr": 0.0001,
                  "ema_config": {
                    "use_ema": false,
                    "ema_decay": 0.99
                  },
                  "skip_first_sample": false,
                  "force_first_sample": false,
                  "disable_sampling": false,
                  "dtype": "bf16",
                  "diff_output_preservation": false,
                  "diff_output_preservation_multiplier": 1,
                  "diff_output_preservation_class": "person",
                  "switch_boundary_every": 1,
                  "loss_type": "mse"
                },
                "logging": {
                  "log_every": 1,
                  "use_ui_logger": true
                },
                "model": {
                  "name_or_path": {{Json(model)}},
                  "quantize": true,
                  "qtype": "qfloat8",
                  "quantize_te": true,
                  "qtype_te": "qfloat8",
                  "arch": "flux2_klein_4b",
                  "low_vram": true,
                  "model_kwargs": {
                    "match_target_res": false
                  },
                  "compile": false,
                  "layer_offloading": false,
                  "layer_offloading_text_encoder_percent": 1,
                  "layer_offloading_transformer_percent": 1
                },
                "sample": {
                  "sampler": "flowmatch",
                  "sample_every": 250,
                  "sample_start_step": 0,
                  "width": 32,
                  "height": 32,
                  "samples": [
        {{SamplesJson()}}
                  ],
                  "neg": "",
                  "seed": 42,
                  "walk_seed": true,
                  "guidance_scale": 4,
                  "sample_steps": 2,
                  "num_frames": 1,
                  "fps": 1
                }
              }
            ]
          },
          "meta": {
            "name": "[name]",
            "version": "1.0"
          }
        }
        """;

    /// <summary>A JSON string as JSON.stringify writes it (quotes and backslashes escaped, ' kept).</summary>
    static string Json(string text) => System.Text.Json.JsonSerializer.Serialize(text,
        new System.Text.Json.JsonSerializerOptions
        {
            Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        });

    static string SamplesJson() => string.Join(",\n", Prompts.Select(p =>
        $"            {{\n              \"prompt\": {Json(p)}\n            }}"));

    [Fact]
    public void TheUisKlein4BJobTrainsWithoutWarningsAndItsLoraLoadsIntoTheKleinModel()
    {
        TorchRuntime.EnsureLoaded();
        var model = KleinTrainingTests.WriteTinyKleinFolder();
        var dataset = TempDataset.Create(caption: i => $"a square, colour {i}");
        var training = TestPaths.TempDir();
        var job = Path.Combine(TestPaths.TempDir(), "klein4b.yaml");
        File.WriteAllText(job, UiYaml(training, dataset, model));

        var r = CliRunner.Run("train", job);
        output.WriteLine(r.ToString());
        Assert.True(r.Exit == 0, r.ToString());
        Assert.Contains("FLUX.2 [klein]", r.Out);
        Assert.DoesNotContain("warning", r.Out + r.Err, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("read but not used", r.Out);

        var lora = Path.Combine(training, "my_first_lora_v1", "my_first_lora_v1.safetensors");
        Assert.True(File.Exists(lora), lora);
        using var models = Flux2Models.Load(model, CPU);
        var targets = LoraTargets.Select(models.Transformer, new NetworkKwargs()).Select(t => t.name).ToList();
        Assert.NotEmpty(targets);
        // ai-toolkit's FLUX.2 layout: BFL module names under diffusion_model., A and B per module, no alpha; q, k
        // and v share one adapter on the fused qkv module: lora_A [r, in], lora_B [3·out, r]
        var modules = targets.GroupBy(t => "diffusion_model." +
                BflTransformerKeyMap.ToBfl(t + ".weight")!.Key.Replace(".weight", ""))
            .ToDictionary(g => g.Key, g => g.Count());
        Assert.All(modules.Keys, k => Assert.Matches(@"^diffusion_model\.(double|single)_blocks\.\d+\.", k));
        using (var file = SafetensorsSource.OpenFile(lora))
        {
            Assert.Equal(modules.Keys.SelectMany(m => new[] { m + ".lora_A.weight", m + ".lora_B.weight" }).Order(),
                file.Keys.Order());
            foreach (var (module, parts) in modules)
            {
                using var a = file.Read(module + ".lora_A.weight");
                using var b = file.Read(module + ".lora_B.weight");
                Assert.Equal((32L, ScalarType.BFloat16), (a.shape[0], a.dtype)); // network.linear, save.dtype
                Assert.Equal(32L, b.shape[1]);
                Assert.True(parts == 1 || module.EndsWith(".qkv", StringComparison.Ordinal), module);
            }
        }
        var updates = LoraFile.Read(lora);
        var adapters = LoraLoader.Apply(models.Transformer, lora); // throws on a key the model lacks
        Assert.Equal(targets.Count, updates.Count);
        Assert.Equal(updates.Count, adapters.Count);
        Assert.Equal(targets.Order(),
            models.Transformer.named_modules().Where(m => m.module is Flux2.Nn.Linear l && l.Adapters.Count > 0)
                .Select(m => m.name).Order());
    }

    [Fact]
    public void TheJsonTheUiSavesReadsAsItsYaml()
    {
        string Resolved(LoadedJob loaded)
        {
            Assert.Empty(loaded.Warnings);
            Assert.Empty(loaded.IgnoredKeys);
            var o = new StringWriter();
            JobConfigPrinter.Print(JobModelDefaults.Apply(loaded), o);
            return string.Join("\n", o.ToString().Split('\n').Skip(1)); // the first line names the file
        }
        var (training, dataset, model) = ("/data/output", "/data/datasets/my_set", "/models/klein");
        var fromYaml = Resolved(JobConfigReader.Parse(UiYaml(training, dataset, model), "job.yaml"));
        var fromJson = Resolved(JobConfigReader.Parse(UiJson(training, dataset, model), ".job_config.json"));
        Assert.Equal(fromYaml, fromJson);
        Assert.Contains("config.process[0].model.arch", fromJson);
        Assert.Contains("flux2_klein_4b", fromJson);
    }

    /// <summary>The UI's keys that this kit does not act on are silent at the UI's values; a value that asks for
    /// something this kit does not do is reported with the reason.</summary>
    [Theory]
    [InlineData("datasets[0]", "num_frames", "4", "this kit trains on still images")]
    [InlineData("datasets[0]", "controls", "[depth, pose]", "Flex.2's")]
    [InlineData("datasets[0]", "mask_path", "/data/masks", "loss masks are not implemented")]
    [InlineData("save", "push_to_hub", "true", "the LoRA stays in the run folder")]
    [InlineData("model", "compile", "true", "without graph compilation")]
    [InlineData("sample", "num_frames", "9", "this kit samples still images")]
    public void AUiKeyAtAValueThisKitDoesNotApplyIsReportedWithTheReason(string section, string key, string value,
        string reason)
    {
        var yaml = UiYaml("/out", "/data", "/model");
        var line = new System.Text.RegularExpressions.Regex($@"(?m)^(\s+(?:- )?{key}:).*$");
        var sectionAt = yaml.IndexOf(section.StartsWith("datasets") ? "datasets:" : $"  {section}:",
            StringComparison.Ordinal);
        var m = line.Match(yaml, sectionAt);
        yaml = yaml[..m.Index] + $"{m.Groups[1].Value} {value}" + yaml[(m.Index + m.Length)..];
        var w = Assert.Single(JobConfigReader.Parse(yaml, "job.yaml").Warnings);
        var path = $"config.process[0].{section}.{key}";
        Assert.Contains($"'{path}' = ", w.Message);
        Assert.Contains("is not applied: ", w.Message);
        Assert.Contains(reason, w.Message);
    }

    [Fact]
    public void TheTextEncoderOffloadShareMattersOnlyWithLayerOffloading()
    {
        var yaml = UiYaml("/out", "/data", "/model");
        Assert.Empty(JobConfigReader.Parse(yaml, "job.yaml").Warnings); // layer_offloading: false, share 1
        var on = JobConfigReader.Parse(yaml.Replace("layer_offloading: false", "layer_offloading: true"), "job.yaml");
        var w = Assert.Single(on.Warnings);
        Assert.Contains("'config.process[0].model.layer_offloading_text_encoder_percent' = 1 is not applied",
            w.Message);
        var none = yaml.Replace("layer_offloading: false", "layer_offloading: true")
            .Replace("layer_offloading_text_encoder_percent: 1", "layer_offloading_text_encoder_percent: 0");
        Assert.Empty(JobConfigReader.Parse(none, "job.yaml").Warnings);
    }
}
