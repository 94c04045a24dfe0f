using Flux2.IO;
using Flux2.Training.Config;
using TorchSharp;
using static TorchSharp.torch;
using Linear = Flux2.Nn.Linear;

namespace Flux2.Training.Network;

/// <summary>
/// Which Linear layers get a LoRA. ai-toolkit's FLUX.2 default (docs/ai-toolkit-compat.md §0, §2.10): every Linear
/// inside the double- and single-stream blocks (diffusers <c>transformer_blocks.*</c>,
/// <c>single_transformer_blocks.*</c>); embedders, modulation and the output layer stay untouched. <c>target_preset:
/// diffusers</c> (ours) narrows that to diffusers' train_dreambooth_lora_flux2 default (docs/flux2-model.md §7.1): per
/// double block the image attention <c>to_q/to_k/to_v/to_out.0</c>, per single block <c>to_qkv_mlp_proj</c> and
/// <c>to_out</c>. <c>only_if_contains</c> / <c>ignore_if_contains</c> match substrings of either the diffusers path or
/// the BFL/ComfyUI path, because ai-toolkit users write the latter (<c>double_blocks</c>, <c>img_attn</c>, ...).
/// </summary>
public static class LoraTargets
{
    static readonly string[] BlockPrefixes = { "transformer_blocks.", "single_transformer_blocks." };
    static readonly System.Text.RegularExpressions.Regex DiffusersDefault = new(
        @"^(transformer_blocks\.\d+\.attn\.(to_q|to_k|to_v|to_out\.0)" +
        @"|single_transformer_blocks\.\d+\.attn\.(to_qkv_mlp_proj|to_out))$");

    public static bool InPreset(string name, LoraTargetPreset preset) => preset switch
    {
        LoraTargetPreset.Diffusers => DiffusersDefault.IsMatch(name),
        _ => BlockPrefixes.Any(name.StartsWith),
    };

    public static IReadOnlyList<(string name, Linear linear)> Select(nn.Module transformer, NetworkKwargs filters)
    {
        var result = new List<(string, Linear)>();
        foreach (var (name, module) in transformer.named_modules())
        {
            if (module is not Linear linear || !InPreset(name, filters.TargetPreset)) continue;
            var names = new[] { name, BflTransformerKeyMap.ToBfl(name + ".weight")?.Key ?? name };
            bool Matches(string f) => names.Any(n => n.Contains(f, StringComparison.Ordinal));
            if (filters.OnlyIfContains.Count > 0 && !filters.OnlyIfContains.Any(Matches)) continue;
            if (filters.IgnoreIfContains.Any(Matches)) continue;
            result.Add((name, linear));
        }
        return result;
    }
}
