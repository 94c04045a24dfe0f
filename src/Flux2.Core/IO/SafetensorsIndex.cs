using System.Text.Json;

namespace Flux2.IO;

/// <summary>
/// A sharded checkpoint's <c>*.safetensors.index.json</c> (<c>{"metadata": {...}, "weight_map": {key: shard}}</c>;
/// FLUX.2-dev's transformer/ and text_encoder/ are sharded, docs/flux2-model.md §4.4). The index and the shards must
/// agree exactly: a key the index routes to the wrong shard, or a shard tensor the index does not list, usually means
/// shards from two different downloads were mixed, so every disagreement is reported instead of loading half a model.
/// </summary>
public static class SafetensorsIndex
{
    /// <summary>Parses the index: key -> shard path (resolved next to the index file), in file order.</summary>
    public static IReadOnlyDictionary<string, string> ReadWeightMap(string indexPath)
    {
        if (!File.Exists(indexPath)) throw new SafetensorsException(indexPath, null, "index file not found");
        JsonDocument doc;
        try { doc = JsonDocument.Parse(File.ReadAllBytes(indexPath)); }
        catch (JsonException e)
        {
            throw new SafetensorsException(indexPath, null,
            $"index is not valid JSON ({e.Message})");
        }
        using var _ = doc;
        if (doc.RootElement.ValueKind != JsonValueKind.Object || !doc.RootElement.TryGetProperty("weight_map",
            out var map)
            || map.ValueKind != JsonValueKind.Object)
            throw new SafetensorsException(indexPath, null, "index must be a JSON object with a \"weight_map\" object");

        var folder = Path.GetDirectoryName(Path.GetFullPath(indexPath))!;
        var result = new Dictionary<string, string>();
        foreach (var entry in map.EnumerateObject())
        {
            if (entry.Value.ValueKind != JsonValueKind.String)
                throw new SafetensorsException(indexPath, entry.Name,
                    $"weight_map value must be a shard file name, found {entry.Value.GetRawText()}");
            var shard = entry.Value.GetString()!;
            // Shards live beside the index; a name that climbs out of the folder is refused rather than followed.
            var full = Path.GetFullPath(Path.Combine(folder, shard));
            if (Path.IsPathRooted(shard) || !full.StartsWith(folder + Path.DirectorySeparatorChar,
                StringComparison.Ordinal))
                throw new SafetensorsException(indexPath, entry.Name,
                    $"shard '{shard}' is not a file inside the index's folder");
            if (!result.TryAdd(entry.Name, full)) throw new SafetensorsException(indexPath, entry.Name,
                "key listed twice in weight_map");
        }
        if (result.Count == 0) throw new SafetensorsException(indexPath, null, "weight_map is empty");
        return result;
    }

    /// <summary>Opens every shard and checks: each shard exists, each weight_map key is in its named shard, and each
    /// shard tensor is listed in weight_map. All problems are reported together.</summary>
    public static SafetensorsSource Open(string indexPath)
    {
        var map = ReadWeightMap(indexPath);
        var shards = map.Values.Distinct().ToList();
        var absent = shards.Where(s => !File.Exists(s)).ToList();
        if (absent.Count > 0)
            throw new SafetensorsException(indexPath, null, "shard files named in weight_map are missing: "
                + string.Join(", ",
                    absent.Select(s => $"{Path.GetFileName(s)} ({map.Count(kv => kv.Value == s)} keys)")));

        var source = new SafetensorsSource(indexPath, shards);
        try
        {
            var problems = new List<string>();
            foreach (var (key, shard) in map)
            {
                if (source.Keys.Contains(key) && source.FileOf(key) == shard) continue;
                problems.Add(source.Keys.Contains(key)
                    ? $"'{key}' is mapped to {Path.GetFileName(shard)} but is stored in " +
                        $"{Path.GetFileName(source.FileOf(key))}"
                    : $"'{key}' is mapped to {Path.GetFileName(shard)} but no shard contains it");
            }
            foreach (var key in source.Keys.Where(k => !map.ContainsKey(k)).OrderBy(k => k))
                problems.Add(
                    $"'{key}' is stored in {Path.GetFileName(source.FileOf(key))} but missing from weight_map");
            if (problems.Count > 0)
                throw new SafetensorsException(indexPath, null, "index and shards disagree (mixed downloads?):"
                    + Environment.NewLine + string.Join(Environment.NewLine, problems.Take(50).Select(p => "  " + p))
                    + (problems.Count > 50 ? $"{Environment.NewLine}  ... and {problems.Count - 50} more" : ""));
            return source;
        }
        catch { source.Dispose(); throw; }
    }
}
