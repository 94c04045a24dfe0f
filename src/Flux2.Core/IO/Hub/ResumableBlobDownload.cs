using System.Net;

namespace Flux2.IO.Hub;

/// <summary>Fetches one blob into <c>blobs/{etag}.incomplete</c>, resuming from the bytes already there with a Range
/// request, checks the size, then renames it to <c>blobs/{etag}</c>. An interrupted run leaves the partial file for the
/// next run; only a verified file ever gets the final name.</summary>
internal sealed class ResumableBlobDownload
{
    const int BufferSize = 1 << 20;
    readonly HubHttp http;

    public ResumableBlobDownload(HubHttp http) => this.http = http;

    /// <returns>The bytes transferred in this run.</returns>
    public async Task<long> RunAsync(HubFileMetadata meta, string blobPath, string file,
        Func<HttpResponseMessage, HubException> onHttpError, Action<long, long?> report, CancellationToken ct)
    {
        var partial = blobPath + ".incomplete";
        Directory.CreateDirectory(Path.GetDirectoryName(blobPath)!);
        var onDisk = File.Exists(partial) ? new FileInfo(partial).Length : 0;
        if (meta.Size is { } size && onDisk > size) onDisk = Truncate(partial);

        long transferred = 0;
        if (meta.Size is not { } known || onDisk < known)
        {
            using var response = await SendAsync(meta.DownloadUri, onDisk, file, ct);
            if (response.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable)
            {
                Truncate(partial);
                throw new HubException($"The server refused to resume {file} at byte {onDisk:N0}; the partial file " +
                    $"was removed, run again to restart it.");
            }
            if (!response.IsSuccessStatusCode) throw onHttpError(response);

            long? expected = meta.Size;
            if (response.StatusCode == HttpStatusCode.PartialContent)
            {
                var range = response.Content.Headers.ContentRange;
                if (range?.From != onDisk)
                    throw new HubException($"The server resumed {file} at byte {range?.From} " +
                        $"instead of {onDisk:N0}; run again.");
                expected ??= range.Length;
            }
            else
            {
                onDisk = Truncate(partial);   // 200: the server ignored Range and sends the whole file
                expected ??= response.Content.Headers.ContentLength;
            }

            report(onDisk, expected);
            transferred = await CopyAsync(response, partial, onDisk, expected, file, report, ct);
            onDisk += transferred;
            if (expected is { } e && onDisk != e)
                throw new HubException($"{file}: received {onDisk:N0} bytes but the server " +
                    $"announced {e:N0}. Run again to resume.");
        }

        File.Move(partial, blobPath, overwrite: true);
        return transferred;
    }

    async Task<HttpResponseMessage> SendAsync(Uri uri, long rangeFrom, string file, CancellationToken ct)
    {
        try { return await http.SendAsync(HttpMethod.Get, uri, rangeFrom, ct); }
        catch (HttpRequestException e) { throw HubErrors.Unreachable(http.Endpoint, e); }
    }

    async Task<long> CopyAsync(HttpResponseMessage response, string partial, long start, long? expected, string file,
        Action<long, long?> report, CancellationToken ct)
    {
        long copied = 0;
        // Disposing the file stream (even on failure) flushes what arrived, which the next run resumes from.
        await using var target = new FileStream(partial, FileMode.Append, FileAccess.Write, FileShare.None, BufferSize);
        await using var source = await response.Content.ReadAsStreamAsync(ct);
        var buffer = new byte[BufferSize];
        while (true)
        {
            int n;
            try { n = await source.ReadAsync(buffer, ct); }
            catch (Exception e) when (e is IOException or HttpRequestException)
            {
                throw HubErrors.Interrupted(http.Endpoint, file, start + copied, e);
            }
            if (n == 0) return copied;
            await target.WriteAsync(buffer.AsMemory(0, n), ct);
            copied += n;
            report(start + copied, expected);
        }
    }

    static long Truncate(string path)
    {
        if (File.Exists(path)) File.Delete(path);
        return 0;
    }
}
