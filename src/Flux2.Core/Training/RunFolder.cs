using System.Globalization;
using System.Text.RegularExpressions;
using Flux2.Training.State;

namespace Flux2.Training;

/// <summary>What an existing run folder means for a new start: resume from its newest usable training state, or
/// (restart) move the run's own files aside into <c>previous-&lt;timestamp&gt;/</c> so nothing is lost and nothing is
/// resumed. The run's own files are the ones a run writes: its LoRA and state files (and their temp files),
/// config.resolved.txt, run.sqlite, eval.json/eval.md, samples/&lt;step&gt;.png and _text_embed_cache/; anything else
/// in the folder (other runs, the user's files) is never moved.</summary>
public static class RunFolder
{
    public const string PreviousPrefix = "previous-";
    public const string SamplesFolder = "samples";
    public const string TextCacheFolder = "_text_embed_cache";
    const string ConfigFile = "config.resolved.txt";
    static readonly string[] OwnFiles =
        { ConfigFile, "run.sqlite", "run.sqlite-wal", "run.sqlite-shm", "run.sqlite-journal", "eval.json", "eval.md" };

    /// <summary>True when <paramref name="name"/> (config.name) is one plain path segment: letters, digits, '_', '-'
    /// and '.', not made of dots alone, so the run folder is a new folder inside training_folder.</summary>
    public static bool IsSafeName(string name) =>
        name.Trim('.').Length > 0 && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '.');

    /// <summary>Why <paramref name="name"/> cannot be config.name, and the fix.</summary>
    public static string UnsafeNameMessage(string name) =>
        $"'config.name' must be a plain folder name (letters, digits, '_', '-', '.'; not '.' or '..'), got '{name}': " +
        "it names the run folder inside training_folder and the saved files. Use a name like my_lora";

    /// <summary>The run folder of <paramref name="name"/> under <paramref name="trainingFolder"/>; throws
    /// <see cref="UserError"/> for a name that is not one safe path segment.</summary>
    public static string For(string trainingFolder, string name) =>
        IsSafeName(name) ? Path.Combine(trainingFolder, name) : throw new UserError(UnsafeNameMessage(name));

    /// <summary>A training state that cannot be resumed from, and why.</summary>
    public sealed record Skipped(string Path, string Reason)
    {
        public override string ToString() => $"{Path}: {Reason}";
    }

    /// <summary>The newest training state of <paramref name="name"/> in <paramref name="folder"/> that reads back whole
    /// and finite (<see cref="TrainingStateFile.Read"/>), or null; <paramref name="skipped"/> gets every newer one that
    /// did not.</summary>
    public static (string Path, int Step)? Latest(string folder, string name, List<Skipped>? skipped = null)
    {
        foreach (var (path, step, problem) in TrainingStateFile.Candidates(folder, name))
        {
            var reason = problem ?? Check(path);
            if (reason is null) return (path, step);
            skipped?.Add(new Skipped(path, reason));
        }
        return null;
    }

    static string? Check(string path)
    {
        try { TrainingStateFile.Read(path).Dispose(); return null; }
        catch (Exception e) when (e is InvalidDataException or IOException or UnauthorizedAccessException
                                      or FormatException or System.Text.Json.JsonException
                                      or Flux2.IO.SafetensorsException)
        {
            return e.Message.Replace(path + ": ", "");
        }
    }

    /// <summary>The step and final LoRA files of <paramref name="name"/> in <paramref name="folder"/> (what a fresh
    /// start would overwrite).</summary>
    public static IReadOnlyList<string> LoraFiles(string folder, string name)
    {
        if (!Directory.Exists(folder)) return Array.Empty<string>();
        var pattern = new Regex("^" + Regex.Escape(name) + @"(_\d{9})?\.safetensors\z");
        return Directory.EnumerateFiles(folder).Where(f => pattern.IsMatch(Path.GetFileName(f)))
                        .Order(StringComparer.Ordinal).ToList();
    }

    /// <summary>True for a file or folder name in a run folder that a run of <paramref name="name"/> writes.</summary>
    public static bool IsOwn(string entry, string name)
    {
        if (OwnFiles.Contains(entry) || entry is SamplesFolder or TextCacheFolder) return true;
        var stem = Regex.Escape(name) + @"(_\d{9})?(\.state)?\.safetensors";
        return Regex.IsMatch(entry, "^" + stem + @"\z")
               || Regex.IsMatch(entry, @"^\." + stem + @"\.[0-9a-f]{32}\.tmp\z"); // an interrupted atomic write
    }

    /// <summary>Moves the files and folders of <paramref name="name"/>'s run in <paramref name="folder"/>
    /// (<see cref="IsOwn"/>) into a new <c>previous-&lt;UTC time&gt;</c> folder; returns it, or null when there was
    /// nothing to move. Of samples/ only the grids (&lt;step&gt;.png) move: a file the user put there stays.</summary>
    public static string? MoveAside(string folder, string name) => MoveAside(folder, name, _ => true);

    /// <summary>Moves <paramref name="files"/> (files in <paramref name="folder"/>) into a new
    /// <c>previous-&lt;UTC time&gt;</c> folder; returns it, or null when none exists.</summary>
    public static string? MoveAside(string folder, IReadOnlyCollection<string> files)
    {
        var names = files.Select(Path.GetFileName).ToHashSet();
        return MoveAside(folder, null, e => names.Contains(e));
    }

    static string? MoveAside(string folder, string? name, Func<string, bool> select)
    {
        if (!Directory.Exists(folder)) return null;
        var entries = Directory.EnumerateFileSystemEntries(folder)
            .Where(e => (name is null || IsOwn(Path.GetFileName(e), name)) && select(Path.GetFileName(e))).ToList();
        if (entries.Count == 0) return null;
        var stamp = DateTime.UtcNow.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture);
        var target = Path.Combine(folder, PreviousPrefix + stamp);
        for (int n = 2; Directory.Exists(target); n++) target = Path.Combine(folder, $"{PreviousPrefix}{stamp}-{n}");
        Directory.CreateDirectory(target);
        foreach (var e in entries)
        {
            var to = Path.Combine(target, Path.GetFileName(e));
            if (Path.GetFileName(e) == SamplesFolder && Directory.Exists(e)) MoveGrids(e, to);
            else if (Directory.Exists(e)) Directory.Move(e, to);
            else File.Move(e, to);
        }
        return target;
    }

    static void MoveGrids(string samples, string to)
    {
        Directory.CreateDirectory(to);
        var grids = Directory.EnumerateFiles(samples).Where(f => Regex.IsMatch(Path.GetFileName(f), @"^\d{9}\.png\z"));
        foreach (var f in grids.ToList())
            File.Move(f, Path.Combine(to, Path.GetFileName(f)));
        if (!Directory.EnumerateFileSystemEntries(samples).Any()) Directory.Delete(samples);
    }

    /// <summary>Deletes the temp files (<c>.&lt;file&gt;.&lt;id&gt;.tmp</c>) that saves of <paramref name="name"/>
    /// leave in <paramref name="folder"/> when the process is killed mid-write; returns their paths. The finished
    /// files they were to replace are untouched, and a temp file is never renamed into place later.</summary>
    public static IReadOnlyList<string> RemoveStaleTempFiles(string folder, string name)
    {
        if (!Directory.Exists(folder)) return Array.Empty<string>();
        var stale = Directory.EnumerateFiles(folder, ".*.tmp")
            .Where(f => Path.GetFileName(f).EndsWith(".tmp") && IsOwn(Path.GetFileName(f), name))
            .Order(StringComparer.Ordinal).ToList();
        foreach (var f in stale) File.Delete(f);
        return stale;
    }

    /// <summary>Fails before any training when an output of <paramref name="name"/>'s run cannot be written: the run
    /// folder is a file or cannot be created, or a file the run writes (LoRA, state, config, log, eval) is a folder,
    /// or samples/ is a file. Creates the run folder.</summary>
    public static void CheckOutputs(string folder, string name)
    {
        if (File.Exists(folder))
            throw new UserError($"the run folder {folder} (training_folder/config.name) is a file: move it, or " +
                                "change training_folder or config.name");
        try { Directory.CreateDirectory(folder); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UserError($"cannot create the run folder {folder}: {e.Message}. " +
                                "Set training_folder to a writable folder");
        }
        foreach (var d in Directory.EnumerateDirectories(folder))
        {
            var entry = Path.GetFileName(d);
            if (IsOwn(entry, name) && entry is not (SamplesFolder or TextCacheFolder))
                throw new UserError($"{d} is a folder, but the run writes a file there: move or rename the folder " +
                                    "(or give the job another config.name)");
        }
        foreach (var sub in new[] { SamplesFolder, TextCacheFolder })
            if (File.Exists(Path.Combine(folder, sub)))
                throw new UserError($"{Path.Combine(folder, sub)} is a file, but the run writes a folder there: " +
                                    "move or rename it");
    }

    /// <summary>The message for a checkpoint that does not fit the job any more.</summary>
    public static string MismatchAdvice(string folder, string problem) =>
        $"cannot resume the run in {folder}: {problem}. Resuming would mix two different LoRAs. Give the job a new " +
        "config.name, delete the folder, or run again with --restart (moves the old files to previous-<time>/).";
}
