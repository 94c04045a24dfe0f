using System.Text.RegularExpressions;

namespace Flux2.IO.Hub;

/// <summary>The standard Hugging Face cache layout, shared with huggingface_hub / huggingface-cli so a model
/// downloaded by either is found by the other:
/// <code>
/// {root}/models--{owner}--{name}/blobs/{etag}
///                               /snapshots/{commit}/{relative path}  -> ../../blobs/{etag}
///                               /refs/{revision}                     (holds the commit hash)
/// </code></summary>
public sealed partial class HfCache
{
    public string Root { get; }

    public HfCache(string root) => Root = Path.GetFullPath(root);

    /// <summary>The cache the current user's tools use: $HF_HUB_CACHE, else $HF_HOME/hub, else
    /// ~/.cache/huggingface/hub.</summary>
    public static HfCache Default(HubEnvironment? env = null) => new(DefaultRoot(env ?? HubEnvironment.Process()));

    public static string DefaultRoot(HubEnvironment env) => env.GetPath("HF_HUB_CACHE")
        ?? Path.Combine(env.HfHome, "hub");

    public string RepoFolder(string repoId) => Path.Combine(Root, "models--" + repoId.Replace("/", "--"));
    public string BlobPath(string repoId, string etag) => Path.Combine(RepoFolder(repoId), "blobs", etag);
    public string SnapshotFolder(string repoId, string commit) => Path.Combine(RepoFolder(repoId), "snapshots", commit);
    public string RefPath(string repoId, string revision) => Path.Combine(RepoFolder(repoId), "refs", revision);

    /// <summary>The snapshot folder for a revision (a branch/tag name found in refs/, or a commit hash).</summary>
    /// <exception cref="HubCacheMissException">The repo or revision is not cached; the message says how to download
    /// it.</exception>
    public string ResolveSnapshot(string repoId, string revision = "main") =>
        TryResolveSnapshot(repoId, revision) ?? throw new HubCacheMissException(repoId, revision, Root);

    public string? TryResolveSnapshot(string repoId, string revision = "main")
    {
        var refFile = RefPath(repoId, revision);
        var commit = File.Exists(refFile) ? File.ReadAllText(refFile).Trim() : revision;
        if (commit.Length == 0 || commit.Contains('/') || commit.Contains('\\')) return null;
        var folder = SnapshotFolder(repoId, commit);
        return Directory.Exists(folder) ? folder : null;
    }

    /// <summary>True for <c>owner/name</c> hub ids; false for anything that exists on disk (a local path wins) or
    /// that cannot be a repo id (absolute or relative-looking paths, several slashes, file extensions of
    /// weights).</summary>
    public static bool IsRepoId(string text) => IsRepoId(text, Directory.GetCurrentDirectory());

    /// <summary>As <see cref="IsRepoId(string)"/>, with relative paths checked against
    /// <paramref name="currentDirectory"/>.</summary>
    public static bool IsRepoId(string text, string currentDirectory)
    {
        if (string.IsNullOrWhiteSpace(text)) return false;
        var asPath = Path.Combine(currentDirectory, text);
        if (Directory.Exists(asPath) || File.Exists(asPath)) return false;
        // A missing "dir/model.safetensors" is a mistyped path, not a repo: saying "not in the cache" would mislead.
        if (text.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase)) return false;
        return RepoIdPattern().IsMatch(text) && !text.Contains("..") && !text.Contains("--");
    }

    // Hub rule: owner and name are letters, digits, '-', '_', '.', starting and ending with a letter or digit; name
    // <= 96.
    [GeneratedRegex(@"^[A-Za-z0-9](?:[\w.\-]*[A-Za-z0-9])?/[A-Za-z0-9](?:[\w.\-]{0,94}[A-Za-z0-9])?$")]
    private static partial Regex RepoIdPattern();
}
