using System.Text.Json;
using Flux2.IO;
using Flux2.Models.TextEncoder;
using Flux2.Models.Transformer;
using Flux2.Models.Vae;
using Flux2.Pipeline;
using Flux2.Sampling;
using TorchSharp;
using static TorchSharp.torch;

namespace Flux2.Micro;

/// <summary>
/// Writes a model in the diffusers pipeline layout (<c>model_index.json</c>, one folder per component with its
/// <c>config.json</c> and safetensors), so the micro model loads through exactly the loaders a FLUX.2-dev download
/// uses. Config keys are the diffusers/transformers names that the readers accept.
/// </summary>
public static class DiffusersFolderWriter
{
    static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    public static void Write(string root, Flux2Transformer transformer, AutoencoderKLFlux2 vae,
                             Flux2PromptEncoder textEncoder, PromptTokenizer tokenizer,
                             FlowMatchEulerScheduler scheduler, ScalarType storage)
    {
        Directory.CreateDirectory(root);
        WriteJson(Path.Combine(root, "model_index.json"), new Dictionary<string, object>
        {
            ["_class_name"] = "Flux2Pipeline",
            ["transformer"] = new[] { "diffusers", "Flux2Transformer2DModel" },
            ["vae"] = new[] { "diffusers", "AutoencoderKLFlux2" },
            ["text_encoder"] = new[] { "transformers", "MistralModel" },
            ["tokenizer"] = new[] { "microsoft-ml-tokenizers", Gpt2PromptTokenizer.ClassName },
            ["scheduler"] = new[] { "diffusers", "FlowMatchEulerDiscreteScheduler" },
        });
        WriteComponent(Path.Combine(root, "transformer"), TransformerJson(transformer.Config), transformer,
            "diffusion_pytorch_model.safetensors", "", storage);
        WriteComponent(Path.Combine(root, "vae"), VaeJson(vae.Config), vae, "diffusion_pytorch_model.safetensors", "",
            storage);
        WriteComponent(Path.Combine(root, "text_encoder"), MistralJson(textEncoder.Model.Config), textEncoder.Model,
            "model.safetensors", "model.", storage);
        Directory.CreateDirectory(Path.Combine(root, "tokenizer"));
        if (tokenizer is not Gpt2PromptTokenizer gpt2)
            throw new NotSupportedException("only the GPT-2 micro tokenizer is written by this writer");
        WriteText(Path.Combine(root, "tokenizer", "tokenizer_config.json"), gpt2.ConfigFileText());
        Directory.CreateDirectory(Path.Combine(root, "scheduler"));
        WriteJson(Path.Combine(root, "scheduler", "scheduler_config.json"), new Dictionary<string, object>
        {
            ["_class_name"] = "FlowMatchEulerDiscreteScheduler",
            ["num_train_timesteps"] = scheduler.NumTrainTimesteps,
            ["use_dynamic_shifting"] = scheduler.UseDynamicShifting,
            ["time_shift_type"] = scheduler.TimeShiftType,
            ["shift"] = scheduler.Shift,
        });
    }

    /// <summary>The folder's <see cref="ModelSampleDefaults.FileName"/>: the size and sample settings that
    /// generate, eval and jobs use when the user gives none.</summary>
    public static void WriteSampleDefaults(string root, ModelSampleDefaults d) =>
        WriteJson(Path.Combine(root, ModelSampleDefaults.FileName), new Dictionary<string, object>
        {
            ["width"] = d.Width,
            ["height"] = d.Height,
            ["sample_steps"] = d.SampleSteps,
            ["guidance_scale"] = d.GuidanceScale,
        });

    /// <summary>Only the VAE component (config.json + weights), e.g. a finished pretraining stage.</summary>
    public static void WriteVae(string folder, AutoencoderKLFlux2 vae, ScalarType storage) =>
        WriteComponent(folder, VaeJson(vae.Config), vae, "diffusion_pytorch_model.safetensors", "", storage);

    static void WriteComponent(string folder, Dictionary<string, object> config, nn.Module module, string file,
        string prefix, ScalarType storage)
    {
        Directory.CreateDirectory(folder);
        WriteJson(Path.Combine(folder, "config.json"), config);
        var tensors = new List<KeyValuePair<string, Tensor>>();
        foreach (var (name, p) in module.named_parameters()) tensors.Add(new(prefix + name,
            p.detach().to(storage).cpu()));
        foreach (var (name, b) in module.named_buffers())
            tensors.Add(new(prefix + name, b.is_floating_point() ? b.detach().to(ScalarType.Float32).cpu()
                : b.detach().cpu()));
        try
        {
            SafetensorsWriter.Write(Path.Combine(folder, file), tensors,
                new Dictionary<string, string> { ["format"] = "pt" });
        }
        finally { foreach (var t in tensors) t.Value.Dispose(); }
    }

    public static Dictionary<string, object> TransformerJson(TransformerConfig c) => new()
    {
        ["_class_name"] = "Flux2Transformer2DModel",
        ["patch_size"] = c.PatchSize,
        ["in_channels"] = c.InChannels,
        ["num_layers"] = c.NumLayers,
        ["num_single_layers"] = c.NumSingleLayers,
        ["attention_head_dim"] = c.AttentionHeadDim,
        ["num_attention_heads"] = c.NumAttentionHeads,
        ["joint_attention_dim"] = c.JointAttentionDim,
        ["timestep_guidance_channels"] = c.TimestepGuidanceChannels,
        ["mlp_ratio"] = c.MlpRatio,
        ["axes_dims_rope"] = c.AxesDimsRope,
        ["rope_theta"] = c.RopeTheta,
        ["eps"] = c.Eps,
        ["guidance_embeds"] = c.GuidanceEmbeds,
    };

    public static Dictionary<string, object> VaeJson(VaeConfig c) => new()
    {
        ["_class_name"] = "AutoencoderKLFlux2",
        ["in_channels"] = c.InChannels,
        ["out_channels"] = c.OutChannels,
        ["block_out_channels"] = c.BlockOutChannels,
        ["down_block_types"] = c.DownBlockTypes,
        ["up_block_types"] = c.UpBlockTypes,
        ["layers_per_block"] = c.LayersPerBlock,
        ["latent_channels"] = c.LatentChannels,
        ["norm_num_groups"] = c.NormNumGroups,
        ["act_fn"] = c.ActFn,
        ["use_quant_conv"] = c.UseQuantConv,
        ["use_post_quant_conv"] = c.UsePostQuantConv,
        ["mid_block_add_attention"] = c.MidBlockAddAttention,
        ["patch_size"] = c.PatchSize,
        ["batch_norm_eps"] = c.BatchNormEps,
        ["batch_norm_momentum"] = c.BatchNormMomentum,
        ["sample_size"] = c.SampleSize,
        ["force_upcast"] = c.ForceUpcast,
    };

    public static Dictionary<string, object> MistralJson(MistralConfig c) => new()
    {
        ["architectures"] = new[] { "MistralModel" },
        ["model_type"] = "mistral",
        ["vocab_size"] = c.VocabSize,
        ["hidden_size"] = c.HiddenSize,
        ["intermediate_size"] = c.IntermediateSize,
        ["num_hidden_layers"] = c.NumHiddenLayers,
        ["num_attention_heads"] = c.NumAttentionHeads,
        ["num_key_value_heads"] = c.NumKeyValueHeads,
        ["head_dim"] = c.HeadDim,
        ["rope_theta"] = c.RopeTheta,
        ["rms_norm_eps"] = c.RmsNormEps,
        ["pad_token_id"] = c.PadTokenId,
        ["bos_token_id"] = c.BosTokenId,
        ["eos_token_id"] = c.EosTokenId,
    };

    static void WriteJson(string path, object value) => WriteText(path, JsonSerializer.Serialize(value, Indented));

    static void WriteText(string path, string text)
    {
        var tmp = path + ".tmp";
        File.WriteAllText(tmp, text + "\n");
        File.Move(tmp, path, overwrite: true);
    }
}
