using System.Net.Http.Headers;

namespace Flux2.IO.Hub;

/// <summary>What the hub says about one file before we fetch it: the blob name (etag), the size, the commit, and the
/// URL to fetch the bytes from (the CDN location when the hub redirects).</summary>
internal sealed record HubFileMetadata(string Etag, long? Size, string? Commit, Uri DownloadUri)
{
    /// <summary>Reads the hub's headers. For LFS files the hub answers 302 with
    /// <c>X-Linked-Etag</c>/<c>X-Linked-Size</c> (the real file's sha256 and size); for small files 200 with
    /// <c>ETag</c> and <c>Content-Length</c>. Null when this response does not carry an etag (e.g. a plain redirect of
    /// a renamed repo).</summary>
    public static HubFileMetadata? FromResponse(HttpResponseMessage response, Uri requestUri)
    {
        var etag = HubNames.NormalizeEtag(Header(response, "X-Linked-Etag") ?? Header(response, "ETag"));
        if (etag is null) return null;
        var isRedirect = (int)response.StatusCode is >= 300 and < 400;
        long? size = long.TryParse(Header(response, "X-Linked-Size"), out var linked) ? linked
            : isRedirect ? null : response.Content.Headers.ContentLength;
        var download = isRedirect && response.Headers.Location is { } loc ? new Uri(requestUri, loc) : requestUri;
        return new HubFileMetadata(etag, size, Header(response, "X-Repo-Commit"), download);
    }

    static string? Header(HttpResponseMessage r, string name) =>
        r.Headers.TryGetValues(name, out var v) ? v.FirstOrDefault()
        : r.Content.Headers.TryGetValues(name, out var cv) ? cv.FirstOrDefault()
        : null;
}
