using System.Net;

namespace Flux2.IO.Hub;

/// <summary>Turns a failed hub response into an exception whose message tells the user what is wrong and what to do.
/// Uses the hub's <c>X-Error-Code</c> header (GatedRepo, RepoNotFound, RevisionNotFound, EntryNotFound) when
/// present.</summary>
internal static class HubErrors
{
    /// <param name="file">The file being fetched, or null for the repo listing.</param>
    public static HubException FromResponse(HttpResponseMessage r, Uri endpoint, string repoId, string revision,
        string? file, HfToken? token)
    {
        var code = Header(r, "X-Error-Code");
        var hubMessage = Header(r, "X-Error-Message");
        var status = (int)r.StatusCode;

        if (code == "RepoNotFound") return RepoNotFound(endpoint, repoId, token);
        if (code == "RevisionNotFound") return RevisionNotFound(endpoint, repoId, revision);
        if (code == "EntryNotFound" || (status == 404 && file != null))
            return FileNotFound(endpoint, repoId, revision, file ?? "?");
        if (code == "GatedRepo" || r.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden)
            return new HubAccessException(repoId, status, token, hubMessage);
        if (status == 404) return RepoNotFound(endpoint, repoId, token);   // listing without a code: caller may refine
        var detail = string.IsNullOrWhiteSpace(hubMessage) ? "" : $": {hubMessage}";
        return new HubException($"The hub at {endpoint} answered HTTP {status} {r.ReasonPhrase} for {repoId}" +
                                (file is null ? "" : $" file {file}") + detail);
    }

    public static HubNotFoundException RepoNotFound(Uri endpoint, string repoId, HfToken? token) =>
        new(HubMissing.Repository,
        $"Repository {repoId} was not found on {endpoint}. Check the owner/name spelling." +
        (token is null ? " If it is a private repo, a token is needed (set HF_TOKEN); none was found." : ""));

    public static HubNotFoundException RevisionNotFound(Uri endpoint, string repoId, string revision) =>
        new(HubMissing.Revision,
        $"Revision '{revision}' was not found in {repoId} on {endpoint}. Use a branch, tag or commit hash of that " +
        $"repo (default: main).");

    public static HubNotFoundException FileNotFound(Uri endpoint, string repoId, string revision, string file) =>
        new(HubMissing.File,
        $"File '{file}' was not found in {repoId} at revision {revision} on {endpoint}.");

    public static HubException Unreachable(Uri endpoint, Exception e) => new(
        $"Could not reach the hub at {endpoint}: {e.Message} Check the network or proxy settings, " +
        "or set HF_ENDPOINT to a reachable mirror.", e);

    public static HubException Interrupted(Uri endpoint, string file, long bytesOnDisk, Exception e) => new(
        $"The download of {file} from {endpoint} was interrupted after {bytesOnDisk:N0} bytes ({e.Message}). " +
        "Run the same command again: it resumes from there.", e);

    static string? Header(HttpResponseMessage r, string name) => r.Headers.TryGetValues(name, out var v)
        ? v.FirstOrDefault() : null;
}
