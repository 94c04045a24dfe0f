using Flux2.IO;
using static TorchSharp.torch;

namespace Flux2.Lora;

/// <summary>The two LoRA file layouts in use for FLUX.2 (docs/flux2-model.md §7.2-7.3).</summary>
public enum LoraLayout
{
    /// <summary>ai-toolkit/ComfyUI/BFL: <c>diffusion_model.double_blocks.N.img_attn.qkv.lora_A.weight</c>, no
    /// alpha.</summary>
    [YamlAlias("ai_toolkit", "aitoolkit", "bfl")] Comfyui,
    /// <summary>diffusers/peft: <c>transformer.transformer_blocks.N.attn.to_q.lora_A.weight</c>, alpha/r baked into B,
    /// alpha = r in metadata.</summary>
    [YamlAlias("peft")] Diffusers,
}

/// <summary>
/// Writes LoRA updates in either layout. ComfyUI has no alpha, so scale is baked into B; our separate q/k/v updates
/// become one fused qkv update exactly: A = concat(A_q, A_k, A_v) (rank r_q+r_k+r_v), B = block-diagonal(B_q, B_k, B_v)
/// — or, when the parts already share one A (a file read from a non-block-diagonal qkv LoRA), A once and B stacked,
/// so converting back and forth never grows the rank. Diffusers keeps A and the rank, bakes each module's scale into
/// B and writes alpha = r in <see cref="PeftAdapterMetadata"/>: ComfyUI reads no header, and takes alpha/r only from a
/// <c>&lt;module&gt;.alpha</c> tensor next to lora_A/lora_B (else scale 1), while diffusers' loader refuses a file
/// with a key that is not a LoRA weight, so scale 1 in the weights is what both apply alike.
/// </summary>
public static class LoraExport
{
    public static Dictionary<string, Tensor> ToComfyUi(IEnumerable<LoraUpdate> updates)
    {
        using var scope = NewDisposeScope();
        var result = new Dictionary<string, Tensor>();
        var byBfl = updates.Select(u => (u, loc: BflTransformerKeyMap.ToBfl(u.Module + ".weight")
                                             ?? throw new InvalidDataException(
                                                 $"'{u.Module}' has no BFL/ComfyUI name")))
                           .GroupBy(x => x.loc.Key);
        foreach (var group in byBfl)
        {
            var parts = group.OrderBy(x => x.loc.Chunk).ToList();
            int chunks = parts[0].loc.Chunks;
            long rowsPerChunk = parts[0].u.Up.shape[0];
            bool sharedDown = parts.Count > 1 && parts.All(p => SameValues(p.u.Down, parts[0].u.Down));
            long rank = sharedDown ? parts[0].u.Down.shape[0] : parts.Sum(p => p.u.Down.shape[0]);
            var up = zeros(new[] { rowsPerChunk * chunks, rank });
            long col = 0;
            foreach (var (u, loc) in parts)
            {
                var b = u.Up.to(ScalarType.Float32) * u.Scale;
                if (loc.SwapHalves) { var h = b.chunk(2, 0); b = cat(new[] { h[1], h[0] }, 0); }
                long width = u.Down.shape[0];
                up.narrow(0, loc.Chunk * rowsPerChunk, rowsPerChunk).narrow(1, sharedDown ? 0 : col, width).copy_(b);
                col += width;
            }
            var module = "diffusion_model." + group.Key[..^".weight".Length];
            result[module + ".lora_A.weight"] = sharedDown ? parts[0].u.Down.to(ScalarType.Float32).clone()
                                                           : cat(parts.Select(p => p.u.Down.to(ScalarType.Float32))
                                                               .ToArray(), 0);
            result[module + ".lora_B.weight"] = up;
        }
        foreach (var t in result.Values) t.MoveToOuterDisposeScope();
        return result;
    }

    static bool SameValues(Tensor a, Tensor b)
    {
        if (!a.shape.SequenceEqual(b.shape)) return false;
        using var same = a.eq(b).all();
        return same.item<bool>();
    }

    /// <summary>diffusers/peft tensors: <c>transformer.&lt;module&gt;.lora_A/lora_B.weight</c>, the scale multiplied
    /// into B (the header says scale 1: <see cref="Unscaled"/>).</summary>
    public static Dictionary<string, Tensor> ToDiffusers(IEnumerable<LoraUpdate> updates)
    {
        using var scope = NewDisposeScope();
        var result = new Dictionary<string, Tensor>();
        foreach (var u in updates)
        {
            if (!result.TryAdd($"transformer.{u.Module}.lora_A.weight", u.Down.to(ScalarType.Float32).clone()))
                throw new InvalidDataException($"two LoRA updates for '{u.Module}'");
            result[$"transformer.{u.Module}.lora_B.weight"] = u.Up.to(ScalarType.Float32) * u.Scale;
        }
        foreach (var t in result.Values) t.MoveToOuterDisposeScope();
        return result;
    }

    /// <summary>The updates as <see cref="ToDiffusers"/> stores them, for the header: every scale 1 (alpha = r per
    /// module).</summary>
    static IReadOnlyList<LoraUpdate> Unscaled(IEnumerable<LoraUpdate> updates)
        => updates.Select(u => u with { Scale = 1.0 }).ToList();

    /// <summary>Tensors and the header entries the layout itself needs (peft config for diffusers, none for
    /// ComfyUI).</summary>
    public static (Dictionary<string, Tensor> Tensors, Dictionary<string, string> Metadata)
        Export(IReadOnlyList<LoraUpdate> updates, LoraLayout layout)
        => layout switch
        {
            LoraLayout.Diffusers => (ToDiffusers(updates), new()
            {
                [PeftAdapterMetadata.Key] = PeftAdapterMetadata.Build(Unscaled(updates)),
                ["format"] = "pt"
            }),
            _ => (ToComfyUi(updates), new()),
        };

    /// <summary>Writes <paramref name="updates"/> in <paramref name="layout"/> with <paramref name="metadata"/> copied
    /// (a stale peft config from another file is dropped: the layout's own entries win).</summary>
    public static void Write(string path, IEnumerable<LoraUpdate> updates, LoraLayout layout,
        IReadOnlyDictionary<string, string>? metadata = null)
    {
        var (tensors, own) = Export(updates.ToList(), layout);
        var header = (metadata ?? new Dictionary<string, string>()).Where(kv => kv.Key != PeftAdapterMetadata.Key)
            .ToDictionary(kv => kv.Key, kv => kv.Value);
        foreach (var (k, v) in own) header[k] = v;
        try { SafetensorsWriter.Write(path, tensors.OrderBy(kv => kv.Key, StringComparer.Ordinal), header); }
        finally { foreach (var t in tensors.Values) t.Dispose(); }
    }

    public static void WriteComfyUi(string path, IEnumerable<LoraUpdate> updates,
        IReadOnlyDictionary<string, string>? metadata = null)
        => Write(path, updates, LoraLayout.Comfyui, metadata);

    public static void WriteDiffusers(string path, IEnumerable<LoraUpdate> updates,
        IReadOnlyDictionary<string, string>? metadata = null)
        => Write(path, updates, LoraLayout.Diffusers, metadata);
}
