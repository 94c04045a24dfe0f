namespace Flux2.IO.Hub;

/// <summary>What happened to one file.</summary>
public enum HubFileState
{
    /// <summary>Bytes are arriving (reported repeatedly; a resumed file starts at the bytes already on disk).</summary>
    Downloading,
    /// <summary>The file was downloaded, verified and linked into the snapshot.</summary>
    Done,
    /// <summary>The file was already in the cache; nothing was downloaded.</summary>
    Cached,
}

/// <summary>Progress of one file of a download: <paramref name="FileIndex"/> counts from 1.
/// <paramref name="BytesTotal"/> is null when the hub did not say the size.</summary>
public sealed record HubDownloadProgress(
    string File, int FileIndex, int FileCount, long BytesDone, long? BytesTotal, HubFileState State);

/// <summary>The outcome of <see cref="HfDownloader.DownloadAsync"/>: the snapshot folder to load from.</summary>
public sealed record HubDownloadResult(
    string RepoId, string Commit, string SnapshotFolder, int FilesDownloaded, int FilesCached, long BytesDownloaded);
