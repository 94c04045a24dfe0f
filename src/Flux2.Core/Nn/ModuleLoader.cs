using Flux2.IO;
using Flux2.Nn.Offload;
using Flux2.Nn.Quantization;
using TorchSharp;
using static TorchSharp.torch;

namespace Flux2.Nn;

/// <summary>Copies tensors into a module's parameters and buffers by name, strictly: every module key must be
/// present with the shape the config implies, and every file key must be used; problems are listed together.
/// <para>A quantized <see cref="Linear"/> (built with a <see cref="QuantType"/>) whose float weight comes from the
/// file is quantized on arrival: the one tensor is read onto the layer's device in the file's dtype, quantized there
/// into the layer's storage and freed before the next is read, so neither the device nor the CPU ever holds more than
/// one float weight (its <c>weight_scale</c> and <c>weight_zero_point</c> are computed, not expected in the file; its
/// <c>weight</c> is checked against the float shape [out, in], whatever the packed codes' shape).</para>
/// <para>Layer offloading's blocks are filled one at a time through a GPU slot (<c>offloaded</c>).</para></summary>
public static class ModuleLoader
{
    /// <param name="offloaded">Layer offloading's blocks (<see cref="BlockOffloader"/>): their tensors are checked
    /// against the file with their real shapes like all others, then each block's tensors are read inside
    /// <see cref="IOffloadedModules.Fill"/>, which holds the block in a GPU slot meanwhile, so quantization happens on
    /// the GPU and the offloaded part of the model is never on the GPU whole.</param>
    public static void Load(nn.Module module, ITensorSource source, bool strict = true,
        IOffloadedModules? offloaded = null)
    {
        var targets = new Dictionary<string, Tensor>();
        foreach (var (name, p) in module.named_parameters()) targets[name] = p;
        foreach (var (name, b) in module.named_buffers()) targets[name] = b;
        var quantizeOnLoad = QuantizeOnLoad(module, source);
        foreach (var key in quantizeOnLoad.Keys)
        {
            targets.Remove(key[..^"weight".Length] + "weight_scale");
            targets.Remove(key[..^"weight".Length] + "weight_zero_point");
        }
        var parts = offloaded is null ? [] : module.named_modules().Where(m => offloaded.IsOffloaded(m.module))
            .Select(m => (Prefix: m.name + ".", Module: m.module, Shapes: offloaded.ShapesOf(m.module))).ToList();
        // An offloaded block's tensors are empty placeholders outside its fill: its shapes come from the offloader.
        long[] ShapeOf(string name, Tensor t)
        {
            if (quantizeOnLoad.TryGetValue(name, out var layer)) return [layer.OutFeatures, layer.InFeatures];
            var part = parts.FirstOrDefault(p => name.StartsWith(p.Prefix, StringComparison.Ordinal));
            return part.Module is null ? t.shape : part.Shapes[name[part.Prefix.Length..]];
        }

        var missing = targets.Keys.Where(k => !source.Keys.Contains(k)).OrderBy(k => k).ToList();
        var unexpected = source.Keys.Where(k => !targets.ContainsKey(k)).OrderBy(k => k).ToList();
        var shapeErrors = new List<string>();
        foreach (var (name, t) in targets)
        {
            if (!source.Keys.Contains(name)) continue;
            var s = source.Shape(name);
            var expected = ShapeOf(name, t);
            if (!s.SequenceEqual(expected))
                shapeErrors.Add($"{source.FileOf(name)} [tensor '{name}']: shape [{string.Join(", ", s)}] but the " +
                    $"config implies [{string.Join(", ", expected)}]");
        }
        if (shapeErrors.Count > 0 || (strict && (missing.Count > 0 || unexpected.Count > 0)))
            throw new WeightLoadException(source.Origin, missing, unexpected, shapeErrors);

        using var _ = no_grad();
        void Read(IEnumerable<string> names)
        {
            foreach (var name in names)
            {
                if (!source.Keys.Contains(name)) continue;
                var t = targets[name];
                if (quantizeOnLoad.TryGetValue(name, out var linear))
                {
                    // float8 codes with a per-tensor scale (a ComfyUI fp8 file) go into a qfloat8 layer as they are
                    if (linear.Quant!.StorageType == SafetensorsDType.Float8E4M3 && source is IFloat8WeightSource f8
                        && f8.Float8Scale(name) is float scale)
                    {
                        using var codes = source.Read(name, t.device, linear.Quant.StorageType);
                        linear.weight.copy_(codes);
                        linear.weight_scale!.fill_(scale);
                        continue;
                    }
                    using var floatWeight = source.Read(name, t.device);
                    linear.QuantizeFrom(floatWeight);
                    continue;
                }
                using var value = source.Read(name, t.device, t.dtype);
                t.copy_(value);
            }
        }
        Read(targets.Keys.Where(k => !parts.Any(p => k.StartsWith(p.Prefix, StringComparison.Ordinal))));
        foreach (var part in parts)
            offloaded!.Fill(part.Module, () => Read(targets.Keys.Where(k =>
                k.StartsWith(part.Prefix, StringComparison.Ordinal))));
    }

    /// <summary>"X.weight" → the quantized Linear X, for layers whose file has no "X.weight_scale" (a float
    /// checkpoint). A file that carries the scale is already quantized the same way and is copied as it is.</summary>
    static Dictionary<string, Linear> QuantizeOnLoad(nn.Module module, ITensorSource source)
    {
        var result = new Dictionary<string, Linear>();
        foreach (var (name, m) in module.named_modules())
            if (m is Linear { IsQuantized: true } linear)
            {
                var prefix = name.Length == 0 ? "" : name + ".";
                if (!source.Keys.Contains(prefix + "weight_scale")) result[prefix + "weight"] = linear;
            }
        return result;
    }
}

public sealed class WeightLoadException(string origin, IReadOnlyList<string> missing, IReadOnlyList<string> unexpected,
    IReadOnlyList<string> shapeErrors)
    : Exception(Describe(origin, missing, unexpected, shapeErrors))
{
    public IReadOnlyList<string> Missing { get; } = missing;
    public IReadOnlyList<string> Unexpected { get; } = unexpected;
    public IReadOnlyList<string> ShapeErrors { get; } = shapeErrors;

    static string Describe(string origin, IReadOnlyList<string> missing, IReadOnlyList<string> unexpected,
        IReadOnlyList<string> shapeErrors)
    {
        var lines = new List<string> { $"weights in {origin} do not fit the model built from its config:" };
        lines.AddRange(shapeErrors.Select(e => "  " + e));
        if (missing.Count > 0)
            lines.Add($"  missing keys ({missing.Count}): " +
                $"{string.Join(", ", missing.Take(20))}{(missing.Count > 20 ? ", ..." : "")}");
        if (unexpected.Count > 0)
            lines.Add($"  unexpected keys ({unexpected.Count}): " +
                $"{string.Join(", ", unexpected.Take(20))}{(unexpected.Count > 20 ? ", ..." : "")}");
        lines.Add("  Check that the folder's config.json matches its weights (a different model size or variant?).");
        return string.Join(Environment.NewLine, lines);
    }
}
