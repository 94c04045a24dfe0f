using TorchSharp;
using static TorchSharp.torch;

namespace Flux2.IO;

/// <summary>An <see cref="ITensorSource"/> over one or more safetensors files (a single file, or the shards named by a
/// <c>*.safetensors.index.json</c>).</summary>
public sealed class SafetensorsSource : ITensorSource
{
    readonly List<SafetensorsFile> files;
    readonly Dictionary<string, SafetensorsFile> byKey = new();
    public string Origin { get; }
    public IReadOnlyCollection<string> Keys => byKey.Keys;
    public IReadOnlyList<SafetensorsFile> Files => files;

    public SafetensorsSource(string origin, IEnumerable<string> paths)
    {
        Origin = origin;
        files = new List<SafetensorsFile>();
        try
        {
            foreach (var p in paths)
            {
                var f = SafetensorsFile.Open(p);
                files.Add(f);
                foreach (var k in f.Keys)
                    if (!byKey.TryAdd(k, f))
                        throw new SafetensorsException(p, k, $"tensor also present in {byKey[k].Path}");
            }
        }
        catch { Dispose(); throw; }
    }

    public static SafetensorsSource OpenFile(string path) => new(path, new[] { path });

    /// <summary>Opens the shards named by a <c>*.safetensors.index.json</c>, checking that the index and the shards
    /// agree exactly (see <see cref="SafetensorsIndex"/>).</summary>
    public static SafetensorsSource OpenIndex(string indexPath) => SafetensorsIndex.Open(indexPath);

    public IReadOnlyDictionary<string, string> MetadataOf(string key) => File(key).Metadata;
    public string DTypeOf(string key) => File(key).Entries[key].DType;
    public long[] Shape(string key) => File(key).Entries[key].Shape;
    public string FileOf(string key) => byKey.TryGetValue(key, out var f) ? f.Path : Origin;
    public Tensor Read(string key, Device? device = null, ScalarType? dtype = null) =>
        File(key).Read(key, device, dtype);
    public Tensor ReadRows(string key, long start, long count, Device? device = null, ScalarType? dtype = null)
        => File(key).ReadRows(key, start, count, device, dtype);
    public void Dispose() { foreach (var f in files) f.Dispose(); }

    SafetensorsFile File(string key) =>
        byKey.TryGetValue(key, out var f) ? f : throw new SafetensorsException(Origin, key, "no such tensor");
}
