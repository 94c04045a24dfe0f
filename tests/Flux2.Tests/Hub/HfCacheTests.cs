using Flux2.IO.Hub;
using Xunit;

namespace Flux2.Tests.Hub;

public class HfCacheTests
{
    static HubEnvironment Env(string home, params (string Key, string Value)[] vars) =>
        HubEnvironment.With(vars.ToDictionary(v => v.Key, v => v.Value), home, home);

    [Fact]
    public void RootFollowsHfHubCacheThenHfHomeThenHomeCache()
    {
        var home = TestPaths.TempDir();
        Assert.Equal(Path.Combine(home, ".cache", "huggingface", "hub"), HfCache.DefaultRoot(Env(home)));
        Assert.Equal(Path.Combine(home, "x", "huggingface", "hub"), HfCache.DefaultRoot(Env(home,
            ("XDG_CACHE_HOME", Path.Combine(home, "x")))));
        Assert.Equal("/data/hf/hub", HfCache.DefaultRoot(Env(home, ("HF_HOME", "/data/hf"))));
        Assert.Equal(Path.Combine(home, "hf", "hub"), HfCache.DefaultRoot(Env(home, ("HF_HOME", "~/hf"))));
        Assert.Equal("/fast/cache", HfCache.DefaultRoot(Env(home, ("HF_HOME", "/data/hf"),
            ("HF_HUB_CACHE", "/fast/cache"))));
    }

    [Fact]
    public void RepoFolderUsesDoubleDashNaming()
    {
        var cache = new HfCache("/c");
        Assert.Equal("/c/models--black-forest-labs--FLUX.2-dev", cache.RepoFolder("black-forest-labs/FLUX.2-dev"));
    }

    [Fact]
    public void ResolvesBranchThroughRefsAndCommitDirectly()
    {
        var cache = new HfCache(TestPaths.TempDir());
        const string repo = "acme/model", commit = "0123456789abcdef0123456789abcdef01234567";
        Directory.CreateDirectory(cache.SnapshotFolder(repo, commit));
        cache.WriteRef(repo, "main", commit);

        Assert.Equal(cache.SnapshotFolder(repo, commit), cache.ResolveSnapshot(repo));
        Assert.Equal(cache.SnapshotFolder(repo, commit), cache.ResolveSnapshot(repo, commit));
        Assert.Null(cache.TryResolveSnapshot(repo, "v2"));
    }

    [Fact]
    public void MissingRepoErrorSaysHowToDownloadIt()
    {
        var cache = new HfCache(TestPaths.TempDir());

        var main = Assert.Throws<HubCacheMissException>(() => cache.ResolveSnapshot("acme/model"));
        var tagged = Assert.Throws<HubCacheMissException>(() => cache.ResolveSnapshot("acme/model", "v2"));

        Assert.Contains("not in the Hugging Face cache", main.Message);
        Assert.Contains("./flux2 download acme/model", main.Message);
        Assert.Contains("./flux2 download acme/model --revision v2", tagged.Message);
    }

    [Theory]
    [InlineData("black-forest-labs/FLUX.2-dev", true)]
    [InlineData("acme/tiny_model.v1", true)]
    [InlineData("FLUX.2-dev", false)]
    [InlineData("a/b/c", false)]
    [InlineData("/abs/path", false)]
    [InlineData("./models/x", false)]
    [InlineData("../x", false)]
    [InlineData("~/models", false)]
    [InlineData("owner/.hidden", false)]
    [InlineData("weights/model.safetensors", false)]
    [InlineData("", false)]
    public void TellsRepoIdsFromPaths(string text, bool expected) => Assert.Equal(expected, HfCache.IsRepoId(text));

    [Fact]
    public void AnExistingPathWinsOverTheRepoIdShape()
    {
        var dir = TestPaths.TempDir();
        Directory.CreateDirectory(Path.Combine(dir, "models", "flux"));

        Assert.False(HfCache.IsRepoId("models/flux", dir));
        Assert.True(HfCache.IsRepoId("models/other", dir));
    }

    [Fact]
    public void SnapshotFileIsARelativeLinkToTheBlob()
    {
        var cache = new HfCache(TestPaths.TempDir());
        const string repo = "acme/model", commit = "abc123", etag = "deadbeef";
        Directory.CreateDirectory(Path.GetDirectoryName(cache.BlobPath(repo, etag))!);
        File.WriteAllText(cache.BlobPath(repo, etag), "weights");

        var pointer = cache.LinkSnapshotFile(repo, commit, "text_encoder/model.safetensors", etag);

        Assert.Equal("../../../blobs/deadbeef", new FileInfo(pointer).LinkTarget);
        Assert.Equal("weights", File.ReadAllText(pointer));
        Assert.True(cache.HasSnapshotFile(repo, commit, "text_encoder/model.safetensors"));
        File.Delete(cache.BlobPath(repo, etag));
        Assert.False(cache.HasSnapshotFile(repo, commit,
            "text_encoder/model.safetensors"));   // dangling link is not "cached"
    }
}
