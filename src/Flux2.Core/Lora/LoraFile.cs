using Flux2.IO;
using TorchSharp;
using static TorchSharp.torch;

namespace Flux2.Lora;

/// <summary>One low-rank update for one of our (diffusers-named) Linear modules: ΔW = Scale · Up · Down.</summary>
public sealed record LoraUpdate(string Module, Tensor Down, Tensor Up, double Scale);

/// <summary>
/// Reads a FLUX.2 transformer LoRA file in either common layout (docs/flux2-model.md §7.2-7.3):
/// <list type="bullet">
/// <item>diffusers/peft: <c>transformer.&lt;module&gt;.lora_A/lora_B.weight</c>, alpha and r in the header's
/// <c>lora_adapter_metadata</c> JSON (<see cref="PeftAdapterMetadata"/>; alpha defaults to r);</item>
/// <item>ai-toolkit/ComfyUI/BFL: <c>diffusion_model.&lt;bfl module&gt;.lora_A/lora_B</c> (or lora_down/lora_up), an
/// optional <c>.alpha</c> tensor (else scale 1: that layout bakes alpha/r into the weights); fused modules are split
/// onto our separate q/k/v modules by <see cref="FusedLoraSplit"/> (rank split when B is block-diagonal, else shared
/// A).</item></list>
/// </summary>
public static class LoraFile
{
    public static IReadOnlyList<LoraUpdate> Read(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"LoRA file not found: {path}");
        WeightFiles.Locate(path); // refuses pickle files by name, before reading a byte
        using var file = SafetensorsFile.Open(path);
        var groups = GroupByModule(file);
        bool bfl = LoraFileInfo.DetectLayout(groups.Keys) == LoraLayout.Comfyui;
        var peft = PeftAdapterMetadata.FromHeader(file.Metadata, path);
        var updates = new List<LoraUpdate>();
        foreach (var (module, g) in groups)
        {
            if (g.Down is null || g.Up is null)
                throw new SafetensorsException(path, module,
                    $"has only one of the lora_A/lora_down and lora_B/lora_up pair");
            var down = ReadWeight(file, g.Down);
            var up = ReadWeight(file, g.Up);
            if (down.dim() != 2 || up.dim() != 2 || up.shape[1] != down.shape[0])
                throw new SafetensorsException(path, g.Up,
                    $"shapes [{string.Join(", ", down.shape)}] and [{string.Join(", ", up.shape)}] are not a [r, in] " +
                    $"/ [out, r] pair");
            long r = down.shape[0];
            if (r == 0 || down.shape[1] == 0 || up.shape[0] == 0)
                throw new SafetensorsException(path, g.Down,
                    $"shape [{string.Join(", ", down.shape)}] / [{string.Join(", ", up.shape)}]: a LoRA needs rank " +
                    "and sizes of at least 1");
            double? alpha = g.Alpha is { } ak ? ReadAlpha(file, ak) : null;
            double scale = alpha is { } av ? (float)av / r
                : bfl ? 1.0 : peft?.Scale(StripPrefix(module, "transformer."), r) ?? 1.0;
            CheckMagnitude(path, g.Up, down, up, r, scale);
            if (!bfl)
            {
                updates.Add(new LoraUpdate(StripPrefix(module, "transformer."), down, up, scale));
                continue;
            }
            var bflModule = StripPrefix(module, "diffusion_model.");
            var targets = BflTransformerKeyMap.ToDiffusers(bflModule + ".weight");
            if (targets.Count == 0)
                throw new SafetensorsException(path, g.Up,
                    $"'{bflModule}' is not a FLUX.2 transformer module in the BFL/ComfyUI naming");
            // A fused BFL module (qkv) feeds several of our modules: block-diagonal B splits the rank, otherwise each
            // part takes its row block of B and shares A (FusedLoraSplit).
            var parts = FusedLoraSplit.Split(down, up, targets[0].Location.Chunks);
            foreach (var (diffusersKey, loc) in targets)
            {
                var (partDown, partUp) = parts[loc.Chunk];
                if (loc.SwapHalves)
                {
                    var halves = partUp.chunk(2, 0); partUp = cat(new[] { halves[1], halves[0] }, 0)
                    .contiguous();
                }
                updates.Add(new LoraUpdate(diffusersKey[..^".weight".Length], partDown, partUp, scale));
            }
        }
        return updates;
    }

    /// <summary>A lora_A/lora_B weight as float32; only floating-point tensors of finite values are LoRA
    /// weights.</summary>
    internal static Tensor ReadWeight(SafetensorsFile file, string key)
    {
        var dtype = file.Entries[key].DType;
        if (dtype is not ("F16" or "BF16" or "F32" or "F64"))
            throw new SafetensorsException(file.Path, key, $"dtype {dtype} is not a LoRA weight (F16, BF16, F32, F64)");
        using var stored = file.Read(key);
        var t = stored.to(ScalarType.Float32);
        using var finite = t.isfinite();
        using var allFinite = finite.all();
        if (!allFinite.item<bool>())
        {
            t.Dispose();
            throw new SafetensorsException(file.Path, key, "holds NaN or infinite values (a diverged training run?)");
        }
        return t;
    }

    /// <summary>An <c>.alpha</c> tensor: one finite number >= 0.</summary>
    internal static double ReadAlpha(SafetensorsFile file, string key)
    {
        var e = file.Entries[key];
        if (e.Shape.Aggregate(1L, (a, d) => a * d) != 1)
            throw new SafetensorsException(file.Path, key,
                $"alpha must hold one number, has shape [{string.Join(", ", e.Shape)}]");
        using var t = file.Read(key);
        using var f = t.to(ScalarType.Float64);
        double alpha = f.item<double>();
        if (!double.IsFinite(alpha) || alpha < 0)
            throw new SafetensorsException(file.Path, key, $"alpha must be a finite number >= 0, is {alpha}");
        return alpha;
    }

    /// <summary>Refuses weights whose product ΔW = scale·B·A could overflow float32 (each entry is bounded by
    /// r·max|B|·max|A|·|scale|): such a file gives an image of NaN.</summary>
    static void CheckMagnitude(string path, string upKey, Tensor down, Tensor up, long r, double scale)
    {
        using var scope = NewDisposeScope();
        double bound = r * (double)down.abs().max().item<float>() * up.abs().max().item<float>() * Math.Abs(scale);
        if (!(bound <= float.MaxValue))
            throw new SafetensorsException(path, upKey,
                $"values too large: scale·B·A may reach {bound:g3}, beyond float32 (a diverged training run?)");
    }

    sealed class Group { public string? Down, Up, Alpha; }

    static Dictionary<string, Group> GroupByModule(SafetensorsFile file)
    {
        var groups = new Dictionary<string, Group>();
        foreach (var key in file.Keys)
        {
            string? module; Action<Group> set;
            if (TrySuffix(key, out module, ".lora_A.weight", ".lora_down.weight")) set = g => g.Down = key;
            else if (TrySuffix(key, out module, ".lora_B.weight", ".lora_up.weight")) set = g => g.Up = key;
            else if (TrySuffix(key, out module, ".alpha")) set = g => g.Alpha = key;
            else if (key.EndsWith(".dora_scale")) throw new SafetensorsException(file.Path, key,
                "DoRA LoRAs are not supported");
            else
                throw new SafetensorsException(file.Path, key,
                    "not a LoRA tensor (expected names ending in lora_A/lora_B/lora_down/lora_up .weight or .alpha)");
            if (!groups.TryGetValue(module!, out var g)) groups[module!] = g = new Group();
            set(g);
        }
        return groups;
    }

    static bool TrySuffix(string key, out string? module, params string[] suffixes)
    {
        foreach (var s in suffixes)
            if (key.EndsWith(s)) { module = key[..^s.Length]; return true; }
        module = null;
        return false;
    }

    static string StripPrefix(string s, string prefix) => s.StartsWith(prefix) ? s[prefix.Length..] : s;
}
