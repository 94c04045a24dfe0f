using TorchSharp;
using static TorchSharp.torch;

namespace Flux2.IO;

/// <summary>
/// Presents a BFL-keyed FLUX.2 transformer checkpoint under diffusers names (<see cref="BflTransformerKeyMap"/>), so
/// the one diffusers-named model loads either layout. Fused qkv tensors are split on read (only the needed rows are
/// read), norm <c>scale</c> becomes <c>weight</c>, and the final adaLN halves are swapped. BFL keys the map does not
/// know keep their name, so strict loading lists them as unexpected instead of dropping them silently.
/// </summary>
public sealed class BflTransformerSource : ITensorSource, IFloat8WeightSource
{
    readonly ITensorSource bfl;
    readonly Dictionary<string, BflLocation> locations = new();
    readonly HashSet<string> passThrough = new();

    public string Origin => bfl.Origin;
    public IReadOnlyCollection<string> Keys { get; }

    /// <summary>Wraps (and takes ownership of) a source with BFL key names.</summary>
    public BflTransformerSource(ITensorSource bflKeyed)
    {
        bfl = bflKeyed;
        var keys = new HashSet<string>(); // a set: loaders call Keys.Contains once per parameter
        foreach (var bflKey in bfl.Keys.OrderBy(k => k, StringComparer.Ordinal))
        {
            var targets = BflTransformerKeyMap.ToDiffusers(bflKey);
            if (targets.Count == 0) { passThrough.Add(bflKey); keys.Add(bflKey); continue; }
            CheckSplittable(bflKey, targets[0].Location);
            foreach (var (name, location) in targets)
            {
                if (!locations.TryAdd(name, location))
                    throw new SafetensorsException(bfl.FileOf(bflKey), bflKey,
                        $"maps to '{name}', which '{locations[name].Key}' also maps to");
                keys.Add(name);
            }
        }
        Keys = keys;
    }

    public static BflTransformerSource Open(string path) => new(WeightFiles.Open(path));

    public long[] Shape(string key)
    {
        if (passThrough.Contains(key)) return bfl.Shape(key);
        var at = Location(key);
        var shape = (long[])bfl.Shape(at.Key).Clone();
        shape[0] /= at.Chunks;
        return shape;
    }

    public string FileOf(string key) =>
        passThrough.Contains(key) ? bfl.FileOf(key) : locations.TryGetValue(key, out var at) ? bfl.FileOf(at.Key)
            : Origin;

    public Tensor Read(string key, Device? device = null, ScalarType? dtype = null)
    {
        if (passThrough.Contains(key)) return bfl.Read(key, device, dtype);
        var at = Location(key);
        long rows = bfl.Shape(at.Key)[0];
        if (at.Chunks > 1)
        {
            long part = rows / at.Chunks;
            return bfl.ReadRows(at.Key, at.Chunk * part, part, device, dtype);
        }
        if (!at.SwapHalves) return bfl.Read(at.Key, device, dtype);
        long half = rows / 2;
        using var second = bfl.ReadRows(at.Key, half, half, device, dtype);
        using var first = bfl.ReadRows(at.Key, 0, half, device, dtype);
        return cat(new[] { second, first }, 0);
    }

    public float? Float8Scale(string key) => bfl is not IFloat8WeightSource f8 ? null
        : f8.Float8Scale(passThrough.Contains(key) ? key : Location(key).Key);

    public void Dispose() => bfl.Dispose();

    BflLocation Location(string key) =>
        locations.TryGetValue(key, out var at) ? at : throw new SafetensorsException(Origin, key, "no such tensor");

    void CheckSplittable(string bflKey, BflLocation at)
    {
        int parts = at.SwapHalves ? 2 : at.Chunks;
        if (parts == 1) return;
        var shape = bfl.Shape(bflKey);
        if (shape.Length == 0 || shape[0] % parts != 0)
            throw new SafetensorsException(bfl.FileOf(bflKey), bflKey,
                $"shape [{string.Join(", ", shape)}] cannot be split into {parts} equal row blocks as this tensor's " +
                $"layout requires");
    }
}
