using System.Net;

namespace Flux2.IO.Hub;

/// <summary>Downloads a model repo (or the files matching allow patterns) from the Hugging Face hub into the standard
/// cache, the way <c>huggingface-cli download</c> does: same layout, resumable, files already cached are
/// skipped.</summary>
public sealed class HfDownloader : IDisposable
{
    public const string DefaultEndpoint = "https://huggingface.co";

    readonly HfCache cache;
    readonly HfToken? token;
    readonly HubHttp http;

    public Uri Endpoint => http.Endpoint;

    /// <param name="endpoint">The hub base URL, e.g. https://huggingface.co or a mirror.</param>
    /// <param name="token">Sent as <c>Authorization: Bearer</c> to the hub host only; null for anonymous
    /// access.</param>
    public HfDownloader(HfCache cache, string endpoint, HfToken? token)
    {
        this.cache = cache;
        this.token = token;
        http = new HubHttp(new Uri(endpoint.TrimEnd('/') + "/"), token);
    }

    /// <summary>The user's setup: endpoint from $HF_ENDPOINT, the default cache, the token from
    /// <see cref="HfToken.Find"/>.</summary>
    public static HfDownloader FromEnvironment(HubEnvironment? env = null)
    {
        env ??= HubEnvironment.Process();
        return new HfDownloader(HfCache.Default(env), env.Get("HF_ENDPOINT") ?? DefaultEndpoint, HfToken.Find(env));
    }

    /// <summary>Downloads the files of <paramref name="repoId"/> at <paramref name="revision"/> that match
    /// <paramref name="allowPatterns"/> (all files when null or empty) and returns the snapshot folder.</summary>
    /// <exception cref="HubAccessException">401/403: gated or private; the message explains the licence + token
    /// fix.</exception>
    /// <exception cref="HubNotFoundException">The repo, revision or a file does not exist.</exception>
    /// <exception cref="HubException">Network failures (with the endpoint) and inconsistent answers.</exception>
    public async Task<HubDownloadResult> DownloadAsync(string repoId, string revision = "main",
        IEnumerable<string>? allowPatterns = null, IProgress<HubDownloadProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        if (repoId.Count(c => c == '/') != 1 || !HubNames.IsSafeRelativePath(repoId))
            throw new ArgumentException($"'{repoId}' is not a hub repo id; expected owner/name, e.g. " +
                $"black-forest-labs/FLUX.2-dev.");
        var patterns = allowPatterns?.ToList();
        var listing = await ListAsync(repoId, revision, cancellationToken);
        var files = listing.Files.Where(f => HubGlob.Allows(f, patterns)).ToList();
        if (files.Count == 0)
        {
            string more = listing.Files.Count > 20 ? ", ..." : "";
            throw new HubNotFoundException(HubMissing.File,
                $"No file of {repoId} at revision {revision} matches {string.Join(", ", patterns ?? new())}. " +
                $"The repo has: {string.Join(", ", listing.Files.Take(20))}{more}");
        }

        int downloaded = 0, cached = 0;
        long bytes = 0;
        for (var i = 0; i < files.Count; i++)
        {
            var (fileBytes, fromCache) = await DownloadFileAsync(repoId, revision, listing.Commit, files[i], i + 1,
                files.Count, progress, cancellationToken);
            bytes += fileBytes;
            if (fromCache) cached++; else downloaded++;
        }
        cache.WriteRef(repoId, revision, listing.Commit);
        return new HubDownloadResult(repoId, listing.Commit, cache.SnapshotFolder(repoId, listing.Commit), downloaded,
            cached, bytes);
    }

    async Task<HubRepoListing> ListAsync(string repoId, string revision, CancellationToken ct)
    {
        var uri =
            new Uri(Endpoint, $"api/models/{HubNames.EscapePath(repoId)}/revision/{Uri.EscapeDataString(revision)}");
        using var response = await SendAsync(HttpMethod.Get, uri, ct);
        if (response.StatusCode == HttpStatusCode.NotFound && !response.Headers.Contains("X-Error-Code"))
            throw await RepoExistsAsync(repoId, ct)
                ? HubErrors.RevisionNotFound(Endpoint, repoId, revision)
                : HubErrors.RepoNotFound(Endpoint, repoId, token);
        if (!response.IsSuccessStatusCode) throw HubErrors.FromResponse(response, Endpoint, repoId, revision, null,
            token);
        return HubRepoListing.Parse(await response.Content.ReadAsStringAsync(ct), repoId);
    }

    /// <summary>Tells a missing repo from a missing revision when the hub's 404 does not say which.</summary>
    async Task<bool> RepoExistsAsync(string repoId, CancellationToken ct)
    {
        using var response = await SendAsync(HttpMethod.Get, new Uri(Endpoint,
            $"api/models/{HubNames.EscapePath(repoId)}"), ct);
        return response.IsSuccessStatusCode;
    }

    async Task<(long Bytes, bool FromCache)> DownloadFileAsync(string repoId, string revision, string commit,
        string file,
        int index, int count, IProgress<HubDownloadProgress>? progress, CancellationToken ct)
    {
        // The snapshot is addressed by commit, so a file already linked there is exactly this version: no request
        // needed.
        if (cache.FindSnapshotFile(repoId, commit, file) is { } present)
        {
            var size = present.Length;
            progress?.Report(new(file, index, count, size, size, HubFileState.Cached));
            return (0, true);
        }

        var meta = await MetadataAsync(repoId, revision, commit, file, ct);
        var blob = cache.BlobPath(repoId, meta.Etag);
        long transferred = 0;
        var fromCache = File.Exists(blob) && (meta.Size is null || new FileInfo(blob).Length == meta.Size);
        if (!fromCache)
        {
            var transfer = new ResumableBlobDownload(http);
            transferred = await transfer.RunAsync(meta, blob, file,
                r => HubErrors.FromResponse(r, Endpoint, repoId, revision, file, token),
                (done, total) => progress?.Report(new(file, index, count, done, total, HubFileState.Downloading)), ct);
        }
        cache.LinkSnapshotFile(repoId, commit, file, meta.Etag);
        var length = new FileInfo(blob).Length;
        progress?.Report(new(file, index, count, length, length, fromCache ? HubFileState.Cached : HubFileState.Done));
        return (transferred, fromCache);
    }

    /// <summary>HEAD on the resolve URL, following the hub's own redirects (renamed repos) until a response carries the
    /// etag; for LFS files that is the 302 to the CDN, whose Location becomes the download URL.</summary>
    async Task<HubFileMetadata> MetadataAsync(string repoId, string revision, string commit, string file,
        CancellationToken ct)
    {
        var uri = new Uri(Endpoint, $"{HubNames.EscapePath(repoId)}/resolve/{commit}/{HubNames.EscapePath(file)}");
        for (var hop = 0; hop <= 10; hop++)
        {
            using var response = await SendAsync(HttpMethod.Head, uri, ct);
            var redirect = HubHttp.IsRedirect(response) && response.Headers.Location != null;
            if (!redirect && !response.IsSuccessStatusCode) throw HubErrors.FromResponse(response, Endpoint, repoId,
                revision, file, token);
            if (HubFileMetadata.FromResponse(response, uri) is { } meta)
            {
                if (!HubNames.IsSafeEtag(meta.Etag))
                    throw new HubException($"The hub gave {file} an unusable ETag '{meta.Etag}'.");
                if (meta.Commit is { } c && c != commit)
                    throw new HubException($"The hub served {file} from commit {c} while " +
                        $"{commit} was asked; run again.");
                return meta;
            }
            if (!redirect)
                throw new HubException(
                    $"The hub at {Endpoint} gave no ETag for {repoId}/{file}; cannot name the blob.");
            uri = new Uri(uri, response.Headers.Location!);
        }
        throw new HubException($"Too many redirects from {Endpoint} for {repoId}/{file}.");
    }

    async Task<HttpResponseMessage> SendAsync(HttpMethod method, Uri uri, CancellationToken ct)
    {
        try { return await http.SendOnceAsync(method, uri, 0, ct); }
        catch (HttpRequestException e) { throw HubErrors.Unreachable(Endpoint, e); }
        catch (TaskCanceledException e) when (!ct.IsCancellationRequested) { throw HubErrors.Unreachable(Endpoint, e); }
    }

    public void Dispose() => http.Dispose();
}
