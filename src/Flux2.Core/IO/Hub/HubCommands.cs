namespace Flux2.IO.Hub;

/// <summary>The hub commands as the CLI calls them: plain arguments in, friendly text and an exit code out.</summary>
public static class HubCommands
{
    public const int Ok = 0, Failed = 1, AccessOrNotFound = 2;

    /// <summary><c>flux2 download owner/name [--revision r] [--include pattern ...]</c> with the user's environment
    /// (HF_ENDPOINT, HF_HUB_CACHE/HF_HOME, HF_TOKEN, .env, token file).</summary>
    public static int Download(string repoId, string? revision, string[] include, TextWriter output)
    {
        using var downloader = HfDownloader.FromEnvironment();
        var terminal = ReferenceEquals(output, Console.Out) && !Console.IsOutputRedirected;
        return Download(downloader, repoId, revision, include, output, terminal);
    }

    /// <summary>The same with a given downloader (tests, other endpoints) and an explicit terminal switch.</summary>
    public static int Download(HfDownloader downloader, string repoId, string? revision, string[] include,
        TextWriter output,
        bool terminal, CancellationToken cancellationToken = default)
    {
        revision ??= "main";
        try
        {
            var result = downloader.DownloadAsync(repoId, revision, include,
                new DownloadProgressPrinter(output, terminal), cancellationToken)
                .GetAwaiter().GetResult();
            output.WriteLine($"{repoId} @ {result.Commit[..Math.Min(12, result.Commit.Length)]}: " +
                $"{result.FilesDownloaded} downloaded ({DownloadProgressPrinter.Size(result.BytesDownloaded)}), " +
                $"{result.FilesCached} already in cache.");
            output.WriteLine($"Snapshot: {result.SnapshotFolder}");
            return Ok;
        }
        catch (Exception e) when (e is HubAccessException or HubNotFoundException)
        {
            if (terminal) output.WriteLine();   // end a progress line left open by a carriage-return redraw
            output.WriteLine(e.Message);
            return AccessOrNotFound;
        }
        catch (Exception e) when (e is HubException or ArgumentException or IOException or UnauthorizedAccessException)
        {
            if (terminal) output.WriteLine();   // end a progress line left open by a carriage-return redraw
            output.WriteLine(e.Message);
            return Failed;
        }
    }
}
