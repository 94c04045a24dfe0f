using Flux2.IO;
using static TorchSharp.torch;

namespace Flux2.Lora;

/// <summary>One LoKr adapter of a file, for one BFL Linear (a fused qkv once, for its three parts): ΔW = Scale ·
/// kron(W1, W2) over the whole Linear, with W2 = W2a·W2b when <see cref="W2b"/> is set (then <see cref="W2"/> is
/// W2a). <see cref="Module"/> is the BFL module name without <c>diffusion_model.</c>.</summary>
public sealed record LokrUpdate(string Module, Tensor W1, Tensor W2, Tensor? W2b, double Scale)
{
    /// <summary>Rows of ΔW (a·b) and columns (c·d).</summary>
    public long Out => W1.shape[0] * W2.shape[0];
    public long In => W1.shape[1] * (W2b ?? W2).shape[1];

    /// <summary>The rank of a low-rank W2 (W2b's rows), or null when W1 and W2 are full matrices.</summary>
    public long? Rank => W2b?.shape[0];

    /// <summary>The diffusers modules this Linear holds, each with its row block of ΔW (null: all rows).</summary>
    public IReadOnlyList<(string Module, (long Start, long Count)? Rows)> Parts()
    {
        var targets = BflTransformerKeyMap.ToDiffusers(Module + ".weight");
        return targets.Select(t => (t.DiffusersKey[..^".weight".Length],
                t.Location.Chunks == 1 ? ((long, long)?)null
                    : (t.Location.Chunk * Out / t.Location.Chunks, Out / t.Location.Chunks)))
            .ToList();
    }
}

/// <summary>
/// Reads a FLUX.2 transformer LoKr file in the layout ai-toolkit and this kit save (docs/ai-toolkit-compat.md §2.18):
/// per BFL Linear <c>diffusion_model.&lt;module&gt;.lokr_w1</c>, <c>.lokr_w2</c> (or <c>.lokr_w2_a</c> and
/// <c>.lokr_w2_b</c>) and an optional <c>.alpha</c>. The scale is what ComfyUI's LoKr loader applies: alpha / rank
/// (rank = lokr_w2_b's rows) when W2 is low-rank and alpha is given, else 1. A low-rank W1 (lokr_w1_a/b), a Tucker
/// core (lokr_t2) and LoRA keys in the same file are refused.
/// </summary>
public static class LokrFile
{
    static readonly string[] Suffixes = [".lokr_w1", ".lokr_w2", ".lokr_w2_a", ".lokr_w2_b", ".alpha"];

    /// <summary>Whether the file's tensors are LoKr factors (any <c>.lokr_</c> key); a pickle file is refused by
    /// name, before reading a byte.</summary>
    public static bool IsLokr(string path)
    {
        if (!File.Exists(path)) return false;
        WeightFiles.Locate(path);
        using var file = SafetensorsFile.Open(path);
        return IsLokr(file.Keys);
    }

    public static bool IsLokr(IEnumerable<string> keys) => keys.Any(k => k.Contains(".lokr_"));

    public static IReadOnlyList<LokrUpdate> Read(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"LoKr file not found: {path}");
        WeightFiles.Locate(path);
        using var file = SafetensorsFile.Open(path);
        var groups = new Dictionary<string, Dictionary<string, string>>();
        foreach (var key in file.Keys)
        {
            var suffix = Suffixes.FirstOrDefault(key.EndsWith)
                ?? throw new SafetensorsException(path, key, "not a LoKr tensor this kit reads (expected names " +
                    "ending in .lokr_w1, .lokr_w2, .lokr_w2_a, .lokr_w2_b or .alpha; a low-rank lokr_w1_a/b, a " +
                    "Tucker lokr_t2 and LoRA keys are not supported)");
            var module = key[..^suffix.Length];
            if (!groups.TryGetValue(module, out var g)) groups[module] = g = new Dictionary<string, string>();
            g[suffix] = key;
        }
        var updates = new List<LokrUpdate>();
        foreach (var (module, g) in groups)
        {
            string Need(string suffix) => g.TryGetValue(suffix, out var k) ? k
                : throw new SafetensorsException(path, module, $"has no {module}{suffix}");
            var w1 = Matrix(file, Need(".lokr_w1"));
            bool lowRank = g.ContainsKey(".lokr_w2_a") || g.ContainsKey(".lokr_w2_b");
            var w2 = Matrix(file, Need(lowRank ? ".lokr_w2_a" : ".lokr_w2"));
            var w2b = lowRank ? Matrix(file, Need(".lokr_w2_b")) : null;
            if (w2b is not null && w2.shape[1] != w2b.shape[0])
                throw new SafetensorsException(path, g[".lokr_w2_b"], $"shapes [{string.Join(", ", w2.shape)}] " +
                    $"and [{string.Join(", ", w2b.shape)}] are not a [b, r] / [r, d] pair");
            double? alpha = g.TryGetValue(".alpha", out var ak) ? LoraFile.ReadAlpha(file, ak) : null;
            double scale = w2b is not null && alpha is { } av ? av / w2b.shape[0] : 1.0;
            var bfl = module.StartsWith("diffusion_model.") ? module["diffusion_model.".Length..] : module;
            var targets = BflTransformerKeyMap.ToDiffusers(bfl + ".weight");
            if (targets.Count == 0 || targets.Any(t => t.Location.SwapHalves))
                throw new SafetensorsException(path, module,
                    $"'{bfl}' is not a FLUX.2 transformer block Linear in the BFL/ComfyUI naming");
            var update = new LokrUpdate(bfl, w1, w2, w2b, scale);
            if (update.Out % targets[0].Location.Chunks != 0)
                throw new SafetensorsException(path, module, $"ΔW has {update.Out} rows, which do not split " +
                    $"into the {targets[0].Location.Chunks} parts of '{bfl}'");
            updates.Add(update);
        }
        return updates;
    }

    /// <summary>A 2-D float tensor of finite values, as float32.</summary>
    static Tensor Matrix(SafetensorsFile file, string key)
    {
        var e = file.Entries[key];
        if (e.DType is not ("F16" or "BF16" or "F32" or "F64") || e.Shape.Length != 2 || e.Shape.Any(d => d == 0))
            throw new SafetensorsException(file.Path, key, $"dtype {e.DType}, shape [{string.Join(", ", e.Shape)}]" +
                ": a LoKr factor is a non-empty 2-D float matrix");
        return LoraFile.ReadWeight(file, key);
    }

}
