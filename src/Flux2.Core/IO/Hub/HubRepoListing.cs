using System.Text.Json;

namespace Flux2.IO.Hub;

/// <summary>The answer of <c>GET /api/models/{repo}/revision/{revision}</c>: the commit the revision points at and
/// the repo's files.</summary>
internal sealed record HubRepoListing(string Commit, IReadOnlyList<string> Files)
{
    public static HubRepoListing Parse(string json, string repoId)
    {
        try
        {
            using var doc = JsonDocument.Parse(json);
            var root = doc.RootElement;
            var sha = root.GetProperty("sha").GetString() ?? "";
            var files = root.TryGetProperty("siblings", out var siblings)
                ? siblings.EnumerateArray().Select(s => s.GetProperty("rfilename").GetString() ?? "").ToList()
                : new List<string>();
            if (!HubNames.IsSafeCommit(sha))
                throw new HubException($"The hub listing of {repoId} has an unusable commit id '{sha}'.");
            foreach (var f in files)
                if (!HubNames.IsSafeRelativePath(f))
                    throw new HubException($"The hub listing of {repoId} names a file outside the repo: '{f}'.");
            return new HubRepoListing(sha, files);
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            throw new HubException($"The hub answered the file listing of {repoId} with unexpected JSON: {e.Message}",
                e);
        }
    }
}
