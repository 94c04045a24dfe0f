using static TorchSharp.torch;

namespace Flux2.IO;

/// <summary>
/// A view of another <see cref="ITensorSource"/> that exposes only the keys starting with <see cref="Prefix"/>,
/// renamed without it, and optionally only those a filter keeps (e.g. the text encoder loads
/// <c>language_model.model.*</c> as <c>*</c> and leaves the vision tower, the projector and unbuilt layers out on
/// purpose, so the strict <see cref="ModuleLoader"/> still checks everything the module has).
/// </summary>
public sealed class PrefixTensorSource : ITensorSource
{
    readonly ITensorSource inner;
    readonly bool ownsInner;
    readonly HashSet<string> keys;
    public string Prefix { get; }
    public string Origin => Prefix.Length == 0 ? inner.Origin : $"{inner.Origin} ({Prefix}*)";
    public IReadOnlyCollection<string> Keys => keys;

    public PrefixTensorSource(ITensorSource inner, string prefix, Func<string, bool>? keep = null, bool ownsInner = false)
    {
        this.inner = inner;
        this.ownsInner = ownsInner;
        Prefix = prefix;
        keys = inner.Keys.Where(k => k.StartsWith(prefix, StringComparison.Ordinal))
                         .Select(k => k[prefix.Length..])
                         .Where(k => keep is null || keep(k))
                         .ToHashSet();
    }

    public long[] Shape(string key) => inner.Shape(Full(key));
    public string FileOf(string key) => inner.FileOf(Prefix + key);
    public Tensor Read(string key, Device? device = null, ScalarType? dtype = null) => inner.Read(Full(key), device, dtype);
    public void Dispose() { if (ownsInner) inner.Dispose(); }

    string Full(string key) => keys.Contains(key) ? Prefix + key
        : throw new KeyNotFoundException($"{Origin}: no tensor '{key}'");
}
