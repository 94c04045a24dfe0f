using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Flux2.IO;
using Flux2.Lora;
using Flux2.Training.Config;
using Flux2.Training.State;
using static TorchSharp.torch;

namespace Flux2.Training.Network;

/// <summary>
/// Saves a <see cref="LoraNetwork"/> the way ai-toolkit does (docs/ai-toolkit-compat.md §2.11): ComfyUI/BFL layout
/// (<c>diffusion_model.&lt;bfl module&gt;.lora_A/B.weight</c>, alpha/rank baked into B, q/k/v fused exactly) through
/// <see cref="LoraExport"/>, or diffusers/peft with save.lora_format: diffusers, in save.dtype;
/// <c>&lt;name&gt;_&lt;step:09d&gt;.safetensors</c> for intermediate saves with rotation (newest max_step_saves_to_keep
/// kept) and <c>&lt;name&gt;.safetensors</c> at the end; written atomically. With a <see cref="TrainingState"/> it goes
/// first, to <see cref="TrainingStateFile.PathFor"/>, and rotation removes it along with its LoRA file. Rotation runs
/// only after both writes succeeded, so a failed save (disk full, read-only folder, killed process) leaves every
/// earlier checkpoint as it was.
/// </summary>
public static class LoraCheckpoint
{
    public static string StepFileName(string name, int step) => $"{name}_{step:D9}.safetensors";
    public static string FinalFileName(string name) => $"{name}.safetensors";

    public static string Save(string folder, LoraNetwork network, JobFile job, int step, int epoch, bool final,
        TrainingState? state = null)
    {
        Directory.CreateDirectory(folder);
        var name = job.Config.Name;
        var path = Path.Combine(folder, final ? FinalFileName(name) : StepFileName(name, step));
        if (state is not null) TrainingStateFile.Write(TrainingStateFile.PathFor(path), state);
        var updates = network.Type == NetworkType.Lokr ? [] : network.Snapshot();
        var (tensors, layoutMeta) = network.Type == NetworkType.Lokr ? (LokrTensors(network), new())
            : LoraExport.Export(updates, job.Process.Save.LoraFormat);
        var dtype = job.Process.Save.Dtype.ToScalarType();
        var typed = tensors.ToDictionary(kv => kv.Key, kv => kv.Value.to(dtype));
        var metadata = Metadata(job, network, step, epoch);
        foreach (var (k, v) in layoutMeta) metadata[k] = v;
        try { SafetensorsWriter.Write(path, typed.OrderBy(kv => kv.Key, StringComparer.Ordinal), metadata); }
        finally
        {
            foreach (var t in typed.Values.Concat(tensors.Values)) t.Dispose();
            foreach (var u in updates) { u.Down.Dispose(); u.Up.Dispose(); }
        }
        if (!final) Rotate(folder, name, job.Process.Save.MaxStepSavesToKeep);
        return path;
    }

    /// <summary>A LoKr network in the key layout ai-toolkit writes for FLUX.2 and ComfyUI's LoKr loader reads, one
    /// entry per BFL Linear (the fused qkv once): <c>diffusion_model.&lt;bfl module&gt;.lokr_w1</c>, <c>.lokr_w2</c>
    /// (or <c>.lokr_w2_a</c> and <c>.lokr_w2_b</c>) and <c>.alpha</c>. ComfyUI applies alpha / rank (the rank being
    /// lokr_w2_b's rows) when W2 is low-rank and 1 when both factors are full, so alpha is scale · rank, or
    /// 1.</summary>
    public static Dictionary<string, Tensor> LokrTensors(LoraNetwork network)
    {
        var result = new Dictionary<string, Tensor>();
        foreach (var group in network.Modules.GroupBy(m => m.Group))
        {
            var a = (Nn.LokrAdapter)group.First().Adapter;
            var key = "diffusion_model." + group.Key;
            result[key + ".lokr_w1"] = a.W1.detach().to(ScalarType.Float32).cpu().clone();
            if (a.W2b is null) result[key + ".lokr_w2"] = a.W2.detach().to(ScalarType.Float32).cpu().clone();
            else
            {
                result[key + ".lokr_w2_a"] = a.W2.detach().to(ScalarType.Float32).cpu().clone();
                result[key + ".lokr_w2_b"] = a.W2b.detach().to(ScalarType.Float32).cpu().clone();
            }
            result[key + ".alpha"] = tensor(a.W2b is null ? 1f : (float)(a.Scale * a.W2b.shape[0]));
        }
        return result;
    }

    /// <summary>Header metadata, one level deep with JSON-stringified values (docs/ai-toolkit-compat.md
    /// §2.11).</summary>
    public static Dictionary<string, string> Metadata(JobFile job, LoraNetwork network, int step, int epoch)
    {
        var meta = new Dictionary<string, string>(job.Meta)
        {
            ["training_info"] = JsonSerializer.Serialize(new { step, epoch }),
            ["config"] = ConfigJson(job),
            ["ss_base_model_version"] = "flux2",
            ["ss_output_name"] = job.Config.Name,
            ["ss_network_module"] = network.Type == NetworkType.Lokr ? "lycoris.kohya" : "lora",
            ["ss_network_dim"] = network.Rank.ToString(CultureInfo.InvariantCulture),
            ["ss_network_alpha"] = network.Alpha.ToString(CultureInfo.InvariantCulture),
            ["ss_steps"] = step.ToString(CultureInfo.InvariantCulture),
            ["software"] = JsonSerializer.Serialize(new { name = "Flux2Notebooks", repo = "flux2" }),
            ["format"] = "pt",
        };
        if (!string.IsNullOrEmpty(job.Process.TriggerWord)) meta["ss_trigger_word"] = job.Process.TriggerWord;
        return meta;
    }

    /// <summary>The job's config section as snake_case JSON (the YAML's own key names).</summary>
    public static string ConfigJson(JobFile job) => JsonSerializer.Serialize(job.Config, new JsonSerializerOptions
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
    });

    /// <summary>Deletes all but the newest <paramref name="keep"/> step saves of <paramref name="name"/> (by step
    /// number, which unlike ctime survives copies) with their state files; the final file is never touched.</summary>
    public static IReadOnlyList<string> Rotate(string folder, string name, int keep)
    {
        var pattern = new Regex("^" + Regex.Escape(name) + @"_(\d{9})\.safetensors$");
        var saves = Directory.EnumerateFiles(folder)
            .Select(f => (file: f, m: pattern.Match(Path.GetFileName(f))))
            .Where(x => x.m.Success)
            .OrderByDescending(x => long.Parse(x.m.Groups[1].Value, CultureInfo.InvariantCulture))
            .Skip(keep).Select(x => x.file).ToList();
        foreach (var f in saves)
        {
            File.Delete(TrainingStateFile.PathFor(f)); // no-op when absent
            File.Delete(f);
        }
        return saves;
    }
}
