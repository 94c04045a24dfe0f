using System.Globalization;
using Flux2.IO;

namespace Flux2.Lora;

/// <summary>One module as the file names it: its rank and ΔW shape [out x in].</summary>
public sealed record LoraFileModule(string Name, long Rank, long In, long Out);

/// <summary>
/// What a LoRA file holds, without building a model: its layout, the modules as named in the file, and the modules it
/// updates once read (<see cref="LoraFile.Read"/>: diffusers names, fused qkv split) with their scales. Backs
/// <c>./flux2 lora info</c> and tells the converter which way a file goes. A LoKr file (<see cref="LokrFile"/>) has
/// its adapters in <see cref="Lokr"/> and no <see cref="Updates"/>; its file modules' rank is W2's low rank, or 0
/// when both Kronecker factors are full.
/// </summary>
public sealed record LoraFileInfo(string Path, LoraLayout Layout, IReadOnlyList<LoraFileModule> FileModules,
                                  IReadOnlyList<LoraUpdate> Updates, IReadOnlyDictionary<string, string> Metadata,
                                  IReadOnlyList<string> DTypes, PeftAdapterMetadata? Peft,
                                  IReadOnlyList<LokrUpdate> Lokr)
{
    public static LoraLayout DetectLayout(IEnumerable<string> keys)
        => keys.Any(k => k.StartsWith("diffusion_model.") || k.StartsWith("double_blocks.")
            || k.StartsWith("single_blocks."))
            ? LoraLayout.Comfyui : LoraLayout.Diffusers;

    public static LoraFileInfo Read(string path)
    {
        if (LokrFile.IsLokr(path))
        {
            var lokr = LokrFile.Read(path); // validates names and shapes first
            using var lokrFile = SafetensorsFile.Open(path);
            return new LoraFileInfo(path, DetectLayout(lokrFile.Keys),
                lokr.Select(u => new LoraFileModule("diffusion_model." + u.Module, u.Rank ?? 0, u.In, u.Out)).ToList(),
                [], lokrFile.Metadata.ToDictionary(kv => kv.Key, kv => kv.Value),
                lokrFile.Entries.Values.Select(e => e.DType).Distinct().Order().ToList(), null, lokr);
        }
        var updates = LoraFile.Read(path); // validates names and shapes first
        using var file = SafetensorsFile.Open(path);
        var modules = new List<LoraFileModule>();
        foreach (var key in file.Keys.Where(k => k.EndsWith(".lora_A.weight") || k.EndsWith(".lora_down.weight"))
            .Order(StringComparer.Ordinal))
        {
            var stem = key[..key.LastIndexOf(".lora_", StringComparison.Ordinal)];
            var upKey = file.Keys.First(k => k == stem + ".lora_B.weight" || k == stem + ".lora_up.weight");
            var down = file.Entries[key].Shape;
            modules.Add(new LoraFileModule(stem, down[0], down[1], file.Entries[upKey].Shape[0]));
        }
        var dtypes = file.Entries.Values.Select(e => e.DType).Distinct().Order().ToList();
        return new LoraFileInfo(path, DetectLayout(file.Keys), modules, updates,
                                file.Metadata.ToDictionary(kv => kv.Key, kv => kv.Value), dtypes,
                                PeftAdapterMetadata.FromHeader(file.Metadata, path), []);
    }

    /// <summary>"4 (12), 12 (2)": each distinct value with how many modules have it.</summary>
    public static string Histogram<T>(IEnumerable<T> values) where T : IFormattable
        => string.Join(", ", values.GroupBy(v => v).OrderBy(g => g.Key)
            .Select(g => $"{g.Key.ToString(null, CultureInfo.InvariantCulture)} ({g.Count()})"));
}
