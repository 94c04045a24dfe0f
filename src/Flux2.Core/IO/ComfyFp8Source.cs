using static TorchSharp.torch;

namespace Flux2.IO;

/// <summary>
/// A ComfyUI fp8 checkpoint (the single-file <c>..._fp8_scaled</c> / <c>fp8mixed</c> kind) read as plain float
/// weights. Its quantized Linears store <c>X.weight</c> as float8_e4m3fn codes with one fp32 scale per tensor, W =
/// codes · scale: <c>X.scale_weight</c> in the older format (marked by a <c>scaled_fp8</c> key), <c>X.weight_scale</c>
/// in ComfyUI's quant_ops format (with <c>X.comfy_quant</c> and <c>X.input_scale</c>); other layers are stored in
/// bf16/fp16 (mixed precision). Each weight is widened when it is read, so loading holds one float layer at a time,
/// and a quantized model re-quantizes it as it loads (<see cref="Nn.ModuleLoader"/>) — except a qfloat8 model, which
/// takes the codes as they are (read in float8, <see cref="Float8Scale"/>) with the tensor's scale on every output
/// channel, so nothing is rounded twice. Scale, input-scale and marker
/// tensors are hidden. A scale on a weight that is not float8 (ComfyUI writes dummy ones) is ignored; a weight with
/// per-block scales (nvfp4, int8 block-wise) is refused.
/// </summary>
public sealed class ComfyFp8Source : ITensorSource, IFloat8WeightSource
{
    static readonly string[] ScaleSuffixes = [".scale_weight", ".weight_scale"];
    static readonly string[] HiddenSuffixes = [".scale_weight", ".weight_scale", ".scale_input", ".input_scale",
        ".comfy_quant", ".weight_scale_2", ".pre_quant_scale"];

    readonly ITensorSource inner;
    /// <summary>Weight key → its scale key, for float8 weights that have one.</summary>
    readonly Dictionary<string, string> scaleOf = new();
    readonly Dictionary<string, float> scales = new();

    public string Origin => inner.Origin;
    public IReadOnlyCollection<string> Keys { get; }

    /// <summary>Whether <paramref name="keys"/> are those of a scaled-fp8 ComfyUI checkpoint.</summary>
    public static bool IsScaledFp8(IEnumerable<string> keys)
        => keys.Any(k => k == "scaled_fp8" || ScaleSuffixes.Any(s => k.EndsWith(s, StringComparison.Ordinal)));

    /// <param name="inner">the checkpoint (taken over: disposed with this source).</param>
    /// <param name="float8Keys">keys of <paramref name="inner"/> stored as float8_e4m3fn.</param>
    public ComfyFp8Source(ITensorSource inner, IReadOnlySet<string> float8Keys)
    {
        this.inner = inner;
        foreach (var key in inner.Keys)
        {
            var suffix = ScaleSuffixes.FirstOrDefault(s => key.EndsWith(s, StringComparison.Ordinal));
            if (suffix is null) continue;
            var weight = key[..^suffix.Length] + ".weight";
            if (!float8Keys.Contains(weight)) continue; // a dummy scale on a high-precision layer
            var shape = inner.Shape(key);
            if (shape.Aggregate(1L, (a, b) => a * b) != 1)
                throw new SafetensorsException(inner.FileOf(key), key, $"has shape [{string.Join(", ", shape)}]: " +
                    "per-block scales (nvfp4, int8 block-wise) are not supported; use a float8 per-tensor " +
                    "(fp8_scaled / fp8mixed) or bf16 checkpoint");
            scaleOf[weight] = key;
        }
        Keys = inner.Keys
            .Where(k => k != "scaled_fp8" && !HiddenSuffixes.Any(s => k.EndsWith(s, StringComparison.Ordinal)))
            .ToHashSet();
    }

    public long[] Shape(string key) => inner.Shape(key);

    public string FileOf(string key) => inner.FileOf(key);

    /// <summary>A scaled float8 weight reads as codes · scale, or as its codes when asked for float8.</summary>
    public Tensor Read(string key, Device? device = null, ScalarType? dtype = null)
        => scaleOf.ContainsKey(key) && dtype != SafetensorsDType.Float8E4M3
            ? Widen(key, inner.Read(key, device, ScalarType.Float32), dtype)
            : inner.Read(key, device, dtype);

    public Tensor ReadRows(string key, long start, long count, Device? device = null, ScalarType? dtype = null)
        => scaleOf.ContainsKey(key) && dtype != SafetensorsDType.Float8E4M3
            ? Widen(key, inner.ReadRows(key, start, count, device, ScalarType.Float32), dtype)
            : inner.ReadRows(key, start, count, device, dtype);

    public float? Float8Scale(string key)
    {
        if (!scaleOf.TryGetValue(key, out var scaleKey)) return null;
        if (!scales.TryGetValue(key, out var scale))
        {
            using var s = inner.Read(scaleKey, dtype: ScalarType.Float32);
            scales[key] = scale = s.reshape(1)[0].item<float>();
        }
        return scale;
    }

    /// <summary>codes · scale in <paramref name="dtype"/> (fp32 when not given).</summary>
    Tensor Widen(string key, Tensor codes, ScalarType? dtype)
    {
        codes.mul_(Float8Scale(key)!.Value);
        if (dtype is not { } t || t == ScalarType.Float32) return codes;
        using (codes) return codes.to(t);
    }

    public void Dispose() => inner.Dispose();
}

/// <summary>A source whose float8_e4m3fn weights carry one scale per tensor (W = codes · scale): read with dtype
/// float8 they give their codes.</summary>
public interface IFloat8WeightSource
{
    /// <summary>The scale of <paramref name="key"/>'s float8 codes; null for any other tensor.</summary>
    float? Float8Scale(string key);
}
