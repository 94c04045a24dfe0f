using Flux2.IO;
using Flux2.Models.Transformer;
using Xunit;

namespace Flux2.Tests.IO;

/// <summary>The shared config.json reader: defaults, typed errors naming file and key, parse errors naming the
/// file.</summary>
public class ConfigJsonTests
{
    [Fact]
    public void AbsentAndNullKeysGiveTheDefault()
    {
        var c = ConfigJson.Parse("""{"a": null, "n": 3, /* comment */ "xs": [1, 2],}""", "f.json");
        Assert.Equal(7, c.Int("a", 7));
        Assert.Equal(7, c.Int("missing", 7));
        Assert.Null(c.NullableInt("a"));
        Assert.Equal(3, c.NullableInt("n"));
        Assert.Equal(3.0, c.Double("n", 0));
        Assert.Equal(new[] { 1, 2 }, c.Ints("xs", null));
        Assert.Null(c.Strings("a", null));
        Assert.Null(c.Object("a"));
        Assert.True(c.Has("a"));
        Assert.False(c.Has("missing"));
    }

    [Fact]
    public void WrongTypeNamesFileKeyAndValue()
    {
        var c = ConfigJson.Parse("""{"n": "3", "o": {"flag": 1}}""", "dir/config.json");
        var e = Assert.Throws<ConfigException>(() => c.Int("n", 0));
        Assert.Equal(("dir/config.json", "n"), (e.File, e.Key));
        Assert.Equal("dir/config.json: key 'n': must be an integer, found \"3\"", e.Message);
        var nested = Assert.Throws<ConfigException>(() => c.Object("o")!.Bool("flag", false));
        Assert.Equal("o.flag", nested.Key);
        Assert.Throws<ConfigException>(() => c.String("o", ""));
    }

    [Fact]
    public void InvalidJsonAndNonObjectsNameTheFile()
    {
        var e = Assert.Throws<ConfigException>(() => ConfigJson.Parse("{\"a\": ", "broken/config.json"));
        Assert.StartsWith("broken/config.json: not valid JSON", e.Message);
        Assert.Null(e.Key);
        Assert.StartsWith("list.json: the top level must be a JSON object",
            Assert.Throws<ConfigException>(() => ConfigJson.Parse("[1]", "list.json")).Message);
        Assert.Throws<FileNotFoundException>(() => ConfigJson.Load(Path.Combine(TestPaths.TempDir(), "nope.json")));
    }

    [Fact]
    public void TransformerConfigFileWithBadJsonNamesTheFile()
    {
        var f = Path.Combine(TestPaths.TempDir(), "config.json");
        File.WriteAllText(f, "{ not json");
        Assert.Contains(f, Assert.Throws<ConfigException>(() => TransformerConfig.FromJson(f)).Message);
        File.WriteAllText(f, """{"num_layers": 2.5}""");
        Assert.Equal("num_layers", Assert.Throws<ConfigException>(() => TransformerConfig.FromJson(f)).Key);
    }
}
