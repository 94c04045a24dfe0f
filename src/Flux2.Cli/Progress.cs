namespace Flux2.Cli;

/// <summary>A one-line progress bar (redrawn with \r on a terminal, one line per update otherwise).</summary>
public static class Progress
{
    public static void Bar(TextWriter o, string what, int done, int total, TimeSpan elapsed)
    {
        const int width = 30;
        int filled = total == 0 ? width : done * width / total;
        double rate = elapsed.TotalSeconds > 0 ? done / elapsed.TotalSeconds : 0;
        var eta = rate > 0 ? TimeSpan.FromSeconds((total - done) / rate) : TimeSpan.Zero;
        var line =
            $"{what} [{new string('#', filled)}{new string('.', width - filled)}] {done}/{total} " +
            $"{rate:F2} it/s ETA {eta:mm\\:ss}";
        bool terminal = ReferenceEquals(o, Console.Out) && !Console.IsOutputRedirected;
        if (terminal) { o.Write("\r" + line); if (done == total) o.WriteLine(); }
        else if (done == total || done == 1 || done % Math.Max(1, total / 10) == 0) o.WriteLine(line);
    }
}
