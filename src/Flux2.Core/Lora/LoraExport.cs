using Flux2.IO;
using static TorchSharp.torch;

namespace Flux2.Lora;

/// <summary>
/// Writes LoRA updates in the ai-toolkit/ComfyUI layout (<c>diffusion_model.&lt;bfl module&gt;.lora_A/B.weight</c>), which
/// has no alpha: scale is baked into B. Our separate q/k/v updates become one fused qkv update exactly:
/// A = concat(A_q, A_k, A_v) (rank r_q+r_k+r_v), B = block-diagonal(B_q, B_k, B_v) (design.md "LoRA files").
/// </summary>
public static class LoraExport
{
    public static Dictionary<string, Tensor> ToComfyUi(IEnumerable<LoraUpdate> updates)
    {
        var result = new Dictionary<string, Tensor>();
        var byBfl = updates.Select(u => (u, loc: BflTransformerKeyMap.ToBfl(u.Module + ".weight")
                                             ?? throw new InvalidDataException($"'{u.Module}' has no BFL/ComfyUI name")))
                           .GroupBy(x => x.loc.Key);
        foreach (var group in byBfl)
        {
            var parts = group.OrderBy(x => x.loc.Chunk).ToList();
            int chunks = parts[0].loc.Chunks;
            long rowsPerChunk = parts[0].u.Up.shape[0];
            long rank = parts.Sum(p => p.u.Down.shape[0]);
            var up = zeros(new[] { rowsPerChunk * chunks, rank });
            long col = 0;
            foreach (var (u, loc) in parts)
            {
                var b = u.Up.to(ScalarType.Float32) * u.Scale;
                if (loc.SwapHalves) { var h = b.chunk(2, 0); b = cat(new[] { h[1], h[0] }, 0); }
                up.narrow(0, loc.Chunk * rowsPerChunk, rowsPerChunk).narrow(1, col, u.Down.shape[0]).copy_(b);
                col += u.Down.shape[0];
            }
            var module = "diffusion_model." + group.Key[..^".weight".Length];
            result[module + ".lora_A.weight"] = cat(parts.Select(p => p.u.Down.to(ScalarType.Float32)).ToArray(), 0);
            result[module + ".lora_B.weight"] = up;
        }
        return result;
    }

    public static void WriteComfyUi(string path, IEnumerable<LoraUpdate> updates, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var tensors = ToComfyUi(updates);
        try { SafetensorsWriter.Write(path, tensors, metadata); }
        finally { foreach (var t in tensors.Values) t.Dispose(); }
    }
}
