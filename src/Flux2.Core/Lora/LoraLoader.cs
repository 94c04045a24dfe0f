using Flux2.Nn;
using TorchSharp;
using static TorchSharp.torch;

namespace Flux2.Lora;

/// <summary>Attaches LoRA updates to a model's Linear modules (by diffusers module path) with a strength
/// multiplier; the base weights are untouched, so a LoRA can be switched off or removed exactly.</summary>
public static class LoraLoader
{
    /// <summary>Reads <paramref name="path"/> and attaches it. Returns the adapters added (to change strength or
    /// remove).</summary>
    public static IReadOnlyList<LoraAdapter> Apply(nn.Module model, string path, double strength = 1.0)
        => Apply(model, LoraFile.Read(path), strength, path);

    public static IReadOnlyList<LoraAdapter> Apply(nn.Module model, IEnumerable<LoraUpdate> updates, double strength,
        string origin)
    {
        var linears = model.named_modules().Where(m => m.module is Linear)
            .ToDictionary(m => m.name, m => (Linear)m.module);
        var added = new List<LoraAdapter>();
        var unknown = new List<string>();
        foreach (var u in updates)
        {
            if (!linears.TryGetValue(u.Module, out var lin)) { unknown.Add(u.Module); continue; }
            if (u.Down.shape[1] != lin.InFeatures || u.Up.shape[0] != lin.OutFeatures)
                throw new InvalidDataException($"{origin}: LoRA for '{u.Module}' is [{u.Up.shape[0]} x " +
                    $"{u.Down.shape[1]}] but the module is [{lin.OutFeatures} x {lin.InFeatures}] (a LoRA for " +
                    $"another model size?)");
            var a = new LoraAdapter(u.Down.to(lin.weight.device), u.Up.to(lin.weight.device), u.Scale * strength);
            lin.Adapters.Add(a);
            added.Add(a);
        }
        if (unknown.Count > 0)
        {
            Remove(model, added);
            throw new InvalidDataException($"{origin}: LoRA targets modules this model does not have " +
                $"({unknown.Count}): {string.Join(", ", unknown.Take(10))}");
        }
        return added;
    }

    public static void Remove(nn.Module model, IEnumerable<LoraAdapter> adapters)
    {
        var set = adapters.ToHashSet<LinearAdapter>();
        foreach (var (_, m) in model.named_modules())
            if (m is Linear lin) lin.Adapters.RemoveAll(set.Contains);
    }
}
