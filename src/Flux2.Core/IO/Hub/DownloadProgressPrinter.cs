using System.Diagnostics;

namespace Flux2.IO.Hub;

/// <summary>Prints one line per file. On a terminal the line is redrawn in place (carriage return) while bytes arrive;
/// into a log or pipe only the finished line is written, so logs stay readable.</summary>
public sealed class DownloadProgressPrinter : IProgress<HubDownloadProgress>
{
    static readonly TimeSpan RedrawEvery = TimeSpan.FromMilliseconds(200);
    readonly TextWriter output;
    readonly bool terminal;
    readonly Stopwatch sinceRedraw = Stopwatch.StartNew();
    int lastWidth;

    public DownloadProgressPrinter(TextWriter output, bool terminal)
    {
        this.output = output;
        this.terminal = terminal;
    }

    // Synchronous on purpose: Progress<T> would post to the thread pool and lines could arrive out of order.
    public void Report(HubDownloadProgress p)
    {
        var prefix = $"[{p.FileIndex}/{p.FileCount}] {p.File}";
        if (p.State == HubFileState.Downloading)
        {
            if (!terminal || sinceRedraw.Elapsed < RedrawEvery) return;
            sinceRedraw.Restart();
            var percent = p.BytesTotal is > 0 and var t ? $" {100.0 * p.BytesDone / t,5:F1}%" : "";
            Draw($"{prefix}  {Size(p.BytesDone)} / {(p.BytesTotal is { } total ? Size(total) : "?")}{percent}");
            return;
        }
        var what = p.State == HubFileState.Cached ? "already in cache" : "downloaded";
        Draw($"{prefix}  {Size(p.BytesDone)}  {what}");
        output.WriteLine();
        lastWidth = 0;
    }

    void Draw(string line)
    {
        if (terminal)
        {
            output.Write('\r');
            output.Write(line.PadRight(lastWidth));   // blank out the rest of a longer previous line
            lastWidth = line.Length;
        }
        else output.Write(line);
        output.Flush();
    }

    public static string Size(long bytes) =>
        bytes >= 1L << 30 ? $"{bytes / (double)(1L << 30):F2} GiB"
        : bytes >= 1L << 20 ? $"{bytes / (double)(1L << 20):F1} MiB"
        : bytes >= 1L << 10 ? $"{bytes / 1024.0:F1} KiB"
        : $"{bytes} B";
}
