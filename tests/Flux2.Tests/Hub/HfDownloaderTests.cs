using Flux2.IO.Hub;
using Xunit;

namespace Flux2.Tests.Hub;

public class HfDownloaderTests
{
    const string Weights = "transformer/model.safetensors";

    static (HfCache Cache, HfDownloader Downloader) Client(FakeHub hub, HfToken? token = null)
    {
        var cache = new HfCache(Path.Combine(TestPaths.TempDir(), "hub"));
        return (cache, new HfDownloader(cache, hub.Endpoint, token));
    }

    [Fact]
    public async Task DownloadsIntoTheStandardCacheLayout()
    {
        using var hub = HubTestRepos.Start();
        var (cache, downloader) = Client(hub);
        using var _ = downloader;
        var repo = hub.Repos[HubTestRepos.Public];

        var result = await downloader.DownloadAsync(HubTestRepos.Public);

        Assert.Equal(repo.Commit, result.Commit);
        Assert.Equal(3, result.FilesDownloaded);
        Assert.Equal(cache.ResolveSnapshot(HubTestRepos.Public), result.SnapshotFolder);
        Assert.Equal(repo.Commit, File.ReadAllText(cache.RefPath(HubTestRepos.Public, "main")));
        var sha = FakeRepo.Sha256(repo.Files[Weights]);
        Assert.True(File.Exists(cache.BlobPath(HubTestRepos.Public, sha)));
        var pointer = new FileInfo(Path.Combine(result.SnapshotFolder, Weights));
        Assert.Equal("../../../blobs/" + sha, pointer.LinkTarget);
        foreach (var (path, data) in repo.Files)
            Assert.Equal(data, File.ReadAllBytes(Path.Combine(result.SnapshotFolder, path)));
        // small files are named by their (weak, quoted) git ETag with W/ and quotes stripped
        Assert.True(File.Exists(cache.BlobPath(HubTestRepos.Public, FakeRepo.Sha1(repo.Files["README.md"]))));
    }

    [Fact]
    public async Task TokenGoesToTheHubButNotToTheCdnHost()
    {
        using var hub = HubTestRepos.Start();
        var (_, downloader) = Client(hub, new HfToken(HubTestRepos.GateToken, "test"));
        using var _ = downloader;

        await downloader.DownloadAsync(HubTestRepos.Gated, allowPatterns: new[] { Weights });

        Assert.All(hub.RequestsTo($"/{HubTestRepos.Gated}/resolve/"), r =>
            Assert.Equal($"Bearer {HubTestRepos.GateToken}", r.Headers["Authorization"]));
        var cdn = hub.RequestsTo("/cdn/").ToList();
        Assert.NotEmpty(cdn);
        Assert.All(cdn, r => Assert.False(r.Headers.ContainsKey("Authorization")));
        Assert.All(cdn, r => Assert.StartsWith("localhost:", r.Headers["Host"]));
    }

    [Fact]
    public async Task GatedRepoWithoutTokenExplainsLicenceAndToken()
    {
        using var hub = HubTestRepos.Start();
        var (_, downloader) = Client(hub);
        using var _ = downloader;

        var e = await Assert.ThrowsAsync<HubAccessException>(() => downloader.DownloadAsync(HubTestRepos.Gated));

        Assert.Equal(401, e.StatusCode);
        Assert.Contains($"https://huggingface.co/{HubTestRepos.Gated}", e.Message);
        Assert.Contains("accept the licence", e.Message);
        Assert.Contains("https://huggingface.co/settings/tokens", e.Message);
        Assert.Contains("export HF_TOKEN=hf_", e.Message);
        Assert.Contains(".env", e.Message);
        Assert.Contains("huggingface-cli login", e.Message);
        Assert.Contains("No Hugging Face token was found", e.Message);
    }

    [Fact]
    public async Task RejectedTokenIsReportedWithItsSourceButNotItsValue()
    {
        using var hub = HubTestRepos.Start();
        var (_, downloader) = Client(hub, new HfToken("hf_wrongtoken", "environment variable HF_TOKEN"));
        using var _ = downloader;

        var e = await Assert.ThrowsAsync<HubAccessException>(() => downloader.DownloadAsync(HubTestRepos.Gated));

        Assert.Contains("A token was found (environment variable HF_TOKEN)", e.Message);
        Assert.DoesNotContain("hf_wrongtoken", e.Message);
    }

    [Fact]
    public async Task MissingRepoIsNamedAsTheRepository()
    {
        using var hub = HubTestRepos.Start();
        var (_, downloader) = Client(hub);
        using var _ = downloader;

        var e = await Assert.ThrowsAsync<HubNotFoundException>(() => downloader.DownloadAsync("acme/no-such-model"));

        Assert.Equal(HubMissing.Repository, e.Missing);
        Assert.Contains("acme/no-such-model", e.Message);
    }

    [Fact]
    public async Task MissingRevisionIsToldApartFromMissingRepoEvenWithoutErrorCodes()
    {
        using var hub = HubTestRepos.Start();
        hub.OmitErrorCodes = true;
        var (_, downloader) = Client(hub);
        using var _ = downloader;

        var revision = await Assert.ThrowsAsync<HubNotFoundException>(() =>
            downloader.DownloadAsync(HubTestRepos.Public, "v9"));
        var repo = await Assert.ThrowsAsync<HubNotFoundException>(() => downloader.DownloadAsync("acme/nothing", "v9"));

        Assert.Equal(HubMissing.Revision, revision.Missing);
        Assert.Contains("'v9'", revision.Message);
        Assert.Equal(HubMissing.Repository, repo.Missing);
    }

    [Fact]
    public async Task PatternsThatMatchNothingNameTheFiles()
    {
        using var hub = HubTestRepos.Start();
        var (_, downloader) = Client(hub);
        using var _ = downloader;

        var e = await Assert.ThrowsAsync<HubNotFoundException>(() => downloader.DownloadAsync(HubTestRepos.Public,
            allowPatterns: new[] { "*.gguf" }));

        Assert.Equal(HubMissing.File, e.Missing);
        Assert.Contains("vae/config.json", e.Message);
    }

    [Fact]
    public async Task AllowPatternsSelectFilesAcrossFolders()
    {
        using var hub = HubTestRepos.Start();
        var (_, downloader) = Client(hub);
        using var _ = downloader;

        var result = await downloader.DownloadAsync(HubTestRepos.Public, allowPatterns: new[] { "*.json" });

        Assert.Equal(1, result.FilesDownloaded);
        Assert.True(File.Exists(Path.Combine(result.SnapshotFolder, "vae/config.json")));
        Assert.False(File.Exists(Path.Combine(result.SnapshotFolder, Weights)));
    }

    [Fact]
    public async Task SecondRunSkipsCachedFilesWithoutFetchingThem()
    {
        using var hub = HubTestRepos.Start();
        var (_, downloader) = Client(hub);
        using var _ = downloader;
        await downloader.DownloadAsync(HubTestRepos.Public);
        var before = hub.Requests.Count;

        var progress = new List<HubDownloadProgress>();
        var again = await downloader.DownloadAsync(HubTestRepos.Public, progress: new SyncProgress(progress));

        Assert.All(progress, p => Assert.Equal(HubFileState.Cached, p.State));
        Assert.Equal(1 << 20, progress.Single(p => p.File == Weights).BytesDone);   // the blob's size, not the link's
        Assert.Equal(0, again.FilesDownloaded);
        Assert.Equal(3, again.FilesCached);
        Assert.Equal(0, again.BytesDownloaded);
        Assert.Single(hub.Requests.Skip(before));   // only the listing
    }

    [Fact]
    public async Task DroppedConnectionResumesWithRangeAndGivesAnIdenticalFile()
    {
        using var hub = HubTestRepos.Start();
        hub.DropNextCdnBodyAfter = 300_000;
        var (cache, downloader) = Client(hub);
        using var _ = downloader;
        var data = hub.Repos[HubTestRepos.Public].Files[Weights];
        var blob = cache.BlobPath(HubTestRepos.Public, FakeRepo.Sha256(data));

        var first = await Assert.ThrowsAsync<HubException>(() => downloader.DownloadAsync(HubTestRepos.Public,
            allowPatterns: new[] { Weights }));
        Assert.Contains(hub.Endpoint, first.Message);
        var partial = new FileInfo(blob + ".incomplete");
        Assert.True(partial.Exists);
        Assert.Equal(300_000, partial.Length);
        Assert.False(File.Exists(blob));

        var progress = new List<HubDownloadProgress>();
        var result = await downloader.DownloadAsync(HubTestRepos.Public, allowPatterns: new[] { Weights },
            progress: new SyncProgress(progress));

        Assert.Equal(data, File.ReadAllBytes(Path.Combine(result.SnapshotFolder, Weights)));
        Assert.Equal(data.Length - 300_000, result.BytesDownloaded);
        Assert.Contains(hub.RequestsTo("/cdn/"), r => r.Headers.GetValueOrDefault("Range") == "bytes=300000-");
        Assert.False(File.Exists(blob + ".incomplete"));
        Assert.Equal(300_000, progress.First().BytesDone);   // progress starts where the first run stopped
        Assert.Equal(HubFileState.Done, progress.Last().State);
    }

    [Fact]
    public async Task ServerIgnoringRangeRestartsFromZero()
    {
        using var hub = HubTestRepos.Start();
        hub.IgnoreRange = true;
        var (cache, downloader) = Client(hub);
        using var _ = downloader;
        var data = hub.Repos[HubTestRepos.Public].Files[Weights];
        var blob = cache.BlobPath(HubTestRepos.Public, FakeRepo.Sha256(data));
        Directory.CreateDirectory(Path.GetDirectoryName(blob)!);
        File.WriteAllBytes(blob + ".incomplete", new byte[1000]);   // a stale partial that must not be kept

        var result = await downloader.DownloadAsync(HubTestRepos.Public, allowPatterns: new[] { Weights });

        Assert.Contains(hub.RequestsTo("/cdn/"), r => r.Headers.ContainsKey("Range"));
        Assert.Equal(data, File.ReadAllBytes(Path.Combine(result.SnapshotFolder, Weights)));
    }

    [Fact]
    public async Task ShortFileIsNotPublishedAsABlob()
    {
        using var hub = HubTestRepos.Start();
        hub.OverstateLinkedSizeBy = 10;
        var (cache, downloader) = Client(hub);
        using var _ = downloader;
        var blob = cache.BlobPath(HubTestRepos.Public, FakeRepo.Sha256(hub.Repos[HubTestRepos.Public].Files[Weights]));

        var e = await Assert.ThrowsAsync<HubException>(() => downloader.DownloadAsync(HubTestRepos.Public,
            allowPatterns: new[] { Weights }));

        Assert.Contains("announced", e.Message);
        Assert.False(File.Exists(blob));
        Assert.Null(cache.TryResolveSnapshot(HubTestRepos.Public));
    }

    [Fact]
    public async Task UnreachableEndpointIsNamedInTheError()
    {
        var closed = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        closed.Start();
        var endpoint = $"http://127.0.0.1:{((System.Net.IPEndPoint)closed.LocalEndpoint).Port}";
        closed.Stop();
        using var downloader = new HfDownloader(new HfCache(TestPaths.TempDir()), endpoint, null);

        var e = await Assert.ThrowsAsync<HubException>(() => downloader.DownloadAsync(HubTestRepos.Public));

        Assert.Contains(endpoint, e.Message);
        Assert.Contains("HF_ENDPOINT", e.Message);
    }

    /// <summary>Records reports in order on the calling thread (Progress&lt;T&gt; would post them
    /// asynchronously).</summary>
    sealed class SyncProgress(List<HubDownloadProgress> into) : IProgress<HubDownloadProgress>
    {
        public void Report(HubDownloadProgress value) => into.Add(value);
    }
}
