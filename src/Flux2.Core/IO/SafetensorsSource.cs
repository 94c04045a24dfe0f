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

    public IReadOnlyDictionary<string, string> MetadataOf(string key) => byKey[key].Metadata;
    public long[] Shape(string key) => byKey[key].Entries[key].Shape;
    public string FileOf(string key) => byKey.TryGetValue(key, out var f) ? f.Path : Origin;
    public Tensor Read(string key, Device? device = null, ScalarType? dtype = null) => byKey[key].Read(key, device, dtype);
    public void Dispose() { foreach (var f in files) f.Dispose(); }
}
