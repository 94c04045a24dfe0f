namespace Flux2.IO.Hub;

/// <summary>The write side of <see cref="HfCache"/>: publishing a finished blob, linking it into a snapshot and
/// recording refs. Every step is atomic (write aside, then rename) so an interrupted run never leaves a file that
/// looks complete.</summary>
public static class HfCacheWriter
{
    /// <summary>Points snapshots/{commit}/{relativePath} at the blob: a relative symlink as huggingface_hub makes, or a
    /// copy where symlinks are not allowed (some Windows setups, some network file systems).</summary>
    public static string LinkSnapshotFile(this HfCache cache, string repoId, string commit, string relativePath,
        string etag)
    {
        var blob = cache.BlobPath(repoId, etag);
        var pointer = Path.Combine(cache.SnapshotFolder(repoId, commit), relativePath);
        Directory.CreateDirectory(Path.GetDirectoryName(pointer)!);
        if (File.Exists(pointer) || new FileInfo(pointer).LinkTarget != null) File.Delete(pointer);
        try
        {
            File.CreateSymbolicLink(pointer, Path.GetRelativePath(Path.GetDirectoryName(pointer)!, blob));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or PlatformNotSupportedException)
        {
            var aside = pointer + ".copying";
            File.Copy(blob, aside, overwrite: true);
            File.Move(aside, pointer, overwrite: true);
        }
        return pointer;
    }

    /// <summary>True when the snapshot already holds this file and it resolves to a real file (not a dangling
    /// link).</summary>
    public static bool HasSnapshotFile(this HfCache cache, string repoId, string commit, string relativePath) =>
        cache.FindSnapshotFile(repoId, commit, relativePath) != null;

    /// <summary>The file a snapshot entry stands for (the blob behind the link, or the copy), or null when absent or
    /// dangling. Sizes must be read from this, not from the link itself.</summary>
    public static FileInfo? FindSnapshotFile(this HfCache cache, string repoId, string commit, string relativePath)
    {
        var info = new FileInfo(Path.Combine(cache.SnapshotFolder(repoId, commit), relativePath));
        var target = info.LinkTarget == null ? info : info.ResolveLinkTarget(returnFinalTarget: true) as FileInfo;
        return target is { Exists: true } ? target : null;
    }

    /// <summary>Records that a branch or tag name currently means this commit. Not written when the revision is the
    /// commit itself (huggingface_hub does the same).</summary>
    public static void WriteRef(this HfCache cache, string repoId, string revision, string commit)
    {
        if (revision == commit) return;
        var path = cache.RefPath(repoId, revision);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var aside = path + ".writing";
        File.WriteAllText(aside, commit);
        File.Move(aside, path, overwrite: true);
    }
}
