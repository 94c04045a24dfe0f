using TorchSharp;
using static TorchSharp.torch;

namespace Flux2.IO;

/// <summary>Builds BFL-keyed transformer tensors from diffusers-named ones (the inverse of
/// <see cref="BflTransformerSource"/>): q, k, v are concatenated back into qkv in chunk order, norm <c>weight</c>
/// becomes <c>scale</c>, the final adaLN halves are swapped back.</summary>
public static class BflTransformerConverter
{
    /// <summary>Returns new tensors (owned by the caller) in BFL naming. Every input name must have a BFL
    /// counterpart and every fused tensor must get all of its parts.</summary>
    public static List<KeyValuePair<string, Tensor>> ToBfl(IEnumerable<KeyValuePair<string, Tensor>> diffusers)
    {
        var groups = new Dictionary<string, List<(BflLocation at, Tensor t, string name)>>();
        var unknown = new List<string>();
        foreach (var (name, t) in diffusers)
        {
            if (BflTransformerKeyMap.ToBfl(name) is not { } at) { unknown.Add(name); continue; }
            if (!groups.TryGetValue(at.Key, out var list)) groups[at.Key] = list = new();
            list.Add((at, t, name));
        }
        if (unknown.Count > 0)
            throw new ArgumentException($"no BFL name for {unknown.Count} diffusers keys: " +
                $"{string.Join(", ", unknown.Take(20))}");

        var result = new List<KeyValuePair<string, Tensor>>();
        foreach (var (bflKey, parts) in groups.OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            var ordered = parts.OrderBy(p => p.at.Chunk).ToList();
            int expected = ordered[0].at.Chunks;
            if (ordered.Count != expected || ordered.Select(p => p.at.Chunk).Distinct().Count() != expected)
                throw new ArgumentException($"BFL '{bflKey}' fuses {expected} tensors but got " +
                    $"{string.Join(", ", ordered.Select(p => p.name))}");
            Tensor fused = expected == 1 ? ordered[0].t.clone() : cat(ordered.Select(p => p.t).ToArray(), 0);
            if (ordered[0].at.SwapHalves)
            {
                var halves = fused.chunk(2, 0);
                var swapped = cat(new[] { halves[1], halves[0] }, 0);
                foreach (var h in halves) h.Dispose();
                fused.Dispose();
                fused = swapped;
            }
            result.Add(new(bflKey, fused));
        }
        return result;
    }
}
