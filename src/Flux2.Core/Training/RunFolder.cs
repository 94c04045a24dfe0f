using System.Globalization;
using Flux2.Training.State;

namespace Flux2.Training;

/// <summary>What an existing run folder means for a new start: resume from its newest training state, or (restart)
/// move everything aside into <c>previous-&lt;timestamp&gt;/</c> so nothing is lost and nothing is resumed.</summary>
public static class RunFolder
{
    public const string PreviousPrefix = "previous-";

    /// <summary>The newest training state of <paramref name="name"/> in <paramref name="folder"/>, or null.</summary>
    public static (string Path, int Step)? Latest(string folder, string name) => TrainingStateFile.FindLatest(folder, name);

    /// <summary>Moves every file and folder of <paramref name="folder"/> (earlier <c>previous-*</c> folders excepted)
    /// into a new <c>previous-&lt;UTC time&gt;</c> folder; returns it, or null when there was nothing to move.</summary>
    public static string? MoveAside(string folder)
    {
        if (!Directory.Exists(folder)) return null;
        var entries = Directory.EnumerateFileSystemEntries(folder)
            .Where(e => !Path.GetFileName(e).StartsWith(PreviousPrefix, StringComparison.Ordinal)).ToList();
        if (entries.Count == 0) return null;
        var stamp = DateTime.UtcNow.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture);
        var target = Path.Combine(folder, PreviousPrefix + stamp);
        for (int n = 2; Directory.Exists(target); n++) target = Path.Combine(folder, $"{PreviousPrefix}{stamp}-{n}");
        Directory.CreateDirectory(target);
        foreach (var e in entries)
        {
            var to = Path.Combine(target, Path.GetFileName(e));
            if (Directory.Exists(e)) Directory.Move(e, to); else File.Move(e, to);
        }
        return target;
    }

    /// <summary>The message for a checkpoint that does not fit the job any more.</summary>
    public static string MismatchAdvice(string folder, string problem) =>
        $"cannot resume the run in {folder}: {problem}. Resuming would mix two different LoRAs. Give the job a new " +
        "config.name, delete the folder, or run again with --restart (moves the old files to previous-<time>/).";
}
