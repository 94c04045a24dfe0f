namespace Flux2.IO;

public enum TransformerLayout { Diffusers, Bfl }

/// <summary>
/// Opens a FLUX.2 transformer checkpoint in whichever layout it comes (docs/flux2-model.md §4.4): a diffusers folder
/// or file (<c>transformer_blocks.N...</c>) or a BFL single file (<c>double_blocks.N...</c>, e.g.
/// flux2-dev.safetensors), and always exposes diffusers names. All-in-one files (ComfyUI style) keep the transformer
/// under
/// <c>model.diffusion_model.</c> or <c>diffusion_model.</c>; that prefix is removed and keys outside it (VAE, text
/// encoder) are left out, since they belong to other components. A ComfyUI scaled-fp8 file is read through
/// <see cref="ComfyFp8Source"/> (float8 weights times their per-tensor scale, widened one tensor at a time).
/// </summary>
public static class TransformerCheckpoint
{
    public static readonly string[] Prefixes = ["model.diffusion_model.", "diffusion_model."];

    public static ITensorSource Open(string path)
    {
        ITensorSource source = WeightFiles.Open(path);
        try
        {
            var float8 = source is SafetensorsSource st
                ? st.Keys.Where(k => st.DTypeOf(k) == "F8_E4M3").ToHashSet() : new HashSet<string>();
            if (Prefixes.FirstOrDefault(p => source.Keys.Any(k => k.StartsWith(p, StringComparison.Ordinal))) is { }
                prefix)
            {
                source = RenamedSource.StripPrefix(source, prefix);
                float8 = float8.Where(k => k.StartsWith(prefix, StringComparison.Ordinal))
                    .Select(k => k[prefix.Length..]).ToHashSet();
            }
            if (ComfyFp8Source.IsScaledFp8(source.Keys)) source = new ComfyFp8Source(source, float8);
            return DetectLayout(source.Origin, source.Keys) == TransformerLayout.Bfl ? new BflTransformerSource(source)
                : source;
        }
        catch { source.Dispose(); throw; }
    }

    public static TransformerLayout DetectLayout(string origin, IEnumerable<string> keys)
    {
        var list = keys.ToList();
        if (list.Any(k => k.StartsWith("double_blocks.", StringComparison.Ordinal))) return TransformerLayout.Bfl;
        if (list.Any(k => k.StartsWith("transformer_blocks.", StringComparison.Ordinal)))
            return TransformerLayout.Diffusers;
        throw new InvalidDataException(
            $"{origin}: not a FLUX.2 transformer checkpoint: expected keys starting with 'double_blocks.' (BFL) or "
            + $"'transformer_blocks.' (diffusers), found e.g. " +
                $"{string.Join(", ", list.Order(StringComparer.Ordinal).Take(5))}");
    }
}
