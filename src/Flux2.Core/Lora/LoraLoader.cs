using Flux2.Nn;
using TorchSharp;
using static TorchSharp.torch;

namespace Flux2.Lora;

/// <summary>Attaches LoRA (or LoKr) updates to a model's Linear modules (by diffusers module path) with a strength
/// multiplier; the base weights are untouched, so a LoRA can be switched off or removed exactly.</summary>
public static class LoraLoader
{
    /// <summary>Reads <paramref name="path"/> (a LoRA or a LoKr file, <see cref="LokrFile"/>) and attaches it.
    /// Returns the adapters added (to change strength or remove).</summary>
    public static IReadOnlyList<LinearAdapter> Apply(nn.Module model, string path, double strength = 1.0)
        => LokrFile.IsLokr(path) ? Apply(model, LokrFile.Read(path), strength, path)
            : Apply(model, LoraFile.Read(path), strength, path);

    /// <summary>Attaches LoKr updates: one <see cref="LokrAdapter"/> per diffusers module, each with its row block of
    /// the Linear's ΔW (the q, k, v parts of a fused qkv share the factors).</summary>
    public static IReadOnlyList<LinearAdapter> Apply(nn.Module model, IEnumerable<LokrUpdate> updates,
        double strength, string origin)
    {
        var linears = LinearsByName(model);
        var added = new List<LinearAdapter>();
        try
        {
            foreach (var u in updates)
            {
                var parts = u.Parts().Select(p => (p.Module, p.Rows, linear: linears.GetValueOrDefault(p.Module)
                    ?? throw new InvalidDataException($"{origin}: LoKr targets a module this model does not have: " +
                        p.Module))).ToList();
                foreach (var (module, rows, lin) in parts)
                    if (u.In != lin.InFeatures || (rows?.Count ?? u.Out) != lin.OutFeatures)
                        throw new InvalidDataException($"{origin}: LoKr for '{u.Module}' is [{u.Out} x {u.In}] but " +
                            $"'{module}' is [{lin.OutFeatures} x {lin.InFeatures}] (a LoKr for another model size?)");
                var device = parts[0].linear.weight.device;
                var (w1, w2, w2b) = (u.W1.to(device), u.W2.to(device), u.W2b?.to(device)); // shared by the parts
                foreach (var (_, rows, lin) in parts)
                {
                    var a = new LokrAdapter(w1, w2, u.Scale * strength, rows) { W2b = w2b };
                    lin.Adapters.Add(a);
                    added.Add(a);
                }
            }
        }
        catch
        {
            Remove(model, added);
            throw;
        }
        return added;
    }

    /// <summary>The model's Linears by module name (diffusers names), where adapters attach.</summary>
    static Dictionary<string, Linear> LinearsByName(nn.Module model) =>
        model.named_modules().Where(m => m.module is Linear).ToDictionary(m => m.name, m => (Linear)m.module);

    public static IReadOnlyList<LinearAdapter> Apply(nn.Module model, IEnumerable<LoraUpdate> updates,
        double strength, string origin)
    {
        var linears = LinearsByName(model);
        var added = new List<LinearAdapter>();
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

    public static void Remove(nn.Module model, IEnumerable<LinearAdapter> adapters)
    {
        var set = adapters.ToHashSet();
        foreach (var (_, m) in model.named_modules())
            if (m is Linear lin) lin.Adapters.RemoveAll(set.Contains);
    }
}
