using Flux2.IO;
using Flux2.Native;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace Flux2.Tests.IO;

public class SafetensorsIndexTests
{
    readonly string dir = TestPaths.TempDir();
    const string IndexName = "model.safetensors.index.json";

    public SafetensorsIndexTests() => TorchRuntime.EnsureLoaded();

    /// <summary>Two shards: a, b in shard 1; c in shard 2.</summary>
    void WriteShards()
    {
        using var a = full(new long[] { 2 }, 1f); using var b = full(new long[] { 3 }, 2f); using var c =
            full(new long[] { 4 }, 3f);
        SafetensorsWriter.Write(Path.Combine(dir, "model-00001-of-00002.safetensors"),
                                new Dictionary<string, Tensor> { ["a"] = a, ["b"] = b });
        SafetensorsWriter.Write(Path.Combine(dir, "model-00002-of-00002.safetensors"),
                                new Dictionary<string, Tensor> { ["c"] = c });
    }

    string WriteIndex(string weightMapJson)
    {
        var path = Path.Combine(dir, IndexName);
        File.WriteAllText(path, $$"""{"metadata":{"total_size":36},"weight_map":{{weightMapJson}}}""");
        return path;
    }

    const string GoodMap = """
        {"a":"model-00001-of-00002.safetensors","b":"model-00001-of-00002.safetensors",
         "c":"model-00002-of-00002.safetensors"}
        """;

    [Fact]
    public void ConsistentIndexOpensAllShards()
    {
        WriteShards();
        using var source = SafetensorsSource.OpenIndex(WriteIndex(GoodMap));
        Assert.Equal(new[] { "a", "b", "c" }, source.Keys.Order());
        Assert.EndsWith("model-00002-of-00002.safetensors", source.FileOf("c"));
        using var c = source.Read("c");
        Assert.Equal(3f, c[3].item<float>());
    }

    [Fact]
    public void MissingShardFileIsNamed()
    {
        WriteShards();
        File.Delete(Path.Combine(dir, "model-00002-of-00002.safetensors"));
        var index = WriteIndex(GoodMap);
        var e = Assert.Throws<SafetensorsException>(() => SafetensorsSource.OpenIndex(index));
        Assert.Equal(index, e.File);
        Assert.Contains("missing: model-00002-of-00002.safetensors (1 keys)", e.Message);
    }

    [Fact]
    public void KeyMappedToTheWrongShardOrToNoShard()
    {
        WriteShards();
        var index = WriteIndex("""
            {"a":"model-00002-of-00002.safetensors","b":"model-00001-of-00002.safetensors",
             "c":"model-00002-of-00002.safetensors","ghost":"model-00001-of-00002.safetensors"}
            """);
        var e = Assert.Throws<SafetensorsException>(() => SafetensorsSource.OpenIndex(index));
        Assert.Contains("'a' is mapped to model-00002-of-00002.safetensors but is stored in " +
            "model-00001-of-00002.safetensors", e.Message);
        Assert.Contains("'ghost' is mapped to model-00001-of-00002.safetensors but no shard contains it", e.Message);
    }

    [Fact]
    public void ShardTensorMissingFromWeightMap()
    {
        WriteShards();
        var index = WriteIndex("""{"a":"model-00001-of-00002.safetensors","c":"model-00002-of-00002.safetensors"}""");
        var e = Assert.Throws<SafetensorsException>(() => SafetensorsSource.OpenIndex(index));
        Assert.Contains("'b' is stored in model-00001-of-00002.safetensors but missing from weight_map", e.Message);
    }

    [Fact]
    public void MalformedIndexFiles()
    {
        WriteShards();
        var path = Path.Combine(dir, IndexName);
        File.WriteAllText(path, """{"weight_map": {"a": """);
        Assert.Contains("not valid JSON", Assert.Throws<SafetensorsException>(() => SafetensorsSource.OpenIndex(path))
            .Message);
        File.WriteAllText(path, """{"metadata": {}}""");
        Assert.Contains("\"weight_map\" object", Assert.Throws<SafetensorsException>(() =>
            SafetensorsSource.OpenIndex(path)).Message);
        var nonString = WriteIndex("""{"a": 1}""");
        var e = Assert.Throws<SafetensorsException>(() => SafetensorsSource.OpenIndex(nonString));
        Assert.Equal("a", e.Tensor);
        var escaping = WriteIndex("""{"a": "../elsewhere.safetensors"}""");
        Assert.Contains("not a file inside the index's folder", Assert.Throws<SafetensorsException>(() =>
            SafetensorsSource.OpenIndex(escaping)).Message);
    }
}
