namespace Flux2.IO.Hub;

/// <summary>Checks on names that come from the server and become paths in the cache, so a broken or hostile endpoint
/// cannot make us write outside the repo folder.</summary>
internal static class HubNames
{
    public static bool IsSafeCommit(string commit) =>
        commit.Length is > 0 and <= 64 && commit.All(char.IsAsciiLetterOrDigit);

    /// <summary>Blob names are git sha1 or LFS sha256 hashes; allow what real etags look like, nothing
    /// path-like.</summary>
    public static bool IsSafeEtag(string etag) =>
        etag.Length is > 0 and <= 128 && etag.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_');

    public static bool IsSafeRelativePath(string path) =>
        path.Length > 0 && !Path.IsPathRooted(path) && !path.Contains('\\') && !path.Contains('\0')
        && path.Split('/').All(s => s.Length > 0 && s != "." && s != "..");

    /// <summary>An ETag header value as a blob name: without the weak marker <c>W/</c> and without quotes.</summary>
    public static string? NormalizeEtag(string? raw)
    {
        if (string.IsNullOrWhiteSpace(raw)) return null;
        var e = raw.Trim();
        if (e.StartsWith("W/", StringComparison.OrdinalIgnoreCase)) e = e[2..];
        return e.Trim('"');
    }

    /// <summary>Repo ids and paths go into URLs segment by segment, keeping the slashes.</summary>
    public static string EscapePath(string path) => string.Join('/', path.Split('/').Select(Uri.EscapeDataString));
}
