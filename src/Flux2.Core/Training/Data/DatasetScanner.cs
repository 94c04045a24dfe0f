using Flux2.IO;
using Flux2.Training.Config;

namespace Flux2.Training.Data;

/// <summary>
/// Finds a dataset's images and captions (ai-toolkit layout: <c>image.png</c> + <c>image.txt</c>;
/// docs/ai-toolkit-compat.md §2.6 for the caption fallbacks), pairs each target with its control images for edit
/// datasets (<c>control_path_1..3</c>, same file stem), and expands them into training samples: one per listed
/// resolution × flips × num_repeats. Bad files (<see cref="ImageFileCheck"/>) and missing captions get a per-file
/// message; with <c>on_error: fail</c> any of them stops the run here, before the model is touched, with the whole
/// list.
/// </summary>
public static class DatasetScanner
{
    public static readonly string[] ImageExtensions = { ".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif" };

    public static DatasetScan Scan(IReadOnlyList<DatasetConfig> datasets, int pixelMultiple)
    {
        var items = new List<DatasetItem>();
        var problems = new List<DatasetProblem>();
        int images = 0;
        for (int di = 0; di < datasets.Count; di++)
        {
            var d = datasets[di];
            if (!Directory.Exists(d.FolderPath))
                throw new DirectoryNotFoundException($"dataset folder not found: {d.FolderPath}");
            foreach (var control in d.ControlPaths)
                if (!Directory.Exists(control))
                    throw new DirectoryNotFoundException($"control folder not found: " +
                        $"{control} (dataset {d.FolderPath})");
            var ext = d.CaptionExt.StartsWith('.') ? d.CaptionExt : "." + d.CaptionExt;
            var files = ImagesIn(d.FolderPath);
            void Problem(string path, string message, bool skipped) =>
                problems.Add(new DatasetProblem(path, message, skipped, di));
            if (files.Count == 0) Problem(d.FolderPath, $"no images ({string.Join(" ", ImageExtensions)})", true);
            foreach (var file in files)
            {
                var size = ImageFileCheck.Size(file, pixelMultiple, out var why);
                if (size is null) { Problem(file, why!, true); continue; }
                var controls = FindControls(file, d.ControlPaths, pixelMultiple, out var controlWhy);
                if (controls is null) { Problem(file, controlWhy!, true); continue; }
                var (w, h) = size.Value;
                var caption = ReadCaption(file, ext, d, out var captionNote);
                if (captionNote is not null) Problem(file, captionNote, false);
                images++;
                foreach (var resolution in d.Resolution)
                {
                    var (bw, bh) = d.Buckets ? BucketResolver.BucketFor(w, h, resolution, pixelMultiple)
                        : BucketResolver.Square(resolution, pixelMultiple);
                    var flips = new List<(bool x, bool y)> { (false, false) };
                    if (d.FlipX) flips.Add((true, false));
                    if (d.FlipY) flips.AddRange(flips.ToList().Select(f => (f.x, true)));
                    foreach (var (fx, fy) in flips)
                        for (int r = 0; r < d.NumRepeats; r++)
                            items.Add(new DatasetItem(file, caption, bw, bh, fx, fy, di,
                                controls.Count > 0 ? controls : null));
                }
            }
        }
        var failing = problems.Where(p => p.DatasetIndex >= 0 && datasets[p.DatasetIndex].OnError ==
            DataErrorPolicy.Fail).ToList();
        if (failing.Count > 0)
            throw new InvalidDataException($"{failing.Count} dataset problem(s) and on_error: fail, " +
                "so training does not start:\n  "
                                           + string.Join("\n  ", failing) +
                                               "\nFix or remove these files, or set on_error: skip.");
        var scan = new DatasetScan(items, problems, images);
        if (items.Count == 0)
            throw new InvalidDataException($"no usable training images in " +
                $"{string.Join(", ", datasets.Select(d => d.FolderPath))}:\n  "
                                           + string.Join("\n  ", problems));
        return scan;
    }

    static List<string> ImagesIn(string folder) => Directory.EnumerateFiles(folder)
        .Where(f => ImageExtensions.Contains(Path.GetExtension(f).ToLowerInvariant()))
        .Order(StringComparer.Ordinal).ToList();

    /// <summary>The control image of each control folder with the target's stem (any image extension, since sources
    /// and targets often come from different tools); null with the reason when one is missing or unusable.</summary>
    static List<string>? FindControls(string target, IReadOnlyList<string> folders, int pixelMultiple, out string? why)
    {
        why = null;
        var found = new List<string>();
        var stem = Path.GetFileNameWithoutExtension(target);
        foreach (var folder in folders)
        {
            var match = ImageExtensions.Select(e => Path.Combine(folder, stem + e)).FirstOrDefault(File.Exists);
            if (match is null) { why = $"no control image named {stem}.* in {folder}"; return null; }
            if (ImageFileCheck.Size(match, pixelMultiple, out var bad) is null)
            {
                why =
                $"control image {match}: {bad}"; return null;
            }
            found.Add(match);
        }
        return found;
    }

    /// <summary>Captions are a few hundred bytes; a file over this is not one (or a link to something else).</summary>
    public const long MaxCaptionBytes = 1 << 20;

    static string ReadCaptionFile(string path) => SmallTextFile.Read(path, MaxCaptionBytes, "a caption").Trim();

    /// <summary>Caption file, else <c>default.&lt;ext&gt;</c> in the folder, else default_caption (§2.6 item 1); the
    /// note says which fallback was used.</summary>
    static string ReadCaption(string image, string ext, DatasetConfig d, out string? note)
    {
        note = null;
        var path = Path.ChangeExtension(image, ext);
        if (File.Exists(path)) return ReadCaptionFile(path);
        var fallback = Path.Combine(Path.GetDirectoryName(image)!, "default" + ext);
        if (File.Exists(fallback))
        {
            note = $"no caption file {Path.GetFileName(path)}; using {Path.GetFileName(fallback)}";
            return ReadCaptionFile(fallback);
        }
        note = d.DefaultCaption.Length > 0
            ? $"no caption file {Path.GetFileName(path)}; using default_caption '{d.DefaultCaption}'"
            : $"no caption file {Path.GetFileName(path)} and no default_caption; it trains on the trigger word alone";
        return d.DefaultCaption;
    }
}
