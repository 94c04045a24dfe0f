using TorchSharp;
using static TorchSharp.torch;

namespace Flux2.IO;

/// <summary>A view of another source under new names (e.g. with a checkpoint's <c>model.diffusion_model.</c> prefix
/// removed). Keys absent from the rename table are hidden. Disposes the inner source when it owns it.</summary>
public sealed class RenamedSource(ITensorSource inner, IReadOnlyDictionary<string, string> newToOld, string origin,
    bool ownsInner = true) : ITensorSource
{
    public string Origin { get; } = origin;
    public IReadOnlyCollection<string> Keys { get; } = newToOld.Keys.ToHashSet();
    public long[] Shape(string key) => inner.Shape(Old(key));
    public string FileOf(string key) => newToOld.TryGetValue(key, out var old) ? inner.FileOf(old) : Origin;
    public Tensor Read(string key, Device? device = null, ScalarType? dtype = null) =>
        inner.Read(Old(key), device, dtype);
    public Tensor ReadRows(string key, long start, long count, Device? device = null, ScalarType? dtype = null)
        => inner.ReadRows(Old(key), start, count, device, dtype);
    public void Dispose() { if (ownsInner) inner.Dispose(); }

    /// <summary>Keeps the keys that start with <paramref name="prefix"/>, without it; <paramref name="keep"/> further
    /// filters by the stripped name (e.g. only the text-encoder layers that were built).</summary>
    public static RenamedSource StripPrefix(ITensorSource inner, string prefix, Func<string, bool>? keep = null,
        bool ownsInner = true) =>
        new(inner, inner.Keys.Where(k => k.StartsWith(prefix, StringComparison.Ordinal))
                             .Where(k => keep == null || keep(k[prefix.Length..]))
                             .ToDictionary(k => k[prefix.Length..]),
            prefix.Length == 0 ? inner.Origin : $"{inner.Origin} (keys under '{prefix}')", ownsInner);

    string Old(string key) =>
        newToOld.TryGetValue(key, out var old) ? old : throw new SafetensorsException(Origin, key, "no such tensor");
}
